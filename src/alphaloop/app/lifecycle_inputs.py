"""What the lifecycle's gates read from a workspace: verdicts, shadow sessions, trial counts.

- :func:`latest_verdict`: the most recent validation verdict of a strategy,
  from a ``validate`` run (``alphaloop validate``) or a research session's
  gate (stored on the strategy's evaluation), whichever is newer.
- :func:`shadow_sessions`: paper sessions of the strategy's spec started
  since it entered ``shadow`` (earlier sessions are not shadow trading).
- :func:`deflated_now`: the deflated Sharpe ratio of the validated returns
  with the dataset's trial count and trial-Sharpe variance **now** (the
  count only grows: trials made after the validation deflate it further).
- :func:`session_health`: drawdown and Sharpe ratio of a paper account.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from alphaloop.store import PaperSessionRow

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.research import EvaluationRecord

__all__ = ["deflated_now", "latest_verdict", "session_health", "shadow_sessions"]

#: validate runs read when looking for a strategy's verdict (newest first)
_MAX_RUNS = 500


def _when(text: str | None) -> datetime:
    if not text:
        return datetime.min.replace(tzinfo=UTC)
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def latest_verdict(ws: Workspace, strategy_hash: str) -> dict[str, Any] | None:
    """The newest verdict: ``passed``, ``reasons``, ``stats``, ``source``, ``protocol``, ``at``.

    ``protocol`` names the evaluation whose returns the verdict judged
    (``backtest`` for a ``validate`` run); None when the strategy was never
    validated.
    """
    found: list[dict[str, Any]] = []
    for run in ws.runs.list("validate", limit=_MAX_RUNS):
        if run["status"] != "succeeded" or run["params"].get("spec_hash") != strategy_hash:
            continue
        res = run["result"]
        found.append({"passed": bool(res.get("passed")), "reasons": res.get("reasons", []),
                      "stats": res, "source": f"validate run {run['id']}",
                      "protocol": "backtest",
                      "at": _when(run["finished_at"] or run["started_at"])})  # fmt: skip
        break  # runs come newest first
    for ev in ws.strategies.strategy_evaluations(strategy_hash):
        if ev.validation is None or ev.passed is None:
            continue
        found.append({"passed": bool(ev.passed), "reasons": ev.validation.get("reasons", []),
                      "stats": ev.validation, "source": f"evaluation {ev.protocol}",
                      "protocol": ev.protocol, "at": _when(ev.created_at)})  # fmt: skip
    if not found:
        return None
    best = max(found, key=lambda v: v["at"])
    return {**best, "at": best["at"].isoformat()}


def shadow_sessions(ws: Workspace, strategy_hash: str, since: datetime | None) -> list[dict]:
    """Paper sessions of the spec created at or after ``since``: id, status, bars, created.

    ``bars``: bars recorded from the session's first trading bar on.
    """
    q = select(PaperSessionRow).where(PaperSessionRow.spec_hash == strategy_hash)
    with ws.db.session() as s:
        rows = s.scalars(q.order_by(PaperSessionRow.id)).all()
        out = []
        for r in rows:
            created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
            if since is not None and created < since:
                continue
            out.append({"id": r.id, "status": r.status, "created_at": created.isoformat(),
                        "bars": max(0, int(r.position) - int(r.first_row))})  # fmt: skip
    return out


def _moments(r: np.ndarray) -> tuple[float, float, float]:
    mean, sd = float(r.mean()), float(r.std())
    if not sd > 0:
        return math.nan, 0.0, 3.0
    sr = mean / float(r.std(ddof=1))
    skew = float(((r - mean) ** 3).mean() / sd**3)
    kurt = float(((r - mean) ** 4).mean() / sd**4)
    return sr, skew, kurt


def _evaluation(ws: Workspace, strategy_hash: str, protocol: str) -> EvaluationRecord | None:
    ev = ws.strategies.evaluation(strategy_hash, protocol)
    if ev is None or ev.returns is None:
        ev = ws.strategies.evaluation(strategy_hash, "backtest")
    return ev if ev is not None and ev.returns is not None else None


def deflated_now(
    ws: Workspace, strategy_hash: str, dataset: str, verdict: dict[str, Any]
) -> dict[str, Any]:
    """The DSR of the validated returns with the dataset's trial count now.

    Returns ``dsr`` (None when it cannot be measured), ``n_trials`` (the
    strategy database's count now), ``n_trials_at_validation``,
    ``effective_trials`` (the validation's share of independent trials
    applied to today's count, when it measured one), ``var_trial_sharpe``,
    ``n_obs`` and ``sharpe_per_period``.
    """
    from alphaloop.validation import deflated_sharpe_ratio

    stats = verdict.get("stats") or {}
    n_trials = max(1, ws.strategies.n_trials(dataset))
    _, _, var = ws.strategies.trial_sharpe_stats(dataset)
    out: dict[str, Any] = {"n_trials": n_trials, "var_trial_sharpe": var,
                           "n_trials_at_validation": stats.get("n_trials"),
                           "effective_trials": None, "dsr": None}  # fmt: skip
    ev = _evaluation(ws, strategy_hash, verdict.get("protocol", "backtest"))
    if ev is None:
        out["problem"] = "no stored returns of the validated backtest"
        return out
    r = np.asarray(ev.returns, dtype=float)
    r = r[np.isfinite(r)]
    sr, skew, kurt = _moments(r) if len(r) > 2 else (math.nan, 0.0, 3.0)
    out.update(n_obs=len(r), sharpe_per_period=sr)
    if not math.isfinite(sr):
        out["problem"] = "the validated returns have no Sharpe ratio (no variation)"
        return out
    eff_then, n_then = stats.get("effective_trials"), stats.get("n_trials")
    eff = None
    if eff_then is not None and n_then and math.isfinite(eff_then) and eff_then >= 1:
        eff = max(1.0, float(eff_then) / float(n_then) * n_trials)
    out["effective_trials"] = eff
    res = deflated_sharpe_ratio(sr, n_trials, var, len(r), skew, kurt, effective_trials=eff)
    out["dsr"] = float(res.dsr)
    out["sr0_per_period"] = float(res.sr0)
    return out


def session_health(ws: Workspace, session_id: int, periods_per_year: float) -> dict[str, Any]:
    """Max drawdown (fraction) and annualized Sharpe ratio of a paper account's equity,
    over the bars it recorded from its first trading bar; ``bars`` counted."""
    from alphaloop.app.paper import paper_store

    store = paper_store(ws)
    info = store.get(session_id)
    eq = store.equity(session_id)
    equity = eq["equity"][eq["row"] >= info.first_row].to_numpy(dtype=float)
    out: dict[str, Any] = {"session": session_id, "bars": len(equity), "drawdown": None,
                           "sharpe": None}  # fmt: skip
    if len(equity) == 0:
        return out
    peak = np.maximum.accumulate(equity)
    out["drawdown"] = float(np.max(1.0 - equity / peak))
    if len(equity) > 2:
        rets = np.diff(equity) / equity[:-1]
        sd = float(rets.std(ddof=1))
        out["sharpe"] = float(rets.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else None
    return out
