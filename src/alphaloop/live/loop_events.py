"""What the live loop publishes on the bus, and how a bar's events get their ids.

:class:`LoopPublisher` publishes at once outside a bar, and inside a bar
(:meth:`LoopPublisher.open_bar`) holds the bar's events until the bar's
transaction is about to commit (:meth:`LoopPublisher.flush`). Inside a bar every
event but a bar gets a deterministic id (:func:`~alphaloop.live.loop_state.event_id`):
P&L ticks by their sleeve, the others by their place in the bar; bars keep
theirs (``bar:<symbol>:<ns>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.live.loop_state import event_id

if TYPE_CHECKING:
    from alphaloop.data.panel import Panel
    from alphaloop.live.bus.events import Event
    from alphaloop.live.sleeve import Sleeve

__all__ = ["ACTOR", "LoopPublisher", "bar_events", "pnl_ticks"]

#: the actor and event source of everything the loop records and publishes
ACTOR = "live-loop"


class LoopPublisher:
    """Publishes the loop's events on ``bus`` and counts them.

    Parameters
    ----------
    bus : object with ``publish_many(events)``
    run : str
        The run's name, part of every event id.
    epoch : int
        How many times the run was started over, part of every event id.
    """

    def __init__(self, bus: Any, run: str, epoch: int) -> None:
        self.bus, self.run, self.epoch = bus, run, epoch
        self.count = 0  # events published (or held) so far
        self._outbox: list[Event] | None = None
        self._ts: pd.Timestamp | None = None
        self._n = 0  # events given an id in the current bar

    def open_bar(self, ts: pd.Timestamp) -> None:
        """Hold events, with ids of bar ``ts``, until :meth:`flush`."""
        self._outbox, self._ts, self._n = [], ts, 0

    def close_bar(self) -> None:
        """Leave the bar: publish at once again; unflushed events are dropped."""
        self._outbox, self._ts = None, None

    def publish(self, events: list[Event]) -> None:
        """Publish now, or with the bar's transaction when one is open; events get the
        bar's deterministic ids (bars keep theirs: ``bar:<symbol>:<ns>``)."""
        if not events:
            return
        if self._ts is not None:
            events = [e if e.type == "bar" else e.model_copy(update={"id": self._id(e)})
                      for e in events]  # fmt: skip
        if self._outbox is not None:
            self._outbox.extend(events)
        else:
            self.bus.publish_many(events)
        self.count += len(events)

    def flush(self) -> None:
        """Publish the events held for the bar (and hold no more)."""
        out, self._outbox = self._outbox, None
        if out:
            self.bus.publish_many(out)

    def _id(self, event: Event) -> str:
        """P&L ticks are keyed by their sleeve; other events by their place in the bar."""
        assert self._ts is not None
        if event.type == "pnl_tick":
            key = f"sleeve:{getattr(event.payload, 'strategy', '')}"
            return event_id(self.run, self.epoch, self._ts.value, event.type, key)
        self._n += 1
        return event_id(self.run, self.epoch, self._ts.value, event.type, str(self._n))


def pnl_ticks(session: str, sleeves: list[Sleeve], before: dict[str, float]) -> list[Event]:
    """One P&L tick per sleeve: its unit account's equity (1.0 at the start of its
    current state), P&L since then, and the change over this bar (``pnl_day``, from
    ``before``: equity by sleeve name at the start of the bar)."""
    from alphaloop.live.bus.catalog import PnlTick, PnlTicked

    return [
        PnlTicked(
            payload=PnlTick(
                session=session,
                strategy=s.name,
                equity=s.equity,
                pnl=s.equity - 1.0,
                pnl_day=s.equity - before[s.name],
            ),
            source=ACTOR,
        )
        for s in sleeves
    ]


def bar_events(panel: Panel, row: int, ts: pd.Timestamp) -> list[Event]:
    """``BarClosed`` for every asset with a positive close at ``panel`` row ``row``.

    Missing open/high/low fall back to the close (high and low to the max and min of
    open and close); an inconsistent bar becomes flat at the close; a missing or bad
    volume is 0.
    """
    from alphaloop.live.bus.catalog import Bar, BarClosed

    out: list[Event] = []
    fields = panel.field_names
    close = panel.field("close")[row]
    for j, sym in enumerate(panel.assets):
        c = float(close[j])
        if not (np.isfinite(c) and c > 0):
            continue
        o = float(panel.field("open")[row, j]) if "open" in fields else c
        h = float(panel.field("high")[row, j]) if "high" in fields else max(o, c)
        lo = float(panel.field("low")[row, j]) if "low" in fields else min(o, c)
        v = float(panel.field("volume")[row, j]) if "volume" in fields else 0.0
        if not all(np.isfinite(x) and x > 0 for x in (o, h, lo)) or not lo <= min(o, c):
            o, h, lo = c, c, c
        h, lo = max(h, o, c), min(lo, o, c)
        bar = Bar(
            symbol=sym,
            end=ts.to_pydatetime(),
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=v if np.isfinite(v) and v >= 0 else 0.0,
        )
        out.append(BarClosed(payload=bar, source=ACTOR, id=f"bar:{sym}:{ts.value}"))
    return out
