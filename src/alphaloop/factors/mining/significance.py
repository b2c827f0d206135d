"""Is a mined factor's IC more than luck, given how many candidates the search tried?

Conventions
-----------
- The t-statistic of the mean daily IC is Newey-West (HAC), with the lag
  count of :func:`alphaloop.factors.analysis.mean_t_stat_hac` for an overlap
  of ``horizon + 1`` bars: the label of row ``t`` spans bars ``t + 1 .. t + 1 + h``,
  so daily labels ``h + 1`` rows apart are the first that share no bar.
- The p-value is two-sided under the normal distribution.
- Multiple testing: the Šidák adjustment ``1 - (1 - p) ** n_trials`` is the
  chance that the best of ``n_trials`` independent null candidates would look
  at least this good. ``n_trials`` counts every candidate evaluated in the
  search, kept or not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alphaloop.errors import MiningError
from alphaloop.factors.analysis import mean_t_stat_hac
from alphaloop.jsonsafe import json_safe

__all__ = ["Significance", "adjusted_p", "ic_significance"]


@dataclass(frozen=True)
class Significance:
    """Significance of a mean daily IC after a search of ``n_trials`` candidates.

    Attributes
    ----------
    mean_ic : float
        Mean of the finite daily IC values.
    t_stat : float
        Newey-West t-statistic of that mean.
    n_days : int
        Number of finite daily IC values.
    lags : int
        Newey-West lag count used.
    p_value : float
        Two-sided normal p-value of ``t_stat``, unadjusted.
    n_trials : int
        Candidates evaluated in the search.
    adjusted_p : float
        Šidák-adjusted p-value, ``1 - (1 - p_value) ** n_trials``.
    passed : bool
        ``adjusted_p < alpha`` and the mean IC is positive (False when NaN): a
        mined factor is oriented to a positive IC on its training folds, so a
        significantly negative validation IC is a failure, not a discovery.
    """

    mean_ic: float
    t_stat: float
    n_days: int
    lags: int
    p_value: float
    n_trials: int
    adjusted_p: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN becomes None)."""
        return dict(json_safe(asdict(self)))


def _check_trials(n_trials: int) -> int:
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise MiningError(
            f"n_trials must be a whole number of at least 1 (every candidate evaluated), "
            f"got {n_trials!r}"
        )
    return int(n_trials)


def adjusted_p(p_value: float, n_trials: int) -> float:
    """Šidák adjustment of a p-value for the best of ``n_trials`` tries: ``1 - (1 - p) ** n``.

    Computed as ``-expm1(n * log1p(-p))`` so small p-values keep their digits.
    NaN stays NaN.
    """
    n = _check_trials(n_trials)
    p = float(p_value)
    if math.isnan(p):
        return math.nan
    if not 0.0 <= p <= 1.0:
        raise MiningError(f"p_value must be in [0, 1], got {p_value!r}")
    if p == 1.0:
        return 1.0
    return float(min(max(-math.expm1(n * math.log1p(-p)), 0.0), 1.0))


def ic_significance(
    daily_ic: npt.ArrayLike,
    *,
    horizon: int,
    n_trials: int,
    alpha: float = 0.05,
) -> Significance:
    """Newey-West test of a mean daily IC, Šidák-adjusted for the search's trials.

    Parameters
    ----------
    daily_ic : array-like, shape (n_times,)
        Daily IC values; NaN entries are dropped.
    horizon : int
        Label holding period ``h`` in bars (at least 1); the HAC overlap is ``h + 1``.
    n_trials : int
        Candidates evaluated in the search (at least 1).
    alpha : float, default=0.05
        Level the adjusted p-value must stay below, in (0, 1).
    """
    n = _check_trials(n_trials)
    if horizon < 1:
        raise MiningError(f"horizon must be at least 1 bar, got {horizon}")
    if not 0.0 < alpha < 1.0:
        raise MiningError(f"alpha must be in (0, 1), got {alpha}")
    values = np.asarray(daily_ic, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    t_stat, lags = mean_t_stat_hac(finite, horizon=horizon + 1)
    p_value = math.erfc(abs(t_stat) / math.sqrt(2.0)) if math.isfinite(t_stat) else math.nan
    adjusted = adjusted_p(p_value, n)
    return Significance(
        mean_ic=float(finite.mean()) if finite.size else math.nan,
        t_stat=float(t_stat),
        n_days=int(finite.size),
        lags=int(lags),
        p_value=p_value,
        n_trials=n,
        adjusted_p=adjusted,
        passed=bool(adjusted < alpha and finite.size and finite.mean() > 0),
    )
