"""From a signal to target weights: selection, weighting, limits and the rebalance schedule.

Everything here on row ``t`` uses data up to and including bar ``t`` only:
the signal, the membership mask and prices of that bar and before. The
result on a rebalance row is a full row of weights (0 for assets not held);
on other rows it is NaN (no orders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaloop.backtest._portfolio_kernel import (
    METHOD_QUANTILE,
    METHOD_THRESHOLD,
    METHOD_TOP_K,
    WEIGHT_EQUAL,
    WEIGHT_INVERSE_VOLATILITY,
    WEIGHT_SIGNAL,
    weights_rows,
)
from alphaloop.backtest._portfolio_reference import weights_loop
from alphaloop.backtest.composite import cross_sectional_rank
from alphaloop.backtest.spec import Exits, Limits, PortfolioRule, Rebalance
from alphaloop.errors import BacktestError

__all__ = ["rebalance_rows", "target_weights", "trailing_volatility"]

_METHODS = {
    "top_k": METHOD_TOP_K,
    "quantile_long_short": METHOD_QUANTILE,
    "threshold": METHOD_THRESHOLD,
}
_WEIGHTINGS = {
    "equal": WEIGHT_EQUAL,
    "signal": WEIGHT_SIGNAL,
    "inverse_volatility": WEIGHT_INVERSE_VOLATILITY,
}


def rebalance_rows(index: pd.DatetimeIndex, rule: Rebalance) -> np.ndarray:
    """Rows (bool, one per bar) on whose close the portfolio is rebalanced.

    Calendar frequencies pick the first bar of each week (ISO), month or
    quarter in UTC, plus the first bar; ``bars`` picks every ``every``-th bar
    counted from the first.
    """
    n = len(index)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if rule.frequency == "daily":
        return np.ones(n, dtype=bool)
    if rule.frequency == "bars":
        return np.arange(n) % rule.every == 0
    if rule.frequency == "weekly":
        iso = index.isocalendar()
        key = iso["year"].to_numpy() * 100 + iso["week"].to_numpy()
    elif rule.frequency == "monthly":
        key = index.year * 100 + index.month
    else:
        key = index.year * 10 + index.quarter
    key = np.asarray(key)
    out = np.ones(n, dtype=bool)
    out[1:] = key[1:] != key[:-1]
    return out


def trailing_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """Sample std of simple returns over the ``window`` returns ending at each bar (NaN before)."""
    t = close.shape[0]
    rets = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets[1:] = close[1:] / close[:-1] - 1.0
    frame = pd.DataFrame(rets)
    vol = frame.rolling(window, min_periods=window).std(ddof=1).to_numpy()
    return vol if t else rets


def target_weights(
    signal: np.ndarray,
    close: np.ndarray,
    eligible: np.ndarray,
    rule: PortfolioRule,
    limits: Limits,
    rebalance: np.ndarray,
    *,
    volatility: np.ndarray | None = None,
    exits: Exits | None = None,
) -> np.ndarray:
    """Target weights per (time, asset) for a signal (higher = more attractive).

    Parameters
    ----------
    signal, close : ndarray, shape (time, asset)
    eligible : ndarray of bool, shape (time, asset)
        Assets that may be held at each bar (universe and membership); an
        asset also needs a finite signal and close (and volatility, for
        inverse-volatility weights).
    rule, limits : PortfolioRule, Limits
    rebalance : ndarray of bool, shape (time,)
    volatility : ndarray, optional
        Per-bar return volatility for inverse-volatility weights; by default
        :func:`trailing_volatility` of ``close`` (pass it when ``close`` is a
        slice of a longer history, so the first rows have it too).
    exits : Exits, optional
        Holding rules. ``hold_bars``: at a rebalance, a position entered
        fewer than ``hold_bars`` bars before (at an earlier rebalance row) is
        kept while its asset is still eligible: it is selected first and
        counts toward ``k`` (``top_k``) or its leg's quantile
        (``quantile_long_short``), or keeps its state (``threshold``), and is
        weighted as the rule weights any selected asset. ``exit_on_flip``: on
        the bars between rebalances, a long whose signal's cross-sectional
        percentile rank (:func:`~alphaloop.backtest.composite.cross_sectional_rank`
        over eligible assets with a signal) falls below 0.5 gets target 0 on
        that bar (a short: above 0.5), the rest of the row staying NaN; a
        position on the wrong side at a rebalance is not kept by
        ``hold_bars``.

    Returns
    -------
    ndarray, shape (time, asset)
        Weights of equity on rebalance rows (0 = not held), NaN elsewhere
        (except flip exits: 0 on the exiting asset).
    """
    if signal.shape != close.shape or eligible.shape != close.shape:
        raise BacktestError(
            f"signal {signal.shape}, close {close.shape} and eligibility {eligible.shape} "
            "must have the same (time, asset) shape"
        )
    if rebalance.shape != (close.shape[0],):
        raise BacktestError(f"rebalance mask has shape {rebalance.shape}; expected ({len(close)},)")
    vol = None
    ok = eligible & np.isfinite(signal) & np.isfinite(close) & (close > 0)
    if rule.weighting == "inverse_volatility":
        vol = volatility if volatility is not None else trailing_volatility(close, rule.vol_window)
        ok &= np.isfinite(vol) & (vol > 0)
    hold_bars = exits.hold_bars if exits is not None else 0
    rank = None
    if exits is not None and exits.exit_on_flip:
        ranked = eligible & np.isfinite(signal) & np.isfinite(close) & (close > 0)
        rank = cross_sectional_rank(signal, ranked)
    return _weights_loop(signal, ok, rule, limits, rebalance, vol, hold_bars=hold_bars, rank=rank)


def _compiled_for(signal: np.ndarray, vol: np.ndarray | None) -> bool:
    """Whether the numba kernel takes these inputs: float64 signal and volatility.

    Other dtypes keep the numpy paths (which then compute in that dtype).
    """
    return signal.dtype == np.float64 and (vol is None or vol.dtype == np.float64)


def _weights_loop(
    signal: np.ndarray,
    ok: np.ndarray,
    rule: PortfolioRule,
    limits: Limits,
    rebalance: np.ndarray,
    vol: np.ndarray | None,
    *,
    hold_bars: int = 0,
    rank: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`target_weights` row by row (every method, weighting and exit rule).

    Runs the numba kernel :func:`~alphaloop.backtest._portfolio_kernel.weights_rows`,
    equal bit for bit to the numpy reference
    :func:`~alphaloop.backtest._portfolio_reference.weights_loop`, which runs
    instead where the kernel is not compiled for the input (see
    :func:`_compiled_for`). ``rank``: the signal's cross-sectional percentile rank, given when
    positions exit on a signal flip.
    """
    if not _compiled_for(signal, vol):
        return weights_loop(
            signal, ok, rule, limits, rebalance, vol, hold_bars=hold_bars, rank=rank
        )
    out = np.full(signal.shape, np.nan)
    empty = np.empty((0, 0))
    weights_rows(
        np.ascontiguousarray(signal),
        np.ascontiguousarray(ok, dtype=np.bool_),
        empty if vol is None else np.ascontiguousarray(vol),
        np.flatnonzero(rebalance),
        _METHODS[rule.method],
        _WEIGHTINGS[rule.weighting],
        0 if rule.k is None else rule.k,
        float(rule.quantile),
        float(rule.gross),
        float(limits.max_weight),
        rule.entry_long is not None,
        _threshold(rule.entry_long),
        _threshold(rule.exit_long if rule.exit_long is not None else rule.entry_long),
        rule.entry_short is not None,
        _threshold(rule.entry_short),
        _threshold(rule.exit_short if rule.exit_short is not None else rule.entry_short),
        hold_bars,
        rank is not None,
        empty if rank is None else np.ascontiguousarray(rank, dtype=np.float64),
        out,
    )
    return out


def _threshold(value: float | None) -> float:
    """A threshold for the kernel (unused when None)."""
    return 0.0 if value is None else float(value)
