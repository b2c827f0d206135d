"""Exposures of a strategy to a factor set, on the calendar both share.

:func:`factor_set_exposure` puts a strategy's returns per bar and a factor
set (:class:`~alphaloop.data.factor_data.FactorData`: daily or monthly
returns) on one calendar, then runs :func:`~alphaloop.risk.exposures.factor_exposures`.

Calendar rules (only stamps present on both sides are used; the result says
how many):

- **daily factors, daily or finer bars**: the strategy's bars are compounded
  to calendar dates (a no-op for one bar per day), then joined with the
  factor dates. Dates missing on either side are dropped, not filled.
- **daily factors, coarser bars** (weekly, monthly): the factor returns are
  compounded over each strategy bar ``(previous stamp, stamp]``; a bar
  whose period holds no factor date is dropped.
- **monthly factors**: the strategy's returns are compounded to calendar
  months with :func:`monthly_returns`; partial first and last months are
  dropped, since a part of a month cannot be compared with a whole month.
- With a risk-free rate (Fama-French), the strategy's excess return
  ``r - RF`` is regressed, so the intercept is a Jensen-style alpha.

Dates are compared as timezone-naive calendar dates (a UTC-stamped daily
bar at midnight is that date).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.risk.errors import RiskInputError
from alphaloop.risk.exposures import FactorExposure, factor_exposures

if TYPE_CHECKING:
    from alphaloop.data.factor_data import FactorData

__all__ = ["MIN_FACTOR_OBS", "FactorSetExposure", "factor_set_exposure", "monthly_returns"]

#: Fewest aligned observations a regression is run on, by factor frequency.
MIN_FACTOR_OBS: dict[str, int] = {"daily": 60, "monthly": 24}
# a month counts as complete when the series starts within this many days of the
# month's first business day and ends within it of the last (holidays, e.g. Jan 1)
_MONTH_SLACK_DAYS = 4


@dataclass(frozen=True)
class FactorSetExposure:
    """One factor set's regression, or why there is none.

    Attributes
    ----------
    name, label, frequency : str
        Of the factor set (``frequency`` is the factors': daily or monthly).
    factors : tuple of str
    n_obs : int
        Observations on the shared calendar (0 when nothing overlaps).
    start, end : Timestamp or None
        First and last shared stamp.
    exposure : FactorExposure or None
        None when fewer than :data:`MIN_FACTOR_OBS` observations overlap.
    excess : bool
        True when the risk-free rate was subtracted from the strategy's returns.
    note : str
        How the calendars were aligned, or why there is no regression.
    caveats : tuple of str
        The factor data's own caveats, for reports to repeat.
    """

    name: str
    label: str
    frequency: str
    factors: tuple[str, ...]
    n_obs: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    exposure: FactorExposure | None
    excess: bool
    note: str
    caveats: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "label": self.label,
            "frequency": self.frequency,
            "factors": list(self.factors),
            "n_obs": self.n_obs,
            "start": None if self.start is None else str(self.start.date()),
            "end": None if self.end is None else str(self.end.date()),
            "excess": self.excess,
            "exposure": None if self.exposure is None else self.exposure.to_dict(),
            "note": self.note,
            "caveats": list(self.caveats),
        }


def _naive_dates(index: pd.Index) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise RiskInputError("returns must be indexed by time (a DatetimeIndex)", field="returns")
    return index.tz_convert(None) if index.tz is not None else index


def _compound(returns: pd.Series, keys: Any) -> pd.Series:
    return np.expm1(np.log1p(returns).groupby(keys).sum())


def monthly_returns(returns: pd.Series) -> pd.Series:
    """Returns per calendar month, compounded: ``prod(1 + r) - 1`` of each month's bars.

    Stamped at the month's last calendar day (timezone-naive). The first
    month is dropped unless the series starts within a few days of that
    month's first business day, and the last unless it ends within a few
    days of that month's last business day (partial months).
    """
    if len(returns) == 0:
        return pd.Series(dtype=float, name=returns.name)
    stamps = _naive_dates(returns.index)
    month_ends = (stamps.normalize() + pd.offsets.MonthEnd(0)).rename("month")
    out = _compound(pd.Series(returns.to_numpy(dtype=float), index=stamps), month_ends)
    first, last = stamps[0].normalize(), stamps[-1].normalize()
    slack = pd.Timedelta(days=_MONTH_SLACK_DAYS)
    if first > pd.offsets.BMonthBegin().rollback(first) + slack:
        out = out.iloc[1:]
    if last < pd.offsets.BMonthEnd().rollforward(last) - slack and len(out):
        out = out.iloc[:-1]
    return out.rename(returns.name)


def _spacing_days(stamps: pd.DatetimeIndex) -> float:
    if len(stamps) < 2:
        return 1.0
    gaps = stamps[1:] - stamps[:-1]  # a TimedeltaIndex, whatever the stamps' resolution
    return float(gaps.median() / pd.Timedelta(days=1))


def _align_daily(returns: pd.Series, factors: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame, str]:
    stamps = _naive_dates(returns.index)
    values = pd.Series(returns.to_numpy(dtype=float), index=stamps)
    if _spacing_days(stamps) <= 1.5:
        daily = _compound(values, stamps.normalize())
        how = (
            "daily bars joined with the factor dates"
            if daily.size == values.size
            else "intraday bars compounded to calendar days, then joined with the factor dates"
        )
        joined = pd.concat([daily.rename("__y__"), factors], axis=1, join="inner").dropna()
        return joined.pop("__y__"), joined, how
    # coarse bars: each bar's factor return compounds the factor dates in (previous, this]
    edges = stamps.normalize()
    position = edges.searchsorted(factors.index, side="left")
    inside = (position < len(edges)) & (position > 0)
    grouped = _compound(factors[inside], edges[position[inside]])
    joined = pd.concat([values.set_axis(edges).rename("__y__"), grouped], axis=1, join="inner")
    joined = joined.dropna()
    how = "factor returns compounded over each strategy bar (bars coarser than a day)"
    return joined.pop("__y__"), joined, how


def factor_set_exposure(
    returns: pd.Series,
    data: FactorData,
    *,
    periods_per_year: float = 252,
    min_obs: int | None = None,
) -> FactorSetExposure:
    """Alpha, betas and t-statistics of ``returns`` on one factor set.

    Parameters
    ----------
    returns : Series
        Simple returns per bar with a DatetimeIndex (tz-aware or naive).
    data : FactorData
        From :func:`alphaloop.data.factor_data.factor_returns` (or built by hand).
    periods_per_year : float, default=252
        Bars per year of ``returns``; used only when the bars are coarser
        than the daily factors (daily factors annualize with 252, monthly with 12).
    min_obs : int, optional
        Fewest shared observations to run the regression (default
        :data:`MIN_FACTOR_OBS` of the factors' frequency).
    """
    if not isinstance(returns, pd.Series):
        raise RiskInputError("returns must be a Series indexed by time", field="returns")
    factors = data.returns
    names = tuple(str(c) for c in factors.columns)
    needed = int(min_obs if min_obs is not None else MIN_FACTOR_OBS.get(data.frequency, 24))
    excess = data.risk_free is not None
    if data.frequency == "monthly":
        y = monthly_returns(returns)
        if excess:
            y = (y - data.risk_free.reindex(y.index)).dropna()  # type: ignore[union-attr]
        joined = pd.concat([y.rename("__y__"), factors], axis=1, join="inner").dropna()
        y, x = joined.pop("__y__"), joined
        how = "returns compounded to whole calendar months, joined with the factor months"
        ppy = 12.0
    elif data.frequency == "daily":
        y, x, how = _align_daily(returns, factors)
        coarse = "compounded over each strategy bar" in how
        ppy = float(periods_per_year) if coarse else 252.0
    else:
        raise RiskInputError(
            f"factor frequency {data.frequency!r} is not daily or monthly", field="factors"
        )
    n = len(y)
    start = None if n == 0 else pd.Timestamp(y.index[0])
    end = None if n == 0 else pd.Timestamp(y.index[-1])
    if excess:
        how += "; the risk-free rate RF is subtracted from the strategy's returns"
    exposure = None
    if n == 0:
        f0, f1 = data.span
        note = (
            f"no overlap: the factors cover {f0.date()} .. {f1.date()}, outside the strategy's span"
        )
    elif n < max(needed, len(names) + 3):
        note = (
            f"only {n} shared {data.frequency} observations; "
            f"a regression needs {max(needed, len(names) + 3)}"
        )
    else:
        exposure = factor_exposures(y, x, periods_per_year=round(ppy))
        note = how
    return FactorSetExposure(
        data.name,
        data.label,
        data.frequency,
        names,
        n,
        start,
        end,
        exposure,
        excess,
        note,
        tuple(data.caveats),
    )
