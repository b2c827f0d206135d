"""Paper sessions publish each bar's fills and P&L tick to a real Redis bus.

What is on the stream must be what the database recorded (fill by fill, bar
by bar), and a session that dies between publishing a bar and committing it
must, once resumed, leave each event on the stream exactly once: the same
stream as a session that never died.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alphaloop.app import Workspace, open_paper, run_paper
from alphaloop.app.paper import paper_store
from alphaloop.backtest import StrategySpec, quick_spec
from alphaloop.live.bus.errors import BusUnavailableError
from alphaloop.live.bus.events import Event, decode
from alphaloop.live.paper_bus import SessionPublisher, session_publisher

REDIS_URL = os.environ.get("ALPHALOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Topics:
    """A real Redis bus (default prefix) and topic names no other test uses."""

    def __init__(self, bus: Any) -> None:
        self.bus, self.tag, self.used = bus, os.urandom(4).hex(), []

    def __call__(self, name: str) -> str:
        self.used.append(f"test-paper-{self.tag}-{name}")
        return self.used[-1]


@pytest.fixture
def bus() -> Iterator[Topics]:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis server answers at {REDIS_URL}: {exc}")
    from alphaloop.live.bus.redis_streams import RedisBus

    topics = Topics(RedisBus(REDIS_URL))
    yield topics
    topics.bus.drop(*topics.used)
    topics.bus.close()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = Workspace(tmp_path_factory.mktemp("paper-bus") / "ws")
    ws.data.ensure_bundled()
    yield ws
    ws.close()


def _spec(name: str) -> StrategySpec:
    base = quick_spec("Ref($close, 1) / Ref($close, 21) - 1", "sp500-stocks", top_k=3)
    doc = {**base.model_dump(mode="json"), "name": name, "fills": "next_close",
           "start": "2018-01-01", "end": "2018-12-31", "capital": 250_000.0}  # fmt: skip
    return StrategySpec.from_dict(doc)


def _stream(bus: Topics, topic: str) -> list[Event]:
    entries = bus.bus.client.xrange(bus.bus.key(topic))
    return [decode(fields[b"event"]) for _, fields in entries]


def _run(ws: Workspace, name: str, topic: str) -> int:
    info, new = open_paper(ws, _spec(name))
    assert new
    run_paper(ws, info.id, bus=REDIS_URL, bus_topic=topic)
    return info.id


def _comparable(events: list[Event], session_id: int) -> list[tuple[Any, ...]]:
    """The stream without what names the session (ids, source, the session's number)."""
    out = []
    for e in events:
        doc = e.payload.model_dump()
        doc.pop("session", None)
        for key in ("fill_id", "order_id"):
            if key in doc:
                prefix, _, rest = doc[key].partition(":")
                assert prefix == str(session_id)
                doc[key] = rest
        out.append((e.type, e.ts, e.source == f"paper-{session_id}", tuple(sorted(doc.items()))))
    return out


def test_the_stream_holds_every_recorded_fill_and_bar(ws: Workspace, bus: Topics) -> None:
    topic = bus("record")
    sid = _run(ws, "bus-record", topic)
    store = paper_store(ws)
    info = store.get(sid)
    assert info.status == "finished"
    events = _stream(bus, topic)
    assert len({e.id for e in events}) == len(events)
    assert {e.source for e in events} == {f"paper-{sid}"}

    fills = store.fills(sid)
    streamed = [e.payload for e in events if e.type == "fill"]
    assert len(streamed) == len(fills) > 10
    for f, row in zip(streamed, fills.itertuples(), strict=True):
        assert f.fill_id == f"{sid}:{row.fill_id}"
        assert f.symbol == row.asset
        assert (f.quantity if f.side == "buy" else -f.quantity) == row.quantity
        assert f.price == row.price
        assert f.commission == row.cost

    equity = store.equity(sid)
    ticks = [e for e in events if e.type == "pnl_tick"]
    assert len(ticks) == len(equity) == info.position
    assert [t.payload.equity for t in ticks] == equity["equity"].tolist()
    assert [t.ts for t in ticks] == [t.to_pydatetime() for t in equity.index]
    assert {t.payload.session for t in ticks} == {str(sid)}
    capital = 250_000.0
    assert [t.payload.pnl for t in ticks] == [x - capital for x in equity["equity"]]
    before = [capital, *equity["equity"].tolist()[:-1]]
    assert [t.payload.pnl_day for t in ticks] == [
        x - b for x, b in zip(equity["equity"], before, strict=True)
    ]
    assert ticks[-1].payload.equity == info.equity
    # each bar's fills come before its tick
    last_tick_ts = None
    for e in events:
        if e.type == "fill":
            assert last_tick_ts is None or e.ts > last_tick_ts
        else:
            last_tick_ts = e.ts


class _Died(BaseException):
    """The process dying after the bar's events went out and before its commit."""


def test_a_bar_redone_after_a_death_leaves_each_event_once(
    ws: Workspace, bus: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_topic, broken_topic = bus("whole"), bus("broken")
    whole = _run(ws, "bus-whole", whole_topic)
    times = paper_store(ws).equity(whole).index
    # the bars at which the process dies (the second right after a restart)
    deaths = {times[i] for i in (40, 41, 97, 180)}
    assert len(deaths) == 4

    info, _ = open_paper(ws, _spec("bus-broken"))
    real_bar = SessionPublisher.bar

    def dying_bar(self: SessionPublisher, when: Any, fills: Any, equity: float) -> None:
        real_bar(self, when, fills, equity)  # published ...
        stamp = pd.Timestamp(when)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        if stamp in deaths:
            deaths.discard(stamp)
            raise _Died  # ... and never committed

    monkeypatch.setattr(SessionPublisher, "bar", dying_bar)
    runs = 0
    while True:
        runs += 1
        try:
            run_paper(ws, info.id, bus=REDIS_URL, bus_topic=broken_topic)
            break
        except _Died:
            assert runs < 10
    assert runs == 5
    assert not deaths
    store = paper_store(ws)
    assert store.get(info.id).status == "finished"
    assert store.get(info.id).restarts == 4

    broken, unbroken = _stream(bus, broken_topic), _stream(bus, whole_topic)
    assert len({e.id for e in broken}) == len(broken)
    assert _comparable(broken, info.id) == _comparable(unbroken, whole)
    ticks = [e for e in broken if e.type == "pnl_tick"]
    assert len(ticks) == len(store.equity(info.id)) == len(times)


class _FlakyBus:
    """A real bus that is unreachable while ``down`` is set."""

    def __init__(self, bus: Any) -> None:
        self.bus, self.down = bus, False

    def publish_many(self, events: Any, topic: str) -> Any:
        if self.down:
            raise BusUnavailableError("cannot reach Redis (planted)")
        return self.bus.publish_many(events, topic)


def test_events_wait_while_the_bus_is_down(ws: Workspace, bus: Topics) -> None:
    info, _ = open_paper(ws, _spec("bus-flaky"))
    flaky = _FlakyBus(bus.bus)
    topic, small_topic = bus("flaky"), bus("small")
    publisher = session_publisher(flaky, paper_store(ws).get(info.id), topic)
    times = [f"2018-01-{d:02d}" for d in (2, 3, 4, 5, 8)]
    for i, when in enumerate(times):
        flaky.down = i in (1, 2)
        fills = [{"fill_id": i, "order_id": i, "asset": "AAPL", "quantity": -5.0,
                  "price": 170.0 + i, "cost": 0.25}]  # fmt: skip
        publisher.bar(pd.Timestamp(when, tz="UTC"), fills, 250_000.0 + i)
        assert len(publisher.pending) == (2 * i if i in (1, 2) else 0)
    events = _stream(bus, topic)
    assert [e.type for e in events] == ["fill", "pnl_tick"] * 5
    assert [e.payload.equity for e in events[1::2]] == [250_000.0 + i for i in range(5)]
    assert [e.payload.pnl_day for e in events[1::2]] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert [e.payload.side for e in events[::2]] == ["sell"] * 5
    assert publisher.published == 10
    assert publisher.dropped == 0

    small = SessionPublisher(flaky, paper_store(ws).get(info.id), capital=1.0, topic=small_topic,
                             max_pending=3)  # fmt: skip
    flaky.down = True
    for when in times[:3]:
        small.bar(pd.Timestamp(when, tz="UTC"), [], 1.0)
    assert (len(small.pending), small.dropped) == (3, 0)
    small.bar(pd.Timestamp(times[3], tz="UTC"), [], 1.0)
    assert (len(small.pending), small.dropped) == (3, 1)
    flaky.down = False
    small.bar(pd.Timestamp(times[4], tz="UTC"), [], 1.0)
    # the oldest tick was dropped; the rest arrive in order
    assert [e.ts.day for e in _stream(bus, small_topic)] == [4, 5, 8]


def test_no_bus_no_start(ws: Workspace, tmp_path: Path) -> None:
    info, _ = open_paper(ws, _spec("bus-missing"))
    with pytest.raises(BusUnavailableError, match="cannot reach Redis"):
        run_paper(ws, info.id, bus="redis://127.0.0.1:1/0")
    after = paper_store(ws).get(info.id)
    assert (after.status, after.position, after.pid) == ("created", 0, None)
