"""Stream a paper or live session's fills and P&L to the event bus (``paper start --bus``).

A session records each bar in one database transaction (see
:mod:`alphaloop.live.records`); with a publisher attached, the bar's fills
(``fill`` events) and one ``pnl_tick`` are published inside that
transaction, before it commits. Their ids are deterministic, built from the
session (its id and creation time, so two workspaces never collide), the
bar's time and the fill's id (:func:`~alphaloop.live.loop_state.event_id`):
a bar redone after a crash publishes the same ids and Redis drops them, so
each event is on the stream once, whether the process died before or after
publishing.

The database is the record; the bus is for watching (the dashboard's
trading page, ``alphaloop serve --bus``). A bus that fails mid-session does
not stop trading: the bar's events wait (up to ``max_pending``, oldest
dropped first, counted in :attr:`SessionPublisher.dropped`) and go out with
the next bar that publishes.

Conventions (the same as the dashboard reads): ``source`` is
``paper-<id>``; a tick's ``session`` is the session id as text, its
``equity`` and ``pnl`` are in the account currency (``pnl`` = equity minus
the spec's capital) and ``pnl_day`` is the change over the bar.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.live.bus.catalog import Fill, OrderFilled, PnlTick, PnlTicked
from alphaloop.live.bus.errors import BusError
from alphaloop.live.loop_state import event_id

if TYPE_CHECKING:
    from alphaloop.live.bus.events import Event
    from alphaloop.live.records import PaperSessionInfo

__all__ = ["SessionPublisher", "connect_bus", "session_publisher", "session_source"]

logger = logging.getLogger("alphaloop.paper")


def session_source(session_id: int) -> str:
    """The ``source`` of a session's events: ``paper-<id>`` (live sessions too)."""
    return f"paper-{session_id}"


class SessionPublisher:
    """Publishes one session's fills and P&L ticks, bar by bar.

    Parameters
    ----------
    bus : RedisBus or InProcessBus
        Anything with ``publish_many(events, topic)``.
    info : PaperSessionInfo
        The session as claimed (its equity is the last recorded bar's).
    capital : float
        The spec's starting capital, account currency (``pnl`` is measured from it).
    topic : str, default "events"
        The bus topic (the service reads ``events`` unless told otherwise).
    max_pending : int, default 10,000
        Events kept while the bus is unreachable.
    """

    def __init__(
        self,
        bus: Any,
        info: PaperSessionInfo,
        *,
        capital: float,
        topic: str = "events",
        max_pending: int = 10_000,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.bus = bus
        self.topic = topic
        self.session_id = info.id
        self.source = session_source(info.id)
        created = info.created_at
        stamp = int(created.timestamp() * 1_000_000) if created is not None else 0
        self.run = f"paper:{info.id}:{stamp}"
        self.capital = float(capital)
        # the equity after the last recorded bar (a resumed session's), else the capital
        self.last_equity = float(info.equity) if info.position > 0 else self.capital
        self.pending: deque[Event] = deque(maxlen=max_pending)
        self.published = 0
        self.dropped = 0
        self._warned = False

    def events(self, when: pd.Timestamp, fills: Sequence[Mapping[str, Any]],
               equity: float) -> list[Event]:  # fmt: skip
        """The bar's events: one ``fill`` per fill row (``paper_fills`` rows: signed
        quantity, price, cost) and a ``pnl_tick``."""
        stamp = pd.Timestamp(when)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")  # panel times are UTC
        bar_ns, ts = int(stamp.value), stamp.to_pydatetime()
        out: list[Event] = []
        for f in fills:
            quantity = float(f["quantity"])
            out.append(
                OrderFilled(
                    id=event_id(self.run, 0, bar_ns, "fill", str(f["fill_id"])),
                    ts=ts,
                    source=self.source,
                    payload=Fill(
                        fill_id=f"{self.session_id}:{f['fill_id']}",
                        order_id=f"{self.session_id}:{f['order_id']}",
                        symbol=str(f["asset"]),
                        side="buy" if quantity > 0 else "sell",
                        quantity=abs(quantity),
                        price=float(f["price"]),
                        # the bus's commission is not negative: a net rebate shows as 0
                        commission=max(float(f["cost"]), 0.0),
                    ),
                )
            )
        out.append(
            PnlTicked(
                id=event_id(self.run, 0, bar_ns, "pnl_tick", "session"),
                ts=ts,
                source=self.source,
                payload=PnlTick(
                    session=str(self.session_id),
                    equity=float(equity),
                    pnl=float(equity) - self.capital,
                    pnl_day=float(equity) - self.last_equity,
                ),
            )
        )
        return out

    def bar(self, when: pd.Timestamp, fills: Sequence[Mapping[str, Any]], equity: float) -> None:
        """Publish a bar's events (with any still waiting); never raises for the bus."""
        new = self.events(when, fills, equity)
        self.last_equity = float(equity)
        room = self.pending.maxlen or 0
        overflow = max(len(self.pending) + len(new) - room, 0)
        self.dropped += overflow
        self.pending.extend(new)
        batch = list(self.pending)
        try:
            self.bus.publish_many(batch, self.topic)
        except BusError as exc:
            if not self._warned:
                logger.warning("paper session %s: the bus failed (%s); events wait for the "
                               "next bar", self.session_id, exc)  # fmt: skip
                self._warned = True
            return
        self.pending.clear()
        self.published += len(batch)
        self._warned = False

    def close(self) -> None:
        """Close the bus connection."""
        close = getattr(self.bus, "close", None)
        if close is not None:
            close()


def connect_bus(url: str, prefix: str = "alphaloop") -> Any:
    """The Redis bus at ``url`` (connected: it answered a ping).

    Raises
    ------
    BusUnavailableError
        No Redis server answers at ``url`` (a session does not start without its bus).
    BusBackendMissingError
        The redis package is not installed (the ``live`` extra).
    BusError
        ``url`` is not a Redis URL.
    """
    from alphaloop.live.bus.redis_streams import RedisBus

    return RedisBus(url, prefix=prefix)


def session_publisher(bus: Any, info: PaperSessionInfo, topic: str = "events") -> SessionPublisher:
    """A publisher of ``info`` on ``bus``, measuring P&L from the spec's capital."""
    from alphaloop.backtest import StrategySpec

    spec = StrategySpec.from_dict(info.spec, source=f"paper session {info.id}")
    return SessionPublisher(bus, info, capital=spec.capital, topic=topic)
