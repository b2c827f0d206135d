"""Property: whatever the batch size, the duplicates and where the process dies, a
transactional in-process consumer applies every distinct event exactly once, in order,
and a plain one applies every event at least once."""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.live.bus import InProcessBus, MemoryOffsets, SqliteOffsets
from tests.live.bus.test_memory import bars


class Died(BaseException):
    """The process dies inside the handler (not an Exception: nothing is retried)."""


scenario = st.fixed_dictionaries(
    {
        "ids": st.lists(st.integers(0, 25), min_size=1, max_size=60),
        "deaths": st.sets(st.integers(0, 80), max_size=6),
        "batch": st.integers(1, 8),
    }
)


def _feed(ids: list[int]) -> list[Any]:
    pool = bars(26)
    return [pool[i] for i in ids]


@settings(max_examples=30)
@given(scenario)
def test_transactional_consumer_applies_each_distinct_event_once(case: dict[str, Any]) -> None:
    feed = _feed(case["ids"])
    calls = itertools.count()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "o.db"
        store = SqliteOffsets(path)
        store.connection.execute("CREATE TABLE effects (event_id TEXT)")
        store.close()

        def handler(event: Any, tx: sqlite3.Connection) -> None:
            if next(calls) in case["deaths"]:
                raise Died
            tx.execute("INSERT INTO effects VALUES (?)", (event.id,))

        for _ in range(len(case["deaths"]) + 1):  # a new process after each death
            bus = InProcessBus()
            bus.publish_many(feed)
            store = SqliteOffsets(path)
            consumer = bus.subscribe(
                "events", "c", handler, offsets=store, transactional=True, batch_size=case["batch"]
            )
            try:
                consumer.poll()
                store.close()
                break
            except Died:
                store.close()
        con = sqlite3.connect(path)
        got = [r[0] for r in con.execute("SELECT event_id FROM effects ORDER BY rowid")]
        con.close()
    assert got == list(dict.fromkeys(e.id for e in feed))


@settings(max_examples=60)
@given(scenario)
def test_plain_consumer_applies_every_event_at_least_once(case: dict[str, Any]) -> None:
    feed = _feed(case["ids"])
    calls = itertools.count()
    applied: list[str] = []
    store = MemoryOffsets()  # outlives each "process" in this test

    def handler(event: Any) -> None:
        if next(calls) in case["deaths"]:
            raise Died
        applied.append(event.id)

    for _ in range(len(case["deaths"]) + 1):
        bus = InProcessBus()
        bus.publish_many(feed)
        consumer = bus.subscribe("events", "c", handler, offsets=store, batch_size=case["batch"])
        try:
            consumer.poll()
            break
        except Died:
            pass
    distinct = list(dict.fromkeys(e.id for e in feed))
    assert list(dict.fromkeys(applied)) == distinct
    # a repeat comes only from a batch cut short by a death
    assert len(applied) - len(distinct) <= len(case["deaths"]) * case["batch"]
