"""The Redis Streams bus on the shared test server (each test under its own key prefix)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from alphaloop.errors import ExitCode
from alphaloop.live.bus import (
    BusBackendMissingError,
    BusUnavailableError,
    Event,
    EventRejectedError,
    RedisBus,
    encode,
)
from tests.live.bus.conftest import REDIS_URL
from tests.live.bus.test_events import bar
from tests.live.bus.test_memory import Unregistered, bars


def test_publish_and_consume_in_order_with_the_offset_in_redis(redis_bus: RedisBus) -> None:
    seen: list[str] = []
    consumer = redis_bus.subscribe("md", "strategy", lambda e: seen.append(e.id), batch_size=7)
    events = bars(20)
    entry_ids = redis_bus.publish_many(events[:19], "md")
    entry_ids.append(redis_bus.publish(events[19], "md"))
    assert consumer.poll() == 20
    assert seen == [e.id for e in events]
    assert consumer.offset() == entry_ids[-1]
    assert consumer.pending() == 0
    assert consumer.poll(block_ms=10) == 0


def test_types_filter_and_groups_are_independent(redis_bus: RedisBus) -> None:
    a: list[str] = []
    b: list[str] = []
    ca = redis_bus.subscribe("events", "a", lambda e: a.append(e.type), types={"alert"})
    cb = redis_bus.subscribe("events", "b", lambda e: b.append(e.type))
    redis_bus.publish_many(bars(3))
    assert (ca.poll(), cb.poll()) == (0, 3)
    assert (a, b) == ([], ["bar"] * 3)
    assert ca.pending() == cb.pending() == 0


def test_an_event_published_twice_is_appended_once(redis_bus: RedisBus) -> None:
    applied: list[str] = []
    one = redis_bus.subscribe("events", "g", lambda e: applied.append(e.id), consumer="one")
    two = redis_bus.subscribe("events", "g", lambda e: applied.append(e.id), consumer="two")
    events = bars(3)
    first = redis_bus.publish_many([events[0], events[1], events[0]])
    assert [e is None for e in first] == [False, False, True]
    assert one.poll() == 2
    assert redis_bus.publish(events[1]) is None  # a producer's retry: not appended again
    assert redis_bus.publish(events[2]) is not None
    assert two.poll() == 1
    assert applied == [e.id for e in events]
    assert redis_bus.client.xlen(redis_bus.key("events")) == 3


def test_a_redelivered_entry_already_applied_is_skipped(redis_bus: RedisBus) -> None:
    applied: list[str] = []
    key = redis_bus.key("events")
    event = bars(1)[0]
    consumer = redis_bus.subscribe("events", "g", lambda e: applied.append(e.id), consumer="a")
    redis_bus.publish(event)
    assert consumer.poll() == 1
    # another writer appends the same event directly; a consumer takes it and dies
    redis_bus.client.xadd(key, {"type": "bar", "version": 1, "event": encode(event)})
    redis_bus.client.xreadgroup("g", "gone", {key: ">"}, count=10)
    survivor = redis_bus.subscribe(
        "events", "g", lambda e: applied.append(e.id), consumer="b", claim_idle_ms=0
    )
    assert survivor.poll() == 0  # claimed, found in the group's applied ids, acknowledged
    assert applied == [event.id]
    assert survivor.pending() == 0


def test_a_crashed_consumers_pending_entries_are_redelivered(redis_bus: RedisBus) -> None:
    applied: list[str] = []

    def dies_on_third(event: Event) -> None:
        if event.id == "bar-000002":
            raise KeyboardInterrupt  # the process goes down mid-batch: nothing acknowledged
        applied.append(event.id)

    redis_bus.publish_many(bars(6))
    crashing = redis_bus.subscribe("events", "g", dies_on_third, consumer="w1", batch_size=4)
    with pytest.raises(KeyboardInterrupt):
        crashing.poll()
    assert crashing.pending() == 4  # delivered, not acknowledged
    # the same worker restarted reads its own pending entries first, then the rest
    restarted = redis_bus.subscribe(
        "events", "g", lambda e: applied.append(e.id), consumer="w1", batch_size=4
    )
    assert restarted.poll() == 6
    assert restarted.pending() == 0
    # at least once: a plain handler's effects before the crash happen again
    assert applied == [f"bar-{i:06d}" for i in (0, 1, 0, 1, 2, 3, 4, 5)]


def test_another_consumer_claims_entries_of_one_that_went_away(redis_bus: RedisBus) -> None:
    redis_bus.publish_many(bars(5))

    def dies(event: Event) -> None:
        raise KeyboardInterrupt

    gone = redis_bus.subscribe("events", "g", dies, consumer="gone")
    with pytest.raises(KeyboardInterrupt):
        gone.poll()
    applied: list[Any] = []
    survivor = redis_bus.subscribe(
        "events", "g", applied.append, consumer="survivor", claim_idle_ms=0
    )
    assert survivor.poll() == 5  # claimed with XAUTOCLAIM
    assert [e.id for e in applied] == [e.id for e in bars(5)]
    assert survivor.pending() == 0


def test_a_failing_handler_is_retried_then_dead_lettered(redis_bus: RedisBus) -> None:
    calls: dict[str, int] = {}

    def handler(event: Event) -> None:
        calls[event.id] = calls.get(event.id, 0) + 1
        if event.id == "bar-000001":
            raise ValueError("bad bar")

    consumer = redis_bus.subscribe("events", "g", handler)
    redis_bus.publish_many(bars(3))
    assert consumer.poll() == 2
    assert calls == {"bar-000000": 1, "bar-000001": 3, "bar-000002": 1}
    [letter] = redis_bus.dead_letters()
    assert letter.reason == "handler raised ValueError: bad bar (attempt 3 of 3)"
    assert (letter.consumer, letter.event_id) == ("g", "bar-000001")
    assert consumer.pending() == 0


def test_an_entry_that_kills_every_consumer_is_dead_lettered(redis_bus: RedisBus) -> None:
    redis_bus.publish_many(bars(3))
    applied: list[str] = []

    def handler(event: Event) -> None:
        if event.id == "bar-000001":
            raise KeyboardInterrupt  # the process dies on this entry, every time
        applied.append(event.id)

    for _ in range(3):  # three processes die on it (max_attempts is 3)
        consumer = redis_bus.subscribe("events", "g", handler, consumer="w", batch_size=1)
        with pytest.raises(KeyboardInterrupt):
            consumer.poll()
    consumer = redis_bus.subscribe("events", "g", handler, consumer="w", batch_size=1)
    assert consumer.poll() == 1
    assert applied == ["bar-000000", "bar-000002"]
    [letter] = redis_bus.dead_letters()
    assert letter.reason == "delivered 4 times and never acknowledged (more than max_attempts=3)"
    assert letter.event_id == "bar-000001"
    assert consumer.pending() == 0


def test_transactional_writes_commit_with_the_acknowledgement(redis_bus: RedisBus) -> None:
    counts = f"{redis_bus.prefix}:counts"
    fail_once = {"bar-000004"}

    def handler(event: Event, tx: Any) -> None:
        tx.hincrby(counts, event.id, 1)
        if event.id in fail_once:
            fail_once.discard(event.id)
            raise RuntimeError("timeout")

    consumer = redis_bus.subscribe("events", "g", handler, transactional=True, batch_size=3)
    redis_bus.publish_many(bars(8))
    assert consumer.poll() == 8
    got = redis_bus.client.hgetall(counts)
    assert {k.decode(): int(v) for k, v in got.items()} == {e.id: 1 for e in bars(8)}
    assert consumer.pending() == 0


def test_malformed_entries_go_to_the_dead_letter_stream(redis_bus: RedisBus) -> None:
    key = redis_bus.key("events")
    redis_bus.client.xadd(key, {"type": "bar", "version": "1", "event": b'{"type": "bar"}'})
    redis_bus.client.xadd(key, {"type": "tick", "version": "1", "event": b"{}"})
    redis_bus.client.xadd(key, {"payload": b"hello"})
    good = bar()
    redis_bus.client.xadd(key, {"type": "bar", "version": "one", "event": encode(good)})
    assert redis_bus.publish_raw(b'{"type": "alert", "version": 1}') is None
    redis_bus.publish(good)
    applied: list[Event] = []
    consumer = redis_bus.subscribe("events", "g", applied.append)
    assert consumer.poll() == 1
    assert applied == [good]
    reasons = [d.reason for d in redis_bus.dead_letters()]
    assert reasons[0] == "alert v1: id: Field required (and 2 more)" or reasons[0].startswith(
        "alert v1: payload"
    )
    assert reasons[1].startswith("bar v1: payload: Field required")
    assert reasons[2] == "unknown event type 'tick'"
    assert reasons[3] == "entry lacks the field b'type'"
    assert reasons[4] == "version is not an integer: b'one'"
    assert consumer.pending() == 0
    with pytest.raises(EventRejectedError, match="mystery"):
        redis_bus.publish(Unregistered(payload=good.payload))


def test_seek_replays_from_an_entry(redis_bus: RedisBus) -> None:
    applied: list[str] = []
    consumer = redis_bus.subscribe("events", "g", lambda e: applied.append(e.id))
    ids = redis_bus.publish_many(bars(5))
    consumer.poll()
    consumer.seek(ids[2])
    assert consumer.poll() == 2
    assert applied[-2:] == ["bar-000003", "bar-000004"]
    consumer.seek("0")
    assert consumer.poll() == 5


def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = "redis://user:s3cret@127.0.0.1:1/0"
    with pytest.raises(BusUnavailableError) as info:
        RedisBus(url)
    assert "cannot reach Redis at redis://user:***@127.0.0.1:1/0" in str(info.value)
    assert "s3cret" not in str(info.value)
    assert info.value.exit_code == ExitCode.WORKSPACE


def test_a_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(BusBackendMissingError) as info:
        RedisBus(REDIS_URL)
    assert info.value.hint == "pip install 'alphaloop[live]'"
