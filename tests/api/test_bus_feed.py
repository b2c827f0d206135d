"""WebSocket topics fed from the live bus on a real Redis server (fills, P&L ticks, alerts)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alphaloop.api.app import create_app
from alphaloop.api.bus_bridge import PnlTick, PnlTicked  # the api still re-exports them
from alphaloop.api.users import UserStore
from alphaloop.app import Workspace
from tests.api.conftest import PASSWORD, login, make_settings

REDIS_URL = os.environ.get("ALPHALOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def subscribed(client: TestClient, token: str, topics: list[str]) -> Iterator[Any]:
    """A WebSocket of ``client``, authenticated with ``token`` and subscribed to ``topics``."""
    with client.websocket_connect("/api/v1/ws") as sock:
        sock.send_json({"op": "auth", "token": token})
        sock.receive_json()
        sock.send_json({"op": "subscribe", "topics": topics})
        sock.receive_json()
        yield sock


def _bus() -> object:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis server answers at {REDIS_URL}: {exc}")
    from alphaloop.live.bus.redis_streams import RedisBus

    return RedisBus(REDIS_URL)


def test_bus_events_reach_subscribers_of_their_topic(tmp_path: Path) -> None:
    from alphaloop.live.bus import Alert, AlertRaised, Fill, OrderFilled

    bus = _bus()
    topic = f"test-events-{os.urandom(4).hex()}"
    ws = Workspace(tmp_path / "ws")
    UserStore(ws.db).add("desk", PASSWORD, "viewer")
    settings = make_settings(bus_url=REDIS_URL, bus_topic=topic)
    try:
        with TestClient(create_app(ws, settings, run_jobs=False)) as client:
            token = login(client, "desk")["access_token"]
            with subscribed(client, token, ["pnl", "fills"]) as sock:
                time.sleep(0.5)  # the bridge's group reads new entries from its creation on
                tick = PnlTicked(
                    source="paper-7", payload=PnlTick(session="7", equity=1_001_250.0, pnl=1250.0)
                )
                alert = AlertRaised(
                    source="monitor", payload=Alert(severity="warning", source="m", message="x")
                )
                fill = OrderFilled(
                    source="paper-7",
                    payload=Fill(
                        fill_id="f1", order_id="o1", symbol="AAPL", side="buy", quantity=10,
                        price=190.5, commission=1.0,
                    ),
                )  # fmt: skip
                for event in (tick, alert, fill):
                    bus.publish(event, topic)  # type: ignore[attr-defined]
                first, second = sock.receive_json(), sock.receive_json()
        assert (first["topic"], first["version"]) == ("pnl", 1)
        assert first["data"]["pnl"] == 1250.0
        assert first["data"]["event"]["id"] == tick.id
        assert second["topic"] == "fills"  # the alert went to no subscriber of this client
        assert second["data"]["symbol"] == "AAPL"
    finally:
        bus.drop(topic)  # type: ignore[attr-defined]
        ws.close()


def test_an_in_process_bus_feeds_the_websocket_too(tmp_path: Path) -> None:
    from alphaloop.live.bus import InProcessBus

    bus = InProcessBus()
    ws = Workspace(tmp_path / "ws")
    UserStore(ws.db).add("desk", PASSWORD, "viewer")
    with TestClient(create_app(ws, make_settings(), run_jobs=False, bus=bus)) as client:
        token = login(client, "desk")["access_token"]
        with subscribed(client, token, ["pnl"]) as sock:
            tick = PnlTicked(source="paper-1", payload=PnlTick(session="1", equity=99.0, pnl=-1.0))
            assert client.portal is not None
            client.portal.call(bus.publish, tick, "events")  # from the loop's thread
            msg = sock.receive_json()
    assert msg["topic"] == "pnl"
    assert msg["data"]["pnl"] == -1.0
    ws.close()


def test_the_live_loop_feeds_the_pnl_topic(tmp_path: Path, monkeypatch) -> None:
    import alphaloop.app.run_loop as run_loop_module
    from alphaloop.app.run_loop import run_loop
    from alphaloop.live.bus import InProcessBus
    from alphaloop.live.loop_config import LoopConfig
    from alphaloop.live.loop_state import LoopCheckpoints

    bus = InProcessBus()
    monkeypatch.setattr(run_loop_module, "_bus", lambda config: bus)
    ws = Workspace(tmp_path / "ws")
    ws.data.ensure_bundled()
    UserStore(ws.db).add("desk", PASSWORD, "viewer")
    config = LoopConfig.model_validate({
        "name": "ws-drill", "data": "sp500-stocks", "start": "2006-03-01",
        "end": "2006-03-31", "styles": ["momentum", "breakout"],
        "bus": {"publish_bars": False},
        "lifecycle": {"shadow_bars": 21, "review_every": 21, "min_entry_sharpe": -5.0},
    })  # fmt: skip
    with TestClient(create_app(ws, make_settings(), run_jobs=False, bus=bus)) as client:
        token = login(client, "desk")["access_token"]
        with subscribed(client, token, ["pnl"]) as sock:
            result = run_loop(ws, config)
            msgs = [sock.receive_json() for _ in range(2 * result.bars)]
    assert {m["topic"] for m in msgs} == {"pnl"}
    assert {m["data"]["strategy"] for m in msgs} == {"momentum", "breakout"}
    assert {m["data"]["session"] for m in msgs} == {"ws-drill"}
    state = LoopCheckpoints(ws.db).get("ws-drill").state  # type: ignore[union-attr]
    for name in ("momentum", "breakout"):
        last = [m for m in msgs if m["data"]["strategy"] == name][-1]
        assert last["data"]["equity"] == pytest.approx(state["sleeves"][name]["equity"])
    ws.close()


def test_a_paper_session_feeds_the_fills_and_pnl_topics(tmp_path: Path) -> None:
    from alphaloop.app import open_paper, run_paper
    from alphaloop.app.paper import paper_store
    from alphaloop.backtest import StrategySpec, quick_spec

    bus = _bus()
    topic = f"test-paper-{os.urandom(4).hex()}"
    ws = Workspace(tmp_path / "ws")
    ws.data.ensure_bundled()
    UserStore(ws.db).add("desk", PASSWORD, "viewer")
    base = quick_spec("Ref($close, 1) / Ref($close, 21) - 1", "sp500-stocks", top_k=3)
    doc = {**base.model_dump(mode="json"), "name": "ws-paper", "fills": "next_close",
           "start": "2018-01-01", "end": "2018-06-30"}  # fmt: skip
    spec = StrategySpec.from_dict(doc)
    info, _ = open_paper(ws, spec)
    settings = make_settings(bus_url=REDIS_URL, bus_topic=topic)
    try:
        with TestClient(create_app(ws, settings, run_jobs=False)) as client:
            token = login(client, "desk")["access_token"]
            with subscribed(client, token, ["pnl", "fills"]) as sock:
                time.sleep(0.5)  # the bridge's group reads new entries from its creation on
                run = run_paper(ws, info.id, bus=REDIS_URL, bus_topic=topic)
                store = paper_store(ws)
                n_fills = store.n_fills(info.id)
                msgs = [sock.receive_json() for _ in range(run.bars + n_fills)]
    finally:
        bus.drop(topic)  # type: ignore[attr-defined]
    equity = paper_store(ws).equity(info.id)["equity"].tolist()
    ticks = [m["data"] for m in msgs if m["topic"] == "pnl"]
    fills = [m["data"] for m in msgs if m["topic"] == "fills"]
    assert len(ticks) == len(equity) == run.bars > 100
    assert [t["equity"] for t in ticks] == equity
    assert {t["session"] for t in ticks} == {str(info.id)}
    assert {f["event"]["source"] for f in fills} == {f"paper-{info.id}"}
    recorded = paper_store(ws).fills(info.id)
    assert len(fills) == len(recorded) > 0
    assert [f["symbol"] for f in fills] == recorded["asset"].tolist()
    ws.close()
