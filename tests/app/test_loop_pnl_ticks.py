"""The live loop publishes one P&L tick per sleeve per bar, on the in-process bus and on
Redis: each tick's equity is the sleeve's recorded equity, and its id is the same every
time the bar is run."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pandas as pd
import pytest

import alphaloop.app.run_loop as run_loop_module
from alphaloop.app import Workspace
from alphaloop.app.run_loop import run_loop
from alphaloop.live.bus import InProcessBus
from alphaloop.live.bus.catalog import PnlTick
from alphaloop.live.loop_config import LoopConfig
from alphaloop.live.loop_state import LoopCheckpoints, event_id

STYLES = ["momentum", "mean_reversion", "breakout"]


def _config(**bus: Any) -> dict[str, Any]:
    return {
        "name": "pnl-drill",
        "data": "sp500-stocks",
        "start": "2006-03-01",
        "end": "2006-06-30",
        "styles": STYLES,
        "bus": bus,
        "lifecycle": {"shadow_bars": 21, "review_every": 21, "min_entry_sharpe": -5.0},
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    ws = Workspace(tmp_path_factory.mktemp("pnl") / "ws")
    ws.data.ensure_bundled()
    yield ws
    ws.close()


def _check(ws: Workspace, ticks: list[tuple[str, PnlTick]], bars: int) -> None:
    assert len(ticks) == bars * len(STYLES)
    by_sleeve: dict[str, list[PnlTick]] = {}
    for _, t in ticks:
        assert t.session == "pnl-drill"
        assert t.strategy is not None
        by_sleeve.setdefault(t.strategy, []).append(t)
    assert sorted(by_sleeve) == sorted(STYLES)
    cp = LoopCheckpoints(ws.db).get("pnl-drill")
    assert cp is not None
    for name, seq in by_sleeve.items():
        assert len(seq) == bars
        assert seq[-1].equity == pytest.approx(cp.state["sleeves"][name]["equity"], rel=1e-12)
        for t in seq:
            assert t.pnl == pytest.approx(t.equity - 1.0)
    moved = [t for seq in by_sleeve.values() for t in seq if t.pnl_day]
    assert moved, "no sleeve's equity moved over four months"
    assert len({i for i, _ in ticks}) == len(ticks)  # ids unique


def test_in_process_bus_gets_one_tick_per_sleeve_per_bar(workspace, monkeypatch) -> None:
    bus = InProcessBus()
    monkeypatch.setattr(run_loop_module, "_bus", lambda config: bus)
    result = run_loop(workspace, LoopConfig.model_validate(_config()), restart=True)
    events = [e for e in bus.topic("events") if e.type == "pnl_tick"]
    ticks = [(e.id, e.payload) for e in events]
    _check(workspace, ticks, result.bars)  # type: ignore[arg-type]
    assert [e for e in bus.topic("events") if e.type == "bar"]  # bars alongside


def test_redis_bus_gets_the_same_ticks(workspace) -> None:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception as exc:
        pytest.skip(f"needs Redis on 127.0.0.1:6379: {exc}")
    from alphaloop.live.bus.events import decode

    prefix = f"pnl-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url)
    try:
        result = run_loop(
            workspace, LoopConfig.model_validate(_config(backend="redis", prefix=prefix)),
            restart=True,
        )  # fmt: skip
        ticks = []
        for _, fields in client.xrange(f"{prefix}:events"):
            e = decode(fields[b"event"])
            if e.type == "pnl_tick":
                ticks.append((e.id, e.payload))
        _check(workspace, ticks, result.bars)  # type: ignore[arg-type]
        payload = json.loads(ticks[-1][1].model_dump_json())
        assert set(payload) == {"session", "strategy", "equity", "pnl", "pnl_day"}
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def test_ticks_can_be_switched_off(workspace, monkeypatch) -> None:
    bus = InProcessBus()
    monkeypatch.setattr(run_loop_module, "_bus", lambda config: bus)
    run_loop(workspace, LoopConfig.model_validate(_config(publish_pnl=False)), restart=True)
    assert bus.topic("events")
    assert not [e for e in bus.topic("events") if e.type == "pnl_tick"]


def test_tick_ids_are_keyed_by_run_epoch_bar_and_sleeve(workspace, monkeypatch) -> None:
    bus = InProcessBus()
    monkeypatch.setattr(run_loop_module, "_bus", lambda config: bus)
    run_loop(workspace, LoopConfig.model_validate(_config(publish_bars=False)), restart=True)
    epoch = LoopCheckpoints(workspace.db).get("pnl-drill").epoch  # type: ignore[union-attr]
    data = workspace.data.load("sp500-stocks")
    first = data.index[data.index.searchsorted(pd.Timestamp("2006-03-01", tz="UTC"))]
    ticks = [e for e in bus.topic("events") if e.type == "pnl_tick"][: len(STYLES)]
    for e in ticks:
        key = f"sleeve:{e.payload.strategy}"  # type: ignore[attr-defined]
        assert e.id == event_id("pnl-drill", epoch, first.value, "pnl_tick", key)
