"""The in-process bus: order, filters, de-duplication, offsets, replay, failures, asyncio."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, Literal

import pytest

from alphaloop.live.bus import (
    DEAD_LETTER_TOPIC,
    AlertRaised,
    BusError,
    Event,
    EventRejectedError,
    InProcessBus,
    MemoryOffsets,
    OffsetError,
    SqliteOffsets,
    encode,
)
from alphaloop.live.bus.catalog import Alert, Bar
from tests.live.bus.test_events import T0, bar


def bars(n: int, start: int = 0) -> list[Event]:
    """``n`` bars with ids fixed by their index (a replayed feed publishes the same ids)."""
    return [
        bar(close=100.0 + (i % 3) * 0.5, id=f"bar-{i:06d}", ts=T0) for i in range(start, start + n)
    ]


def test_a_consumer_gets_every_event_in_order_and_commits_its_offset() -> None:
    bus = InProcessBus()
    seen: list[str] = []
    store = MemoryOffsets()
    consumer = bus.subscribe(
        "md", "strategy", lambda e: seen.append(e.id), offsets=store, batch_size=7
    )
    events = bars(20)
    assert [bus.publish(e, "md") for e in events] == list(range(20))
    assert consumer.poll() == 20
    assert seen == [e.id for e in events]
    assert consumer.offset == 20
    assert store.load("md", "strategy", 100)[0] == 20
    assert consumer.poll() == 0
    bus.publish(events[0], "other")  # another topic is not this consumer's
    assert consumer.poll() == 0


def test_types_filter_and_two_consumers_each_see_everything() -> None:
    bus = InProcessBus()
    got: dict[str, list[str]] = {"a": [], "b": []}
    a = bus.subscribe("events", "a", lambda e: got["a"].append(e.type), types={"alert"})
    b = bus.subscribe("events", "b", lambda e: got["b"].append(e.type))
    alert = AlertRaised(payload=Alert(severity="info", source="t", message="m"))
    bus.publish_many([*bars(3), alert])
    assert (a.poll(), b.poll()) == (1, 4)
    assert got == {"a": ["alert"], "b": ["bar", "bar", "bar", "alert"]}
    assert a.offset == b.offset == 4


def test_an_event_published_twice_is_applied_once() -> None:
    bus = InProcessBus()
    applied: list[str] = []
    consumer = bus.subscribe("events", "c", lambda e: applied.append(e.id), batch_size=2)
    events = bars(3)
    bus.publish_many([events[0], events[1], events[0], events[2], events[1]])
    assert consumer.poll() == 3
    assert applied == [e.id for e in events]
    assert consumer.offset == 5


def test_a_restarted_consumer_resumes_at_its_stored_offset(tmp_path: Path) -> None:
    path = tmp_path / "offsets.db"
    first: list[str] = []
    bus = InProcessBus()
    bus.publish_many(bars(10))
    store = SqliteOffsets(path)
    consumer = bus.subscribe("events", "c", first.append, offsets=store, batch_size=4)
    assert consumer.poll(max_events=5) == 8  # whole batches: 4 + 4
    store.close()

    # a new process: the feed replays the same events, the consumer carries on
    bus = InProcessBus()
    bus.publish_many(bars(12))
    second: list[Event] = []
    store = SqliteOffsets(path)
    consumer = bus.subscribe("events", "c", second.append, offsets=store, batch_size=4)
    assert consumer.offset == 8
    assert consumer.poll() == 4
    assert [e.id for e in first + second] == [e.id for e in bars(12)]
    store.close()


def test_seek_replays_from_an_offset_and_rejects_one_outside() -> None:
    bus = InProcessBus()
    applied: list[str] = []
    consumer = bus.subscribe("events", "c", applied.append)
    bus.publish_many(bars(6))
    consumer.poll()
    consumer.seek(4)
    assert consumer.poll() == 2
    assert [e.id for e in applied[-2:]] == ["bar-000004", "bar-000005"]
    with pytest.raises(OffsetError, match=r"offset 7 is outside topic 'events' \(0 to 6\)"):
        consumer.seek(7)


def test_a_failing_handler_is_retried_then_dead_lettered_with_the_reason() -> None:
    bus = InProcessBus(max_attempts=3)
    calls: dict[str, int] = {}
    applied: list[str] = []

    def handler(event: Event) -> None:
        calls[event.id] = calls.get(event.id, 0) + 1
        if event.id == "bar-000002":
            raise ValueError("no price for AAPL")
        if event.id == "bar-000003" and calls[event.id] < 2:
            raise RuntimeError("flaky")
        applied.append(event.id)

    consumer = bus.subscribe("events", "c", handler)
    bus.publish_many(bars(5))
    assert consumer.poll() == 4
    assert applied == ["bar-000000", "bar-000001", "bar-000003", "bar-000004"]
    assert calls["bar-000002"] == 3
    assert calls["bar-000003"] == 2
    [letter] = bus.dead_letters()
    assert letter.reason == "handler raised ValueError: no price for AAPL (attempt 3 of 3)"
    assert (letter.offset, letter.consumer, letter.event_id) == ("2", "c", "bar-000002")
    assert letter.raw == encode(bars(5)[2]).decode()
    assert bus.length(DEAD_LETTER_TOPIC) == 0  # dead letters are kept apart from the topic


def test_a_transactional_handler_commits_its_writes_with_the_offset(tmp_path: Path) -> None:
    store = SqliteOffsets(tmp_path / "o.db")
    store.connection.execute("CREATE TABLE closes (event_id TEXT, close REAL)")
    bus = InProcessBus(max_attempts=2)
    fail_once = {"bar-000005"}

    def handler(event: Any, tx: sqlite3.Connection) -> None:
        tx.execute("INSERT INTO closes VALUES (?, ?)", (event.id, event.payload.close))
        if event.id in fail_once:
            fail_once.discard(event.id)
            raise RuntimeError("broker timeout")

    consumer = bus.subscribe(
        "events", "c", handler, offsets=store, transactional=True, batch_size=4
    )
    bus.publish_many(bars(10))
    assert consumer.poll() == 10
    rows = store.connection.execute(
        "SELECT event_id, count(*) FROM closes GROUP BY event_id"
    ).fetchall()
    assert len(rows) == 10  # the rolled-back batch's writes did not stay
    assert all(n == 1 for _, n in rows)
    assert store.load("events", "c", 100) == (10, [e.id for e in bars(10)])
    assert bus.dead_letters() == []
    store.close()


def test_the_applied_window_is_bounded(tmp_path: Path) -> None:
    store = SqliteOffsets(tmp_path / "o.db")
    bus = InProcessBus()
    consumer = bus.subscribe("events", "c", lambda e: None, offsets=store, window=5, batch_size=3)
    bus.publish_many(bars(20))
    consumer.poll()
    offset, ids = store.load("events", "c", 100)
    assert offset == 20
    assert ids == [f"bar-{i:06d}" for i in range(15, 20)]
    assert 5 <= len(consumer._seen | consumer._older) <= 10
    bus.publish(bars(20)[19])  # within the window: skipped
    bus.publish(bars(20)[0])  # long gone from the window: applied again
    assert consumer.poll() == 1


def test_raw_data_is_decoded_or_dead_lettered_never_dropped() -> None:
    bus = InProcessBus()
    assert bus.publish_raw(encode(bars(1)[0])) == 0
    assert bus.publish_raw(b'{"type": "bar", "version": 1, "payload": {}}') is None
    assert bus.publish_raw("garbage") is None
    first, second = bus.dead_letters()
    assert first.reason.startswith("bar v1: payload.symbol: Field required")
    assert first.raw.startswith('{"type": "bar"')
    assert second.reason.startswith("not JSON")
    assert bus.length() == 1


class Unregistered(Event):
    type: Literal["mystery"] = "mystery"
    version: Literal[1] = 1
    payload: Bar


def test_publishing_an_unregistered_class_raises_and_dead_letters() -> None:
    bus = InProcessBus()
    payload = bars(1)[0].payload
    with pytest.raises(EventRejectedError, match="unknown event type 'mystery'"):
        bus.publish(Unregistered(payload=payload))
    assert bus.dead_letters()[0].reason == "unknown event type 'mystery'"
    assert bus.length() == 0


def test_asyncio_consumers_wake_on_publication() -> None:
    async def main() -> tuple[list[str], list[str]]:
        bus = InProcessBus()
        got_async: list[str] = []
        got_sync: list[str] = []

        async def handler(event: Event) -> None:
            await asyncio.sleep(0)
            got_async.append(event.id)

        slow = bus.subscribe("md", "slow", handler)
        fast = bus.subscribe("md", "fast", lambda e: got_sync.append(e.id))
        tasks = [asyncio.create_task(slow.run()), asyncio.create_task(fast.run())]
        for i, event in enumerate(bars(50)):
            bus.publish(event, "md")
            if i % 10 == 0:
                await asyncio.sleep(0)
        while len(got_async) < 50 or len(got_sync) < 50:
            await asyncio.sleep(0.001)
        slow.stop()
        fast.stop()
        assert await asyncio.wait_for(asyncio.gather(*tasks), 5) == [50, 50]
        with pytest.raises(BusError, match="coroutine handler"):
            slow.poll()
        return got_async, got_sync

    got_async, got_sync = asyncio.run(main())
    assert got_async == got_sync == [e.id for e in bars(50)]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(BusError, match="max_attempts"):
        InProcessBus(max_attempts=0)
    with pytest.raises(BusError, match="batch_size"):
        InProcessBus().subscribe("t", "c", print, batch_size=0)
    assert T0.tzinfo is not None


def test_retain_drops_only_what_every_consumer_has_passed() -> None:
    bus = InProcessBus(retain=5)
    got: list[str] = []
    consumer = bus.subscribe("md", "c", lambda e: got.append(e.id), batch_size=4)
    events = bars(30)
    for event in events[:20]:
        bus.publish(event, "md")
    assert bus.start("md") == 0  # the consumer has not read anything: nothing dropped
    assert consumer.poll() == 20
    for event in events[20:]:
        assert bus.publish(event, "md") == int(event.id[-6:])  # offsets keep counting
    assert bus.length("md") == 30
    assert 15 <= bus.start("md") <= 20  # at least 5 kept after the consumer's offset 20
    assert consumer.poll() == 10
    assert got == [e.id for e in events]
    bus.trim("md")
    assert bus.start("md") == 25
    with pytest.raises(OffsetError, match=r"outside topic 'md' \(25 to 30\)") as info:
        consumer.seek(3)
    assert info.value.hint == "older events were dropped (the bus's retain)"
    consumer.seek(27)
    assert consumer.poll() == 3
    late = bus.subscribe("md", "late", lambda e: None)
    with pytest.raises(OffsetError, match="is at offset 0 of topic 'md', which holds events from"):
        late.poll()
    with pytest.raises(BusError, match="retain"):
        InProcessBus(retain=0)
