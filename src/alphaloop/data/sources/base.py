"""What every online source shares: the request, intervals, bar stamps, per-symbol answers.

Conventions
-----------
- Vendors stamp a bar at its **open** time. The data layer stamps a bar where
  its values are known: a daily bar at 00:00 UTC of its trading date (the
  date in the exchange's time zone), known at its close; an intraday bar at
  its **close** time, ``open + interval`` (tz-aware UTC). A 5-minute bar that
  opens at 14:30 UTC is stored at 14:35 UTC, so nothing reads it before it
  has closed. The last bar of a session shorter than the interval (a 1-hour
  bar opening at 15:30 New York time) is stamped at open + interval too: later
  than its real close, never earlier.
- Prices are in the vendor's quote currency per share or unit; volume in
  shares or base units. ``adjusted=True`` (the default) means split- and
  dividend-adjusted prices where the vendor gives them; ``False`` the prices
  as traded. Split and dividend events are kept either way (see
  :mod:`alphaloop.data.sources.events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from alphaloop.errors import DataSourceError

__all__ = [
    "BAR_FIELDS",
    "INTERVALS",
    "BarSource",
    "FetchRequest",
    "SymbolBars",
    "SymbolFailure",
    "empty_events",
    "parse_time",
    "stamp_bars",
]

#: Intervals every source understands, with their length in seconds.
INTERVALS: Mapping[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "1d": 86_400,
}
#: The fields a fetched dataset holds, in this order.
BAR_FIELDS = ("open", "high", "low", "close", "volume")
EVENT_COLUMNS = ("date", "symbol", "kind", "value")


def parse_time(value: Any, what: str) -> pd.Timestamp:
    """A tz-aware UTC timestamp from a date, a datetime or ISO text (naive means UTC)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataSourceError(
            f"{what}: {value!r} is not a date", hint="use YYYY-MM-DD or an ISO 8601 time"
        ) from exc
    if ts is pd.NaT:
        raise DataSourceError(f"{what}: {value!r} is not a date")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class FetchRequest:
    """One fetch: which source, symbols, span and interval.

    Attributes
    ----------
    source : str
        ``yahoo``, ``ccxt:<exchange>`` or ``alpaca``.
    symbols : tuple of str
        Vendor symbols (``AAPL``, ``BTC/USDT``), in the order asked.
    start, end : pandas.Timestamp
        UTC; bars that open at or after ``start`` and before ``end``.
    interval : str
        One of :data:`INTERVALS`.
    adjusted : bool, default True
        Split- and dividend-adjusted prices (where the source has them).
    """

    source: str
    symbols: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    interval: str = "1d"
    adjusted: bool = True

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise DataSourceError(
                f"unknown interval {self.interval!r}",
                hint="use one of " + ", ".join(INTERVALS),
            )
        if not self.symbols:
            raise DataSourceError("no symbols given", hint="name at least one symbol")
        blank = [s for s in self.symbols if not s.strip()]
        if blank:
            raise DataSourceError("a symbol is empty", hint="symbols are separated by commas")
        if len(set(self.symbols)) != len(self.symbols):
            raise DataSourceError(f"a symbol is repeated: {', '.join(self.symbols)}")
        if self.end <= self.start:
            raise DataSourceError(
                f"the span is empty: end {self.end:%Y-%m-%d %H:%M} is not after "
                f"start {self.start:%Y-%m-%d %H:%M}"
            )

    @property
    def interval_s(self) -> int:
        """Length of one bar in seconds."""
        return INTERVALS[self.interval]

    @property
    def intraday(self) -> bool:
        return self.interval_s < 86_400

    def to_dict(self) -> dict[str, Any]:
        """JSON form, recorded with the dataset (times in ISO 8601 UTC)."""
        return {
            "source": self.source,
            "symbols": list(self.symbols),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "interval": self.interval,
            "adjusted": self.adjusted,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FetchRequest:
        return cls(
            str(doc["source"]),
            tuple(doc["symbols"]),
            parse_time(doc["start"], "start"),
            parse_time(doc["end"], "end"),
            str(doc.get("interval", "1d")),
            bool(doc.get("adjusted", True)),
        )


def empty_events() -> pd.DataFrame:
    """An events table with no rows: columns ``date, symbol, kind, value``."""
    return pd.DataFrame(
        {
            "date": pd.Series([], dtype="datetime64[ns, UTC]"),
            "symbol": pd.Series([], dtype=object),
            "kind": pd.Series([], dtype=object),
            "value": pd.Series([], dtype="float64"),
        }
    )


@dataclass(frozen=True)
class SymbolBars:
    """One symbol's answer.

    Attributes
    ----------
    symbol : str
    bars : pandas.DataFrame
        Index: the bars' **open** times (tz-aware UTC, as the vendor gives
        them); columns :data:`BAR_FIELDS` (float). Rows with no price are kept
        as NaN (the quality checks see them).
    events : pandas.DataFrame
        Splits and dividends (:func:`~alphaloop.data.sources.events.check_events`).
    notes : tuple of str
        What the reader of the answer should know (a cached answer used, rows dropped).
    cached : bool
        Whether the answer came from the cache rather than the network.
    """

    symbol: str
    bars: pd.DataFrame
    events: pd.DataFrame = field(default_factory=empty_events)
    notes: tuple[str, ...] = ()
    cached: bool = False
    exchange_tz: str = "UTC"


@dataclass(frozen=True)
class SymbolFailure:
    """A symbol the source could not deliver: nothing of it is imported.

    ``offline``: the source could not be reached (or ``--offline``) and no
    cached answer covered it.
    """

    symbol: str
    reason: str
    offline: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "reason": self.reason, "offline": self.offline}


class BarSource(Protocol):
    """An online source of bars: one symbol at a time.

    ``asset_class`` is what its symbols are when the fetch does not say
    (``crypto`` for an exchange, ``equities`` for a stock feed), or None to
    read it from the timestamps as a file import does.
    """

    name: str
    asset_class: str | None

    def fetch_symbol(self, symbol: str, request: FetchRequest) -> SymbolBars:
        """Every bar of ``symbol`` in the request's span (all pages).

        Raises :class:`~alphaloop.errors.DataSourceError` (or
        :class:`~alphaloop.errors.SourceOfflineError`) when it cannot.
        """
        ...


def stamp_bars(open_times: pd.DatetimeIndex, interval: str, exchange_tz: str) -> pd.DatetimeIndex:
    """The data layer's stamps of bars given by their open times (see the module notes).

    Daily bars: 00:00 UTC of the trading date in ``exchange_tz``. Intraday:
    ``open + interval`` in UTC.
    """
    if open_times.tz is None:
        raise DataSourceError("bar times without a time zone")  # a bug in a source adapter
    if INTERVALS[interval] >= 86_400:
        local = open_times.tz_convert(exchange_tz).tz_localize(None).normalize()
        return pd.DatetimeIndex(local).tz_localize("UTC")
    return (open_times + pd.Timedelta(seconds=INTERVALS[interval])).tz_convert("UTC")
