"""Performance metrics of a backtest: pure functions of per-bar returns.

Conventions shared by every function here
-----------------------------------------
- ``returns`` are *simple* (not log) per-bar portfolio returns, net of costs,
  on a strictly increasing :class:`pandas.DatetimeIndex`. Timestamps are read
  as UTC (tz-naive ones are taken to be UTC); outputs are on the UTC index.
- Annualization uses the caller's ``periods_per_year``: means scale by it,
  standard deviations by its square root, growth compounds (CAGR). This is
  empyrical's convention, and the parity tests hold us to it. The factor
  depends on the market's calendar (365 days a year for crypto, 260 for FX,
  252 for exchange sessions): a dataset records its own
  (:mod:`alphaloop.data.market_calendar`), and backtests use it.
- The starting capital is the first high-water mark, so a loss on the first
  bar is already a drawdown (as in empyrical).
- A ratio whose denominator is zero (zero volatility, no downside, no
  drawdown) is NaN, never ``inf``; empyrical returns ``inf`` in some of these
  cases. The one exception is :func:`compute_metrics`'s ``profit_factor``,
  which is ``inf`` when there are winning round trips and no losing ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from alphaloop.data import DAYS_PER_YEAR, PERIODIC_PER_YEAR, periods_per_year
from alphaloop.errors import BacktestError

__all__ = [
    "compute_metrics",
    "drawdown_periods",
    "drawdown_series",
    "monthly_returns_table",
    "periods_per_year_for",
    "rolling_sharpe",
]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_INTRADAY_ALIASES = {"hourly": "1h", "minute": "1min", "minutely": "1min", "second": "1s"}
_INTRADAY = re.compile(r"(\d+)(s|min|h)")
_COST_NAME = re.compile(r"[a-z][a-z0-9_]*")
_NAN = math.nan


def periods_per_year_for(
    frequency: str, calendar: str = "sessions", bars_per_day: float | None = None
) -> float:
    """Bars per year for a frequency name on a trading calendar.

    Parameters
    ----------
    frequency : str
        ``"daily"``, ``"weekly"`` (52), ``"monthly"`` (12), ``"quarterly"``
        (4), ``"annual"`` (1), or an intraday step such as ``"30s"``,
        ``"5min"``, ``"1h"`` (aliases ``"hourly"``, ``"minute"``).
    calendar : {"sessions", "24/7", "24x5"}, default "sessions"
        The market's calendar (a dataset's ``market.calendar``): daily bars
        count 252 days a year on exchange sessions, 365 on a 24/7 calendar
        (crypto) and 260 on a 24x5 one (FX); intraday bars on 24/7 and 24x5
        calendars count ``86400 / step`` bars a day.
    bars_per_day : float, optional
        Intraday sessions only: bars per session (default: a 6.5-hour US
        equity session, so ``"1h"`` gives 1638 and ``"5min"`` 19656).

    Returns
    -------
    float
        The annualization factor. A dataset records its own
        (``DatasetInfo.market.periods_per_year``); backtests use that one.

    Raises
    ------
    BacktestError
        For ``"irregular"``, for names that are not frequencies and for
        unknown calendars.
    """
    key = frequency.strip().lower()
    key = _INTRADAY_ALIASES.get(key, key)
    if key == "irregular":
        raise BacktestError(
            "cannot annualize metrics on an irregular calendar",
            hint="pass periods_per_year explicitly, e.g. 252 for trading days",
        )
    match = _INTRADAY.fullmatch(key)
    if key not in PERIODIC_PER_YEAR and key != "daily" and not (match and int(match[1]) > 0):
        raise BacktestError(
            f"unknown frequency {frequency!r}",
            hint="use daily, weekly, monthly, quarterly, annual or an intraday step such as "
            "'30s', '5min', '1h'",
        )
    ppy = periods_per_year(key, calendar, bars_per_day)
    if ppy is None:
        raise BacktestError(
            f"cannot annualize {frequency} bars on a calendar {calendar!r}",
            hint=f"use one of {', '.join(DAYS_PER_YEAR)}, or pass periods_per_year explicitly",
        )
    return ppy


def drawdown_series(returns: pd.Series) -> pd.Series:
    """Fraction of equity below its running peak after each bar.

    Parameters
    ----------
    returns : pandas.Series
        Simple per-bar returns on a strictly increasing DatetimeIndex.

    Returns
    -------
    pandas.Series
        ``equity / running_peak - 1`` (``<= 0``), named ``"drawdown"``. The
        starting capital counts as the first peak.
    """
    r = _checked_series(returns, "returns")
    return pd.Series(_drawdowns(r.to_numpy()), index=r.index, name="drawdown")


def rolling_sharpe(
    returns: pd.Series, window: int, periods_per_year: float, *, risk_free: float = 0.0
) -> pd.Series:
    """Annualized Sharpe ratio over a trailing window of bars.

    Parameters
    ----------
    returns : pandas.Series
        Simple per-bar returns on a strictly increasing DatetimeIndex.
    window : int
        Bars per window, at least 2; the window includes the current bar.
    periods_per_year : float
        Bars per year, e.g. 252 for daily bars.
    risk_free : float, default=0.0
        Per-bar risk-free rate subtracted from every return.

    Returns
    -------
    pandas.Series
        ``mean / std(ddof=1) * sqrt(periods_per_year)`` of the excess returns
        in each window; NaN for the first ``window - 1`` bars and where a
        window's returns are all equal.
    """
    r = _checked_series(returns, "returns")
    ppy = _checked_periods(periods_per_year)
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise BacktestError(f"window must be an integer of at least 2 bars, got {window!r}")
    rf = _checked_number(risk_free, "risk_free")
    rolling = (r - rf).rolling(int(window), min_periods=int(window))
    std = rolling.std(ddof=1)
    flat = (rolling.max() == rolling.min()) | (std <= 0.0)
    out = rolling.mean() / std.mask(flat) * math.sqrt(ppy)
    return out.rename("rolling_sharpe")


def monthly_returns_table(returns: pd.Series) -> pd.DataFrame:
    """Compounded return of every calendar month (UTC), one row per year.

    Parameters
    ----------
    returns : pandas.Series
        Simple per-bar returns on a strictly increasing DatetimeIndex.

    Returns
    -------
    pandas.DataFrame
        Index: calendar years (int). Columns ``"Jan"`` .. ``"Dec"``: the
        product of ``1 + r`` over the month's bars minus 1 (NaN for months
        without bars); column ``"year"``: the same over the whole year.
    """
    r = _checked_series(returns, "returns")
    growth = 1.0 + r
    years, months = r.index.year, r.index.month
    table = (growth.groupby([years, months]).prod() - 1.0).unstack()
    table = table.reindex(columns=range(1, 13))
    table.columns = list(MONTHS)
    table["year"] = growth.groupby(years).prod() - 1.0
    table.index = table.index.astype(np.int64)
    table.index.name = None
    return table


def drawdown_periods(returns: pd.Series, top: int = 5) -> pd.DataFrame:
    """The deepest drawdowns: from a peak, through the valley, to recovery.

    Parameters
    ----------
    returns : pandas.Series
        Simple per-bar returns on a strictly increasing DatetimeIndex.
    top : int, default=5
        How many drawdowns to return, deepest first.

    Returns
    -------
    pandas.DataFrame
        One row per drawdown, deepest first, with columns ``peak`` (timestamp
        of the last bar at the high-water mark; the first timestamp when the
        peak is the starting capital), ``valley`` (timestamp of the lowest
        point), ``recovery`` (first bar back at the peak, NaT if not
        recovered), ``depth`` (negative fraction), ``duration`` (bars from
        peak to recovery, or to the last bar) and ``duration_days``
        (calendar days, same end points).
    """
    r = _checked_series(returns, "returns")
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise BacktestError(f"top must be a positive integer, got {top!r}")
    dd = _drawdowns(r.to_numpy())
    starts, ends, bars = _episodes(dd)
    valleys = _valleys(dd, starts)
    peaks, recoveries, days = _episode_dates(r.index, starts, ends)
    table = pd.DataFrame(
        {
            "peak": peaks,
            "valley": r.index[valleys],
            "recovery": recoveries,
            "depth": dd[valleys],
            "duration": bars,
            "duration_days": days,
        }
    )
    table = table.sort_values(["depth", "peak"], kind="stable").head(int(top))
    return table.reset_index(drop=True)


def compute_metrics(
    returns: pd.Series,
    *,
    periods_per_year: float,
    benchmark: pd.Series | None = None,
    round_trips: pd.DataFrame | None = None,
    gross_exposure: pd.Series | None = None,
    turnover: pd.Series | None = None,
    costs: Mapping[str, float] | None = None,
    initial_capital: float | None = None,
    risk_free: float = 0.0,
) -> dict[str, float]:
    """Summary statistics of a backtest's returns, trades, exposure and costs.

    Parameters
    ----------
    returns : pandas.Series
        Simple per-bar portfolio returns, net of costs, on a strictly
        increasing DatetimeIndex; no NaN or inf.
    periods_per_year : float
        Bars per year (252 for daily bars); see :func:`periods_per_year_for`.
    benchmark : pandas.Series, optional
        Simple per-bar benchmark returns; aligned to ``returns``' timestamps
        and bars where it is missing or NaN are dropped from the benchmark
        metrics only.
    round_trips : pandas.DataFrame, optional
        One row per closed round trip with column ``"pnl"`` (currency, net of
        costs); other columns are ignored.
    gross_exposure : pandas.Series, optional
        Per bar, on ``returns``' index: sum of ``|position value|`` / equity.
    turnover : pandas.Series, optional
        Per bar, on ``returns``' index: traded notional / equity.
    costs : mapping of str to float, optional
        Total cost per category in currency, e.g. ``{"commission": 12.5}``;
        names are snake_case.
    initial_capital : float, optional
        Starting equity in currency, for ``costs_bps_of_capital``.
    risk_free : float, default=0.0
        Per-bar risk-free rate (empyrical's ``risk_free``), subtracted in the
        Sharpe and Sortino ratios (it is Sortino's required return) and in
        alpha.

    Returns
    -------
    dict of str to float
        Keys, in order: ``total_return``, ``annual_return`` (CAGR),
        ``annual_volatility`` (sample std, ddof=1), ``sharpe_ratio``,
        ``sortino_ratio``, ``calmar_ratio``, ``max_drawdown`` (negative
        fraction), ``max_drawdown_duration`` (bars of the longest drawdown,
        peak to recovery or to the last bar), ``max_drawdown_duration_days``
        (longest in calendar days), ``win_rate`` (share of round trips with
        pnl > 0), ``profit_factor`` (gross profit / gross loss; ``inf`` with
        no losing trips, NaN with neither wins nor losses), ``avg_win``,
        ``avg_loss`` (mean pnl of trips with pnl > 0 / < 0, currency),
        ``n_round_trips``, ``exposure`` (mean gross exposure),
        ``time_in_market`` (share of bars with gross exposure > 0),
        ``turnover`` (mean per-bar turnover * periods_per_year),
        ``total_costs``, ``costs_bps_of_capital`` (total costs / initial
        capital in basis points), ``cost_<category>`` per category of
        ``costs``, ``alpha`` (``(1 + mean(r - rf - beta (b - rf)))^ppy - 1``),
        ``beta`` (population cov / var), ``information_ratio`` (mean active
        return * ppy / (sample std of active return * sqrt(ppy)), active =
        r - b), ``tracking_error`` (annualized: sample std of the active
        return * sqrt(ppy)), ``benchmark_correlation`` (Pearson correlation of
        r and b), ``skew`` and ``kurtosis`` (population moments, kurtosis in
        excess of 3, as scipy.stats defaults), ``tail_ratio`` (|95th| / |5th
        percentile|), ``var_95`` (5th percentile, linear interpolation),
        ``cvar_95`` (mean of the ``int(0.05 (n - 1)) + 1`` worst returns),
        ``n_periods``, ``periods_per_year``, ``best_period``,
        ``worst_period``, ``stability`` (R² of cumulative log returns on
        time). Metrics whose input is not given, or that are undefined for
        these inputs (too few bars, zero volatility), are NaN.

    Raises
    ------
    BacktestError
        If an input is empty, not indexed by strictly increasing timestamps,
        holds NaN or inf, or is not on ``returns``' index.
    """
    r = _checked_series(returns, "returns")
    ppy = _checked_periods(periods_per_year)
    rf = _checked_number(risk_free, "risk_free")
    values = r.to_numpy()
    pair = None if benchmark is None else _paired_benchmark(r, benchmark)
    # Degenerate inputs (a loss beyond -100%, overflowing growth, vanishing
    # variance) end as NaN or inf in the results, not as warnings.
    with np.errstate(all="ignore"):
        out = _return_stats(values, ppy, rf)
        out.update(_drawdown_stats(values, r.index, out["annual_return"]))
        out.update(_trip_stats(round_trips))
        out.update(_activity_stats(r.index, ppy, gross_exposure, turnover))
        out.update(_cost_stats(costs, initial_capital))
        if pair is None:
            out.update(
                alpha=_NAN,
                beta=_NAN,
                information_ratio=_NAN,
                tracking_error=_NAN,
                benchmark_correlation=_NAN,
            )
        else:
            out.update(_benchmark_stats(pair, ppy, rf))
        out.update(_distribution_stats(values, ppy))
    return out


# -- statistics ---------------------------------------------------------------


def _return_stats(r: np.ndarray, ppy: float, rf: float) -> dict[str, float]:
    n = r.size
    total = float(np.prod(1.0 + r)) - 1.0
    # a loss beyond -100% (negative equity) has no compound growth rate
    annual = float(np.power(1.0 + total, ppy / n) - 1.0) if total >= -1.0 else _NAN
    excess = r - rf
    std = _sample_std(excess)
    vol = _sample_std(r) * math.sqrt(ppy)
    sharpe = _ratio(float(np.mean(excess)), std) * math.sqrt(ppy)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)) * ppy)
    sortino = _ratio(float(np.mean(excess)) * ppy, downside) if n > 1 else _NAN
    return {
        "total_return": total,
        "annual_return": annual,
        "annual_volatility": vol,
        "sharpe_ratio": sharpe,
        "sortino_ratio": sortino,
    }


def _drawdown_stats(r: np.ndarray, index: pd.DatetimeIndex, annual: float) -> dict[str, float]:
    dd = _drawdowns(r)
    max_dd = float(dd.min())
    starts, ends, bars = _episodes(dd)
    _, _, days = _episode_dates(index, starts, ends)
    return {
        "calmar_ratio": _ratio(annual, -max_dd),
        "max_drawdown": max_dd,
        "max_drawdown_duration": float(bars.max()) if bars.size else 0.0,
        "max_drawdown_duration_days": float(days.max()) if days.size else 0.0,
    }


def _trip_stats(round_trips: pd.DataFrame | None) -> dict[str, float]:
    keys = ("win_rate", "profit_factor", "avg_win", "avg_loss", "n_round_trips")
    if round_trips is None:
        return dict.fromkeys(keys, _NAN)
    pnl = _checked_pnl(round_trips)
    wins, losses = pnl[pnl > 0.0], pnl[pnl < 0.0]
    profit, loss = float(wins.sum()), -float(losses.sum())
    no_loss = math.inf if profit > 0.0 else _NAN  # all winners: inf; no wins or losses: NaN
    factor = profit / loss if loss > 0.0 else no_loss
    return {
        "win_rate": wins.size / pnl.size if pnl.size else _NAN,
        "profit_factor": factor,
        "avg_win": float(wins.mean()) if wins.size else _NAN,
        "avg_loss": float(losses.mean()) if losses.size else _NAN,
        "n_round_trips": float(pnl.size),
    }


def _activity_stats(
    index: pd.DatetimeIndex,
    ppy: float,
    gross_exposure: pd.Series | None,
    turnover: pd.Series | None,
) -> dict[str, float]:
    out = {"exposure": _NAN, "time_in_market": _NAN, "turnover": _NAN}
    if gross_exposure is not None:
        exposure = _per_bar(gross_exposure, "gross_exposure", index)
        out["exposure"] = float(exposure.mean())
        out["time_in_market"] = float(np.mean(exposure > 0.0))
    if turnover is not None:
        out["turnover"] = float(_per_bar(turnover, "turnover", index).mean()) * ppy
    return out


def _cost_stats(costs: Mapping[str, float] | None, capital: float | None) -> dict[str, float]:
    if capital is not None:
        capital = _checked_number(capital, "initial_capital")
        if capital <= 0.0:
            raise BacktestError(f"initial_capital must be positive, got {capital}")
    if costs is None:
        return {"total_costs": _NAN, "costs_bps_of_capital": _NAN}
    per_category: dict[str, float] = {}
    for name, amount in costs.items():
        if not isinstance(name, str) or not _COST_NAME.fullmatch(name):
            raise BacktestError(
                f"cost category {name!r} is not a snake_case name",
                hint="use names such as 'commission', 'spread', 'borrow'",
            )
        per_category[f"cost_{name}"] = _checked_number(amount, f"costs[{name!r}]")
    total = float(sum(per_category.values()))
    bps = total / capital * 1e4 if capital is not None else _NAN
    return {"total_costs": total, "costs_bps_of_capital": bps, **per_category}


def _benchmark_stats(
    pair: tuple[np.ndarray, np.ndarray], ppy: float, rf: float
) -> dict[str, float]:
    r, b = pair
    beta = _NAN
    if r.size > 1:
        b_centered = b - b.mean()
        variance = float(np.mean(b_centered**2))
        if variance >= 1e-30:
            beta = float(np.mean(b_centered * (r - r.mean()))) / variance
    alpha = float(np.power(1.0 + np.mean((r - rf) - beta * (b - rf)), ppy) - 1.0)
    active = r - b
    active_std = _sample_std(active)
    ir = _ratio(float(np.mean(active)), active_std) * math.sqrt(ppy)
    return {
        "alpha": alpha,
        "beta": beta,
        "information_ratio": ir,
        "tracking_error": active_std * math.sqrt(ppy),
        "benchmark_correlation": _correlation(r, b),
    }


def _correlation(r: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two return series; NaN below two bars or if either is flat."""
    if r.size < 2 or r.max() == r.min() or b.max() == b.min():
        return _NAN
    rc, bc = r - r.mean(), b - b.mean()
    value = _ratio(float(np.dot(rc, bc)), math.sqrt(float(np.dot(rc, rc) * np.dot(bc, bc))))
    return max(-1.0, min(1.0, value)) if math.isfinite(value) else _NAN


def _distribution_stats(r: np.ndarray, ppy: float) -> dict[str, float]:
    n = r.size
    centered = r - r.mean()
    m2, m3, m4 = (np.mean(centered**k) for k in (2, 3, 4))
    skew = _ratio(float(m3), float(m2**1.5))
    kurt = _ratio(float(m4), float(m2**2)) - 3.0
    if r.max() == r.min():
        skew = kurt = _NAN
    p95, p5 = np.percentile(r, [95.0, 5.0])
    tail = _ratio(abs(float(p95)), abs(float(p5)))
    k = int((n - 1) * 0.05)
    cvar = float(np.mean(np.partition(r, k)[: k + 1]))
    return {
        "skew": skew,
        "kurtosis": kurt,
        "tail_ratio": tail,
        "var_95": float(p5),
        "cvar_95": cvar,
        "n_periods": float(n),
        "periods_per_year": ppy,
        "best_period": float(r.max()),
        "worst_period": float(r.min()),
        "stability": _stability(r),
    }


def _stability(r: np.ndarray) -> float:
    """R² of an OLS fit of cumulative log returns on bar number."""
    if r.size < 2:
        return _NAN
    y = np.cumsum(np.log1p(r))
    if not np.isfinite(y).all() or y.max() == y.min():
        return _NAN
    t = np.arange(r.size, dtype=np.float64)
    t -= t.mean()
    y -= y.mean()
    return _ratio(float(np.dot(t, y) ** 2), float(np.dot(t, t) * np.dot(y, y)))


# -- drawdown episodes ----------------------------------------------------------


def _drawdowns(r: np.ndarray) -> np.ndarray:
    """Equity over its running peak minus 1; the starting capital (1.0) is the first peak."""
    equity = np.cumprod(1.0 + r)
    peak = np.maximum(np.maximum.accumulate(equity), 1.0)
    return (equity - peak) / peak


def _episodes(dd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First underwater bar, recovery bar (``n`` if none) and length in bars of each drawdown.

    The length runs from the peak (the bar before the first underwater bar,
    or the starting capital) to the recovery bar, or to the last bar.
    """
    n = dd.size
    under = np.concatenate(([0], (dd < 0.0).astype(np.int8), [0]))
    edges = np.diff(under)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    bars = np.where(ends < n, ends - starts + 1, n - starts)
    return starts, ends, bars


def _valleys(dd: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Position of the lowest bar of each drawdown (the earliest, on ties)."""
    under = np.flatnonzero(dd < 0.0)
    if not under.size:
        return under
    episode = np.searchsorted(starts, under, side="right") - 1
    order = np.lexsort((dd[under], episode))
    first = np.r_[0, np.flatnonzero(np.diff(episode[order])) + 1]
    return under[order[first]]


def _episode_dates(
    index: pd.DatetimeIndex, starts: np.ndarray, ends: np.ndarray
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex, np.ndarray]:
    """Peak and recovery timestamps of each drawdown and its length in calendar days."""
    n = len(index)
    peaks = index[np.maximum(starts - 1, 0)]
    recovered = ends < n
    last = index[np.minimum(ends, n - 1)]
    recoveries = pd.DatetimeIndex(last.where(recovered, pd.NaT))
    days = np.asarray((last - peaks) / pd.Timedelta(days=1), dtype=np.float64)
    return peaks, recoveries, days


# -- input checks ---------------------------------------------------------------


def _checked_series(series: object, name: str, *, allow_nan: bool = False) -> pd.Series:
    """A float64 copy of ``series`` on a UTC index, or a BacktestError saying what is wrong."""
    if not isinstance(series, pd.Series):
        raise BacktestError(f"{name} must be a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise BacktestError(
            f"{name} must be indexed by timestamps, got a {type(series.index).__name__}",
            hint="use a pandas DatetimeIndex of bar times",
        )
    if len(series) == 0:
        raise BacktestError(f"{name} is empty", hint="metrics need at least one bar")
    index = series.index
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    steps = np.diff(index.asi8)
    if (steps <= 0).any():
        pos = int(np.argmax(steps <= 0)) + 1
        raise BacktestError(
            f"{name} index is not strictly increasing at {index[pos]} (position {pos})",
            hint="sort by time and drop duplicate timestamps",
        )
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise BacktestError(f"{name} must be numeric, got dtype {series.dtype}") from None
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if bad.any():
        pos = int(np.argmax(bad))
        raise BacktestError(
            f"{name} holds {values[pos]} at {index[pos]} (position {pos})",
            hint="all values must be finite" + ("" if allow_nan else "; drop or fill NaN bars"),
        )
    return pd.Series(values, index=index, name=series.name)


def _per_bar(series: pd.Series, name: str, index: pd.DatetimeIndex) -> np.ndarray:
    checked = _checked_series(series, name)
    if not checked.index.equals(index):
        raise BacktestError(
            f"{name} is not on the returns' index ({len(checked)} bars from "
            f"{checked.index[0]}, returns have {len(index)} from {index[0]})",
            hint="pass one value per bar of returns, on the same timestamps",
        )
    values = checked.to_numpy()
    if (values < 0.0).any():
        pos = int(np.argmax(values < 0.0))
        raise BacktestError(f"{name} is negative ({values[pos]}) at {index[pos]}")
    return values


def _paired_benchmark(r: pd.Series, benchmark: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Returns and benchmark on the bars where both are present."""
    b = _checked_series(benchmark, "benchmark", allow_nan=True).reindex(r.index).to_numpy()
    keep = ~np.isnan(b)
    if not keep.any():
        raise BacktestError(
            "benchmark has no values on the returns' timestamps",
            hint="pass benchmark returns on the same calendar (UTC timestamps)",
        )
    return r.to_numpy()[keep], b[keep]


def _checked_pnl(round_trips: pd.DataFrame) -> np.ndarray:
    if not isinstance(round_trips, pd.DataFrame) or "pnl" not in round_trips.columns:
        raise BacktestError(
            "round_trips must be a DataFrame with a 'pnl' column",
            hint="one row per closed round trip, pnl in currency net of costs",
        )
    try:
        pnl = round_trips["pnl"].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise BacktestError("round_trips['pnl'] must be numeric") from None
    if not np.isfinite(pnl).all():
        pos = int(np.argmax(~np.isfinite(pnl)))
        raise BacktestError(f"round_trips['pnl'] holds {pnl[pos]} in row {pos}")
    return pnl


def _checked_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise BacktestError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise BacktestError(f"{name} must be finite, got {value!r}")
    return float(value)


def _checked_periods(periods_per_year: object) -> float:
    ppy = _checked_number(periods_per_year, "periods_per_year")
    if ppy <= 0.0:
        raise BacktestError(
            f"periods_per_year must be positive, got {ppy}",
            hint="e.g. 252 for daily bars; see periods_per_year_for",
        )
    return ppy


def _sample_std(x: np.ndarray) -> float:
    """Sample std (ddof=1); exactly 0 when all values are equal, NaN below two values."""
    if x.size < 2:
        return _NAN
    if x.max() == x.min():
        return 0.0
    return float(np.std(x, ddof=1))


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or NaN when the denominator is zero, negative or NaN."""
    if not denominator > 0.0 or not math.isfinite(numerator):
        return _NAN
    value = numerator / denominator
    return value if math.isfinite(value) else _NAN
