"""How much of the in-sample Sharpe ratio survives out of sample in a walk-forward run.

Conventions
-----------
- One pair per walk-forward fold: the Sharpe ratio of the strategy on the
  fold's training (in-sample, IS) window, as selected or fitted there, and on
  the test (out-of-sample, OOS) window that follows it. Both must be in the
  same units (e.g. both annualized with the same ``periods_per_year``).
- The ratio is ``mean(OOS) / mean(IS)`` over folds where both are finite:
  a ratio of means, not a mean of per-fold ratios, which explode when one
  fold's IS Sharpe is near zero.
- When the mean IS Sharpe ratio is <= 0 there was no in-sample edge to
  retain, and the ratio is NaN (not a large or negative number that would
  read as "retained" or "reversed").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from alphaloop.validation.sharpe import StatisticsError

__all__ = ["oos_is_ratio"]


def oos_is_ratio(
    is_sharpes: Sequence[float] | np.ndarray, oos_sharpes: Sequence[float] | np.ndarray
) -> float:
    """Mean out-of-sample Sharpe ratio over mean in-sample Sharpe ratio, across folds.

    Parameters
    ----------
    is_sharpes : sequence of float
        In-sample Sharpe ratio of each fold.
    oos_sharpes : sequence of float
        Out-of-sample Sharpe ratio of the same folds, same units and order.

    Returns
    -------
    float
        About 1 when the edge carries over, about 0 when it vanishes, < 0
        when it reverses. NaN when the mean IS Sharpe ratio is <= 0 or no fold
        has both values finite. Folds with a NaN on either side are dropped.

    Raises
    ------
    StatisticsError
        If the two inputs are not one-dimensional of the same length, or hold
        infinities.
    """
    is_values = np.asarray(is_sharpes, dtype=np.float64)
    oos_values = np.asarray(oos_sharpes, dtype=np.float64)
    if is_values.ndim != 1 or is_values.shape != oos_values.shape:
        raise StatisticsError(
            f"is_sharpes {is_values.shape} and oos_sharpes {oos_values.shape} must be "
            "one-dimensional with one value per fold"
        )
    if np.isinf(is_values).any() or np.isinf(oos_values).any():
        raise StatisticsError("Sharpe ratios must be finite or NaN; got an infinity")
    both = ~np.isnan(is_values) & ~np.isnan(oos_values)
    if not both.any():
        return math.nan
    mean_is = float(is_values[both].mean())
    if mean_is <= 0.0:
        return math.nan
    return float(oos_values[both].mean()) / mean_is
