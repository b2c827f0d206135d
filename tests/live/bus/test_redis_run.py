"""``RedisConsumer.run`` acknowledges a plain handler's batch with its next read.

The applied ids and the acknowledgement of one batch travel with the next
``XREADGROUP``; what is still carried when ``run`` returns, or before a recovery
read, is committed on its own. Either way every event is applied once, recorded
as applied, and acknowledged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alphaloop.live.bus import Bar, BarClosed

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def _bars(n: int, start: int = 0) -> list[BarClosed]:
    bar = Bar(symbol="SPY", end=T0, open=100, high=101, low=99, close=100, volume=1)
    return [BarClosed(id=f"bar-{i:06d}", ts=T0, payload=bar) for i in range(start, start + n)]


def test_run_applies_records_and_acknowledges_every_event(redis_bus) -> None:
    bus = redis_bus
    bus.publish_many(_bars(40), "bars")
    seen: list[str] = []
    consumer = bus.subscribe("bars", "g", lambda e: seen.append(e.id), batch_size=7)
    consumer.run(stop=lambda: consumer.applied >= 40, block_ms=50)
    assert seen == [f"bar-{i:06d}" for i in range(40)]
    # read behind the consumer's back: run() itself committed its last batch
    assert bus.client.xpending(bus.key("bars"), "g")["pending"] == 0
    applied = bus.client.zrange(f"{bus.key('bars')}:g:applied", 0, -1)
    assert sorted(a.decode() for a in applied) == seen


def test_a_batch_carried_at_a_stop_is_committed_and_never_applied_again(redis_bus) -> None:
    bus = redis_bus
    bus.publish_many(_bars(5), "bars")
    seen: list[str] = []
    first = bus.subscribe("bars", "g", lambda e: seen.append(e.id), consumer="c1")
    first.run(stop=lambda: first.applied >= 5, block_ms=50)
    assert bus.client.xpending(bus.key("bars"), "g")["pending"] == 0
    # the same consumer name again, as after a restart: recovery finds nothing pending
    bus.publish_many(_bars(3, start=5), "bars")
    again = bus.subscribe("bars", "g", lambda e: seen.append(e.id), consumer="c1")
    again.run(stop=lambda: again.applied >= 3, block_ms=50)
    assert seen == [f"bar-{i:06d}" for i in range(8)]


def test_a_transactional_handler_commits_each_batch_with_its_writes(redis_bus) -> None:
    bus = redis_bus
    bus.publish_many(_bars(12), "bars")
    counts = f"{bus.prefix}:counts"

    def handle(event, tx) -> None:
        tx.hincrby(counts, event.id, 1)

    consumer = bus.subscribe("bars", "g", handle, transactional=True, batch_size=5)
    consumer.run(stop=lambda: consumer.applied >= 12, block_ms=50)
    got = {k.decode(): int(v) for k, v in bus.client.hgetall(counts).items()}
    assert got == {f"bar-{i:06d}": 1 for i in range(12)}
    assert consumer.pending() == 0
