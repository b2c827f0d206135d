"""The memorisation guard of a session: LLM-originated results after the model's cut-off.

A language model may remember what markets did before its knowledge
cut-off, so a candidate it proposed is also measured on the searchable bars
after the cut-off (:func:`alphaloop.llm.post_cutoff_span`), and that figure
is shown first wherever the candidate's results appear. Only search-span
returns are read (the stored evaluation returns cover the search span and
nothing after it); the sealed holdout is never part of this.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from alphaloop.research.strategy_db import StrategyDB

__all__ = ["guard_rows", "llm_guard", "post_cutoff_figures"]


def post_cutoff_figures(
    returns: np.ndarray, times: pd.DatetimeIndex, start: pd.Timestamp, periods_per_year: float
) -> dict[str, Any]:
    """Annualized Sharpe ratio and return of per-bar simple ``returns`` from ``start`` on.

    ``returns`` are aligned with the last ``len(returns)`` bars of ``times``
    (NaN before a strategy's first bar is skipped). The Sharpe ratio is
    ``mean / std (ddof 1) * sqrt(periods_per_year)``; the annual return is
    compounded: ``prod(1 + r) ** (periods_per_year / n) - 1``.
    """
    r = np.asarray(returns, dtype=np.float64)
    n = min(len(r), len(times))
    r, t = r[-n:], pd.DatetimeIndex(times[-n:])
    if t.tz is not None:
        t = t.tz_convert(None)
    stamp = pd.Timestamp(start)
    if stamp.tz is not None:
        stamp = stamp.tz_convert(None)
    x = r[(t >= stamp) & np.isfinite(r)]
    out: dict[str, Any] = {"n_bars": len(x), "sharpe": None, "annual_return": None}
    if len(x) >= 2:
        sd = float(np.std(x, ddof=1))
        if sd > 0:
            out["sharpe"] = float(np.mean(x)) / sd * math.sqrt(periods_per_year)
        growth = float(np.prod(1.0 + x))
        if growth > 0:
            out["annual_return"] = growth ** (periods_per_year / len(x)) - 1.0
    return out


def llm_guard(
    db: StrategyDB,
    session_id: int,
    protocol: str,
    times: pd.DatetimeIndex,
    *,
    cutoff: dt.date | None,
    periods_per_year: float,
    model: str | None = None,
) -> dict[str, Any]:
    """The session's LLM-originated candidates with their post-cut-off figures first.

    Parameters
    ----------
    db : StrategyDB
    session_id : int
    protocol : str
        The session's evaluation protocol key.
    times : DatetimeIndex
        The search span's bars (the stored returns' time index).
    cutoff : date or None
        The model's knowledge cut-off.
    periods_per_year : float
        Bars per year, to annualize.
    model : str, optional
        The model's name, for the record.

    Returns
    -------
    dict
        ``model``, ``knowledge_cutoff``, ``span`` (the post-cut-off span,
        or why there is none), ``origins`` (proposals by origin: ``llm``,
        ``fallback``), and ``candidates``: for each LLM-proposed candidate
        evaluated in this session, ``post_cutoff`` (``sharpe``,
        ``annual_return``, ``n_bars``) then the whole search span's
        ``sharpe``, its status and whether it passed the gate.
    """
    from alphaloop.llm import post_cutoff_span

    span = post_cutoff_span(times, cutoff)
    decisions = [d for d in db.decisions(session_id) if d.agent == "strategy"]
    origins: dict[str, int] = {}
    for d in decisions:
        origin = str((d.context or {}).get("origin", "offline"))
        origins[origin] = origins.get(origin, 0) + 1
    mine = [
        d
        for d in decisions
        if d.strategy_hash
        and (d.context or {}).get("origin") == "llm"
        and d.context.get("new_trial")
    ]
    hashes = list(dict.fromkeys(d.strategy_hash for d in mine if d.strategy_hash))
    strategies = db.strategies(hashes)
    evaluations = db.evaluations(hashes, protocol, returns=span.available)
    rows = []
    for h in hashes:
        ev = evaluations.get(h)
        if ev is None:
            continue
        post = None
        if span.available and ev.status == "ok" and ev.returns is not None:
            assert span.start is not None
            post = post_cutoff_figures(ev.returns, times, span.start, periods_per_year)
        rows.append(
            {
                "hash": h,
                "name": strategies[h].name if h in strategies else h[:12],
                "post_cutoff": post,
                "sharpe": ev.sharpe if ev.status == "ok" else None,
                "status": ev.status,
                "passed": ev.passed,
            }
        )
    return {
        "model": model,
        "knowledge_cutoff": cutoff.isoformat() if cutoff else None,
        "span": span.as_dict(),
        "origins": dict(sorted(origins.items())),
        "candidates": rows,
    }


def guard_rows(guard: Mapping[str, Any] | None) -> tuple[str, list[list[str]]]:
    """A line saying where the post-cut-off span is, and one row per LLM candidate
    (post-cut-off Sharpe first), for the report and the command line."""
    if not guard:
        return "", []
    span = guard.get("span") or {}
    model = guard.get("model") or "the model"
    cutoff = guard.get("knowledge_cutoff")
    if span.get("start"):
        line = (
            f"Candidates proposed by {model} (knowledge cut-off {cutoff}) are measured first on "
            f"the search span after the cut-off, {span['start']} to {span['end']} "
            f"({span['n_bars']} bars), where it cannot remember the market."
        )
    else:
        line = (
            f"Candidates proposed by {model}: no post-cut-off figure "
            f"({span.get('reason') or 'no span after the cut-off'}); their search-span figures "
            "may reflect what the model remembers."
        )
    rows = []
    for c in guard.get("candidates") or []:
        post = c.get("post_cutoff") or {}
        rows.append(
            [
                str(c.get("name", "")),
                str(c.get("hash", ""))[:12],
                _fmt(post.get("sharpe")),
                _fmt(post.get("annual_return")),
                str(post.get("n_bars", "—")) if post else "—",
                _fmt(c.get("sharpe")),
                "yes" if c.get("passed") else "no",
            ]
        )
    return line, rows


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    return f"{v:.3f}" if math.isfinite(v) else "—"
