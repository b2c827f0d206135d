"""A bus consumer for the kill test: applies events slowly until the topic is drained.

Usage: ``python kill_worker.py redis URL PREFIX N`` or
``python kill_worker.py memory SQLITE_PATH N``. The handler is
transactional: it counts each event id (a Redis hash, or a SQLite table with
no unique key) in the same transaction that acknowledges the event and
records its offset, so a kill at any instant leaves every count at 0 or 1.
Exits 0 once all N events are applied.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import Any

from alphaloop.live.bus import Bar, BarClosed, InProcessBus, RedisBus, SqliteOffsets

#: seconds of work per event, so that kills land in the middle of the stream
WORK_S = 0.0005
T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def feed(n: int) -> list[BarClosed]:
    """The replayed feed: the same ``n`` bars, with the same ids, in every process."""
    return [
        BarClosed(
            id=f"bar-{i:06d}",
            ts=T0,
            payload=Bar(symbol="SPY", end=T0, open=100, high=101, low=99, close=100, volume=1),
        )
        for i in range(n)
    ]


def run_redis(url: str, prefix: str, n: int) -> None:
    bus = RedisBus(url, prefix=prefix)
    counts = f"{prefix}:counts"

    def handler(event: Any, tx: Any) -> None:
        time.sleep(WORK_S)
        tx.hincrby(counts, event.id, 1)

    consumer = bus.subscribe(
        "events",
        "g",
        handler,
        consumer="worker",
        transactional=True,
        batch_size=16,
        claim_idle_ms=0,
    )
    while bus.client.hlen(counts) < n:
        consumer.poll(block_ms=100)


def run_memory(path: str, n: int) -> None:
    store = SqliteOffsets(path)
    store.connection.execute("CREATE TABLE IF NOT EXISTS effects (event_id TEXT)")
    bus = InProcessBus()
    bus.publish_many(feed(n))

    def handler(event: Any, tx: sqlite3.Connection) -> None:
        time.sleep(WORK_S)
        tx.execute("INSERT INTO effects VALUES (?)", (event.id,))

    consumer = bus.subscribe(
        "events", "c", handler, offsets=store, transactional=True, batch_size=16
    )
    consumer.poll()


if __name__ == "__main__":
    if sys.argv[1] == "redis":
        run_redis(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        run_memory(sys.argv[2], int(sys.argv[3]))
