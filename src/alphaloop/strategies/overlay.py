"""Volatility targeting: scale any book so that its estimated volatility meets a target.

A spec carries it as ``overlay: {target: 0.10, window: 63}``; the runner
applies :func:`apply_vol_target` to the spec's target weights (from its
portfolio rule or its template) before the rebalancing filter.

On each decision row (a row with at least one finite weight) the overlay
carries the last intended book forward asset by asset (a finite weight
replaces the asset's previous one; NaN keeps it), estimates the annualized
volatility of that book from bars up to and including the decision bar,
and multiplies the row by ``min(max_scale, target / vol)``, lowered further
if needed so that the scaled book's ``sum |w| <= max_leverage``.

Between decisions nothing is rescaled: the positions drift with prices, as
the simulators hold them, and the next decision row rescales. A book that
rebalances monthly is therefore vol-targeted monthly; a daily schedule
targets daily, at the cost of daily trading.

Two estimators:

``covariance``
    Ex ante: today's book applied to the assets' trailing ``window``
    returns (equivalently ``sqrt(w' S w)`` with ``S`` the sample covariance
    of those returns). Reacts at once when the book changes.
``realized``
    Ex post, the "risk-managed" overlay of Moreira and Muir (2017): the
    sample volatility of the unscaled book's own returns over the last
    ``window`` bars (the book in force at the close of ``s - 1`` earning the
    close-to-close return of bar ``s``; fills, drift and costs ignored).
    Until the book has ``window`` bars of history, the covariance estimate
    stands in (counted in the stats as ``rows_fallback``).

Returns are simple close-to-close returns; a missing or ineligible return
counts as 0 (which understates the volatility of an asset with gaps).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from alphaloop.errors import BacktestError

__all__ = ["VolatilityTarget", "apply_vol_target"]


class VolatilityTarget(BaseModel):
    """A volatility-targeting overlay for any spec.

    Parameters
    ----------
    target : float
        Annualized volatility the book is scaled to (a fraction: 0.10 = 10 %).
    window : int, default 63
        Bars of trailing returns in the estimate (63 = a quarter of days).
    estimator : {"covariance", "realized"}, default "covariance"
        Today's book on the assets' trailing returns (ex ante), or the book's
        own trailing returns (ex post, Moreira and Muir's risk-managed portfolio).
    max_scale : float, default 2.0
        Largest multiplier applied to a row (the leverage cap may lower it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float = Field(gt=0, le=2.0)
    window: int = Field(63, ge=5, le=5000)
    estimator: Literal["covariance", "realized"] = "covariance"
    max_scale: float = Field(2.0, gt=0, le=10.0)

    def describe(self) -> str:
        """One line: ``vol target 10% (covariance, 63 bars, scale <= 2)``."""
        return (
            f"vol target {self.target:.0%} ({self.estimator}, {self.window} bars, "
            f"scale <= {self.max_scale:g})"
        )


def _returns(close: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Simple close-to-close returns, 0 where missing or either bar is ineligible."""
    rets = np.zeros(close.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets[1:] = close[1:] / close[:-1] - 1.0
    ok = np.zeros(close.shape, dtype=bool)
    ok[1:] = eligible[1:] & eligible[:-1]
    rets[~(ok & np.isfinite(rets))] = 0.0
    return rets


def apply_vol_target(
    weights: np.ndarray,
    close: np.ndarray,
    eligible: np.ndarray,
    overlay: VolatilityTarget,
    *,
    periods_per_year: float,
    max_leverage: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scale each decision row of a target-weights array to the overlay's volatility target.

    Parameters
    ----------
    weights : ndarray, shape (time, asset)
        Target weights of equity; a row of NaN is no decision, a NaN entry
        leaves that asset as it is (it keeps its weight in the intended book).
    close : ndarray, shape (time, asset)
        Closes on the same rows. Pass the history before the first decision
        (weights NaN there) so that the first decisions have a full window.
    eligible : ndarray of bool, shape (time, asset)
        Bars whose close counts (membership and a finite, positive close).
    overlay : VolatilityTarget
    periods_per_year : float
        Bars per year (annualizes the estimate).
    max_leverage : float
        Cap on ``sum |w|`` of the scaled intended book.

    Returns
    -------
    weights : ndarray, shape (time, asset)
        The scaled weights (NaN where the input is NaN). A decision row with
        fewer than ``window`` returns before it, or whose book is flat, is
        left as it is.
    stats : dict
        ``rows_scaled``, ``rows_unestimated`` (too little history),
        ``rows_fallback`` (realized estimator, covariance used),
        ``rows_max_scale`` and ``rows_leverage_capped`` (a cap bound),
        ``mean_scale``, ``min_scale``, ``max_scale`` (over scaled rows; None
        if none), ``mean_vol_estimate`` (annualized, before scaling).

    Raises
    ------
    BacktestError
        Arrays of different shapes.
    """
    weights = np.asarray(weights, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    eligible = np.asarray(eligible, dtype=bool)
    if weights.shape != close.shape or eligible.shape != close.shape or weights.ndim != 2:
        raise BacktestError(
            f"vol target: weights {weights.shape}, close {close.shape} and eligible "
            f"{eligible.shape} must be (time, asset) arrays of one shape",
            hint="pass the weights and closes of the same bars and assets",
        )
    n_times, n_assets = weights.shape
    window = overlay.window
    ann = np.sqrt(periods_per_year)
    rets = _returns(close, eligible)
    decided = np.isfinite(weights)
    rows = np.flatnonzero(decided.any(axis=1))

    # the intended (unscaled) book after each decision row, carried forward per asset
    book = np.zeros(n_assets)
    books = np.zeros((rows.size, n_assets))
    for i, t in enumerate(rows):
        book = np.where(decided[t], weights[t], book)
        books[i] = book

    own_vol = None
    if overlay.estimator == "realized" and rows.size:
        # the book in force at each bar's close (0 before the first decision)
        in_force = np.zeros((n_times, n_assets))
        in_force[rows] = books
        held = np.zeros(n_times, dtype=bool)
        held[rows] = True
        idx = np.where(held, np.arange(n_times), 0)
        np.maximum.accumulate(idx, out=idx)
        in_force = in_force[idx]
        in_force[: rows[0]] = 0.0
        book_rets = np.zeros(n_times)
        book_rets[1:] = (in_force[:-1] * rets[1:]).sum(axis=1)
        own_vol = np.full(n_times, np.nan)
        if n_times >= window:
            view = np.lib.stride_tricks.sliding_window_view(book_rets, window)
            own_vol[window - 1 :] = view.std(axis=1, ddof=1) * ann
        # a window counts only if the book was in force on every bar of it
        own_vol[: rows[0] + window] = np.nan

    out = weights.copy()
    scales: list[float] = []
    vols: list[float] = []
    counts = dict.fromkeys(
        ("rows_unestimated", "rows_fallback", "rows_max_scale", "rows_leverage_capped"), 0
    )
    for i, t in enumerate(rows):
        book = books[i]
        gross = float(np.abs(book).sum())
        if gross == 0.0:
            continue
        if t < window:  # fewer than `window` returns up to bar t
            counts["rows_unestimated"] += 1
            continue
        vol = np.nan
        if own_vol is not None:
            vol = own_vol[t]
            if not np.isfinite(vol):
                counts["rows_fallback"] += 1
        if not np.isfinite(vol):
            path = rets[t - window + 1 : t + 1] @ book
            vol = float(path.std(ddof=1)) * ann
        scale = overlay.max_scale if vol <= 0 else min(overlay.max_scale, overlay.target / vol)
        if scale == overlay.max_scale:
            counts["rows_max_scale"] += 1
        if scale * gross > max_leverage:
            scale = max_leverage / gross
            counts["rows_leverage_capped"] += 1
        out[t] = weights[t] * scale
        scales.append(scale)
        vols.append(vol)
    stats: dict[str, Any] = {
        "estimator": overlay.estimator,
        "target": overlay.target,
        "rows_scaled": len(scales),
        **counts,
        "mean_scale": float(np.mean(scales)) if scales else None,
        "min_scale": float(np.min(scales)) if scales else None,
        "max_scale": float(np.max(scales)) if scales else None,
        "mean_vol_estimate": float(np.mean(vols)) if vols else None,
    }
    return out, stats
