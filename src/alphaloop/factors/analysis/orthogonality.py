"""Is the factor's long-short return more than known exposures? Regression on market and factors.

``long_short = alpha + sum_i beta_i * regressor_i + e``, by OLS with
Newey-West (HAC) standard errors. ``alpha`` is the return per period left
after the exposures; a significant alpha says the factor carries information
the regressors do not.

Timing: every series is stamped at the close where its return is realized
(the long-short return of positions formed at ``t`` and held to ``t + 1`` is
stamped at ``t + 1``), so each row pairs returns over the same interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data import infer_frequency
from alphaloop.factors.analysis._common import (
    PERIODS_PER_YEAR,
    FactorAnalysisError,
    check_return_scale,
    json_number,
    newey_west_lags,
)

__all__ = ["OrthogonalityResult", "compound_to_calendar", "factor_orthogonality"]


@dataclass(frozen=True)
class OrthogonalityResult:
    """OLS of the long-short return on market and known factor returns.

    Attributes
    ----------
    alpha : float
        Intercept: residual return per period (decimal; per day on a daily
        calendar, per month on a monthly one).
    alpha_annualized : float or None
        ``alpha * periods_per_year`` (arithmetic, not compounded).
    alpha_t_stat, alpha_p_value : float
        From Newey-West (HAC) standard errors with ``hac_lags`` lags.
    betas, beta_t_stats : dict of str to float
        Slope on each regressor (``"market"`` and the known factors' columns)
        and its HAC t-statistic.
    r_squared : float
    n : int
        Periods in the regression.
    frequency : str
        Calendar of the regression (``"daily"``, ``"monthly"``, ...).
    periods_per_year : int or None
    hac_lags : int
    n_dropped : int
        Periods of the regression calendar inside the long-short series' span
        that had to be left out (a missing value, or a period the daily data
        does not cover completely).
    """

    alpha: float
    alpha_annualized: float | None
    alpha_t_stat: float
    alpha_p_value: float
    betas: dict[str, float]
    beta_t_stats: dict[str, float]
    r_squared: float
    n: int
    frequency: str
    periods_per_year: float | None
    hac_lags: int
    n_dropped: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": json_number(self.alpha),
            "alpha_annualized": json_number(self.alpha_annualized),
            "alpha_t_stat": json_number(self.alpha_t_stat),
            "alpha_p_value": json_number(self.alpha_p_value),
            "betas": {k: json_number(v) for k, v in self.betas.items()},
            "beta_t_stats": {k: json_number(v) for k, v in self.beta_t_stats.items()},
            "r_squared": json_number(self.r_squared),
            "n": self.n,
            "frequency": self.frequency,
            "periods_per_year": self.periods_per_year,
            "hac_lags": self.hac_lags,
            "n_dropped": self.n_dropped,
        }


def _utc(obj: pd.Series | pd.DataFrame, name: str) -> pd.Series | pd.DataFrame:
    if not isinstance(obj.index, pd.DatetimeIndex):
        raise FactorAnalysisError(f"{name} must be indexed by timestamps (a DatetimeIndex)")
    out = obj.copy()
    idx = obj.index
    out.index = (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns")
    if not out.index.is_monotonic_increasing or out.index.has_duplicates:
        raise FactorAnalysisError(f"{name} timestamps must be strictly increasing")
    return out


_PERIOD_ALIASES = {"weekly": "W", "monthly": "M", "quarterly": "Q", "annual": "Y"}


def _intervals(
    stamps: pd.DatetimeIndex, frequency: str | None
) -> list[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, bool]]:
    """``(stamp, start, end, start_inclusive)`` of the period each stamp closes."""
    alias = _PERIOD_ALIASES.get(frequency or "")
    if alias is None:
        return [(stamps[k], stamps[k - 1], stamps[k], False) for k in range(1, len(stamps))]
    periods = stamps.tz_convert("UTC").tz_localize(None).to_period(alias)
    return [
        (stamp, p.start_time.tz_localize("UTC"), p.end_time.tz_localize("UTC"), True)
        for stamp, p in zip(stamps, periods, strict=True)
    ]


def compound_to_calendar(
    returns: pd.DataFrame, stamps: pd.DatetimeIndex, frequency: str | None = None
) -> tuple[pd.DataFrame, int]:
    """Compound fine-grained simple returns into the periods that ``stamps`` close.

    Parameters
    ----------
    returns : pandas.DataFrame
        Simple returns (decimals) on a fine calendar (daily), stamped where
        realized.
    stamps : pandas.DatetimeIndex
        The coarse calendar (tz-aware).
    frequency : str, optional
        ``"weekly"``, ``"monthly"``, ``"quarterly"`` or ``"annual"``: a stamp
        stands for the calendar period containing it (so month-end and
        last-trading-day stamps both work, and the first stamp has a period
        too). Otherwise period ``k`` covers ``(stamps[k-1], stamps[k]]``.

    Returns
    -------
    (DataFrame, int)
        ``prod(1 + r) - 1`` per column and kept period, indexed by the kept
        stamps, and the number of periods overlapping the data that were left
        out. A period is kept only when the data covers it completely: the
        fine calendar starts before the period and continues after it (a
        trading calendar cannot tell whether the first or last days of a
        period are merely missing), and no value in it is NaN.
    """
    cal = returns.index
    values = returns.to_numpy(dtype=np.float64)
    rows: list[np.ndarray] = []
    kept: list[pd.Timestamp] = []
    dropped = 0
    if len(cal):
        for stamp, start, end, inclusive in _intervals(stamps, frequency):
            lo = int(cal.searchsorted(start, side="left" if inclusive else "right"))
            hi = int(cal.searchsorted(end, side="right"))
            if hi == lo and (end < cal[0] or start > cal[-1]):
                continue  # outside the data
            began = cal[0] < start if inclusive else cal[0] <= start
            complete = began and cal[-1] > end and hi > lo
            block = values[lo:hi]
            if not complete or not np.isfinite(block).all():
                dropped += 1
                continue
            rows.append(np.prod(1.0 + block, axis=0) - 1.0)
            kept.append(stamp)
    frame = pd.DataFrame(
        np.array(rows).reshape(len(rows), values.shape[1]),
        index=pd.DatetimeIndex(kept, tz=stamps.tz).as_unit(stamps.unit),
        columns=returns.columns,
    )
    return frame, dropped


def factor_orthogonality(
    long_short: pd.Series,
    *,
    market: pd.Series | None = None,
    known_factors: pd.DataFrame | None = None,
    periods_per_year: float | None = None,
    hac_lags: int | None = None,
    native_periods_per_year: float | None = None,
) -> OrthogonalityResult:
    """Regress a long-short return series on the market and known factor returns.

    Parameters
    ----------
    long_short : pandas.Series
        Simple returns (decimals) of the factor's long-short portfolio on a
        fine calendar (daily), non-overlapping, each stamped at the close where
        it is realized.
    market : pandas.Series, optional
        Simple market returns, stamped the same way (e.g. S&P 500 index
        ``close[t] / close[t-1] - 1``). Aligned to ``long_short``'s timestamps.
    known_factors : pandas.DataFrame, optional
        Returns of known factors (columns), on their own calendar: daily (e.g.
        factor ETF returns) or coarser (e.g. monthly Fama-French, stamped at
        the period's end). On a coarser calendar the long-short and market
        returns are compounded into its periods first
        (:func:`compound_to_calendar`).
    periods_per_year : int, optional
        Annualization factor of the regression calendar; default from its
        frequency (252 daily, 12 monthly).
    hac_lags : int, optional
        Newey-West lags; default ``floor(4 * (n / 100) ** (2 / 9))``.
    native_periods_per_year : float, optional
        Annualization factor of ``long_short``'s own calendar (the dataset's,
        e.g. 365 for daily crypto); used when the regression runs on that
        calendar and ``periods_per_year`` is not given.

    Raises
    ------
    FactorAnalysisError
        Neither regressor given, calendars without overlap, or too few periods.
    """
    import statsmodels.api as sm

    if market is None and known_factors is None:
        raise FactorAnalysisError(
            "orthogonality needs a market return series, known factor returns, or both"
        )
    for value, name in (
        (long_short, "long_short"),
        (market, "market"),
        (known_factors, "known_factors"),
    ):
        if value is not None:
            check_return_scale(value, name)
    ls = _utc(long_short.rename("long_short"), "long_short")
    ls = ls.loc[ls.first_valid_index() : ls.last_valid_index()]
    daily = pd.DataFrame({"long_short": ls})
    if market is not None:
        daily["market"] = _utc(market, "market").reindex(daily.index)
    target = daily
    n_dropped = 0
    frequency = native_frequency = infer_frequency(pd.DatetimeIndex(daily.index))
    if known_factors is not None:
        kf = _utc(known_factors, "known_factors")
        kf.columns = [str(c) for c in kf.columns]
        clash = set(kf.columns) & set(daily.columns)
        if clash:
            raise FactorAnalysisError(
                f"known factor column(s) {sorted(clash)} clash with reserved names",
                hint="rename them; 'long_short' and 'market' are used internally",
            )
        kf_frequency = infer_frequency(pd.DatetimeIndex(kf.index))
        if kf_frequency != frequency:
            daily, n_dropped = compound_to_calendar(daily, pd.DatetimeIndex(kf.index), kf_frequency)
            frequency = kf_frequency
        target = daily.join(kf, how="inner")
    clean = target.dropna()
    n_dropped += len(target) - len(clean)
    regressors = [c for c in clean.columns if c != "long_short"]
    n = len(clean)
    if n < len(regressors) + 3:
        raise FactorAnalysisError(
            f"only {n} {frequency} periods have the long-short return and every regressor",
            hint="check that the known factors' dates overlap the factor's sample",
        )
    ppy = periods_per_year
    if ppy is None and native_periods_per_year is not None and frequency == native_frequency:
        ppy = native_periods_per_year
    if ppy is None:
        ppy = PERIODS_PER_YEAR.get(frequency)
    lags = newey_west_lags(n) if hac_lags is None else int(hac_lags)
    x = sm.add_constant(clean[regressors].to_numpy(), has_constant="add")
    fit = sm.OLS(clean["long_short"].to_numpy(), x).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False}
    )
    params, tvalues, pvalues = (
        np.asarray(v, dtype=np.float64) for v in (fit.params, fit.tvalues, fit.pvalues)
    )
    alpha = float(params[0])
    return OrthogonalityResult(
        alpha=alpha,
        alpha_annualized=alpha * ppy if ppy is not None else None,
        alpha_t_stat=float(tvalues[0]),
        alpha_p_value=float(pvalues[0]),
        betas={name: float(b) for name, b in zip(regressors, params[1:], strict=True)},
        beta_t_stats={name: float(t) for name, t in zip(regressors, tvalues[1:], strict=True)},
        r_squared=float(fit.rsquared) if math.isfinite(fit.rsquared) else math.nan,
        n=n,
        frequency=frequency,
        periods_per_year=ppy,
        hac_lags=lags,
        n_dropped=n_dropped,
    )
