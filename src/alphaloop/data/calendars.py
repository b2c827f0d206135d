"""Trading calendars: when a market trades, session by session.

A :class:`TradingCalendar` answers three questions for the data layer: which
days are sessions (holidays and weekends are not), when each session opens
and closes (early closes and lunch breaks included), and so which bar
timestamps a complete dataset holds. Gap checks (:mod:`alphaloop.data.quality`),
fills (:func:`fill_to_calendar`), resampling (:mod:`alphaloop.data.resample`)
and the annualization factor of exchange data use it.

==============  =================================================  ============================
name            sessions                                           source
==============  =================================================  ============================
``24/7``        every day, 00:00 to 24:00 UTC (crypto)             built in
``24/5``        Monday to Friday; each opens 17:00 New York the    built in
                day before and closes 17:00 New York (FX)
``XNYS`` etc.   the exchange's sessions, holidays, early closes    ``exchange-calendars``
                and breaks (``XNYS``, ``XNAS``, ``XLON``,          (extra ``risk``)
                ``XTKS``, ``XHKG``, ``CMES`` for CME futures, ...)
==============  =================================================  ============================

Aliases: ``crypto`` is ``24/7``; ``fx`` and ``24x5`` are ``24/5``; ``NYSE``,
``NASDAQ``, ``LSE``, ``CME`` are ``XNYS``, ``XNAS``, ``XLON``, ``CMES``.

Conventions
-----------
- All instants are UTC nanoseconds (int64). A session is named by its date;
  the daily bar of a session is stamped at that date's midnight UTC, as every
  daily dataset in alphaloop is (its values are known after the session's
  close).
- Intraday bars are stamped at their start by default (``label="start"``: the
  09:30 minute bar covers 09:30:00 to 09:30:59 and is known at 09:31); with
  ``label="end"`` at their end. The last bar of a session is cut at the close
  (a 1h bar from 15:30 on a 16:00 close covers 30 minutes).
- A session's intraday bars restart at its open (and again after a break): on
  ``24/7`` bars restart at each UTC midnight.
- Daily FX bars are expected Monday to Friday; a bar stamped on Sunday (how
  some vendors label the Sunday evening open) is neither a gap nor off the
  calendar.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.errors import ConfigError

__all__ = [
    "ALIASES",
    "CALENDAR_KINDS",
    "NO_CALENDAR",
    "Schedule",
    "TradingCalendar",
    "check_calendar_name",
    "get_calendar",
]

NS_PER_DAY = 86_400 * 10**9
NS_PER_MIN = 60 * 10**9
#: kinds of calendar and the market calendar (:mod:`alphaloop.data.market_calendar`) each makes
CALENDAR_KINDS: dict[str, str] = {"24/7": "24/7", "24/5": "24x5", "exchange": "sessions"}
#: the value of ``--calendar`` that asks for no trading calendar
NO_CALENDAR = "none"
ALIASES: dict[str, str] = {
    "crypto": "24/7",
    "24/7": "24/7",
    "24x7": "24/7",
    "fx": "24/5",
    "24/5": "24/5",
    "24x5": "24/5",
    "nyse": "XNYS",
    "nasdaq": "XNAS",
    "lse": "XLON",
    "cme": "CMES",
}
_FX_ZONE = "America/New_York"
_FX_ROLL_HOUR = 17
Label = Literal["start", "end"]


@dataclass(frozen=True)
class Schedule:
    """Sessions of a calendar over a span, as arrays (one entry per session).

    Attributes
    ----------
    sessions : ndarray of int64
        Midnight UTC of each session's date (the stamp of its daily bar), ns.
    opens, closes : ndarray of int64
        Open and close instants, UTC ns.
    break_starts, break_ends : ndarray of int64
        A lunch break inside the session (``XTKS``, ``XHKG``), UTC ns;
        equal to the close where there is none.
    """

    sessions: np.ndarray
    opens: np.ndarray
    closes: np.ndarray
    break_starts: np.ndarray
    break_ends: np.ndarray

    def __len__(self) -> int:
        return len(self.sessions)

    def minutes_open(self) -> np.ndarray:
        """Minutes each session trades (breaks excluded), float64."""
        open_ns = (self.break_starts - self.opens) + (self.closes - self.break_ends)
        return open_ns / NS_PER_MIN

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end instants of the trading segments, in time order (breaks split)."""
        has_break = self.break_starts < self.closes
        starts = np.concatenate([self.opens, self.break_ends[has_break]])
        ends = np.concatenate(
            [np.where(has_break, self.break_starts, self.closes), self.closes[has_break]]
        )
        order = np.argsort(starts, kind="stable")
        return starts[order], ends[order]


def check_calendar_name(name: str, where: str = "calendar") -> str:
    """The canonical name of a calendar (``"24/7"``, ``"24/5"`` or an exchange code).

    Raises
    ------
    ConfigError
        The name is empty, or no calendar of ``exchange-calendars`` has it.
    """
    key = str(name).strip()
    if not key:
        raise ConfigError(f"{where}: empty calendar name", hint=_NAMES_HINT)
    canonical = ALIASES.get(key.lower(), key.upper())
    if canonical not in ("24/7", "24/5"):
        _exchange(canonical, where)
    return canonical


_NAMES_HINT = "use 24/7 (crypto), 24/5 (FX) or an exchange code such as XNYS, XLON, CMES"


def _xcals(where: str) -> Any:
    try:
        import exchange_calendars as xcals
    except ImportError:
        raise ConfigError(
            f"{where}: exchange calendars need the package exchange-calendars",
            hint="pip install 'alphaloop[risk]', or use 24/7 or 24/5",
        ) from None
    return xcals


def _exchange(code: str, where: str = "calendar") -> None:
    xcals = _xcals(where)
    names = set(xcals.get_calendar_names(include_aliases=True))
    if code not in names:
        raise ConfigError(
            f"{where}: {code!r} is not a known calendar ({len(names)} exchange calendars known)",
            hint=_NAMES_HINT,
        )


@lru_cache(maxsize=32)
def _exchange_calendar(code: str, first_year: int, last_year: int) -> Any:
    """The exchange-calendars object of ``code`` for whole years (cached)."""
    xcals = _xcals(f"calendar {code}")
    with warnings.catch_warnings():  # the package's own pandas deprecation notices
        warnings.simplefilter("ignore")
        try:
            return xcals.get_calendar(code, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
        except Exception as exc:  # the package raises several kinds for bounds
            raise ConfigError(
                f"calendar {code}: cannot cover {first_year}..{last_year}: {exc}".splitlines()[0],
                hint="check the dataset's dates, or import with --calendar none",
            ) from None


def _day_ns(value: Any) -> int:
    """Midnight UTC (ns) of the UTC date of ``value`` (a timestamp, date text or ns)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.normalize().value)


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


class TradingCalendar:
    """When one market trades; see the module's table for the names.

    Parameters
    ----------
    name : str
        ``"24/7"``, ``"24/5"``, an exchange code (``"XNYS"``) or an alias.

    Raises
    ------
    ConfigError
        An unknown name (see :func:`check_calendar_name`).
    """

    __slots__ = ("kind", "name")

    def __init__(self, name: str) -> None:
        self.name: str = check_calendar_name(name)
        self.kind: str = self.name if self.name in ("24/7", "24/5") else "exchange"

    def __repr__(self) -> str:
        return f"TradingCalendar({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TradingCalendar) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def market(self) -> str:
        """The market calendar kind it makes: ``"24/7"``, ``"24x5"`` or ``"sessions"``."""
        return CALENDAR_KINDS[self.kind]

    # ------------------------------------------------------------- schedules
    def schedule(self, start: Any, end: Any) -> Schedule:
        """The sessions whose dates lie in ``[start, end]`` (UTC dates, both included)."""
        lo, hi = _day_ns(start), _day_ns(end)
        if hi < lo:
            return Schedule(*(_empty() for _ in range(5)))
        if self.kind == "24/7":
            days = np.arange(lo, hi + NS_PER_DAY, NS_PER_DAY, dtype=np.int64)
            closes = days + NS_PER_DAY
            return Schedule(days, days.copy(), closes, closes.copy(), closes.copy())
        if self.kind == "24/5":
            return _fx_schedule(lo, hi)
        return self._exchange_schedule(lo, hi)

    def _exchange_schedule(self, lo: int, hi: int) -> Schedule:
        first = pd.Timestamp(lo, tz="UTC").year
        last = pd.Timestamp(hi, tz="UTC").year
        cal = _exchange_calendar(self.name, first, last)
        sched = cal.schedule
        dates = pd.DatetimeIndex(sched.index)
        dates = dates.tz_localize("UTC") if dates.tz is None else dates.tz_convert("UTC")
        day = dates.as_unit("ns").asi8
        keep = (day >= lo) & (day <= hi)
        sched = sched[keep]

        def col(name: str) -> np.ndarray:
            values = pd.DatetimeIndex(sched[name])
            values = values.tz_localize("UTC") if values.tz is None else values.tz_convert("UTC")
            return values.as_unit("ns").asi8.astype(np.int64)

        opens, closes = col("open"), col("close")
        if "break_start" in sched.columns:
            bs, be = col("break_start"), col("break_end")
            none = (bs == np.iinfo(np.int64).min) | (be == np.iinfo(np.int64).min)
            bs, be = np.where(none, closes, bs), np.where(none, closes, be)
        else:
            bs, be = closes.copy(), closes.copy()
        return Schedule(day[keep].astype(np.int64), opens, closes, bs, be)

    def sessions(self, start: Any, end: Any) -> pd.DatetimeIndex:
        """Session dates in ``[start, end]`` (midnight UTC)."""
        return pd.DatetimeIndex(
            self.schedule(start, end).sessions.view("datetime64[ns]"), name="session"
        ).tz_localize("UTC")

    def holidays(self, start: Any, end: Any) -> pd.DatetimeIndex:
        """Weekdays (Monday to Friday) in ``[start, end]`` that are not sessions."""
        days = pd.date_range(
            pd.Timestamp(_day_ns(start), tz="UTC"), pd.Timestamp(_day_ns(end), tz="UTC"), freq="D"
        )
        weekdays = days[days.day_of_week < 5]
        return weekdays[~weekdays.isin(self.sessions(start, end))]

    def early_closes(self, start: Any, end: Any) -> pd.DatetimeIndex:
        """Sessions in ``[start, end]`` that close earlier than the calendar's usual close.

        The usual close is the most common close time (local wall clock) of
        the span; 24/7 and 24/5 calendars have none.
        """
        sched = self.schedule(start, end)
        if self.kind != "exchange" or not len(sched):
            return pd.DatetimeIndex([], tz="UTC", name="session")
        tz = _exchange_calendar(self.name, *_years(sched)).tz
        local = pd.DatetimeIndex(sched.closes.view("datetime64[ns]")).tz_localize("UTC")
        local = local.tz_convert(tz)
        minutes = local.hour * 60 + local.minute
        usual = int(pd.Series(minutes).mode().iloc[-1])
        early = np.asarray(minutes < usual)
        return pd.DatetimeIndex(
            sched.sessions[early].view("datetime64[ns]"), name="session"
        ).tz_localize("UTC")

    # ---------------------------------------------------------------- stamps
    def daily_stamps(self, start: Any, end: Any) -> np.ndarray:
        """Stamps (int64 ns, midnight UTC) of the daily bars a complete dataset holds."""
        return self.schedule(start, end).sessions

    def bar_stamps(
        self, start: Any, end: Any, step: str | int, label: Label = "start"
    ) -> np.ndarray:
        """Stamps (int64 ns, UTC) of the intraday bars a complete dataset holds.

        Parameters
        ----------
        start, end : timestamp-like
            Sessions whose dates lie in ``[start, end]``.
        step : str or int
            The bar size: a frequency name (``"1min"``, ``"5min"``, ``"1h"``)
            or nanoseconds.
        label : {"start", "end"}, default "start"
            Stamp each bar at its start or at its end (cut at the close).
        """
        step_ns = step_nanoseconds(step)
        seg_start, seg_end = self.schedule(start, end).segments()
        counts = -(-(seg_end - seg_start) // step_ns)  # ceiling: a short last bar counts
        counts = np.maximum(counts, 0)
        total = int(counts.sum())
        if not total:
            return _empty()
        first = np.repeat(seg_start, counts)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        stamps = first + offsets * step_ns
        if label == "end":
            stamps = np.minimum(stamps + step_ns, np.repeat(seg_end, counts))
        elif label != "start":
            raise ConfigError(f"label: {label!r} is not a bar label", hint="use start or end")
        return np.unique(stamps)  # 24/5 segments touch: no stamp twice

    def expected_stamps(
        self, start: Any, end: Any, frequency: str, label: Label = "start"
    ) -> np.ndarray:
        """:meth:`daily_stamps` for ``"daily"``, else :meth:`bar_stamps` of the frequency."""
        if frequency == "daily":
            return self.daily_stamps(start, end)
        return self.bar_stamps(start, end, frequency, label)

    def is_open(self, timestamps: np.ndarray) -> np.ndarray:
        """True where an instant (int64 ns UTC) lies inside a session, outside its break."""
        ts = np.asarray(timestamps, dtype=np.int64)
        if not len(ts):
            return np.zeros(0, dtype=bool)
        seg_start, seg_end = self.schedule(
            int(ts.min()) - NS_PER_DAY, int(ts.max()) + 2 * NS_PER_DAY
        ).segments()
        pos = np.searchsorted(seg_start, ts, side="right") - 1
        ok = pos >= 0
        pos = np.clip(pos, 0, max(len(seg_start) - 1, 0))
        return ok & (len(seg_start) > 0) & (ts < seg_end[pos]) & (ts >= seg_start[pos])

    # ---------------------------------------------------------- annualization
    def sessions_per_year(self, start: Any, end: Any) -> float:
        """Average sessions per calendar year over the whole years from ``start`` to ``end``."""
        first, last = pd.Timestamp(_day_ns(start)).year, pd.Timestamp(_day_ns(end)).year
        n = len(self.schedule(f"{first}-01-01", f"{last}-12-31"))
        return n / (last - first + 1)

    def bars_per_session(self, step: str | int, start: Any, end: Any) -> float:
        """Average intraday bars per session (early closes and breaks counted) over those years."""
        first, last = pd.Timestamp(_day_ns(start)).year, pd.Timestamp(_day_ns(end)).year
        sched = self.schedule(f"{first}-01-01", f"{last}-12-31")
        if not len(sched):
            return math.nan
        seg_start, seg_end = sched.segments()
        step_ns = step_nanoseconds(step)
        return float((-(-(seg_end - seg_start) // step_ns)).sum() / len(sched))

    def periods_per_year(self, frequency: str, start: Any, end: Any) -> float | None:
        """Bars per year of ``frequency`` on this calendar, for data from ``start`` to ``end``.

        Exchange calendars count their own sessions per year (XNYS: about
        252) times the average bars per session, each over the whole years
        the data touches; ``24/7`` and ``24/5`` count 365 and 260 days times
        ``86400 / step`` (see :mod:`alphaloop.data.market_calendar`). None for
        a frequency that is neither daily nor intraday.
        """
        from alphaloop.data.market_calendar import periods_per_year

        if self.kind != "exchange":
            return periods_per_year(frequency, self.market)
        if frequency == "daily":
            return self.sessions_per_year(start, end)
        try:
            step_nanoseconds(frequency)
        except ConfigError:
            return periods_per_year(frequency, "sessions")
        per_session = self.bars_per_session(frequency, start, end)
        return self.sessions_per_year(start, end) * per_session

    def describe(self) -> str:
        """One line: the name and what it means."""
        if self.kind == "24/7":
            return "24/7: every day, around the clock (UTC days)"
        if self.kind == "24/5":
            return "24/5: Monday to Friday, 17:00 to 17:00 New York"
        return f"{self.name}: exchange sessions, holidays and early closes (exchange-calendars)"


def _years(sched: Schedule) -> tuple[int, int]:
    return (pd.Timestamp(int(sched.sessions[0])).year, pd.Timestamp(int(sched.sessions[-1])).year)


def _fx_schedule(lo: int, hi: int) -> Schedule:
    days = pd.date_range(pd.Timestamp(lo, tz="UTC"), pd.Timestamp(hi, tz="UTC"), freq="D")
    days = days[days.day_of_week < 5]
    naive = days.tz_localize(None)
    roll = pd.Timedelta(hours=_FX_ROLL_HOUR)

    def at_roll(dates: pd.DatetimeIndex) -> np.ndarray:
        local = (dates + roll).tz_localize(_FX_ZONE, ambiguous=True, nonexistent="shift_forward")
        return local.tz_convert("UTC").as_unit("ns").asi8.astype(np.int64)

    closes = at_roll(naive)
    opens = at_roll(naive - pd.Timedelta(days=1))
    sessions = days.as_unit("ns").asi8.astype(np.int64)
    return Schedule(sessions, opens, closes, closes.copy(), closes.copy())


def step_nanoseconds(step: str | int) -> int:
    """Nanoseconds of a bar size: ``"1min"`` -> 60e9; ints pass through.

    Raises
    ------
    ConfigError
        Not a positive intraday step (seconds, minutes or hours).
    """
    if isinstance(step, int | np.integer) and not isinstance(step, bool):
        if step <= 0:
            raise ConfigError(f"step: {step} ns is not a positive bar size")
        return int(step)
    text = str(step).strip().lower()
    for unit, seconds in (("min", 60), ("s", 1), ("h", 3600), ("m", 60)):
        head = text.removesuffix(unit)
        if head != text and head.isdigit() and int(head) > 0:
            return int(head) * seconds * 10**9
    raise ConfigError(
        f"step: {step!r} is not an intraday bar size",
        hint="use e.g. 1min, 5min, 15min, 1h or 30s",
    )


def get_calendar(name: str | TradingCalendar) -> TradingCalendar:
    """A :class:`TradingCalendar` by name (a calendar passes through)."""
    return name if isinstance(name, TradingCalendar) else TradingCalendar(name)
