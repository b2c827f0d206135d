"""Trading calendars and asset classes: how many bars make a year, and what volume means.

Every annualized number (annual return, volatility, Sharpe ratio, alpha, an
annualized IC ratio) multiplies by the number of bars in a year. That number
depends on when the market trades, not only on the bar size:

=============  ========================================  ================================
calendar       market                                    bars per year
=============  ========================================  ================================
``24/7``       around the clock every day (crypto)       365 days x bars per day
``24x5``       around the clock Sunday evening to        260 days x bars per day
               Friday evening, UTC (FX)
``sessions``   exchange sessions on weekdays             252 days x bars per session
               (equities, exchange-traded futures)
``periodic``   weekly or coarser bars, any market        52, 12, 4 or 1 (weekly, monthly,
                                                         quarterly, annual)
``irregular``  no regular step                           none: give ``periods_per_year``
=============  ========================================  ================================

Daily bars count one bar per day. Intraday bars on a ``24/7`` or ``24x5``
calendar count ``86400 / step`` bars per day (8,760 hourly bars a year for
crypto, 6,240 for FX); on ``sessions`` the bars per session are the median
number of bars per trading day seen in the data (7 hourly bars stamped
09:30 .. 15:30 make 1,764 a year), and a 6.5-hour session when the data is
too short to tell.

The calendar is inferred from the timestamps (UTC): bars on Saturdays and on
Sundays (each at least 5% of bars) mean ``24/7``; daily bars on Sundays but
not Saturdays mean the FX week (``24x5``); intraday bars covering 20 hours
or more of a weekday mean ``24x5``; other weekday bars mean ``sessions``.
Daily bars on weekdays only cannot tell FX from an exchange: they count as
``sessions`` unless the asset class is ``fx``. The asset class follows from
the calendar when it is not given (``24/7`` crypto, ``24x5`` fx, ``sessions``
equities, otherwise ``other``); the evidence wins over a given asset class
for the calendar, because the bars present are what a year of returns is
made of.

A dataset also records its trading calendar (:mod:`alphaloop.data.calendars`),
the one its gap checks use: given at import (``--calendar XNYS``, ``24/7``,
``24/5``, ``none``) or inferred by :func:`infer_trading_calendar` (``24/7``
and ``24/5`` from the evidence above; an exchange when the dataset's dates,
holidays included, or its intraday bars match one of
:data:`EXCHANGE_CANDIDATES`; otherwise none). With an exchange calendar the
bars per year are the exchange's own: its sessions per year times the
average bars per session (early closes and breaks counted), each over the
whole years the data touches (XNYS minute bars 2021..2025: 251 sessions x
388.6 bars = 97,530 a year).

Volume is ``traded`` (shares or coins that changed hands), ``tick`` (a count
of price updates, as in FX files, where no consolidated traded volume
exists) or ``none``. Only traded volume can feed a market impact model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.errors import ConfigError

__all__ = [
    "ASSET_CLASSES",
    "CALENDARS",
    "DAYS_PER_YEAR",
    "EXCHANGE_CANDIDATES",
    "PERIODIC_PER_YEAR",
    "VOLUME_KINDS",
    "MarketCalendar",
    "check_asset_class",
    "check_periods_per_year",
    "infer_market_calendar",
    "infer_trading_calendar",
    "periods_per_year",
    "resolve_trading_calendar",
]

ASSET_CLASSES: tuple[str, ...] = ("equities", "fx", "crypto", "other")
CALENDARS: tuple[str, ...] = ("24/7", "24x5", "sessions", "periodic", "irregular")
VOLUME_KINDS: tuple[str, ...] = ("traded", "tick", "none")
#: Trading days per year of each calendar with daily or intraday bars.
DAYS_PER_YEAR: dict[str, float] = {"24/7": 365.0, "24x5": 260.0, "sessions": 252.0}
#: Periods per year of weekly and coarser bars, whatever the market.
PERIODIC_PER_YEAR: dict[str, float] = {"weekly": 52.0, "monthly": 12.0, "quarterly": 4.0,
                                       "annual": 1.0}  # fmt: skip
#: Hours of the session assumed for intraday ``sessions`` bars when the data cannot tell.
DEFAULT_SESSION_HOURS = 6.5

#: exchanges tried, in this order, when a dataset's exchange is inferred
EXCHANGE_CANDIDATES: tuple[str, ...] = ("XNYS", "XLON", "XETR", "XTKS", "XHKG", "XTSE", "XASX")
_MATCH_SHARE = 0.99  # of a dataset's bars on the exchange's bars, and of its sessions present
_CALENDAR_OF_CLASS = {"crypto": "24/7", "fx": "24x5", "equities": "sessions", "other": "sessions"}
_CLASS_OF_CALENDAR = {"24/7": "crypto", "24x5": "fx", "sessions": "equities"}
_WEEKEND_SHARE = 0.05  # each of Saturday and Sunday, of all bars: 1/7 on a 24/7 calendar
_AROUND_THE_CLOCK_HOURS = 20.0
_MIN_SPAN_DAYS = 7.0  # a span shorter than a week cannot show whether weekends trade
_UNITS = {"s": 1, "min": 60, "h": 3600}
_MAX_PERIODS = 1e8


@dataclass(frozen=True)
class MarketCalendar:
    """What a dataset's timestamps say about its market, recorded at import.

    Parameters
    ----------
    asset_class : {"equities", "fx", "crypto", "other"}
    calendar : {"24/7", "24x5", "sessions", "periodic", "irregular"}
    frequency : str
        The bar frequency (:func:`alphaloop.data.panel.infer_frequency`).
    periods_per_year : float or None
        Bars per year used to annualize; None on an irregular calendar.
    bars_per_day : float or None
        Bars per trading day (1 for daily bars); None for periodic and
        irregular calendars.
    volume : {"traded", "tick", "none"}
    given : tuple of str
        The attributes set by the importer rather than inferred.
    basis : str
        The evidence, in words.
    trading_calendar : str or None
        The trading calendar (:mod:`alphaloop.data.calendars`) of the gap
        checks and, for an exchange, of the bars per year: ``"24/7"``,
        ``"24/5"``, an exchange code such as ``"XNYS"``, or None.
    """

    asset_class: str
    calendar: str
    frequency: str
    periods_per_year: float | None
    bars_per_day: float | None
    volume: str
    given: tuple[str, ...] = ()
    basis: str = ""
    trading_calendar: str | None = None

    @property
    def is_exchange(self) -> bool:
        """True when the trading calendar is an exchange's (not 24/7, 24/5 or none)."""
        return self.trading_calendar not in (None, "24/7", "24/5")

    @property
    def days_per_year(self) -> float | None:
        """Trading days per year of the calendar (None for periodic and irregular ones).

        An exchange calendar's own sessions per year (e.g. 251 for XNYS over
        2021..2025) when the bars per year came from it.
        """
        if self.is_exchange and self.periods_per_year and self.bars_per_day:
            return self.periods_per_year / self.bars_per_day
        return DAYS_PER_YEAR.get(self.calendar)

    @property
    def has_traded_volume(self) -> bool:
        """True when the dataset's volume is traded volume (usable for market impact)."""
        return self.volume == "traded"

    def annualization(self) -> str:
        """How the periods per year were reached, e.g. ``365 days x 24 bars a day``."""
        ppy = self.periods_per_year
        if ppy is None:
            return "no annualization factor: the calendar is irregular"
        if "periods_per_year" in self.given:
            return f"{ppy:,.6g} bars a year, given at import"
        days = self.days_per_year
        if days is not None and self.bars_per_day is not None:
            per_day = (
                "one bar a day" if self.bars_per_day == 1 else f"{self.bars_per_day:g} bars a day"
            )
            if self.is_exchange:
                sessions = f"{days:.6g} {self.trading_calendar} sessions"
                return f"{ppy:,.6g} bars a year ({sessions} x {per_day})"
            return f"{ppy:,.6g} bars a year ({days:g} days x {per_day})"
        return f"{ppy:,.6g} {self.frequency} bars a year"

    def describe(self) -> str:
        """One line for people: asset class, calendar, annualization, volume."""
        volume = {
            "traded": "traded volume",
            "tick": "tick volume (not traded size)",
            "none": "no volume",
        }[self.volume]
        trading = f" ({self.trading_calendar})" if self.trading_calendar else ""
        return (
            f"{self.asset_class}, {self.calendar} calendar{trading}: {self.annualization()}; "
            f"{volume}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the form stored with each dataset version)."""
        return {
            "asset_class": self.asset_class,
            "calendar": self.calendar,
            "frequency": self.frequency,
            "periods_per_year": self.periods_per_year,
            "days_per_year": self.days_per_year,
            "bars_per_day": self.bars_per_day,
            "volume": self.volume,
            "given": list(self.given),
            "basis": self.basis,
            "trading_calendar": self.trading_calendar,
            "description": self.describe(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarketCalendar:
        ppy = data.get("periods_per_year")
        per_day = data.get("bars_per_day")
        return cls(
            asset_class=str(data["asset_class"]),
            calendar=str(data["calendar"]),
            frequency=str(data["frequency"]),
            periods_per_year=None if ppy is None else float(ppy),
            bars_per_day=None if per_day is None else float(per_day),
            volume=str(data.get("volume", "none")),
            given=tuple(data.get("given", ())),
            basis=str(data.get("basis", "")),
            trading_calendar=data.get("trading_calendar"),
        )


def check_asset_class(value: str | None, where: str = "asset_class") -> str | None:
    """``value`` lower-cased if it is a known asset class (None passes through)."""
    if value is None:
        return None
    key = str(value).strip().lower()
    if key not in ASSET_CLASSES:
        raise ConfigError(
            f"{where}: {value!r} is not a known asset class",
            hint=f"use one of {', '.join(ASSET_CLASSES)}",
        )
    return key


def check_periods_per_year(value: float | None, where: str = "periods_per_year") -> float | None:
    """``value`` as a float if it is a positive, finite number of bars per year."""
    if value is None:
        return None
    try:
        ppy = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a number") from None
    if not (math.isfinite(ppy) and 0 < ppy <= _MAX_PERIODS):
        raise ConfigError(
            f"{where}: {value!r} is not a usable number of bars per year",
            hint="give a positive number, e.g. 252 for daily equity bars, 8760 for hourly "
            "crypto bars",
        )
    return ppy


def _step_seconds(frequency: str) -> float | None:
    """Seconds per bar of an intraday frequency name (``"5min"`` -> 300), else None."""
    for unit, seconds in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        head = frequency.removesuffix(unit)
        if head != frequency and head.isdigit() and int(head) > 0:
            return float(int(head) * seconds)
    return None


def periods_per_year(
    frequency: str, calendar: str = "sessions", bars_per_day: float | None = None
) -> float | None:
    """Bars per year for a bar frequency on a calendar (see the module's table).

    Parameters
    ----------
    frequency : str
        ``"daily"``, ``"weekly"``, ``"monthly"``, ``"quarterly"``, ``"annual"``,
        an intraday step (``"30s"``, ``"5min"``, ``"1h"``) or ``"irregular"``.
    calendar : str, default "sessions"
        One of :data:`CALENDARS`.
    bars_per_day : float, optional
        Intraday ``sessions`` only: bars per session; default a 6.5-hour
        session divided by the step.

    Returns
    -------
    float or None
        None for irregular frequencies or calendars, and for names that are
        not frequencies.
    """
    if frequency in PERIODIC_PER_YEAR:
        return PERIODIC_PER_YEAR[frequency]
    days = DAYS_PER_YEAR.get(calendar)
    if days is None or frequency == "irregular":
        return None
    if frequency == "daily":
        return days
    step = _step_seconds(frequency)
    if step is None:
        return None
    if calendar == "sessions":
        per_day = bars_per_day if bars_per_day else DEFAULT_SESSION_HOURS * 3600.0 / step
    else:
        per_day = 86400.0 / step
    return days * per_day


def _as_index(timestamps: Any) -> pd.DatetimeIndex:
    if isinstance(timestamps, np.ndarray) and timestamps.dtype == np.int64:
        return pd.DatetimeIndex(timestamps.view("datetime64[ns]")).tz_localize("UTC")
    index = pd.DatetimeIndex(timestamps)
    return index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")


def _evidence(index: pd.DatetimeIndex, frequency: str) -> tuple[str | None, float | None, str]:
    """Calendar the timestamps show (None: they cannot tell), bars per day, and the basis.

    ``"weekdays"`` means daily bars on weekdays only (FX or sessions).
    """
    if frequency in PERIODIC_PER_YEAR:
        return "periodic", None, f"{frequency} bars"
    if frequency == "irregular" or len(index) < 2:
        return "irregular", None, "the timestamps have no regular step"
    span_days = (index[-1] - index[0]) / pd.Timedelta(days=1)
    weekday = index.day_of_week.to_numpy()
    saturday = float(np.mean(weekday == 5))
    sunday = float(np.mean(weekday == 6))
    shares = f"{saturday:.0%} of bars on Saturdays, {sunday:.0%} on Sundays"
    if saturday >= _WEEKEND_SHARE and sunday >= _WEEKEND_SHARE:
        return "24/7", None, shares
    if span_days < _MIN_SPAN_DAYS:
        return None, None, f"the data spans {span_days:.1f} days, too short to show the week"
    if frequency == "daily":
        if sunday >= _WEEKEND_SHARE and saturday < 0.01:
            return "24x5", 1.0, f"{shares}: the FX week, Sunday evening to Friday evening"
        return "weekdays", 1.0, f"{shares}: daily bars on weekdays"
    step = _step_seconds(frequency)
    if step is None:
        return None, None, f"unknown bar size {frequency!r}"
    on_weekdays = weekday < 5
    days = index[on_weekdays].normalize()
    if len(days) == 0:
        return None, None, "no bars on weekdays"
    per_day = float(np.median(pd.Series(1, index=days).groupby(level=0).size().to_numpy()))
    hours = per_day * step / 3600.0
    if hours >= _AROUND_THE_CLOCK_HOURS:
        return "24x5", None, f"{shares}; a median {hours:g} hours of bars per weekday"
    return "sessions", per_day, f"{shares}; a median {per_day:g} bars per weekday session"


def infer_market_calendar(
    timestamps: Any,
    frequency: str,
    *,
    has_volume: bool,
    asset_class: str | None = None,
    periods_per_year_given: float | None = None,
    volume: str | None = None,
    trading_calendar: str | None = None,
    calendar_given: bool = False,
) -> MarketCalendar:
    """Read a dataset's calendar, asset class, annualization factor and volume kind.

    Parameters
    ----------
    timestamps : array of int64 ns (UTC) or DatetimeIndex
        The dataset's calendar, ascending.
    frequency : str
        Its frequency name.
    has_volume : bool
        Whether it has a ``volume`` field.
    asset_class : str, optional
        Given by the importer; inferred from the calendar otherwise.
    periods_per_year_given : float, optional
        Given by the importer; overrides the calendar's value.
    volume : {"traded", "tick", "none"}, optional
        Given by the importer; otherwise ``none`` without a volume field,
        ``tick`` for FX and ``traded`` for the rest.
    trading_calendar : str, optional
        The dataset's trading calendar (:mod:`alphaloop.data.calendars`),
        given or found by :func:`infer_trading_calendar`. An exchange makes
        the calendar ``sessions`` with the exchange's bars per year; a given
        ``24/7`` or ``24/5`` wins over the evidence.
    calendar_given : bool, default False
        Whether ``trading_calendar`` was given by the importer.

    Raises
    ------
    ConfigError
        An unknown asset class or volume kind, or an unusable periods per year.
    """
    klass = check_asset_class(asset_class)
    ppy_given = check_periods_per_year(periods_per_year_given)
    if volume is not None and volume not in VOLUME_KINDS:
        raise ConfigError(
            f"volume: {volume!r} is not a volume kind", hint=f"use one of {VOLUME_KINDS}"
        )
    index = _as_index(timestamps)
    seen, per_day, basis = _evidence(index, frequency)
    if seen == "weekdays":
        calendar = "24x5" if klass == "fx" else "sessions"
        basis += f"; counted as {calendar}"
    elif seen is None:
        calendar = _CALENDAR_OF_CLASS[klass or "equities"]
        basis += f"; {calendar} assumed from the asset class {klass or 'equities (default)'}"
    else:
        calendar = seen
    usual = _CALENDAR_OF_CLASS.get(klass or "other")
    if klass not in (None, "other") and calendar in _CLASS_OF_CALENDAR and usual != calendar:
        basis += (
            f"; asset class {klass} usually trades {usual}, but the bars present make a "
            f"{calendar} year"
        )
    exchange_ppy = None
    if trading_calendar is not None:
        calendar, per_day, exchange_ppy, note = _from_trading_calendar(
            trading_calendar, index, frequency, calendar, per_day
        )
        basis += f"; {note}" if note else ""
    if frequency == "daily" and calendar in DAYS_PER_YEAR:
        per_day = 1.0
    elif per_day is None and calendar in ("24/7", "24x5"):
        step = _step_seconds(frequency)
        per_day = 86400.0 / step if step else None
    inferred_class = klass or _CLASS_OF_CALENDAR.get(calendar, "other")
    ppy = ppy_given if ppy_given is not None else exchange_ppy
    if ppy is None:
        ppy = periods_per_year(frequency, calendar, per_day)
    if calendar == "sessions" and per_day is None:
        step = _step_seconds(frequency)
        per_day = DEFAULT_SESSION_HOURS * 3600.0 / step if step else None
    kind = volume
    if not has_volume:
        kind = "none"
    elif kind is None:
        kind = "tick" if inferred_class == "fx" else "traded"
    given = tuple(
        name
        for name, value in (
            ("asset_class", klass),
            ("periods_per_year", ppy_given),
            ("volume", volume),
            ("trading_calendar", trading_calendar if calendar_given else None),
        )
        if value is not None
    )
    return MarketCalendar(
        asset_class=inferred_class,
        calendar=calendar,
        frequency=frequency,
        periods_per_year=ppy,
        bars_per_day=per_day,
        volume=kind,
        given=given,
        basis=basis,
        trading_calendar=trading_calendar,
    )


def _from_trading_calendar(
    name: str, index: pd.DatetimeIndex, frequency: str, calendar: str, per_day: float | None
) -> tuple[str, float | None, float | None, str]:
    """Calendar kind, bars per day, exchange bars per year and a note, from a trading calendar."""
    from alphaloop.data.calendars import TradingCalendar, step_nanoseconds

    trading = TradingCalendar(name)
    if calendar in ("periodic", "irregular"):
        return calendar, per_day, None, ""
    kind = trading.market
    note = "" if kind == calendar else f"the {trading.name} calendar makes it {kind}"
    if kind != calendar:
        per_day = None  # the evidence's bars per day belong to another calendar
    if trading.kind != "exchange" or len(index) < 1:
        return kind, per_day, None, note
    first, last = index[0], index[-1]
    if frequency == "daily":
        return kind, 1.0, trading.sessions_per_year(first, last), note
    try:
        step_nanoseconds(frequency)
    except ConfigError:
        return kind, per_day, None, note
    bars = trading.bars_per_session(frequency, first, last)
    return kind, round(bars, 4), trading.periods_per_year(frequency, first, last), note


def infer_trading_calendar(
    timestamps: Any, frequency: str, asset_class: str | None = None
) -> tuple[str | None, str]:
    """The trading calendar a dataset's timestamps show, and the evidence in words.

    ``24/7`` and ``24/5`` follow the evidence of :func:`infer_market_calendar`
    (and ``24/5`` the asset class ``fx`` for weekday daily bars). Session
    data is matched against :data:`EXCHANGE_CANDIDATES`, first match wins:
    daily bars match an exchange when every date is one of its sessions, at
    least 99% of its sessions in the span are present and the span holds at
    least one of its weekday holidays (without one, weekday data fits every
    exchange); intraday bars when at least 99% of the distinct timestamps
    are bars of its sessions (stamped at their start or end) and at least
    99% of its sessions in the span have bars. None when nothing matches,
    and for weekly and slower bars.
    """
    klass = check_asset_class(asset_class)
    index = _as_index(timestamps)
    seen, _, basis = _evidence(index, frequency)
    if seen in ("24/7", "24x5"):
        name = "24/7" if seen == "24/7" else "24/5"
        return name, f"{name}: {basis}"
    if seen == "weekdays" and klass == "fx":
        return "24/5", "24/5: daily bars on weekdays of the asset class fx"
    if seen not in ("weekdays", "sessions") or klass in ("crypto", "fx"):
        return None, "no trading calendar: " + basis
    ns = index.as_unit("ns").asi8
    if frequency == "daily":
        weekdays = pd.date_range(index[0].normalize(), index[-1].normalize(), freq="B")
        if len(weekdays) == len(np.unique(index.normalize())):
            return None, "no trading calendar: every weekday has a bar (no holiday to match)"
    for code in EXCHANGE_CANDIDATES:
        if _matches(code, ns, frequency):
            return code, f"{code}: the bars match its sessions"
    return None, "no trading calendar: the bars match none of " + ", ".join(EXCHANGE_CANDIDATES)


def _matches(code: str, ns: np.ndarray, frequency: str) -> bool:
    """Whether distinct timestamps ``ns`` (ascending) fit exchange ``code`` (see above)."""
    from alphaloop.data.calendar_gaps import expected_stamps
    from alphaloop.data.calendars import TradingCalendar

    try:
        trading = TradingCalendar(code)
        sessions = trading.daily_stamps(int(ns[0]), int(ns[-1]))
        if not len(sessions):
            return False
        if frequency == "daily":
            days = np.unique(ns - ns % (86_400 * 10**9))
            if not np.isin(days, sessions).all():
                return False
            holidays = trading.holidays(int(ns[0]), int(ns[-1]))
            present = np.isin(sessions, days).mean()
            return bool(len(holidays) and present >= _MATCH_SHARE)
        grid, _ = expected_stamps(trading, ns, frequency)
    except ConfigError:
        return False
    hits = np.isin(ns, grid, assume_unique=True)
    if hits.mean() < _MATCH_SHARE:
        return False
    sched = trading.schedule(int(ns[0]), int(ns[-1]))
    opened = np.searchsorted(sched.opens, ns[hits], side="right") - 1
    with_bars = len(np.unique(opened[opened >= 0]))
    return bool(with_bars >= _MATCH_SHARE * len(sched))


def resolve_trading_calendar(
    given: str | None, timestamps: Any, frequency: str, asset_class: str | None = None
) -> tuple[str | None, bool]:
    """The trading calendar of an import and whether it was given.

    ``given``: a calendar name (checked), ``"none"`` for no calendar, or
    None to infer one with :func:`infer_trading_calendar`.

    Raises
    ------
    ConfigError
        An unknown calendar name.
    """
    from alphaloop.data.calendars import NO_CALENDAR, check_calendar_name

    if given is not None:
        if str(given).strip().lower() == NO_CALENDAR:
            return None, True
        return check_calendar_name(given), True
    if len(timestamps) < 2:
        return None, False
    return infer_trading_calendar(timestamps, frequency, asset_class)[0], False
