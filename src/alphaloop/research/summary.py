"""What a research session found, from the strategy database: counts, funnel, survivors.

The summary is a JSON-ready mapping that the command line prints, the HTML
session report draws and the session row keeps. Every Sharpe ratio in it
comes from the search span and stands next to the number of trials it was
judged with; the holdout result, when there is one, is added by the caller
after the summary is built (it never feeds the search).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from alphaloop.research.strategy_db import DecisionRecord, EvaluationRecord, StrategyDB

__all__ = ["FUNNEL_GATES", "funnel", "session_summary"]

#: the order in which the rejection funnel lists the gates (others follow)
FUNNEL_GATES = (
    "crashed",
    "lookahead",
    "long_only",
    "turnover",
    "drawdown",
    "constraints",
    "years",
    "round_trips",
    "track_record",
    "folds",
    "dsr",
    "pbo",
    "regimes",
    "min_sharpe",
)


def _failed(ev: EvaluationRecord) -> list[str]:
    gates = (ev.validation or {}).get("gates", [])
    return [str(g["name"]) for g in gates if not g.get("passed")]


def funnel(evaluations: Sequence[EvaluationRecord]) -> list[dict[str, Any]]:
    """Candidates left after each gate, in :data:`FUNNEL_GATES` order, and how many each removed.

    A candidate leaves the funnel at the first gate (in this order) it failed.
    """
    names = list(FUNNEL_GATES)
    for ev in evaluations:
        names.extend(n for n in _failed(ev) if n not in names)
    first: Counter[str] = Counter()
    for ev in evaluations:
        failed = set(_failed(ev)) or ({"crashed"} if ev.status == "failed" else set())
        for name in names:
            if name in failed:
                first[name] += 1
                break
    left = len(evaluations)
    rows = [{"gate": "evaluated", "removed": 0, "left": left}]
    for name in names:
        if first[name]:
            left -= first[name]
            rows.append({"gate": name, "removed": first[name], "left": left})
    return rows


def _stat(ev: EvaluationRecord, name: str) -> float | None:
    for g in (ev.validation or {}).get("gates", []):
        if g.get("name") == name:
            v = g.get("value")
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
    return None


def _mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return float(np.mean(xs)) if xs else None


def session_summary(
    db: StrategyDB, session_id: int, protocol: str, *, top: int = 10, depth: int = 3
) -> dict[str, Any]:
    """Counts by type and family, the funnel, rejections, survivors and the winners' genealogy."""
    session = db.session(session_id)
    decisions: list[DecisionRecord] = db.decisions(session_id)
    new = [d for d in decisions if d.strategy_hash and d.context.get("new_trial")]
    hashes = list(dict.fromkeys(d.strategy_hash for d in new if d.strategy_hash))
    strategies = db.strategies(hashes)
    evaluations = db.evaluations(hashes, protocol, returns=False)
    refused = [h for h in hashes if h in evaluations and evaluations[h].status == "refused"]
    hashes = [h for h in hashes if h not in set(refused)]  # never ran: not trials
    evs = [evaluations[h] for h in hashes if h in evaluations]

    groups: dict[tuple[str, str], list[EvaluationRecord]] = defaultdict(list)
    for h in hashes:
        if h in evaluations:
            groups[("kind", strategies[h].kind)].append(evaluations[h])
            groups[("family", strategies[h].family)].append(evaluations[h])

    def rows(by: str) -> list[dict[str, Any]]:
        out = []
        for (key, value), items in sorted(groups.items()):
            if key != by:
                continue
            ok = [e for e in items if e.status == "ok"]
            out.append(
                {
                    by: value,
                    "n": len(items),
                    "failed": len(items) - len(ok),
                    "passed": sum(1 for e in items if e.passed),
                    "mean_sharpe": _mean([e.sharpe for e in ok if e.sharpe is not None]),
                    "best_sharpe": max(
                        (e.sharpe for e in ok if e.sharpe is not None), default=None
                    ),
                }
            )
        return out

    rejections: Counter[str] = Counter()
    for ev in evs:
        for name in _failed(ev):
            rejections[name] += 1
    survivors = []
    for h in hashes:
        ev = evaluations.get(h)
        if ev is None or not ev.passed:
            continue
        s = strategies[h]
        survivors.append(
            {
                "hash": h,
                "name": s.name,
                "kind": s.kind,
                "family": s.family,
                "logic": s.logic,
                "models": list(s.models),
                "sharpe": ev.sharpe,
                "dsr": _stat(ev, "dsr"),
                "pbo": (ev.validation or {}).get("session_pbo"),
                "regime_share": _stat(ev, "regimes"),
                "n_trials": (ev.validation or {}).get("n_trials"),
                "folds": ev.folds,
                "metrics": {
                    k: ev.metrics.get(k)
                    for k in ("annual_return", "max_drawdown", "turnover", "n_round_trips", "years")
                },
            }
        )
    survivors.sort(key=lambda r: (-(r["dsr"] or 0.0), -(r["sharpe"] or 0.0), r["hash"]))
    winners = survivors[:top]
    actions = Counter(d.action for d in decisions)
    return {
        "session": {
            k: session.get(k)
            for k in ("id", "dataset", "goal", "constraints", "config", "status", "n_batches")
        },
        "assumptions": (session.get("config") or {}).get("assumptions", []),
        "counts": {
            "evaluated": len(evs),
            "failed": sum(1 for e in evs if e.status == "failed"),
            "passed": len(survivors),
            "reused": sum(
                1 for d in decisions if d.strategy_hash and not d.context.get("new_trial")
            ),
            "refused": len(refused) + sum(1 for d in decisions if d.strategy_hash is None),
            "rejected_lookahead": sum(1 for e in evs if e.status == "rejected"),
            "decisions": dict(sorted(actions.items())),
            "trials_on_dataset": db.n_trials(session["dataset"]),
        },
        "by_kind": rows("kind"),
        "by_family": rows("family"),
        "funnel": funnel(evs),
        "rejections": dict(rejections.most_common()),
        "survivors": winners,
        "n_survivors": len(survivors),
        "genealogy": [db.genealogy(r["hash"], depth) for r in winners[:3]],
        "models_start": session.get("models_start") or [],
        "models_end": session.get("models_end") or [],
    }
