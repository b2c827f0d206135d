"""Does the strategy hold up in every kind of market? Performance per market regime.

Three families of regimes, all read from the market's (benchmark's) returns:

- **Volatility terciles** ("low", "mid", "high"): trailing realized volatility
  of the market over ``window`` bars (default 63, about a quarter), cut at its
  33rd and 67th percentiles. With ``volatility_cuts="full_sample"`` (default)
  the cut points are quantiles over *all evaluated bars*: an ex-post
  description of when the strategy worked, which uses hindsight and is not a
  tradable signal. ``volatility_cuts="expanding"`` uses, at each bar, the
  quantiles of the trailing volatilities seen up to that bar (at least
  ``min_history`` of them), so no label depends on later data.
- **Trend** ("up", "sideways", "down"): the market's compounded return over
  the trailing ``window`` bars, ``prod(1 + r) - 1``, above
  ``+trend_threshold`` (default +5%, about +20% a year over 63 bars) is "up",
  below ``-trend_threshold`` is "down", anything in between "sideways".
- **Named crisis windows** (:data:`DEFAULT_CRISES`): calendar date ranges,
  evaluated only when the strategy has at least ``min_bars`` bars in them.

Conventions
-----------
- Returns are simple per-bar returns; ``periods_per_year`` annualizes
  (252 for daily bars). Metrics are :func:`alphaloop.backtest.metrics.compute_metrics`'s,
  computed on the strategy's bars in the regime, compounded in time order as
  if the strategy were held only during the regime (so a regime's max
  drawdown ignores the bars between its spells). ``hit_rate`` is the share
  of those bars with a return > 0.
- Trailing windows include the current bar (its return is known at its
  close), so a bar's trailing measures use data up to and including it only.
- A regime with fewer than ``min_bars`` bars is reported but not evaluated;
  ``share_acceptable`` is the share of evaluated regimes (all three families
  together) where the strategy is acceptable: by default a Sharpe ratio above
  ``min_sharpe`` (a NaN Sharpe ratio is not acceptable).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_safe
from alphaloop.validation.sharpe import StatisticsError

__all__ = [
    "DEFAULT_CRISES",
    "CrisisWindow",
    "RegimePerformance",
    "RegimeReport",
    "market_regimes",
    "regime_performance",
]

VolatilityCuts = Literal["full_sample", "expanding"]
VOLATILITY_LABELS = ("low", "mid", "high")
TREND_LABELS = ("up", "sideways", "down")
_METRIC_KEYS = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "max_drawdown",
)


@dataclass(frozen=True)
class CrisisWindow:
    """A named stress period: calendar dates, both ends inclusive.

    Attributes
    ----------
    name : str
        Identifier used in reports, e.g. ``"gfc_2008"``.
    start, end : str
        ISO dates; for a timezone-aware index they are read in its timezone.
    description : str
    """

    name: str
    start: str
    end: str
    description: str = ""


#: Stress periods for US equities, mostly S&P 500 peak-to-trough closes.
DEFAULT_CRISES: tuple[CrisisWindow, ...] = (
    CrisisWindow("black_monday_1987", "1987-10-01", "1987-12-04", "1987 crash to its trough"),
    CrisisWindow("ltcm_1998", "1998-07-17", "1998-10-08", "Russian default and LTCM"),
    CrisisWindow("dotcom_bust", "2000-03-24", "2002-10-09", "dot-com bust, peak to trough"),
    CrisisWindow("gfc_2008", "2007-10-09", "2009-03-09", "global financial crisis, peak to trough"),
    CrisisWindow("euro_us_downgrade_2011", "2011-07-22", "2011-10-03", "euro crisis, US downgrade"),
    CrisisWindow("china_oil_2015", "2015-08-10", "2016-02-11", "China devaluation and oil slump"),
    CrisisWindow("q4_2018_selloff", "2018-09-20", "2018-12-24", "Fed tightening selloff"),
    CrisisWindow("covid_2020", "2020-02-19", "2020-03-23", "COVID-19 crash, peak to trough"),
    CrisisWindow("rate_shock_2022", "2022-01-03", "2022-10-12", "inflation and rate shock"),
)  # fmt: skip


@dataclass(frozen=True)
class RegimePerformance:
    """The strategy's performance in one regime.

    Attributes
    ----------
    kind : {"volatility", "trend", "crisis"}
    name : str
        Regime label (``"low"``, ``"up"``, ``"gfc_2008"``, ...).
    n_bars : int
        Strategy bars in the regime.
    start, end : str or None
        ISO timestamps of the first and last of those bars.
    total_return : float
        Compounded return over the regime's bars (fraction).
    annual_return : float
        CAGR over the regime's bars, ``(1 + total)^(periods_per_year / n) - 1``.
    annual_volatility : float
        Sample standard deviation (ddof=1) times ``sqrt(periods_per_year)``.
    sharpe_ratio : float
        Annualized, zero risk-free rate.
    max_drawdown : float
        Most negative peak-to-trough loss (fraction, <= 0).
    hit_rate : float
        Share of bars with a return > 0.
    evaluated : bool
        ``n_bars >= min_bars``.
    acceptable : bool or None
        None when not evaluated.
    partial : bool
        For crises: the data starts after the window starts or ends before it
        ends. Always False for the other kinds.
    """

    kind: str
    name: str
    n_bars: int
    start: str | None
    end: str | None
    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe_ratio: float
    max_drawdown: float
    hit_rate: float
    evaluated: bool
    acceptable: bool | None
    partial: bool = False

    def metrics(self) -> dict[str, float]:
        """The performance numbers, as passed to an ``acceptable`` rule."""
        return {key: getattr(self, key) for key in (*_METRIC_KEYS, "hit_rate")} | {
            "n_bars": float(self.n_bars)
        }


@dataclass(frozen=True)
class RegimeReport:
    """Performance per regime and the share of regimes where it was acceptable.

    Attributes
    ----------
    regimes : tuple of RegimePerformance
        Volatility (low, mid, high), trend (up, sideways, down), then the
        crisis windows present in the data, in time order.
    share_acceptable : float
        ``n_acceptable / n_evaluated``; NaN if nothing was evaluated.
    n_evaluated, n_acceptable : int
    volatility_cut_points : (float, float) or None
        Annualized full-sample cut points; None with expanding cut points.
    crises_skipped : dict of str to str
        Crisis windows not evaluated, with the reason.
    n_unclassified : dict of str to int
        Strategy bars with no volatility / trend label (trailing window
        incomplete, market data missing or, for expanding cuts, too little
        history).
    parameters : dict
    notes : tuple of str
    """

    regimes: tuple[RegimePerformance, ...]
    share_acceptable: float
    n_evaluated: int
    n_acceptable: int
    volatility_cut_points: tuple[float, float] | None
    crises_skipped: dict[str, str]
    n_unclassified: dict[str, int]
    parameters: dict[str, Any]
    notes: tuple[str, ...]

    def get(self, kind: str, name: str) -> RegimePerformance:
        """The regime of that kind and name; raises :class:`StatisticsError` if absent."""
        for regime in self.regimes:
            if regime.kind == kind and regime.name == name:
                return regime
        present = [f"{r.kind}/{r.name}" for r in self.regimes]
        raise StatisticsError(f"no regime {kind}/{name} in this report", hint=f"have {present}")

    def frame(self) -> pd.DataFrame:
        """One row per regime, indexed by (kind, name)."""
        rows = [asdict(r) for r in self.regimes]
        return pd.DataFrame(rows).set_index(["kind", "name"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe copy: NaN and infinities become None."""
        return json_safe(
            {
                "regimes": [asdict(r) for r in self.regimes],
                "share_acceptable": self.share_acceptable,
                "n_evaluated": self.n_evaluated,
                "n_acceptable": self.n_acceptable,
                "volatility_cut_points": self.volatility_cut_points,
                "crises_skipped": self.crises_skipped,
                "n_unclassified": self.n_unclassified,
                "parameters": self.parameters,
                "notes": self.notes,
            }
        )


def market_regimes(
    market_returns: pd.Series,
    *,
    window: int = 63,
    trend_threshold: float = 0.05,
    periods_per_year: float = 252.0,
    volatility_cuts: VolatilityCuts = "full_sample",
    min_history: int = 252,
    sample: pd.Index | None = None,
) -> pd.DataFrame:
    """Trailing market measures and the volatility and trend label of every bar.

    Parameters
    ----------
    market_returns : pandas.Series
        Simple per-bar market returns on a DatetimeIndex; NaN bars are dropped.
    window : int, default=63
        Bars in the trailing windows, current bar included.
    trend_threshold : float, default=0.05
        Compounded trailing return beyond which the market is "up" / "down".
    periods_per_year : float, default=252
        Annualizes the trailing volatility.
    volatility_cuts : {"full_sample", "expanding"}, default="full_sample"
        Where the tercile cut points come from (see the module docstring).
    min_history : int, default=252
        Expanding cuts only: trailing-volatility values needed before a bar is
        labelled.
    sample : pandas.Index, optional
        Full-sample cuts only: the bars whose volatility sets the cut points
        (default every bar with a trailing volatility).

    Returns
    -------
    pandas.DataFrame
        On the market's (NaN-free) index: ``trailing_volatility`` (annualized,
        ddof=1), ``trailing_return`` (compounded, fraction),
        ``volatility_cut_low``, ``volatility_cut_high`` (annualized),
        ``volatility_regime`` and ``trend_regime`` (labels, None where
        undefined).

    Raises
    ------
    StatisticsError
        On invalid parameters or a market series that is not a time series.
    """
    _check_int(window, "window", 2)
    _check_int(min_history, "min_history", 1)
    if not (math.isfinite(trend_threshold) and trend_threshold >= 0):
        raise StatisticsError(f"trend_threshold must be >= 0; got {trend_threshold!r}")
    if volatility_cuts not in ("full_sample", "expanding"):
        raise StatisticsError(
            f"unknown volatility_cuts {volatility_cuts!r}", hint="use 'full_sample' or 'expanding'"
        )
    market = _time_series(market_returns, "market_returns").dropna()
    vol = market.rolling(window, min_periods=window).std(ddof=1) * math.sqrt(periods_per_year)
    growth = np.log1p(market).rolling(window, min_periods=window).sum()
    trailing = np.expm1(growth)
    if volatility_cuts == "full_sample":
        basis = (vol if sample is None else vol.reindex(sample)).dropna()
        cuts = np.quantile(basis.to_numpy(), [1 / 3, 2 / 3]) if basis.size else [np.nan] * 2
        low = pd.Series(cuts[0], index=vol.index)
        high = pd.Series(cuts[1], index=vol.index)
    else:
        seen = vol.dropna().expanding(min_periods=min_history)
        low = seen.quantile(1 / 3).reindex(vol.index)
        high = seen.quantile(2 / 3).reindex(vol.index)
    v, lo, hi, tr = (s.to_numpy(dtype=np.float64) for s in (vol, low, high, trailing))
    defined = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi)
    vol_label = np.select(
        [defined & (v <= lo), defined & (v <= hi), defined], list(VOLATILITY_LABELS), None
    )
    trend_label = np.select(
        [tr > trend_threshold, tr < -trend_threshold, np.isfinite(tr)],
        ["up", "down", "sideways"],
        None,
    )
    return pd.DataFrame(
        {
            "trailing_volatility": vol,
            "trailing_return": trailing,
            "volatility_cut_low": low,
            "volatility_cut_high": high,
            "volatility_regime": pd.Series(vol_label, index=vol.index, dtype=object),
            "trend_regime": pd.Series(trend_label, index=vol.index, dtype=object),
        }
    )


def regime_performance(
    returns: pd.Series,
    market_returns: pd.Series,
    *,
    periods_per_year: float = 252.0,
    window: int = 63,
    trend_threshold: float = 0.05,
    volatility_cuts: VolatilityCuts = "full_sample",
    min_history: int = 252,
    crisis_windows: tuple[CrisisWindow, ...] = DEFAULT_CRISES,
    min_bars: int = 20,
    min_sharpe: float = 0.0,
    acceptable: Callable[[Mapping[str, float]], bool] | None = None,
) -> RegimeReport:
    """Performance of a strategy in each volatility, trend and crisis regime.

    Parameters
    ----------
    returns : pandas.Series
        The strategy's simple per-bar returns (net of costs) on a strictly
        increasing DatetimeIndex; no NaN.
    market_returns : pandas.Series
        Simple per-bar market (benchmark) returns, on the same timestamps or
        a longer history (earlier bars fill the trailing windows).
    periods_per_year : float, default=252
        Bars per year, for annualization.
    window, trend_threshold, volatility_cuts, min_history
        As in :func:`market_regimes`.
    crisis_windows : tuple of CrisisWindow, default=DEFAULT_CRISES
        Named periods; those with fewer than ``min_bars`` strategy bars are
        skipped and listed in ``crises_skipped``.
    min_bars : int, default=20
        Fewest bars for a regime to be evaluated.
    min_sharpe : float, default=0.0
        The default rule: acceptable when the annualized Sharpe ratio is above
        it.
    acceptable : callable, optional
        Replaces the default rule: called with :meth:`RegimePerformance.metrics`
        (``total_return``, ``annual_return``, ``annual_volatility``,
        ``sharpe_ratio``, ``max_drawdown``, ``hit_rate``, ``n_bars``), returns
        True when the strategy is acceptable in that regime.

    Returns
    -------
    RegimeReport

    Raises
    ------
    StatisticsError
        On NaN returns, mismatched timezones or invalid parameters.
    """
    from alphaloop.backtest import compute_metrics

    _check_int(min_bars, "min_bars", 1)
    if not (isinstance(periods_per_year, int | float) and periods_per_year > 0):
        raise StatisticsError(f"periods_per_year must be > 0; got {periods_per_year!r}")
    strategy = _time_series(returns, "returns")
    if not strategy.index.is_monotonic_increasing or strategy.index.has_duplicates:
        raise StatisticsError("returns must have a strictly increasing DatetimeIndex")
    if not np.isfinite(strategy.to_numpy()).all():
        raise StatisticsError(
            "returns hold NaN or infinite values", hint="drop the bars before the strategy starts"
        )
    market = _time_series(market_returns, "market_returns")
    if (strategy.index.tz is None) != (market.index.tz is None):
        raise StatisticsError(
            "returns and market_returns disagree on timezones (one is tz-aware, one naive)",
            hint="localize both to UTC",
        )
    labels = market_regimes(
        market,
        window=window,
        trend_threshold=trend_threshold,
        periods_per_year=periods_per_year,
        volatility_cuts=volatility_cuts,
        min_history=min_history,
        sample=strategy.index,
    ).reindex(strategy.index)
    rule = acceptable or (lambda m: bool(m["sharpe_ratio"] > min_sharpe))

    def measure(kind: str, name: str, mask: np.ndarray, partial: bool = False) -> RegimePerformance:
        part = strategy[mask]
        n = int(part.size)
        metrics = dict.fromkeys(_METRIC_KEYS, math.nan)
        if n:
            full = compute_metrics(part, periods_per_year=float(periods_per_year))
            metrics = {key: float(full[key]) for key in _METRIC_KEYS}
        metrics["hit_rate"] = float((part.to_numpy() > 0).mean()) if n else math.nan
        evaluated = n >= min_bars
        verdict = bool(rule({**metrics, "n_bars": float(n)})) if evaluated else None
        return RegimePerformance(
            kind=kind,
            name=name,
            n_bars=n,
            start=part.index[0].isoformat() if n else None,
            end=part.index[-1].isoformat() if n else None,
            evaluated=evaluated,
            acceptable=verdict,
            partial=partial,
            **metrics,
        )

    regimes: list[RegimePerformance] = []
    for kind, column, names in (
        ("volatility", "volatility_regime", VOLATILITY_LABELS),
        ("trend", "trend_regime", TREND_LABELS),
    ):
        column_labels = labels[column].to_numpy()
        regimes.extend(measure(kind, name, column_labels == name) for name in names)
    skipped: dict[str, str] = {}
    for crisis in sorted(crisis_windows, key=lambda c: c.start):
        mask, partial = _crisis_mask(strategy.index, crisis)
        if mask.sum() < min_bars:
            skipped[crisis.name] = f"{int(mask.sum())} bars in the data, fewer than {min_bars}"
            continue
        regimes.append(measure("crisis", crisis.name, mask, partial))
    evaluated = [r for r in regimes if r.evaluated]
    n_ok = sum(bool(r.acceptable) for r in evaluated)
    full_sample = volatility_cuts == "full_sample"
    cut_points = None
    if full_sample and len(labels):
        cut_points = (
            float(labels["volatility_cut_low"].iloc[0]),
            float(labels["volatility_cut_high"].iloc[0]),
        )
    return RegimeReport(
        regimes=tuple(regimes),
        share_acceptable=n_ok / len(evaluated) if evaluated else math.nan,
        n_evaluated=len(evaluated),
        n_acceptable=n_ok,
        volatility_cut_points=cut_points,
        crises_skipped=skipped,
        n_unclassified={
            "volatility": int(labels["volatility_regime"].isna().sum()),
            "trend": int(labels["trend_regime"].isna().sum()),
        },
        parameters={
            "periods_per_year": float(periods_per_year),
            "window": int(window),
            "trend_threshold": float(trend_threshold),
            "volatility_cuts": volatility_cuts,
            "min_history": int(min_history),
            "min_bars": int(min_bars),
            "acceptable": (
                f"sharpe_ratio > {min_sharpe}"
                if acceptable is None
                else getattr(acceptable, "__qualname__", repr(acceptable))
            ),
            "crisis_windows": [asdict(c) for c in crisis_windows],
        },
        notes=_notes(full_sample, window),
    )


# -- helpers --------------------------------------------------------------------


def _notes(full_sample: bool, window: int) -> tuple[str, ...]:
    cuts = (
        "volatility terciles use cut points from the whole evaluated sample: a description "
        "of when the strategy worked (hindsight), not a tradable signal"
        if full_sample
        else "volatility terciles use expanding cut points: each bar's label uses data up to it"
    )
    return (
        cuts,
        f"trailing {window}-bar windows include the current bar",
        "regime metrics compound the regime's bars only; drawdowns ignore the bars between spells",
    )


def _crisis_mask(index: pd.DatetimeIndex, crisis: CrisisWindow) -> tuple[np.ndarray, bool]:
    """Bars within the window (end date inclusive) and whether the data covers it only in part."""
    start = pd.Timestamp(crisis.start)
    end = pd.Timestamp(crisis.end) + pd.Timedelta(days=1)
    if index.tz is not None:
        start, end = start.tz_localize(index.tz), end.tz_localize(index.tz)
    if start >= end:
        raise StatisticsError(f"crisis window {crisis.name!r} ends before it starts")
    mask = np.asarray((index >= start) & (index < end))
    partial = bool(len(index)) and (index[0] > start or index[-1] < end - pd.Timedelta(days=1))
    return mask, partial


def _time_series(series: pd.Series, name: str) -> pd.Series:
    if not isinstance(series, pd.Series) or not isinstance(series.index, pd.DatetimeIndex):
        raise StatisticsError(f"{name} must be a pandas Series on a DatetimeIndex")
    return series.astype(np.float64)


def _check_int(value: int, name: str, minimum: int) -> None:
    if not isinstance(value, int | np.integer) or value < minimum:
        raise StatisticsError(f"{name} must be an integer >= {minimum}; got {value!r}")
