"""Causal market regimes: volatility and trend labels, and one entry point for every method.

Conventions shared by every regime model in :mod:`alphaloop.risk`
-----------------------------------------------------------------
- Labels are *filtered*, never smoothed: the label at bar t is computed from
  data up to and including bar t (the bar has closed), so appending later
  bars never changes an earlier label. Tests truncate the input and check
  this for every method.
- Labels are small integers ordered by meaning, the same on every run:
  volatility regimes and the hidden-state models sort states by volatility
  (0 = calmest), trend regimes go 0 = down, 1 = flat, 2 = up, Hurst regimes
  0 = mean-reverting, 1 = random walk, 2 = trending. ``-1`` marks warm-up
  bars that have no label yet (too little history, or the training span of
  a fitted model).
- ``returns`` are simple per-bar returns; prices are positive levels.
- To act on a label, use it from the next bar on (a label at t is known at
  the close of t): :func:`alphaloop.risk.sizing.regime_scale` and
  :func:`alphaloop.risk.regime_performance.regime_metrics` lag by one bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.risk._checks import (
    check_choice,
    check_positive,
    check_window,
    finite_series,
    positive_prices,
)
from alphaloop.risk.errors import RiskError

__all__ = [
    "REGIME_METHODS",
    "WARMUP",
    "RegimeLabels",
    "detect_regimes",
    "trend_regimes",
    "volatility_regimes",
]

WARMUP = -1
"""The label of a bar that has no regime yet (warm-up or a model's training span)."""


@dataclass(frozen=True)
class RegimeLabels:
    """Filtered regime labels of one series.

    Attributes
    ----------
    labels : pandas.Series of int
        The regime at each bar from data up to that bar; ``-1`` (``WARMUP``)
        where there is none yet. Same index as the input.
    names : tuple of str
        ``names[k]`` is the name of regime ``k`` (e.g. ``("calm", "turbulent")``).
    method : str
        The method that made them (``"vol"``, ``"trend"``, ``"hmm"``, ...).
    probabilities : pandas.DataFrame or None
        Hidden-state models only: the filtered probability of each regime
        (columns ``names``) at each bar given data up to that bar; NaN in
        warm-up rows.
    params : dict
        The parameters used (windows, seeds, training span), for provenance.
    """

    labels: pd.Series
    names: tuple[str, ...]
    method: str
    probabilities: pd.DataFrame | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def current(self) -> int:
        """The label of the last bar (``-1`` if it is still warm-up)."""
        return int(self.labels.iloc[-1])

    @property
    def current_name(self) -> str:
        """The name of the last bar's regime, or ``"warm-up"``."""
        return self.name_of(self.current)

    def name_of(self, label: int) -> str:
        """The name of regime ``label`` (``"warm-up"`` for ``-1``)."""
        return "warm-up" if label == WARMUP else self.names[label]


def volatility_regimes(
    returns: object,
    *,
    window: int = 21,
    n_regimes: int = 2,
    min_history: int = 252,
    thresholds: tuple[float, ...] | None = None,
    quantile_window: int | None = None,
) -> RegimeLabels:
    """Regimes by trailing volatility against its own expanding (or trailing) history.

    Parameters
    ----------
    returns : Series or 1-D array
        Simple per-bar returns, no NaN.
    window : int, default 21
        Bars in the trailing volatility, including the current bar: the
        volatility at t is the sample standard deviation (ddof=1) of bars
        ``t-window+1 .. t``, per bar (not annualised).
    n_regimes : int, default 2
        Number of regimes when ``thresholds`` is not given: the cut points
        at t are the ``k / n_regimes`` quantiles (linear interpolation) of
        every trailing volatility up to and including t, so they move with
        the history but never look ahead.
    min_history : int, default 252
        Trailing-volatility values needed before the first label.
    thresholds : tuple of float, optional
        Fixed, increasing per-bar volatility cut points instead of quantiles
        (``n_regimes`` is then ``len(thresholds) + 1``).
    quantile_window : int, optional
        Cut points from the last ``quantile_window`` trailing-volatility
        values only (at least ``min_history``) instead of every one so far:
        a label then no longer depends on how much history was loaded once
        ``window + quantile_window`` bars have passed.

    Returns
    -------
    RegimeLabels
        0 = calmest; ``-1`` for the first ``window - 1 + min_history - 1`` bars
        (``window - 1`` with fixed thresholds).
    """
    window = check_window(window, "window")
    series = finite_series(returns, "returns", min_length=window)
    vol = series.rolling(window).std(ddof=1)
    if thresholds is not None:
        cuts = np.asarray(thresholds, dtype=float)
        if cuts.ndim != 1 or cuts.size == 0 or not np.all(np.isfinite(cuts)):
            raise RiskError(f"thresholds: expected finite numbers, got {thresholds!r}")
        if np.any(np.diff(cuts) <= 0.0):
            raise RiskError(f"thresholds: must be strictly increasing, got {thresholds!r}")
        n_regimes = cuts.size + 1
        counts = (vol.to_numpy()[:, None] > cuts[None, :]).sum(axis=1)
        labels = np.where(vol.notna().to_numpy(), counts, WARMUP)
    else:
        n_regimes = check_window(n_regimes, "n_regimes")
        min_history = check_window(min_history, "min_history", minimum=1)
        if quantile_window is not None:
            quantile_window = check_window(quantile_window, "quantile_window", minimum=min_history)
            expanding = vol.rolling(quantile_window, min_periods=min_history)
        else:
            expanding = vol.expanding(min_periods=min_history)
        counts = np.zeros(len(series), dtype=np.int64)
        valid = np.ones(len(series), dtype=bool)
        for k in range(1, n_regimes):
            cut = expanding.quantile(k / n_regimes).to_numpy()
            valid &= np.isfinite(cut)
            counts += vol.to_numpy() > cut
        labels = np.where(valid, counts, WARMUP)
    names = volatility_names(n_regimes)
    return RegimeLabels(
        labels=pd.Series(labels.astype(np.int64), index=series.index, name="regime"),
        names=names,
        method="vol",
        params={
            "window": window,
            "n_regimes": n_regimes,
            "min_history": min_history,
            "thresholds": None if thresholds is None else [float(c) for c in thresholds],
            "quantile_window": quantile_window,
        },
    )


def trend_regimes(
    prices: object, *, fast: int = 50, slow: int = 200, band: float = 0.0
) -> RegimeLabels:
    """Regimes by the gap between a fast and a slow moving average of prices.

    Parameters
    ----------
    prices : Series or 1-D array
        Positive price levels (or a growth index), no NaN.
    fast, slow : int, default 50 and 200
        Simple moving-average windows in bars, each including the current
        bar; ``fast < slow``.
    band : float, default 0.0
        Dead zone as a fraction: the gap ``fast_ma / slow_ma - 1`` below
        ``-band`` is down (0), above ``band`` up (2), otherwise flat (1).

    Returns
    -------
    RegimeLabels
        Names ``("down", "flat", "up")``; ``-1`` for the first ``slow - 1`` bars.
    """
    fast = check_window(fast, "fast", minimum=1)
    slow = check_window(slow, "slow")
    if fast >= slow:
        raise RiskError(f"fast: must be shorter than slow ({slow}), got {fast}")
    band = check_positive(band, "band", allow_zero=True)
    series = finite_series(prices, "prices", min_length=slow)
    positive_prices(series, "prices")
    gap = (series.rolling(fast).mean() / series.rolling(slow).mean() - 1.0).to_numpy()
    labels = np.where(gap > band, 2, np.where(gap < -band, 0, 1))
    labels = np.where(np.isfinite(gap), labels, WARMUP)
    return RegimeLabels(
        labels=pd.Series(labels.astype(np.int64), index=series.index, name="regime"),
        names=("down", "flat", "up"),
        method="trend",
        params={"fast": fast, "slow": slow, "band": band},
    )


def volatility_names(n_regimes: int) -> tuple[str, ...]:
    if n_regimes == 2:
        return ("calm", "turbulent")
    if n_regimes == 3:
        return ("calm", "normal", "turbulent")
    return tuple(f"vol-{k}" for k in range(n_regimes))


def _trend_from_returns(returns: object, **params: Any) -> RegimeLabels:
    series = finite_series(returns, "returns")
    if (series <= -1.0).any():
        raise RiskError("returns: a return of -100% or less leaves no price to follow")
    return trend_regimes((1.0 + series).cumprod(), **params)


def _hmm(returns: object, **params: Any) -> RegimeLabels:
    from alphaloop.risk.regimes_hmm import hmm_regimes

    return hmm_regimes(returns, **params)


def _markov(returns: object, **params: Any) -> RegimeLabels:
    from alphaloop.risk.regimes_markov import markov_regimes

    return markov_regimes(returns, **params)


def _hurst(returns: object, **params: Any) -> RegimeLabels:
    from alphaloop.risk.hurst import hurst_regimes

    return hurst_regimes(returns, **params)


REGIME_METHODS: Mapping[str, Callable[..., RegimeLabels]] = {
    "vol": volatility_regimes,
    "trend": _trend_from_returns,
    "hmm": _hmm,
    "markov": _markov,
    "hurst": _hurst,
}
"""Method name -> the function that labels a return series with it."""


def detect_regimes(returns: object, method: str = "vol", **params: Any) -> RegimeLabels:
    """Filtered regime labels of a return series by the named method.

    Parameters
    ----------
    returns : Series or 1-D array
        Simple per-bar returns, no NaN.
    method : {"vol", "trend", "hmm", "markov", "hurst"}, default "vol"
        :func:`volatility_regimes`; :func:`trend_regimes` on the growth
        index ``cumprod(1 + returns)``;
        :func:`~alphaloop.risk.regimes_hmm.hmm_regimes` (needs the ``risk``
        extra); :func:`~alphaloop.risk.regimes_markov.markov_regimes`;
        :func:`~alphaloop.risk.hurst.hurst_regimes`.
    **params
        Keyword parameters of that function.

    Raises
    ------
    RiskError
        An unknown method, bad parameters or bad input.
    """
    check_choice(method, "method", REGIME_METHODS)
    try:
        return REGIME_METHODS[method](returns, **params)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise RiskError(f"method {method!r}: {exc}") from None
        raise
