"""Performance of any return stream per regime: return, volatility, Sharpe, drawdown, hit rate.

Conventions (the same as :mod:`alphaloop.backtest.metrics` where they overlap)
-----------------------------------------------------------------------------
- ``returns`` are simple per-bar returns net of costs (a backtest's
  ``returns``, a benchmark's, an index's).
- A bar belongs to the regime known *before* it: with the default
  ``lag=1`` the return of bar t is counted under the label of bar ``t - 1``
  (the label at t uses bar t's own return, so counting bar t under it would
  flatter the calm regimes and blacken the turbulent ones). ``lag=0`` counts
  it under its own bar's label, a description rather than a tradable split.
- Bars whose regime is warm-up (``-1``) are left out; ``share_of_time`` is
  over the labelled bars.
- Per regime, its bars are taken in time order as one stream (the gaps where
  another regime ruled are skipped): ``annual_return`` compounds them,
  ``(prod(1 + r)) ** (periods_per_year / bars) - 1``; ``annual_volatility``
  is the sample standard deviation (ddof=1) times ``sqrt(periods_per_year)``;
  ``sharpe_ratio`` is ``mean(r - risk_free) / std(r - risk_free) *
  sqrt(periods_per_year)``; ``max_drawdown`` is the deepest fall of that
  stream's compounded equity from its running peak (starting capital is
  the first peak), a negative fraction; ``hit_rate`` is the share of bars
  with a positive return. Undefined ratios (fewer than two bars, zero
  volatility) are NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alphaloop.risk._checks import check_positive, finite_series
from alphaloop.risk.errors import RiskError
from alphaloop.risk.regimes import WARMUP, RegimeLabels

__all__ = ["METRIC_COLUMNS", "regime_metrics"]

METRIC_COLUMNS = (
    "label",
    "bars",
    "share_of_time",
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "max_drawdown",
    "hit_rate",
)
"""The columns of :func:`regime_metrics`, in order."""


def regime_metrics(
    returns: object,
    labels: RegimeLabels | pd.Series,
    *,
    periods_per_year: float = 252.0,
    lag: int = 1,
    risk_free: float = 0.0,
    names: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """One row of performance metrics per regime, and a last row ``"all"``.

    Parameters
    ----------
    returns : Series
        Simple per-bar returns, no NaN.
    labels : RegimeLabels or Series of int
        Regime labels on the same index (``-1`` = warm-up).
    periods_per_year : float, default 252
        Bars per year for annualisation.
    lag : {1, 0}, default 1
        Bars between a label and the return it classifies (see the module notes).
    risk_free : float, default 0.0
        Per-bar risk-free return for the Sharpe ratio.
    names : tuple of str, optional
        Regime names (taken from a :class:`RegimeLabels`; default ``"0"``, ``"1"``...).

    Returns
    -------
    DataFrame
        Index: regime names then ``"all"`` (every labelled bar); columns
        :data:`METRIC_COLUMNS`. Every regime has a row, with 0 bars if it
        never occurs.
    """
    periods_per_year = check_positive(periods_per_year, "periods_per_year")
    if lag not in (0, 1):
        raise RiskError(f"lag: expected 0 or 1, got {lag!r}")
    if isinstance(labels, RegimeLabels):
        names = labels.names if names is None else names
        labels = labels.labels
    r = finite_series(returns, "returns", min_length=1)
    label_series = finite_series(labels, "labels", min_length=1)
    if not r.index.equals(label_series.index):
        raise RiskError(
            "labels: the index differs from the returns' index",
            hint="label the same bars, e.g. labels.reindex(returns.index)",
        )
    codes = label_series.to_numpy().astype(np.int64)
    if lag:
        codes = np.concatenate(([WARMUP], codes[:-1]))
    top = int(codes.max(initial=WARMUP))
    if names is None:
        names = tuple(str(k) for k in range(top + 1))
    if top >= len(names) or codes.min(initial=WARMUP) < WARMUP:
        raise RiskError(f"labels: values must be -1 .. {len(names) - 1}, found {top}")
    x = r.to_numpy()
    labelled = codes != WARMUP
    total = int(labelled.sum())
    rows = {}
    for k, name in enumerate(names):
        rows[name] = _stats(x[codes == k], k, total, periods_per_year, float(risk_free))
    rows["all"] = _stats(x[labelled], WARMUP, total, periods_per_year, float(risk_free))
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(METRIC_COLUMNS))
    table.index.name = "regime"
    return table


def _stats(r: np.ndarray, label: int, total: int, ppy: float, rf: float) -> dict[str, float]:
    n = r.size
    out: dict[str, float] = {
        "label": label,
        "bars": n,
        "share_of_time": n / total if total else math.nan,
    }
    if n == 0:
        return out | dict.fromkeys(METRIC_COLUMNS[3:], math.nan)
    growth = float(np.prod(1.0 + r))
    out["annual_return"] = growth ** (ppy / n) - 1.0 if growth >= 0.0 else math.nan
    std = float(np.std(r, ddof=1)) if n > 1 and r.max() != r.min() else (0.0 if n > 1 else math.nan)
    out["annual_volatility"] = std * math.sqrt(ppy)
    excess = r - rf
    excess_std = float(np.std(excess, ddof=1)) if n > 1 else math.nan
    out["sharpe_ratio"] = (
        float(np.mean(excess)) / excess_std * math.sqrt(ppy) if excess_std > 0.0 else math.nan
    )
    equity = np.cumprod(1.0 + r)
    peaks = np.maximum.accumulate(np.concatenate(([1.0], equity)))[1:]
    out["max_drawdown"] = float(min(np.min(equity / peaks - 1.0), 0.0))
    out["hit_rate"] = float(np.mean(r > 0.0))
    return out
