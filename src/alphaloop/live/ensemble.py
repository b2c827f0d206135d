"""Ensembles of specialists: voting, consensus and performance-weighted allocation.

Every specialist's book is first made *current*: its last target per asset carried
forward (0 before its first), so at each bar each specialist has a position it wants.
An ensemble combines those positions bar by bar, from data up to that bar only:

``vote``
    Each specialist votes the sign of its position per asset; the ensemble holds the
    mean vote (in [-1, 1]) per asset, scaled so gross exposure is at most ``gross``.
``consensus``
    An asset is held only where at least ``min_agree`` specialists hold it on the
    same side; the ensemble holds the mean of those agreeing positions.
``performance``
    A mix of the specialists' positions with weights proportional to each one's
    positive Sharpe ratio over the last ``lookback`` bars of its net returns (up to
    and including the decision bar); no positive Sharpe means no position.

The combined book rebalances only on bars where some specialist rebalanced, and is
traded through the backtester's simulator with the costs and fill timing the caller
gives (next-bar fills, costs on, by default the first specialist's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.errors import AlphaloopError
from alphaloop.live.specialists import SpecialistBook

if TYPE_CHECKING:
    from alphaloop.backtest.vectorized import SimulationResult
    from alphaloop.data.panel import Panel
    from alphaloop.execution.costs import CostModel

__all__ = [
    "ENSEMBLE_METHODS",
    "EnsembleError",
    "EnsembleResult",
    "combine_books",
    "run_ensemble",
    "sharpe_allocation",
]

ENSEMBLE_METHODS: tuple[str, ...] = ("vote", "consensus", "performance")


class EnsembleError(AlphaloopError):
    """An ensemble was asked for wrongly (method, settings, books without weights)."""


def sharpe_allocation(window: pd.DataFrame, min_observations: int) -> dict[str, float]:
    """Weights proportional to each column's positive per-bar Sharpe ratio (sum 1, or all 0).

    Columns with fewer than ``min_observations`` non-NaN returns, a zero spread or a
    Sharpe ratio at or below 0 get weight 0.
    """
    scores: dict[str, float] = {}
    for name in window.columns:
        r = window[name].dropna().to_numpy(dtype=float)
        sd = r.std(ddof=1) if r.size >= max(2, min_observations) else 0.0
        scores[str(name)] = max(float(r.mean() / sd), 0.0) if sd > 0 else 0.0
    total = sum(scores.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in scores.items()}


def _current(books: Mapping[str, SpecialistBook]) -> tuple[pd.DatetimeIndex, list[str], dict]:
    usable = {k: b for k, b in books.items() if b.weights is not None}
    if len(usable) < 2:
        raise EnsembleError(
            f"an ensemble needs at least two specialists with target weights, got {sorted(usable)}"
        )
    start = max(b.weights.index[0] for b in usable.values())  # type: ignore[union-attr]
    index = None
    assets: list[str] = []
    for b in usable.values():
        w = b.weights
        assert w is not None
        idx = w.index[w.index >= start]
        index = idx if index is None else index.intersection(idx)
        assets.extend(a for a in w.columns if a not in assets)
    assert index is not None
    if len(index) < 2:
        raise EnsembleError("the specialists' books share fewer than two bars")
    held, rebalanced = {}, pd.Series(False, index=index)
    for name, b in usable.items():
        w = b.weights
        assert w is not None
        w = w.reindex(columns=assets)
        rebalanced |= w.notna().any(axis=1).reindex(index, fill_value=False)
        held[name] = w.ffill().fillna(0.0).reindex(index)
    return index, assets, {"held": held, "rebalanced": rebalanced, "usable": usable}


def combine_books(
    books: Mapping[str, SpecialistBook],
    method: str = "vote",
    *,
    min_agree: int = 2,
    lookback: int = 63,
    min_observations: int = 20,
    gross: float = 1.0,
) -> pd.DataFrame:
    """The ensemble's target weights (bars x assets; NaN rows: no rebalance).

    Parameters
    ----------
    books : mapping of name to SpecialistBook
        At least two with target weights (quote-trading books are left out).
    method : {"vote", "consensus", "performance"}
    min_agree : int, default 2
        ``consensus``: specialists that must hold an asset on the same side.
    lookback, min_observations : int
        ``performance``: bars of returns behind each Sharpe ratio, and the fewest needed.
    gross : float, default 1.0
        Cap on the sum of absolute weights.
    """
    if method not in ENSEMBLE_METHODS:
        raise EnsembleError(
            f"unknown ensemble method {method!r}", hint=f"use {', '.join(ENSEMBLE_METHODS)}"
        )
    if not (np.isfinite(gross) and gross > 0):
        raise EnsembleError(f"gross must be > 0, got {gross}")
    for name, value in (("min_agree", min_agree), ("lookback", lookback)):
        if value < 1:
            raise EnsembleError(f"{name} must be >= 1, got {value}")
    index, assets, parts = _current(books)
    held: dict[str, pd.DataFrame] = parts["held"]
    stack = np.stack([h.to_numpy() for h in held.values()])  # (specialists, bars, assets)
    if method == "vote":
        combined = np.sign(stack).mean(axis=0)
    elif method == "consensus":
        if min_agree > len(held):
            raise EnsembleError(f"min_agree {min_agree} exceeds the {len(held)} specialists")
        longs, shorts = (stack > 0).sum(axis=0), (stack < 0).sum(axis=0)
        long_mean = np.where(stack > 0, stack, 0.0).sum(axis=0) / np.maximum(longs, 1)
        short_mean = np.where(stack < 0, stack, 0.0).sum(axis=0) / np.maximum(shorts, 1)
        combined = np.where(longs >= min_agree, long_mean, 0.0)
        combined = np.where(shorts >= min_agree, short_mean, combined)
        combined = np.where((longs >= min_agree) & (shorts >= min_agree), 0.0, combined)
    else:
        mix = _rolling_allocation(parts["usable"], list(held), index, lookback, min_observations)
        combined = np.einsum("bs,sba->ba", mix, stack)
    g = np.abs(combined).sum(axis=1, keepdims=True)
    combined = np.where(g > gross, combined * (gross / np.where(g > 0, g, 1.0)), combined)
    out = pd.DataFrame(combined, index=index, columns=assets)
    out[~parts["rebalanced"].to_numpy()] = np.nan
    return out


def _rolling_allocation(
    books: Mapping[str, SpecialistBook],
    names: list[str],
    index: pd.DatetimeIndex,
    lookback: int,
    min_observations: int,
) -> np.ndarray:
    """:func:`sharpe_allocation` at every bar of ``index`` (bars x specialists), vectorized.

    The weights at a bar use the returns of the last ``lookback`` return bars up to
    and including it.
    """
    rets = pd.DataFrame({k: books[k].returns for k in names})
    rets.index = _utc(rets.index)
    roll = rets.rolling(lookback, min_periods=max(2, min_observations))
    sd = roll.std(ddof=1)
    sharpe = (roll.mean() / sd.where(sd > 0)).clip(lower=0.0).fillna(0.0)
    sharpe = sharpe.reindex(index, method="ffill").fillna(0.0).to_numpy()
    total = sharpe.sum(axis=1, keepdims=True)
    return np.divide(sharpe, total, out=np.zeros_like(sharpe), where=total > 0)


def _utc(index: Any) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(index)
    return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")


@dataclass(frozen=True)
class EnsembleResult:
    """An ensemble's book and its simulation."""

    method: str
    weights: pd.DataFrame
    simulation: SimulationResult


def run_ensemble(
    books: Mapping[str, SpecialistBook],
    panel: Panel,
    method: str = "vote",
    *,
    costs: CostModel | None = None,
    fills: Any = None,
    initial_capital: float = 1_000_000.0,
    **settings: Any,
) -> EnsembleResult:
    """Combine the books (:func:`combine_books`) and trade them through the simulator.

    ``panel`` is the specialists' data; costs default to the simulator's realistic
    equity costs and fills to the first specialist's fill timing. Shorts are
    allowed, leverage capped at the ensemble's gross.
    """
    from alphaloop.backtest.vectorized import simulate

    weights = combine_books(books, method, **settings)
    if fills is None:
        fills = next(iter(books.values())).spec.fills
    rows = panel.index.get_indexer(weights.index)
    if (rows < 0).any():
        raise EnsembleError("the books' bars are not all in the panel")
    history = int(rows[0])
    data = (
        panel.select(list(weights.columns))
        if list(panel.assets) != list(weights.columns)
        else panel
    )
    sim = simulate(
        data.iloc(slice(0, int(rows[-1]) + 1)),
        weights.to_numpy(),
        kind="weights",
        fills=fills,
        costs=costs,
        initial_capital=initial_capital,
        max_leverage=float(settings.get("gross", 1.0)),
        allow_short=True,
        history=history,
    )
    return EnsembleResult(method=method, weights=weights, simulation=sim)
