"""Synthetic panels with a planted formulaic alpha, for testing and benchmarking miners.

A planted panel is a daily OHLCV panel simulated bar by bar in which one known
expression (the *planted factor*) drives part of every asset's future return,
so a miner can be judged on whether it finds that expression, or one as good,
among pure noise.

Construction
------------
Per asset ``i`` and bar ``s``, the log close-to-close return is

``log(close[s] / close[s-1]) = sigma[i] * m[s, i] * eps[s, i] + c * mean(z[s-1-h .. s-2, i])``

- ``eps`` is i.i.d. standard normal noise; ``sigma[i]`` a base volatility,
  uniform in [1%, 3%] a day; ``m`` a slow, persistent volatility multiplier
  (log AR(1), coefficient 0.97, stationary spread about 20%).
- ``z[u]`` is the cross-sectional standardised rank (mean 0, std 1, average
  ranks for ties) of the planted factor's value known at the close of bar
  ``u``, computed exactly by construction from the bars simulated so far
  (0 while the factor's window is not full). Its rank agrees with
  :func:`alphaloop.factors.evaluate.evaluate` of :attr:`PlantedPanel.expression`.
- ``h`` is the horizon. The signal of bar ``u`` is spread evenly over the
  bars ``u + 2 .. u + 1 + h``: exactly the return the miner's next-bar label
  ``label[u] = close[u+1+h] / close[u+1] - 1`` measures (a factor known at
  close ``u`` is traded at close ``u + 1``).
- ``c = 1.3 * strength * sigma_ref / (sqrt(h) * sqrt(1 - strength**2))`` with
  ``sigma_ref = 2%``: the factor's mean daily rank IC at horizon ``h`` is then
  roughly ``strength`` (0.05-0.15 for ``strength=0.1``; the factor 1.3 makes
  up for the signal's imperfect persistence).

Volumes are exogenous: ``exp(mu[i] + u[s, i])`` rounded to whole shares with
``mu`` uniform in [log 1e5, log 1e7] and ``u`` a log AR(1) (coefficient 0.8,
shock 0.3), so ``Corr($close, $volume, 10)`` varies across assets. Open is the
previous close times a small gap; high and low widen the open-close range.
Starting closes are log-uniform in [10, 500]. With ``alpha="none"`` there is
no signal: random-walk prices and independent volumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from alphaloop.data import Panel
from alphaloop.errors import MiningError
from alphaloop.factors.mining.folds import next_bar_label

__all__ = [
    "PLANTED_EXPRESSIONS",
    "PlantedAlpha",
    "PlantedPanel",
    "daily_rank_ic",
    "planted_ic",
    "planted_panel",
]

PlantedAlpha = Literal["corr_close_volume", "volatility_rank", "none"]

PLANTED_EXPRESSIONS: dict[str, str | None] = {
    "corr_close_volume": "Corr($close, $volume, 10)",
    "volatility_rank": "CsRank(Std($close / Ref($close, 1) - 1, 20))",
    "none": None,
}
_WINDOW = {"corr_close_volume": 10, "volatility_rank": 20, "none": 0}
_SIGMA_REF = 0.02  # daily volatility the signal is scaled to
_CALIBRATION = 1.3  # makes the mean daily rank IC about `strength` (see the module docstring)
_MIN_TIMES = 80


@dataclass(frozen=True)
class PlantedPanel:
    """A simulated panel and the factor planted in it.

    Attributes
    ----------
    panel : Panel
        Fields ``open``, ``high``, ``low``, ``close``, ``volume``; daily
        business-day UTC index; every asset a member on every bar.
    expression : str or None
        The planted factor in the expression language (None for ``"none"``).
    horizon : int
        Bars of the label the factor predicts (next-bar convention).
    seed : int
    strength : float
        About the planted factor's mean daily rank IC at ``horizon``.
    alpha : str
        Which factor was planted (``"corr_close_volume"``, ``"volatility_rank"``
        or ``"none"``).
    """

    panel: Panel
    expression: str | None
    horizon: int
    seed: int
    strength: float
    alpha: str = "none"


def planted_panel(
    *,
    n_times: int = 750,
    n_assets: int = 60,
    alpha: PlantedAlpha = "corr_close_volume",
    strength: float = 0.1,
    horizon: int = 5,
    seed: int = 0,
    start: str = "2015-01-02",
) -> PlantedPanel:
    """Simulate a daily OHLCV panel with a planted alpha (see the module docstring).

    Parameters
    ----------
    n_times : int, default 750
        Bars (business days from ``start``); at least 80.
    n_assets : int, default 60
        At least 5.
    alpha : {"corr_close_volume", "volatility_rank", "none"}
        ``Corr($close, $volume, 10)``, ``CsRank(Std($close / Ref($close, 1) - 1, 20))``
        or no signal at all.
    strength : float, default 0.1
        In [0, 1): about the planted factor's mean daily rank IC.
    horizon : int, default 5
        Bars of the return the factor predicts, ``close[t+1+h] / close[t+1] - 1``.
    seed : int, default 0
        The same seed gives the same panel.
    start : str, default "2015-01-02"
        First business day (UTC).

    Returns
    -------
    PlantedPanel

    Raises
    ------
    MiningError
        For an unknown ``alpha`` or out-of-range sizes, strength or horizon.
    """
    _check(n_times, n_assets, alpha, strength, horizon)
    rng = np.random.default_rng(seed)
    shape = (n_times, n_assets)
    # every random draw happens here, in a fixed order, whatever the alpha
    start_price = np.exp(rng.uniform(np.log(10.0), np.log(500.0), n_assets))
    sigma = rng.uniform(0.01, 0.03, n_assets)
    vol_shock = rng.normal(0.0, 0.05, shape)
    eps = rng.standard_normal(shape)
    mu = rng.uniform(np.log(1e5), np.log(1e7), n_assets)
    volume_shock = rng.normal(0.0, 0.3, shape)
    gap = rng.normal(0.0, 0.003, shape)
    wick_up = np.abs(rng.normal(0.0, 0.005, shape))
    wick_down = np.minimum(np.abs(rng.normal(0.0, 0.005, shape)), 0.5)

    log_m = _ar1(vol_shock, 0.97)
    noise = sigma * np.exp(log_m) * eps
    volume = np.maximum(np.rint(np.exp(mu + _ar1(volume_shock, 0.8))), 1.0)
    scale = _CALIBRATION * strength * _SIGMA_REF / (np.sqrt(horizon) * np.sqrt(1.0 - strength**2))
    close = _simulate_close(start_price, noise, volume, alpha, scale, horizon)

    prev = np.vstack([start_price, close[:-1]])
    open_ = prev * np.exp(gap)
    high = np.maximum(open_, close) * (1.0 + wick_up)
    low = np.minimum(open_, close) * (1.0 - wick_down)
    index = pd.bdate_range(start, periods=n_times, tz="UTC")
    assets = [f"A{j:03d}" for j in range(n_assets)]
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return PlantedPanel(
        panel=Panel(index, assets, fields),
        expression=PLANTED_EXPRESSIONS[alpha],
        horizon=horizon,
        seed=seed,
        strength=float(strength),
        alpha=alpha,
    )


def planted_ic(
    pp: PlantedPanel,
    rows: slice | Sequence[int] | np.ndarray | None = None,
    *,
    expression: str | None = None,
) -> float:
    """Mean daily rank IC of the planted expression against the next-bar label.

    Parameters
    ----------
    pp : PlantedPanel
    rows : slice, sequence of int or ndarray, optional
        Bars (row positions) to average over; all by default. Rows without a
        label (the last ``horizon + 1``) or with fewer than 5 valid pairs
        are skipped.
    expression : str, optional
        Score this expression instead of the planted one (needed for ``"none"``).

    Returns
    -------
    float
        Mean over the rows of the cross-sectional Spearman correlation
        between the factor at close ``t`` and ``close[t+1+h] / close[t+1] - 1``.

    Raises
    ------
    MiningError
        When there is no expression to score, or no row has enough valid pairs.
    """
    from alphaloop.factors.evaluate import evaluate

    text = expression if expression is not None else pp.expression
    if text is None:
        raise MiningError(
            "this panel has no planted factor (alpha='none')",
            hint="pass expression=... to score another expression on it",
        )
    values = evaluate(pp.panel, {"factor": text})["factor"]
    label = next_bar_label(pp.panel["close"], pp.horizon)
    daily = daily_rank_ic(values, label)
    picked = daily if rows is None else daily[rows]
    if not np.any(np.isfinite(picked)):
        raise MiningError(f"no row has 5 or more valid (factor, label) pairs for {text!r}")
    return float(np.nanmean(picked))


def daily_rank_ic(values: np.ndarray, label: np.ndarray, *, min_assets: int = 5) -> np.ndarray:
    """Cross-sectional Spearman correlation per row (average ranks for ties), shape (T,).

    NaN on rows with fewer than ``min_assets`` cells where both arrays are
    finite, or where either side is constant across them.
    """
    values = np.asarray(values, dtype=np.float64)
    label = np.asarray(label, dtype=np.float64)
    out = np.full(values.shape[0], np.nan)
    valid = np.isfinite(values) & np.isfinite(label)
    for t in np.flatnonzero(valid.sum(axis=1) >= min_assets):
        keep = valid[t]
        out[t] = _pearson(rankdata(values[t, keep]), rankdata(label[t, keep]))
    return out


# ------------------------------------------------------------------ internals
def _check(n_times: int, n_assets: int, alpha: str, strength: float, horizon: int) -> None:
    if alpha not in PLANTED_EXPRESSIONS:
        raise MiningError(
            f"unknown planted alpha {alpha!r}",
            hint=f"use one of {', '.join(sorted(PLANTED_EXPRESSIONS))}",
        )
    if n_assets < 5:
        raise MiningError(f"a planted panel needs at least 5 assets, got n_assets={n_assets}")
    if horizon < 1:
        raise MiningError(f"horizon must be at least 1 bar, got {horizon}")
    if n_times < max(_MIN_TIMES, 4 * (horizon + 1)):
        raise MiningError(
            f"n_times={n_times} is too short for horizon {horizon}: "
            f"use at least {max(_MIN_TIMES, 4 * (horizon + 1))} bars"
        )
    if not 0.0 <= strength < 1.0:
        raise MiningError(f"strength must be in [0, 1), got {strength}")


def _ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    """AR(1) along axis 0 started at its first shock."""
    out = np.empty_like(shocks)
    out[0] = shocks[0]
    for t in range(1, shocks.shape[0]):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _simulate_close(
    start_price: np.ndarray,
    noise: np.ndarray,
    volume: np.ndarray,
    alpha: str,
    scale: float,
    horizon: int,
) -> np.ndarray:
    """Closes bar by bar; the drift of bar ``s`` averages ``z`` over ``s-1-h .. s-2``."""
    n_times = noise.shape[0]
    log_close = np.empty(noise.shape)
    z = np.zeros(noise.shape)  # standardised rank of the factor known at each close
    window = _WINDOW[alpha]
    signal = alpha != "none" and scale > 0.0
    previous = np.log(start_price)
    for s in range(n_times):
        step = noise[s]
        if signal and s >= 2:
            step = step + scale * z[max(0, s - 1 - horizon) : s - 1].mean(axis=0)
        log_close[s] = previous + step
        previous = log_close[s]
        if signal and s + 1 >= window + (alpha == "volatility_rank"):
            z[s] = _standard_rank(_factor_at(alpha, log_close, volume, s, window))
    return np.exp(log_close)


def _factor_at(
    alpha: str, log_close: np.ndarray, volume: np.ndarray, s: int, window: int
) -> np.ndarray:
    """The planted factor's value at close ``s`` from bars ``<= s`` (before ranking)."""
    if alpha == "corr_close_volume":
        x = np.exp(log_close[s - window + 1 : s + 1])
        y = volume[s - window + 1 : s + 1]
        x = x - x.mean(axis=0)
        y = y - y.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (x * y).sum(axis=0) / np.sqrt((x * x).sum(axis=0) * (y * y).sum(axis=0))
    # volatility_rank: the rank of the 20-bar standard deviation of simple returns
    closes = np.exp(log_close[s - window : s + 1])
    returns = closes[1:] / closes[:-1] - 1.0
    return returns.std(axis=0, ddof=1)


def _standard_rank(values: np.ndarray) -> np.ndarray:
    """Average ranks standardised to mean 0 and std 1 over finite cells; 0 elsewhere."""
    out = np.zeros(values.shape)
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return out
    r = rankdata(values[ok])
    r = r - r.mean()
    sd = r.std()
    if sd > 0:
        out[ok] = r / sd
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else np.nan
