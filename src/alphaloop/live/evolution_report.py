"""The survivors of an evolution: search results deflated for every trial, beside the tail.

The search numbers come from the leaderboard
(:func:`~alphaloop.live.competition.leaderboard`) over *every* genome the evolution
evaluated (so the dispersion of the trials' Sharpe ratios is the search's, not the
survivors'), with the number of trials set to the total number of evaluations, or
more when the dataset's strategy database has counted more. Only then are the
survivors run on the validation tail, once each; the tail never fed the search.

Verdicts compare the tail's annualised Sharpe ratio with the search's:
``holds`` (tail >= half the search's), ``weakens`` (positive, below half),
``collapses`` (zero or negative on the tail), ``no edge`` (not positive on the
search in the first place), ``failed`` (the backtest failed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.data.panel import Panel
from alphaloop.live.competition import leaderboard
from alphaloop.live.evolution import Evaluation, Evolution
from alphaloop.live.specialists import SpecialistError, run_specialists

if TYPE_CHECKING:
    from alphaloop.data.catalog import DatasetInfo

__all__ = ["Survivor", "assess_survivors", "verdict"]


@dataclass(frozen=True)
class Survivor:
    """One survivor: its search results (DSR for ``n_trials``) and its validation tail."""

    rank: int
    label: str
    style: str
    spec_hash: str
    search: dict[str, float | None]
    tail: dict[str, float | None]
    verdict: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "label": self.label,
            "style": self.style,
            "spec_hash": self.spec_hash,
            "search": self.search,
            "validation_tail": self.tail,
            "verdict": self.verdict,
            "error": self.error,
        }


def verdict(search_sharpe: float | None, tail_sharpe: float | None) -> str:
    """``holds``, ``weakens``, ``collapses``, ``no edge`` or ``failed`` (module docstring)."""
    if search_sharpe is None or tail_sharpe is None:
        return "failed"
    if search_sharpe <= 0:
        return "no edge"
    if tail_sharpe <= 0:
        return "collapses"
    return "holds" if tail_sharpe >= 0.5 * search_sharpe else "weakens"


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _tail_stats(returns: pd.Series, periods_per_year: float) -> dict[str, float | None]:
    r = returns.to_numpy(dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return {"sharpe": None, "total_return": None, "max_drawdown": None, "bars": float(r.size)}
    sd = float(r.std(ddof=1))
    sharpe = 0.0 if sd <= 0 else float(r.mean() / sd * math.sqrt(periods_per_year))
    equity = np.cumprod(1.0 + r)
    dd = float(np.max(1.0 - equity / np.maximum.accumulate(equity)))
    return {
        "sharpe": sharpe,
        "total_return": float(equity[-1] - 1.0),
        "max_drawdown": dd,
        "bars": float(r.size),
    }


def _board(ev: Evolution, n_trials: int, ppy: float) -> pd.DataFrame | None:
    done = {e.genome.label: e.returns for e in ev.evaluations.values() if e.returns is not None}
    if len(done) < 2:
        return None
    return leaderboard(done, periods_per_year=ppy, n_trials=n_trials)


def assess_survivors(
    ev: Evolution,
    data: str,
    panel: Panel,
    info: DatasetInfo,
    *,
    n_trials: int | None = None,
) -> tuple[list[Survivor], int]:
    """The best ``config.survivors`` genomes of the last generation, search and tail.

    Parameters
    ----------
    ev : Evolution
    data : str
        The dataset name.
    panel : Panel
        The same research span the evolution was given (search span, then tail).
    info : DatasetInfo
    n_trials : int, optional
        Trials to deflate for; at least ``ev.n_evaluations`` (the default).

    Returns
    -------
    (survivors, n_trials)
        Survivors fittest first on the search span, and the trials deflated for.
    """
    trials = max(int(n_trials or 0), ev.n_evaluations)
    chosen: list[Evaluation] = ev.final()[: ev.config.survivors]
    ppy = next(
        (float(e.metrics.get("periods_per_year", 252.0)) for e in chosen if e.metrics), 252.0
    )
    board = _board(ev, trials, ppy)
    out: list[Survivor] = []
    for rank, e in enumerate(chosen, start=1):
        search: dict[str, float | None] = {"sharpe": e.fitness}
        if board is not None and e.genome.label in board.index:
            row = board.loc[e.genome.label]
            for col in ("total_return", "max_drawdown", "win_rate", "dsr"):
                search[col] = _finite(row[col])
            search["bars"] = _finite(row["bars"])
        tail: dict[str, float | None] = {"sharpe": None}
        error = e.error
        if e.fitness is not None:
            try:
                book = run_specialists([e.specialist], info, panel)[e.specialist.name]
            except SpecialistError as exc:
                error = str(exc)
            else:
                tail = _tail_stats(book.returns[book.returns.index >= ev.tail_start], ppy)
        out.append(
            Survivor(
                rank=rank,
                label=e.genome.label,
                style=e.genome.style,
                spec_hash=e.spec_hash,
                search=search,
                tail=tail,
                verdict=verdict(e.fitness, tail["sharpe"]),
                error=error,
            )
        )
    return out, trials
