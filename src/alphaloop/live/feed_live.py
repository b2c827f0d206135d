"""A live feed: closed bars from a venue's market data, gathered into a growing panel.

:class:`LiveBarFeed` asks a :class:`BarSource` (the Alpaca or ccxt adapter's
REST market data, see :mod:`.feed_sources`) for bars after the last one it
has, every ``poll_interval_s`` seconds. A bar is taken once it has closed
(its start plus the bar period is not after now) and is never taken twice:
only timestamps after the last one enter, so a repeated answer adds
nothing. A failed request (the venue down, the connection lost) is retried
with backoff; the next answer starts after the last bar taken, so a
disconnect loses no bar either. The venue's data WebSocket is not used:
polling the history is the same for every venue and resumes by itself.

The panel has one row per bar time (UTC) and the fields ``open``,
``high``, ``low``, ``close``, ``volume`` (NaN where an asset has no bar).
:meth:`LiveBarFeed.warm_up` loads the history the strategy's signal needs
before the first live bar.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import pandas as pd

from alphaloop.data import Panel
from alphaloop.errors import AlphaloopError, PaperError

__all__ = ["BARS_COLUMNS", "BarSource", "LiveBarFeed"]

log = logging.getLogger(__name__)

#: columns of a long frame of bars (one row per asset and bar time)
BARS_COLUMNS = ("asset", "time", "open", "high", "low", "close", "volume")
_FIELDS = ("open", "high", "low", "close", "volume")


class BarSource(Protocol):
    """Where a live feed's bars come from (a venue adapter's market data)."""

    name: str
    assets: tuple[str, ...]
    period: pd.Timedelta

    def history(self, after: pd.Timestamp | None, count: int) -> pd.DataFrame:
        """Bars (:data:`BARS_COLUMNS`, ``time`` = the bar's start, UTC) after ``after``;
        with ``after`` None, the latest ``count`` bars of each asset."""
        ...


def _utcnow() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class LiveBarFeed:
    """A growing panel of closed bars from ``source`` (see the module docstring).

    Parameters
    ----------
    source : BarSource
    recorded : DataFrame, optional
        Bars taken before (a resumed session's, :data:`BARS_COLUMNS`).
    poll_interval_s : float, default 5
        Seconds between two requests when no new bar came.
    retry_s : tuple of float, default (0.5, 30)
        First and longest wait after a failed request, seconds (doubling).
    clock, sleep : callables, optional
        Now (a UTC Timestamp) and ``time.sleep``; tests pass their own.
    """

    def __init__(
        self,
        source: BarSource,
        *,
        recorded: pd.DataFrame | None = None,
        poll_interval_s: float = 5.0,
        retry_s: tuple[float, float] = (0.5, 30.0),
        clock: Callable[[], pd.Timestamp] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.assets = tuple(source.assets)
        self.poll_interval_s = poll_interval_s
        self.retry_s = retry_s
        self._clock = clock
        self._sleep = sleep
        self._frame = pd.DataFrame(columns=list(BARS_COLUMNS))
        self._panel: Panel | None = None
        #: failed requests so far (each one retried)
        self.failures = 0
        #: asked between retries and polls: True ends the wait
        self.stop: Callable[[], bool] | None = None
        if recorded is not None and len(recorded):
            self._frame = self._clean(recorded)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def last_time(self) -> pd.Timestamp | None:
        """The last bar time taken (None before the warm-up)."""
        return None if self._frame.empty else pd.Timestamp(self._frame["time"].max())

    @property
    def n_times(self) -> int:
        return int(self._frame["time"].nunique()) if len(self._frame) else 0

    @property
    def frame(self) -> pd.DataFrame:
        """Every bar taken, long (:data:`BARS_COLUMNS`), by time then asset."""
        return self._frame

    @property
    def panel(self) -> Panel:
        """The bars so far as a panel (rows: bar times, oldest first)."""
        if self._panel is None:
            if self._frame.empty:
                raise PaperError(f"the {self.name} feed has no bar yet")
            fields = {}
            for name in _FIELDS:
                wide = self._frame.pivot(index="time", columns="asset", values=name)
                fields[name] = wide.reindex(columns=list(self.assets)).to_numpy(np.float64)
            index = pd.DatetimeIndex(sorted(self._frame["time"].unique()))
            self._panel = Panel(index, self.assets, fields)
        return self._panel

    # ------------------------------------------------------------- taking
    def _clean(self, bars: pd.DataFrame) -> pd.DataFrame:
        frame = bars.loc[:, list(BARS_COLUMNS)].copy()
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        frame = frame[frame["asset"].isin(self.assets)]
        frame = frame.drop_duplicates(["asset", "time"], keep="last")
        return frame.sort_values(["time", "asset"], kind="stable").reset_index(drop=True)

    def _take(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Keep the closed bars after the last one; return them (possibly empty)."""
        if bars.empty:
            return bars.iloc[0:0]
        frame = self._clean(bars)
        closed = frame["time"] + self.source.period <= self._clock()
        frame = frame[closed]
        last = self.last_time
        if last is not None:
            frame = frame[frame["time"] > last]
        if frame.empty:
            return frame
        self._frame = pd.concat([self._frame, frame], ignore_index=True) if len(
            self._frame
        ) else frame.reset_index(drop=True)
        self._panel = None
        return frame

    def _request(self, after: pd.Timestamp | None, count: int) -> pd.DataFrame:
        return self.source.history(after, count)

    def warm_up(self, count: int) -> pd.DataFrame:
        """Take the latest ``count`` closed bars of history (once, before any live bar).

        Raises
        ------
        PaperError
            The venue has no bar for the feed's assets.
        """
        if self.last_time is not None:
            return self._frame.iloc[0:0]
        taken = self._take(self._fetch(None, count))
        if taken.empty:
            raise PaperError(
                f"the {self.name} feed found no closed bar of {', '.join(self.assets)}",
                hint="check the symbols and the market's hours",
            )
        return taken

    def _fetch(self, after: pd.Timestamp | None, count: int) -> pd.DataFrame:
        """One request, retried with backoff until it succeeds (``failures`` counts) or
        :attr:`stop` says so (then nothing)."""
        wait = self.retry_s[0]
        while True:
            try:
                return self._request(after, count)
            except AlphaloopError as exc:
                if self.stop is not None and self.stop():
                    return pd.DataFrame(columns=list(BARS_COLUMNS))
                self.failures += 1
                log.warning("%s feed: request failed (%s); retrying in %.1f s",
                            self.name, exc, wait)  # fmt: skip
                self._sleep(wait)
                wait = min(wait * 2.0, self.retry_s[1])

    def poll(self) -> pd.DataFrame:
        """Ask once (retrying failures) for bars after the last one; return those taken."""
        return self._take(self._fetch(self.last_time, 0))

    def new_bars(self, stop: Callable[[], bool] | None = None) -> Iterator[pd.DataFrame]:
        """Batches of new bars as they close, until ``stop()`` (asked between polls)."""
        if stop is not None:
            self.stop = stop
        while self.stop is None or not self.stop():
            taken = self.poll()
            if len(taken):
                yield taken
                continue
            self._sleep(self.poll_interval_s)
