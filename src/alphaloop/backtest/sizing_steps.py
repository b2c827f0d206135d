"""Sizing and regime gating of target weights (a spec's ``sizing:`` and ``regime:``).

Both take target weights over a whole panel (NaN = no decision on that
row or for that asset) and return them changed on decision rows only, with
statistics. Every value on row t reads bars up to and including t: the
decision is made at t's close and the engines fill it from t + 1.

On each decision row the *intended book* is carried forward asset by asset
(a finite weight replaces the asset's previous one, NaN keeps it), as the
volatility overlay does (:mod:`alphaloop.strategies.overlay`). Returns are
simple close-to-close returns; a missing or ineligible one counts as 0.

Limits: after sizing, each ``|w|`` is at most ``max_weight`` and the row's
gross at most ``max_leverage`` (the whole row scaled down).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.backtest.spec_sizing import (
    AtrSizing,
    FixedFractionalSizing,
    KellySizing,
    RegimeRule,
    RiskParitySizing,
    VolTargetSizing,
)
from alphaloop.errors import BacktestError
from alphaloop.risk import RiskError, equal_risk_contribution, kelly_fraction

__all__ = [
    "apply_regime",
    "apply_sizing",
    "market_regime_labels",
    "regime_multipliers",
    "simple_returns",
]

SizingRule = VolTargetSizing | KellySizing | FixedFractionalSizing | AtrSizing | RiskParitySizing


def simple_returns(close: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Close-to-close simple returns, 0 where missing or either bar is ineligible."""
    rets = np.zeros(close.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets[1:] = close[1:] / close[:-1] - 1.0
    ok = np.zeros(close.shape, dtype=bool)
    ok[1:] = eligible[1:] & eligible[:-1]
    rets[~(ok & np.isfinite(rets))] = 0.0
    return rets


def _books(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decision rows and the intended book after each (carried forward per asset)."""
    decided = np.isfinite(weights)
    rows = np.flatnonzero(decided.any(axis=1))
    book = np.zeros(weights.shape[1])
    books = np.zeros((rows.size, weights.shape[1]))
    for i, t in enumerate(rows):
        book = np.where(decided[t], weights[t], book)
        books[i] = book
    return rows, books


def _within_limits(
    book: np.ndarray, max_weight: float, max_leverage: float
) -> tuple[np.ndarray, bool]:
    """The book with ``|w| <= max_weight`` and ``sum |w| <= max_leverage``; whether a cap bound."""
    capped = np.clip(book, -max_weight, max_weight)
    bound = bool((capped != book).any())
    gross = float(np.abs(capped).sum())
    if gross > max_leverage:
        capped = capped * (max_leverage / gross)
        bound = True
    return capped, bound


def _atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's average true range per asset, bar t included (NaN until ``window`` ranges)."""
    previous = np.vstack([np.full((1, close.shape[1]), np.nan), close[:-1]])
    with np.errstate(invalid="ignore"):
        true_range = np.fmax(np.fmax(high - low, np.abs(high - previous)), np.abs(low - previous))
    frame = pd.DataFrame(true_range)
    return frame.ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean().to_numpy()


def apply_sizing(
    weights: np.ndarray,
    close: np.ndarray,
    eligible: np.ndarray,
    rule: SizingRule,
    *,
    periods_per_year: float,
    max_weight: float,
    max_leverage: float,
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    stop_loss: float = 0.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Size each decision row of ``weights`` by ``rule`` (see :mod:`.spec_sizing`).

    Parameters
    ----------
    weights, close, eligible : ndarray, shape (time, asset)
        Target weights (NaN = no decision), closes and eligible bars of the
        same rows; pass the history before the first decision so that the
        first decisions have their window.
    rule : one of the sizing models
    periods_per_year : float
        Bars per year (annualizes the volatility target).
    max_weight, max_leverage : float
        The spec's limits.
    high, low : ndarray, optional
        Needed by ``atr``.
    stop_loss : float
        The spec's ``stops.stop_loss``: the stop distance of ``fixed_fractional``
        when the rule gives none.

    Returns
    -------
    weights : ndarray
        Sized weights (NaN where the input is NaN). A decision row without
        ``lookback`` bars of history before it keeps the rule's weights
        (within the limits).
    stats : dict
        ``method``, ``rows_sized``, ``rows_unestimated``, ``rows_capped``
        (a limit bound), ``mean_gross`` and ``max_gross`` of the sized rows.

    Raises
    ------
    BacktestError
        Arrays of different shapes; ``atr`` without high and low;
        ``fixed_fractional`` without a stop distance.
    """
    weights = np.asarray(weights, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    eligible = np.asarray(eligible, dtype=bool)
    if weights.ndim != 2 or weights.shape != close.shape or eligible.shape != close.shape:
        raise BacktestError(
            f"sizing: weights {weights.shape}, close {close.shape} and eligible "
            f"{eligible.shape} must be (time, asset) arrays of one shape"
        )
    method = rule.method
    atr = None
    if isinstance(rule, AtrSizing):
        if high is None or low is None:
            raise BacktestError(
                "sizing method atr needs the fields high and low; the dataset has no high/low",
                hint="use vol_target or fixed_fractional on close-only data",
            )
        atr = _atr(np.asarray(high, float), np.asarray(low, float), close, rule.window)
    stop = None
    if isinstance(rule, FixedFractionalSizing):
        stop = rule.stop if rule.stop is not None else (stop_loss or None)
        if stop is None:
            raise BacktestError(
                "sizing method fixed_fractional needs a stop distance: sizing.stop or "
                "stops.stop_loss"
            )
    rets = simple_returns(close, eligible)
    rows, books = _books(weights)
    out = weights.copy()
    counts = {"rows_sized": 0, "rows_unestimated": 0, "rows_capped": 0}
    grosses: list[float] = []
    for i, t in enumerate(rows):
        book = books[i]
        if not np.abs(book).sum() > 0.0:
            continue
        sized = _size_row(rule, book, t, rets, close, atr, stop, periods_per_year, max_leverage)
        if sized is None:  # too little history: the book as given, within the limits
            counts["rows_unestimated"] += 1
            sized, bound = _within_limits(book, max_weight, max_leverage)
            counts["rows_capped"] += int(bound)
            out[t] = np.where(np.isfinite(weights[t]), sized, np.nan)
            continue
        sized, bound = _within_limits(sized, max_weight, max_leverage)
        counts["rows_capped"] += int(bound)
        counts["rows_sized"] += 1
        grosses.append(float(np.abs(sized).sum()))
        out[t] = np.where(np.isfinite(weights[t]), sized, np.nan)
    stats: dict[str, Any] = {
        "method": method,
        **counts,
        "mean_gross": float(np.mean(grosses)) if grosses else None,
        "max_gross": float(np.max(grosses)) if grosses else None,
    }
    return out, stats


def _size_row(
    rule: SizingRule,
    book: np.ndarray,
    t: int,
    rets: np.ndarray,
    close: np.ndarray,
    atr: np.ndarray | None,
    stop: float | None,
    periods_per_year: float,
    max_leverage: float,
) -> np.ndarray | None:
    """The sized book of decision row ``t`` (None: too little history)."""
    held = book != 0.0
    if isinstance(rule, FixedFractionalSizing):
        assert stop is not None
        return np.where(held, np.sign(book) * rule.risk_per_trade / stop, 0.0)
    if isinstance(rule, AtrSizing):
        assert atr is not None
        with np.errstate(invalid="ignore", divide="ignore"):
            size = rule.risk_per_trade * close[t] / (rule.atr_multiple * atr[t])
        ok = held & np.isfinite(size) & (size > 0)
        return np.where(ok, np.sign(book) * size, 0.0)
    lookback = rule.lookback
    if t < lookback:  # fewer than `lookback` returns up to bar t
        return None
    window = rets[t - lookback + 1 : t + 1]
    gross = float(np.abs(book).sum())
    if isinstance(rule, VolTargetSizing):
        vol = float((window @ book).std(ddof=1)) * math.sqrt(periods_per_year)
        scale = rule.max_scale if vol <= 0 else min(rule.max_scale, rule.target / vol)
        return book * scale
    if isinstance(rule, KellySizing):
        path = window @ book
        cap = max_leverage / gross
        try:
            leverage = kelly_fraction(
                path, fraction=rule.fraction, haircut=rule.haircut, z=rule.z, max_leverage=cap
            )
        except RiskError:  # zero variance: no estimate of the edge
            return None
        return book * max(leverage, 0.0)
    assert isinstance(rule, RiskParitySizing)
    out = np.zeros_like(book)
    for side in (1.0, -1.0):
        idx = np.flatnonzero(np.sign(book) == side)
        if idx.size == 0:
            continue
        side_gross = float(np.abs(book[idx]).sum())
        if idx.size == 1:
            out[idx] = side * side_gross
            continue
        cov = np.cov(window[:, idx], rowvar=False, ddof=1)
        variances = np.diag(cov)
        if not (variances > 0).all():
            return None
        if rule.kind == "erc":
            try:
                spread = equal_risk_contribution(cov)
            except RiskError:
                return None
        else:
            inverse = 1.0 / np.sqrt(variances)
            spread = inverse / inverse.sum()
        out[idx] = side * side_gross * spread
    return out


def market_regime_labels(
    close: np.ndarray, eligible: np.ndarray, rule: RegimeRule, index: pd.DatetimeIndex
) -> np.ndarray:
    """Filtered regime labels (int, ``-1`` = none yet) of the equal-weight market, one per bar.

    The market return of a bar is the mean simple return of the assets
    eligible on it and the bar before (0 when none).
    """
    from alphaloop.risk import detect_regimes

    rets = simple_returns(np.asarray(close, float), np.asarray(eligible, bool))
    pair = np.zeros(rets.shape, dtype=bool)
    pair[1:] = eligible[1:] & eligible[:-1]
    counts = pair.sum(axis=1)
    market = np.where(counts > 0, rets.sum(axis=1) / np.maximum(counts, 1), 0.0)
    series = pd.Series(market, index=index)
    if rule.detector == "volatility":
        history = rule.min_history or 504
        if len(series) < rule.window:
            return np.full(len(series), -1, dtype=np.int64)
        labels = detect_regimes(
            series,
            "vol",
            window=rule.window,
            n_regimes=rule.n_regimes,
            min_history=history,
            quantile_window=history,
        )
    elif rule.detector == "trend":
        if len(series) < rule.slow:
            return np.full(len(series), -1, dtype=np.int64)
        labels = detect_regimes(series, "trend", fast=rule.fast, slow=rule.slow, band=rule.band)
    else:
        method = "hmm" if rule.detector == "hmm" else "markov"
        history = rule.min_history or 504
        if len(series) <= history:
            return np.full(len(series), -1, dtype=np.int64)
        labels = detect_regimes(
            series, method, n_regimes=rule.n_regimes, min_train=history, refit_every=252
        )
    return labels.labels.to_numpy().astype(np.int64)


def regime_multipliers(labels: np.ndarray, rule: RegimeRule) -> np.ndarray:
    """The multiplier of each bar's regime (``rule.warmup_scale`` where there is no label)."""
    table = np.asarray(rule.multipliers(), dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    return np.where(labels < 0, rule.warmup_scale, table[np.clip(labels, 0, table.size - 1)])


def apply_regime(weights: np.ndarray, multipliers: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Multiply each decision row by its bar's multiplier; a change of multiplier between
    decisions re-targets the intended book times the new multiplier on that bar.

    Returns the weights and ``rows_changed`` (bars added as decisions),
    ``rows_scaled`` (decision rows multiplied by something other than 1),
    ``share_gated`` (share of bars from the first decision whose multiplier is 0).
    """
    weights = np.asarray(weights, dtype=np.float64)
    mult = np.asarray(multipliers, dtype=np.float64)
    if mult.shape != (weights.shape[0],):
        raise BacktestError(
            f"regime: {mult.shape[0] if mult.ndim else 0} multipliers for {weights.shape[0]} rows"
        )
    out = weights.copy()
    decided = np.isfinite(weights)
    book: np.ndarray | None = None
    current = 1.0
    added = scaled = 0
    first = -1
    for t in range(weights.shape[0]):
        m = float(mult[t])
        if decided[t].any():
            book = np.where(decided[t], weights[t], 0.0 if book is None else book)
            out[t] = np.where(decided[t], weights[t] * m, np.nan)
            scaled += int(m != 1.0)
            current = m
            first = t if first < 0 else first
        elif book is not None and m != current:
            out[t] = book * m
            added += 1
            current = m
    span = mult[first:] if first >= 0 else mult[:0]
    stats = {
        "rows_changed": added,
        "rows_scaled": scaled,
        "share_gated": float(np.mean(span == 0.0)) if span.size else None,
    }
    return out, stats
