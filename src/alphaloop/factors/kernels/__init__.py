"""Numerical kernels of the factor expression engine (numba, one core).

Time-series kernels take float64 arrays of shape (time, asset) and return a
new float64 array of the same shape in Fortran order (each asset's series
contiguous, the order they compute in); inputs are never written.
Cross-sectional kernels return C order.
Columns are independent. Common conventions:

- The window at row ``t`` holds rows ``t - window + 1 .. t``: the current bar
  is included, rows before the start count as missing.
- NaN and +-inf are missing and skipped (pandas rolling does the same with
  +-inf). The result is NaN when fewer than ``min_periods`` valid values are
  in the window (``1 <= min_periods <= window``); kernels that need more
  values (variance 2, skew 3, kurtosis 4, regressions 2) are NaN below that.
  alphaloop's default mode passes ``min_periods=window``, the Qlib mode 1.
- ``qlib=True`` (where offered) reproduces a Qlib 0.9.7 quirk; see each
  function.

Cross-sectional kernels (``cs_*``) work row by row across assets.
"""

from alphaloop.factors.kernels.cross_section import cs_demean, cs_rank, cs_zscore
from alphaloop.factors.kernels.extremes import (
    rolling_argmax,
    rolling_argmin,
    rolling_max,
    rolling_min,
)
from alphaloop.factors.kernels.moments import (
    rolling_kurt,
    rolling_mad,
    rolling_skew,
    rolling_std,
    rolling_var,
)
from alphaloop.factors.kernels.neutralize import cs_neutralize
from alphaloop.factors.kernels.order import rolling_median, rolling_quantile, rolling_rank
from alphaloop.factors.kernels.pairwise import rolling_corr, rolling_cov
from alphaloop.factors.kernels.regression import rolling_resi, rolling_rsquare, rolling_slope
from alphaloop.factors.kernels.sums import rolling_count, rolling_mean, rolling_sum, shift
from alphaloop.factors.kernels.weighted import ewm_mean, rolling_wma

__all__ = [
    "cs_demean",
    "cs_neutralize",
    "cs_rank",
    "cs_zscore",
    "ewm_mean",
    "rolling_argmax",
    "rolling_argmin",
    "rolling_corr",
    "rolling_count",
    "rolling_cov",
    "rolling_kurt",
    "rolling_mad",
    "rolling_max",
    "rolling_mean",
    "rolling_median",
    "rolling_min",
    "rolling_quantile",
    "rolling_rank",
    "rolling_resi",
    "rolling_rsquare",
    "rolling_skew",
    "rolling_slope",
    "rolling_std",
    "rolling_sum",
    "rolling_var",
    "rolling_wma",
    "shift",
]
