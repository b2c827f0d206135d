"""Market-data feeds: where the bars of paper and live trading come from.

A :class:`Feed` hands out bar events one at a time, oldest first; the bar's
values are read from the feed's :attr:`Feed.panel` at the event's ``row``
(so a strategy sees exactly what the event backtest shows it). The
:class:`ReplayFeed` plays a stored panel back, as fast as possible or at a
chosen number of bars per second, and resumes from any position (the number
of bars already delivered). Live feeds (through the broker adapters) are
named by :func:`parse_feed` and implement the same protocol.

Feed names: ``replay:NAME`` (a stored dataset), ``alpaca``, ``ccxt:EXCHANGE``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pandas as pd

from alphaloop.data import Panel
from alphaloop.errors import BacktestError

__all__ = ["BarEvent", "Feed", "FeedName", "ReplayFeed", "parse_feed"]

_KINDS = ("replay", "alpaca", "ccxt")


@dataclass(frozen=True, slots=True)
class BarEvent:
    """A bar has closed.

    Attributes
    ----------
    row : int
        Position of the bar in the feed's panel (0-based).
    time : Timestamp
        The bar's timestamp (UTC).
    received_ns : int
        ``time.perf_counter_ns()`` when the feed delivered it (latency is
        measured from here).
    """

    row: int
    time: pd.Timestamp
    received_ns: int


@runtime_checkable
class Feed(Protocol):
    """A source of bar events over a panel of bars."""

    @property
    def name(self) -> str:
        """The feed's name (``replay:NAME``, ``alpaca``, ``ccxt:EXCHANGE``)."""
        ...

    @property
    def panel(self) -> Panel:
        """The bars; a bar's row is visible from its event on, never before."""
        ...

    def bars(self, start: int = 0) -> Iterator[BarEvent]:
        """Bar events from position ``start`` (bars already delivered) to the end."""
        ...


@dataclass(frozen=True)
class FeedName:
    """A parsed feed name: ``kind`` (replay, alpaca, ccxt) and its argument."""

    kind: str
    target: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind

    @property
    def is_replay(self) -> bool:
        return self.kind == "replay"


def parse_feed(text: str) -> FeedName:
    """Parse ``replay:NAME``, ``alpaca`` or ``ccxt:EXCHANGE``.

    Raises
    ------
    BacktestError
        An unknown kind, or a missing dataset or exchange name.
    """
    kind, _, target = text.strip().partition(":")
    kind = kind.lower()
    if kind not in _KINDS:
        raise BacktestError(
            f"unknown feed {text!r}",
            hint="use replay:DATASET, alpaca or ccxt:EXCHANGE",
        )
    if kind in ("replay", "ccxt") and not target:
        what = "a dataset" if kind == "replay" else "an exchange"
        raise BacktestError(f"the feed {text!r} needs {what}: {kind}:NAME")
    if kind == "alpaca" and target:
        raise BacktestError(f"the feed {text!r} takes no argument: use alpaca")
    return FeedName(kind, target)


class ReplayFeed:
    """Replay a stored panel's bars, oldest first.

    Parameters
    ----------
    panel : Panel
        The recorded bars.
    name : str, default "replay"
        The feed's name, e.g. ``replay:sp500-stocks``.
    speed : float, optional
        Bars per second (wall clock); None or 0 = as fast as possible.
    clock, sleep : callables, optional
        ``time.monotonic`` and ``time.sleep`` by default (seconds); tests pass
        their own.
    """

    def __init__(
        self,
        panel: Panel,
        *,
        name: str = "replay",
        speed: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed is not None and not (speed >= 0 and speed != float("inf")):
            raise BacktestError(f"replay speed must be >= 0 bars per second, got {speed!r}")
        self._panel = panel
        self._name = name
        self.speed = speed or None
        self._clock = clock
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self._name

    @property
    def panel(self) -> Panel:
        return self._panel

    def __len__(self) -> int:
        return self._panel.n_times

    def bars(self, start: int = 0) -> Iterator[BarEvent]:
        """Bar events from row ``start`` on, paced at :attr:`speed`."""
        n = self._panel.n_times
        if not 0 <= start <= n:
            raise BacktestError(f"replay position {start} is outside the feed's 0..{n} bars")
        index = self._panel.index
        perf = time.perf_counter_ns
        if self.speed is None:
            for row in range(start, n):
                yield BarEvent(row, index[row], perf())
            return
        period = 1.0 / self.speed
        t0 = self._clock()
        for k, row in enumerate(range(start, n)):
            wait = t0 + k * period - self._clock()
            if wait > 0:
                self._sleep(wait)
            yield BarEvent(row, index[row], perf())
