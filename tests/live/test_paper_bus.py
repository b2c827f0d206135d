"""Paper sessions publish each bar's fills and P&L tick to a real Redis bus.

What is on the stream must be what the database recorded (fill by fill, bar
by bar), and a session that dies between publishing a bar and committing it
must, once resumed, leave each event on the stream exactly once: the same
stream as a session that never died.
"""

from __future__ import annotations

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
from tests.live.bus.conftest import REDIS_URL
from tests.live.live_venues import N_BARS, Topics, Venue, live_spec


def stream_of(bus: Topics, topic: str) -> list[Event]:
    """Every event on ``topic``, in stream order."""
    entries = bus.bus.client.xrange(bus.bus.key(topic))
    return [decode(fields[b"event"]) for _, fields in entries]


def check_stream(events: list[Event], ws: Workspace, session_id: int) -> None:
    """The stream is the session's record: each fill and each bar's equity, once, in order."""
    store = paper_store(ws)
    assert len({e.id for e in events}) == len(events)
    assert {e.source for e in events} <= {f"paper-{session_id}"}
    fills = store.fills(session_id)
    streamed = [e.payload for e in events if e.type == "fill"]
    assert len(streamed) == len(fills)
    for f, row in zip(streamed, fills.itertuples(), strict=True):
        assert f.fill_id == f"{session_id}:{row.fill_id}"
        assert f.symbol == row.asset
        assert (f.quantity if f.side == "buy" else -f.quantity) == row.quantity
        assert f.price == row.price
        assert f.commission == row.cost
    equity = store.equity(session_id)
    ticks = [e for e in events if e.type == "pnl_tick"]
    assert [t.payload.equity for t in ticks] == equity["equity"].tolist()
    assert [t.ts for t in ticks] == [t.to_pydatetime() for t in equity.index]
    assert {t.payload.session for t in ticks} <= {str(session_id)}


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
    events = stream_of(bus, topic)
    check_stream(events, ws, sid)
    assert {e.source for e in events} == {f"paper-{sid}"}
    assert len([e for e in events if e.type == "fill"]) > 10
    equity = store.equity(sid)
    ticks = [e for e in events if e.type == "pnl_tick"]
    assert len(ticks) == len(equity) == info.position
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

    broken, unbroken = stream_of(bus, broken_topic), stream_of(bus, whole_topic)
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
    events = stream_of(bus, topic)
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
    assert [e.ts.day for e in stream_of(bus, small_topic)] == [4, 5, 8]


def test_no_bus_no_start(ws: Workspace, tmp_path: Path) -> None:
    info, _ = open_paper(ws, _spec("bus-missing"))
    with pytest.raises(BusUnavailableError, match="cannot reach Redis"):
        run_paper(ws, info.id, bus="redis://127.0.0.1:1/0")
    after = paper_store(ws).get(info.id)
    assert (after.status, after.position, after.pid) == ("created", 0, None)


def test_a_live_feed_session_streams_across_a_kill_switch_stop(
    live_ws: Workspace, alpaca_venue: Venue, bus: Topics
) -> None:
    from alphaloop.app.paper_live import run_live_feed
    from alphaloop.execution import Governance

    ws, topic = live_ws, bus("alpaca")
    info, _ = open_paper(ws, live_spec("us-stocks"), feed="alpaca")
    stop = alpaca_venue.stepper(ws, info.id, 60, kill_at=58)
    first = run_live_feed(ws, info.id, stop=stop, bus=REDIS_URL, bus_topic=topic)
    assert first.session.status == "stopped"
    Governance.open(ws.db).kill_switch.clear("desk open", actor="ops")
    stop = alpaca_venue.stepper(ws, info.id, N_BARS)
    done = run_live_feed(ws, info.id, stop=stop, bus=REDIS_URL, bus_topic=topic).session
    assert done.position == done.n_bars
    events = stream_of(bus, topic)
    check_stream(events, ws, info.id)
    rows = paper_store(ws).equity(info.id)["row"].tolist()
    assert rows == list(range(rows[0], done.position))  # every bar once, none skipped
    assert len([e for e in events if e.type == "pnl_tick"]) == len(rows)
    assert [e for e in events if e.type == "fill"]
