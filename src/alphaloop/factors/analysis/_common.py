"""Shared helpers: input validation, forward returns, row-wise ranks and correlations.

Every array here is ``(n_times, n_assets)`` float64 with NaN for "no value";
"row" means one period's cross-section.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data import infer_frequency
from alphaloop.errors import AlphaloopError
from alphaloop.jsonsafe import json_number

__all__ = [
    "PERIODS_PER_YEAR",
    "FactorAnalysisError",
    "as_panel_array",
    "check_return_scale",
    "forward_returns",
    "json_number",
    "newey_west_lags",
    "periods_per_year_of",
    "row_correlation",
    "row_ranks",
    "simple_returns",
]

#: Periods per year assumed for annualization, by :func:`infer_frequency` name.
PERIODS_PER_YEAR: dict[str, int] = {
    "daily": 252,
    "weekly": 52,
    "monthly": 12,
    "quarterly": 4,
    "annual": 1,
}


class FactorAnalysisError(AlphaloopError):
    """Factor-analysis input is inconsistent (shapes, calendars, parameters) or too short."""


def as_panel_array(values: Any, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``values`` as a 2-D float64 array, checked against ``shape`` when given."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise FactorAnalysisError(
            f"{name} must be a 2-D (time, asset) array; got {arr.ndim} dimension(s)"
        )
    if shape is not None and arr.shape != shape:
        raise FactorAnalysisError(
            f"{name} has shape {arr.shape}, expected {shape} (time, asset)",
            hint="align it with the panel's index and assets first",
        )
    return arr


def forward_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """Simple forward returns over ``horizon`` periods.

    Parameters
    ----------
    close : ndarray, shape (n_times, n_assets)
        Prices (adjusted close), known at each period's close.
    horizon : int
        Number of periods ahead (>= 1).

    Returns
    -------
    ndarray, shape (n_times, n_assets)
        ``close[t + horizon] / close[t] - 1`` as a decimal (0.01 = 1 %), stamped
        at ``t``. NaN where either price is NaN or not positive, and in the last
        ``horizon`` rows, where ``t + horizon`` is beyond the data. Prices are
        not forward-filled.
    """
    if int(horizon) != horizon or horizon < 1:
        raise FactorAnalysisError(f"horizon must be a positive integer; got {horizon!r}")
    horizon = int(horizon)
    prices = np.asarray(close, dtype=np.float64)
    prices = np.where(prices > 0, prices, np.nan)
    out = np.full(prices.shape, np.nan)
    if horizon < prices.shape[0]:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:-horizon] = prices[horizon:] / prices[:-horizon] - 1.0
    return out


def simple_returns(prices: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Trailing simple returns ``p[t] / p[t-1] - 1``, stamped at ``t`` (where they are realized).

    A convenience for building the ``market`` and ``known_factors`` inputs of
    :func:`~alphaloop.factors.analysis.analyze_factor` from price levels. The
    first row is NaN; prices are not forward-filled.
    """
    return prices / prices.shift(1) - 1.0


def check_return_scale(values: pd.Series | pd.DataFrame, name: str) -> None:
    """Refuse series that look like price levels or percentages rather than decimal returns.

    Daily or monthly decimal returns have a median absolute value far below
    0.5; price levels (e.g. 359.69) and percentages (e.g. 2.96) do not.
    """
    frame = values.to_frame() if isinstance(values, pd.Series) else values
    for column in frame.columns:
        x = frame[column].to_numpy(dtype=np.float64)
        x = np.abs(x[np.isfinite(x)])
        if x.size and float(np.median(x)) > 0.5:
            raise FactorAnalysisError(
                f"{name} column {column!r} does not look like decimal returns "
                f"(median |value| = {float(np.median(x)):.4g})",
                hint="pass simple returns as decimals, e.g. simple_returns(prices), "
                "or percentages divided by 100",
            )


def row_ranks(values: np.ndarray, method: str = "average") -> np.ndarray:
    """Cross-sectional ranks (1-based) per row; NaN cells stay NaN.

    ``method`` is a :meth:`pandas.DataFrame.rank` method (``"average"`` gives
    tied values their mean rank, as Spearman's correlation does; ``"min"`` gives
    them the lowest rank of the tie).
    """
    return pd.DataFrame(values).rank(axis=1, method=method).to_numpy(dtype=np.float64)


def row_correlation(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each row of ``x`` with the same row of ``y``.

    Only cells where both are finite count. Returns ``(correlation, n)``; the
    correlation is NaN where fewer than 2 cells count or either side is
    constant over them.
    """
    both = np.isfinite(x) & np.isfinite(y)
    n = both.sum(axis=1)
    xv = np.where(both, x, 0.0)
    yv = np.where(both, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = xv.sum(axis=1) / n
        my = yv.sum(axis=1) / n
        dx = np.where(both, x - mx[:, None], 0.0)
        dy = np.where(both, y - my[:, None], 0.0)
        sxy = (dx * dy).sum(axis=1)
        sxx = (dx * dx).sum(axis=1)
        syy = (dy * dy).sum(axis=1)
        corr = sxy / np.sqrt(sxx * syy)
    constant = _row_constant(x, both) | _row_constant(y, both)
    corr[(n < 2) | constant] = np.nan
    return corr, n


def _row_constant(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """True for rows whose values under ``mask`` are all equal (exactly), or empty."""
    hi = np.where(mask, values, -np.inf).max(axis=1, initial=-np.inf)
    lo = np.where(mask, values, np.inf).min(axis=1, initial=np.inf)
    return ~(hi > lo)


def newey_west_lags(n: int, horizon: int = 1) -> int:
    """Bartlett-kernel lag count for a HAC variance of ``n`` observations.

    ``max(horizon - 1, floor(4 * (n / 100) ** (2 / 9)))``: the Newey-West (1994)
    rule of thumb, and at least the ``horizon - 1`` lags of autocorrelation
    that overlapping ``horizon``-period returns induce by construction.
    """
    rule = math.floor(4.0 * (max(n, 1) / 100.0) ** (2.0 / 9.0))
    return max(int(horizon) - 1, rule, 0)


def periods_per_year_of(index: pd.DatetimeIndex) -> int | None:
    """Annualization factor for a calendar (252 for daily), or None when irregular/intraday."""
    return PERIODS_PER_YEAR.get(infer_frequency(index))
