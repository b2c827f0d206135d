"""Feed the WebSocket topics from the live event bus (in-process or Redis Streams).

Events of the live loop (:mod:`alphaloop.live.bus`) map to WebSocket topics:

=====================  ===========  ==============================================
bus event ``type``     WS topic     ``data``
=====================  ===========  ==============================================
``fill``               fills        the event's envelope and its Fill payload
``pnl_tick``           pnl          :class:`PnlTick`: session, equity, P&L
``risk_state``         risk         the RiskState payload
``policy_change``      risk         the PolicyChange payload
``alert``              alerts       the Alert payload
``model_release``      alerts       the ModelRelease payload
=====================  ===========  ==============================================

``data`` is ``{"event": {type, version, id, ts, source}, **payload}``. The
P&L tick (``pnl_tick`` v1) is defined in :mod:`alphaloop.live.bus.catalog`
(re-exported here): the live loop publishes one per sleeve per bar.

The Redis bridge reads with a consumer group of its own (a fresh name per
server, starting at new entries), so every server sees every event; the
group is deleted when the server stops.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from alphaloop.live.bus.catalog import PnlTick, PnlTicked
from alphaloop.live.bus.events import Event

if TYPE_CHECKING:
    from alphaloop.api.hub import Hub

__all__ = ["BUS_TOPICS", "PnlTick", "PnlTicked", "RedisBridge", "event_data"]

logger = logging.getLogger("alphaloop.api")

BUS_TOPICS: dict[str, str] = {
    "fill": "fills",
    "pnl_tick": "pnl",
    "risk_state": "risk",
    "policy_change": "risk",
    "alert": "alerts",
    "model_release": "alerts",
}
"""Bus event type -> WebSocket topic."""


def event_data(event: Event) -> dict[str, Any]:
    """The WebSocket ``data`` of a bus event."""
    return {
        "event": {
            "type": event.type,
            "version": event.version,
            "id": event.id,
            "ts": event.ts.isoformat(),
            "source": event.source,
        },
        **event.payload.model_dump(mode="json"),
    }


def forward(hub: Hub, event: Event) -> None:
    """Publish ``event`` on its topic (from any thread); events of no topic are passed over."""
    topic = BUS_TOPICS.get(event.type)
    if topic is not None:
        hub.publish_threadsafe(topic, event_data(event))


class RedisBridge:
    """A thread that forwards events of a Redis Streams topic to the hub.

    Parameters
    ----------
    hub : Hub
        Where events go.
    url : str
        Redis URL, e.g. ``redis://127.0.0.1:6379/0``.
    topic : str, default "events"
        The bus topic (stream) to read.
    prefix : str, default "alphaloop"
        The bus's key prefix.
    """

    def __init__(
        self, hub: Hub, url: str, topic: str = "events", prefix: str = "alphaloop"
    ) -> None:
        from alphaloop.live.bus.redis_streams import RedisBus

        self.hub = hub
        self.bus = RedisBus(url, prefix=prefix)
        self.topic = topic
        self.group = f"api-{os.getpid()}-{os.urandom(4).hex()}"
        self.consumer = self.bus.subscribe(
            topic, self.group, lambda e: forward(hub, e), start="$", types=set(BUS_TOPICS)
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alphaloop-bus", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.consumer.run(stop=self._stop.is_set, block_ms=200)
            except Exception:
                logger.exception("bus bridge: reading %s failed; retrying", self.topic)
                self._stop.wait(1.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            with self.bus.guard():
                self.bus.client.xgroup_destroy(self.bus.key(self.topic), self.group)
                self.bus.client.delete(f"{self.bus.key(self.topic)}:{self.group}:applied")
        except Exception:
            logger.warning("bus bridge: could not remove consumer group %s", self.group)
        self.bus.close()
