"""The WebSocket hub: typed, versioned topics fanned out to subscribed clients.

Every message the server pushes is one JSON object::

    {"topic": "pnl", "version": 1, "seq": 42, "ts": "2026-12-05T01:02:03.456+00:00",
     "data": {...}}

``seq`` counts per topic from 1 (a gap tells a client it missed messages:
a slow client's queue holds ``queue_size`` messages, and the oldest are
dropped first). ``ts`` is when the hub sent it (UTC). Publishing is
non-blocking and may be called from any thread (:meth:`Hub.publish_threadsafe`).

Topics (version 1; their ``data`` fields are in docs/service.md):

==============  ========================================================
topic           what
==============  ========================================================
job             a background job's status or progress changed
research        a research session's candidates and progress
fills           a fill in a paper or live session
pnl             a P&L tick of a paper or live session
alerts          an alert (model drift, risk, data)
approvals       an approval was requested, approved or rejected
risk            a risk state or the kill switch changed
==============  ========================================================
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

__all__ = ["TOPICS", "Hub", "Subscriber"]

TOPICS: dict[str, int] = {
    "job": 1,
    "research": 1,
    "fills": 1,
    "pnl": 1,
    "alerts": 1,
    "approvals": 1,
    "risk": 1,
}
"""Topic -> the version of its messages."""


class Subscriber:
    """One connected client: its topics and its outgoing queue."""

    def __init__(self, user: str, queue_size: int = 1000) -> None:
        self.user = user
        self.topics: set[str] = set()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_size)
        self.dropped = 0

    def offer(self, message: dict[str, Any]) -> None:
        """Queue ``message``, dropping the oldest one when the queue is full."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(message)


class Hub:
    """Subscribers by topic; :meth:`publish` from the event loop's thread."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._seq: dict[str, int] = dict.fromkeys(TOPICS, 0)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.published = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that owns the subscribers' queues (set when the app starts)."""
        self.loop = loop

    def add(self, sub: Subscriber) -> None:
        self._subscribers.add(sub)

    def remove(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    def publish(self, topic: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send ``data`` on ``topic`` to every subscriber of it; the message."""
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}; known: {sorted(TOPICS)}")
        self._seq[topic] += 1
        message = {
            "topic": topic,
            "version": TOPICS[topic],
            "seq": self._seq[topic],
            "ts": datetime.now(UTC).isoformat(),
            "data": data,
        }
        for sub in self._subscribers:
            if topic in sub.topics:
                sub.offer(message)
        self.published += 1
        return message

    def publish_threadsafe(self, topic: str, data: dict[str, Any]) -> None:
        """:meth:`publish` from another thread (dropped when no loop is attached yet)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.publish, topic, data)
