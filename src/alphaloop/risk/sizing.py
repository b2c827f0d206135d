"""Position sizing: fractional Kelly, volatility targeting, ATR, fixed fractional, regime scales.

Conventions
-----------
- ``returns`` are simple per-bar returns; prices are positive levels.
- Every *time series* returned here is causal and aligned to the bar it is
  used on: the value at t is computed from data up to bar ``t - 1`` and
  multiplies the position held over bar t (entered at the close of
  ``t - 1``, or at the next open under next-bar fills). Appending later
  bars never changes an earlier value; the tests truncate and check.
- Scales are leverage multipliers (1.0 = the unscaled position); units are
  shares or contracts; weights are fractions of capital.
- Warm-up bars (not enough history yet) are NaN: decide explicitly what to
  hold there (``scale.fillna(0.0)`` is flat).

Risk parity (inverse volatility, equal risk contribution) is in
:mod:`alphaloop.risk.parity`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from alphaloop.risk._checks import (
    check_choice,
    check_fraction,
    check_positive,
    check_window,
    finite_frame,
    finite_series,
    positive_prices,
)
from alphaloop.risk.errors import RiskError
from alphaloop.risk.regimes import WARMUP, RegimeLabels

__all__ = [
    "KELLY_HAIRCUTS",
    "atr_position_size",
    "average_true_range",
    "fixed_fractional_size",
    "kelly_fraction",
    "regime_scale",
    "rolling_kelly",
    "volatility_target_scale",
]

KELLY_HAIRCUTS = ("standard_error", "none")
"""How :func:`kelly_fraction` allows for the error in the estimated mean."""


def kelly_fraction(
    returns: object,
    *,
    fraction: float = 0.5,
    haircut: str = "standard_error",
    z: float = 1.0,
    risk_free: float = 0.0,
    max_leverage: float = 2.0,
) -> float:
    """The fractional Kelly leverage of one asset from a sample of its returns.

    Full Kelly for returns of mean ``mu`` and variance ``sigma**2`` per bar
    (the continuous-time approximation, good for small per-bar returns) is
    ``mu / sigma**2``. The mean is estimated with error; betting on the
    estimate over-bets. With ``haircut="standard_error"`` the mean is first
    shrunk towards zero by ``z`` standard errors, ``sigma / sqrt(n)``: with
    ``z = 1.645`` it is the one-sided 95% lower confidence bound of the
    edge, and an edge smaller than its own noise gives 0.

    Parameters
    ----------
    returns : Series or 1-D array
        Simple per-bar returns of the asset or strategy, no NaN; at least 2.
    fraction : float in (0, 1], default 0.5
        The share of (haircut) full Kelly to bet: half Kelly by default.
    haircut : {"standard_error", "none"}, default "standard_error"
    z : float, default 1.0
        Standard errors to subtract from ``|mu|``.
    risk_free : float, default 0.0
        Per-bar risk-free return; the edge is ``mean(returns) - risk_free``.
    max_leverage : float, default 2.0
        The result is clipped to ``[-max_leverage, max_leverage]``.

    Returns
    -------
    float
        ``fraction * mu_adjusted / sigma**2`` (sample variance, ddof=1),
        clipped; negative means short.

    Raises
    ------
    RiskError
        NaNs, fewer than 2 returns, zero variance, bad parameters.
    """
    x = finite_series(returns, "returns").to_numpy()
    fraction = check_fraction(fraction, "fraction")
    check_choice(haircut, "haircut", KELLY_HAIRCUTS)
    z = check_positive(z, "z", allow_zero=True)
    risk_free = float(risk_free)
    max_leverage = check_positive(max_leverage, "max_leverage")
    variance = float(np.var(x, ddof=1))
    if not variance > 0.0:
        raise RiskError("returns: zero variance; the Kelly fraction is undefined")
    return _kelly(x, variance, fraction, haircut, z, risk_free, max_leverage)


def _kelly(
    x: np.ndarray,
    variance: float,
    fraction: float,
    haircut: str,
    z: float,
    risk_free: float,
    max_leverage: float,
) -> float:
    edge = float(np.mean(x)) - risk_free
    if haircut == "standard_error":
        standard_error = math.sqrt(variance / x.size)
        edge = math.copysign(max(abs(edge) - z * standard_error, 0.0), edge)
    return float(np.clip(fraction * edge / variance, -max_leverage, max_leverage))


def rolling_kelly(
    returns: object,
    *,
    window: int = 252,
    fraction: float = 0.5,
    haircut: str = "standard_error",
    z: float = 1.0,
    risk_free: float = 0.0,
    max_leverage: float = 2.0,
) -> pd.Series:
    """:func:`kelly_fraction` over the ``window`` bars before each bar (``t - window .. t - 1``).

    NaN for the first ``window`` bars; 0 where the window has zero variance.
    """
    window = check_window(window, "window")
    series = finite_series(returns, "returns", min_length=window)
    fraction = check_fraction(fraction, "fraction")
    check_choice(haircut, "haircut", KELLY_HAIRCUTS)
    z = check_positive(z, "z", allow_zero=True)
    max_leverage = check_positive(max_leverage, "max_leverage")
    x = series.to_numpy()
    out = np.full(x.size, np.nan)
    for t in range(window, x.size):
        past = x[t - window : t]
        variance = float(np.var(past, ddof=1))
        out[t] = (
            _kelly(past, variance, fraction, haircut, z, float(risk_free), max_leverage)
            if variance > 0.0
            else 0.0
        )
    return pd.Series(out, index=series.index, name="kelly")


def volatility_target_scale(
    returns: pd.Series | pd.DataFrame | np.ndarray,
    *,
    target_vol: float = 0.10,
    window: int = 63,
    periods_per_year: float = 252.0,
    max_leverage: float = 2.0,
) -> pd.Series | pd.DataFrame:
    """Leverage that scales a return stream to a target annualised volatility.

    ``scale_t = min(target_vol / (std(returns[t-window .. t-1]) * sqrt(periods_per_year)),
    max_leverage)``: the trailing sample standard deviation (ddof=1) of the
    ``window`` bars *before* t, so the scale is known when the position
    for bar t is set. A window of zero volatility gets ``max_leverage``.

    Parameters
    ----------
    returns : Series, DataFrame or array
        Simple per-bar returns, no NaN; a frame is scaled column by column.
    target_vol : float, default 0.10
        Annualised volatility target (0.10 = 10% a year).
    window : int, default 63
        Bars in the trailing estimate (a quarter of daily bars).
    periods_per_year : float, default 252
        Bars per year (252 exchange sessions, 365 crypto, 260 FX).
    max_leverage : float, default 2.0
        Cap on the scale.

    Returns
    -------
    Series or DataFrame
        Like the input; NaN for the first ``window`` bars.
    """
    target_vol = check_positive(target_vol, "target_vol")
    window = check_window(window, "window")
    periods_per_year = check_positive(periods_per_year, "periods_per_year")
    max_leverage = check_positive(max_leverage, "max_leverage")
    data: pd.Series | pd.DataFrame
    if isinstance(returns, pd.DataFrame) or np.ndim(returns) == 2:
        data = finite_frame(returns, "returns", min_length=window)
    else:
        data = finite_series(returns, "returns", min_length=window)
    vol = data.rolling(window).std(ddof=1).shift(1) * math.sqrt(periods_per_year)
    scale = (target_vol / vol).where(vol > 0.0, max_leverage).where(vol.notna())
    return scale.clip(upper=max_leverage)


def average_true_range(
    high: pd.Series | pd.DataFrame,
    low: pd.Series | pd.DataFrame,
    close: pd.Series | pd.DataFrame,
    *,
    window: int = 14,
) -> pd.Series | pd.DataFrame:
    """Wilder's average true range at each bar, including that bar (price units).

    The true range is ``max(high - low, |high - close[t-1]|, |low - close[t-1]|)``
    (``high - low`` on the first bar); its Wilder average is the recursive
    mean with weight ``1 / window``, started at the first true range; NaN
    for the first ``window - 1`` bars.
    """
    window = check_window(window, "window", minimum=1)
    frames = []
    for name, values in (("high", high), ("low", low), ("close", close)):
        checked = (
            finite_frame(values, name, min_length=window)
            if isinstance(values, pd.DataFrame)
            else finite_series(values, name, min_length=window)
        )
        positive_prices(checked, name)
        frames.append(checked)
    h, lo, c = frames
    if h.shape != lo.shape or h.shape != c.shape or not h.index.equals(c.index):
        raise RiskError("high, low, close: must have the same shape and index")
    if (h < lo).to_numpy().any():
        raise RiskError("high: below low on some bar; check the OHLC columns")
    previous = c.shift(1)
    # fmax skips the NaN of the first bar's missing previous close
    true_range = np.fmax(np.fmax(h - lo, (h - previous).abs()), (lo - previous).abs())
    return true_range.ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()


def atr_position_size(
    high: pd.Series | pd.DataFrame,
    low: pd.Series | pd.DataFrame,
    close: pd.Series | pd.DataFrame,
    *,
    capital: float,
    risk_fraction: float = 0.01,
    atr_multiple: float = 2.0,
    window: int = 14,
) -> pd.Series | pd.DataFrame:
    """Units to hold so that a stop ``atr_multiple`` ATRs away risks ``risk_fraction`` of capital.

    ``units_t = capital * risk_fraction / (atr_multiple * ATR[t-1])``, the
    ATR of the bars up to ``t - 1`` (:func:`average_true_range`). NaN for
    the first ``window`` bars. Multiply by a price for the notional.
    """
    capital = check_positive(capital, "capital")
    risk_fraction = check_fraction(risk_fraction, "risk_fraction")
    atr_multiple = check_positive(atr_multiple, "atr_multiple")
    atr = average_true_range(high, low, close, window=window).shift(1)
    return capital * risk_fraction / (atr_multiple * atr)


def fixed_fractional_size(
    capital: float, risk_fraction: float, stop_distance: float | np.ndarray
) -> float | np.ndarray:
    """Units such that being stopped out loses ``risk_fraction`` of capital.

    ``units = capital * risk_fraction / stop_distance``, where
    ``stop_distance`` is the loss per unit at the stop (entry price minus
    stop price for a long, in price units; positive).
    """
    capital = check_positive(capital, "capital")
    risk_fraction = check_fraction(risk_fraction, "risk_fraction")
    distance = np.asarray(stop_distance, dtype=float)
    if not np.all(np.isfinite(distance)) or np.any(distance <= 0.0):
        raise RiskError(f"stop_distance: expected positive numbers, got {stop_distance!r}")
    units = capital * risk_fraction / distance
    return float(units) if units.ndim == 0 else units


def regime_scale(
    labels: RegimeLabels | pd.Series,
    scales: Mapping[int | str, float],
    *,
    warmup: float = 0.0,
) -> pd.Series:
    """A leverage scale per regime, lagged one bar so that it is tradable.

    Parameters
    ----------
    labels : RegimeLabels or Series of int
        Filtered regime labels (``-1`` = warm-up).
    scales : mapping
        Regime -> scale, keyed by label (``{0: 1.0, 1: 0.5}``) or, with a
        :class:`RegimeLabels`, by name (``{"calm": 1.0, "turbulent": 0.5}``).
        Every regime that occurs must have a scale.
    warmup : float, default 0.0
        The scale where the previous bar has no regime (and on the first bar).

    Returns
    -------
    Series
        ``scale_t = scales[label_{t-1}]``: the regime known at the close of
        ``t - 1`` sizes the position held over bar t.
    """
    names: tuple[str, ...] = ()
    if isinstance(labels, RegimeLabels):
        names = labels.names
        labels = labels.labels
    series = finite_series(labels, "labels", min_length=1)
    warmup = float(warmup)
    by_label: dict[int, float] = {}
    for key, value in scales.items():
        label = names.index(key) if isinstance(key, str) and key in names else key
        if not isinstance(label, int | np.integer):
            raise RiskError(
                f"scales: unknown regime {key!r}",
                hint=f"use labels or names: {', '.join(names) or 'labels 0, 1, ...'}",
            )
        by_label[int(label)] = float(value)
    values = series.to_numpy().astype(np.int64)
    missing = sorted(set(np.unique(values).tolist()) - set(by_label) - {WARMUP})
    if missing:
        raise RiskError(
            f"scales: no scale for regime(s) {missing}", hint="give every regime a scale"
        )
    mapped = np.array([warmup if v == WARMUP else by_label[int(v)] for v in values])
    lagged = np.concatenate(([warmup], mapped[:-1]))
    return pd.Series(lagged, index=series.index, name="scale")
