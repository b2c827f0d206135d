"""``alphaloop paper start --bus``: a detached session streams its bars to the bus; an
unreachable bus is refused before anything runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import cli
from tests.cli.test_paper_cli import _spec, wait_finished

REDIS_URL = os.environ.get("ALPHALOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert cli(capsys, root, "init")[0] == 0
    return root


def test_a_detached_session_streams_every_bar(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis server answers at {REDIS_URL}: {exc}")
    from alphaloop.live.bus.events import decode
    from alphaloop.live.bus.redis_streams import RedisBus

    bus = RedisBus(REDIS_URL)
    topic = f"test-paper-cli-{os.urandom(4).hex()}"
    try:
        code, out, err = cli(capsys, ws, "paper", "start", str(_spec(tmp_path)), "--detach",
                             "--bus", REDIS_URL, "--bus-topic", topic, "--json")  # fmt: skip
        assert code == 0, err
        status = wait_finished(capsys, ws, json.loads(out)["session"]["id"])
        events = [decode(f[b"event"]) for _, f in bus.client.xrange(bus.key(topic))]
        ticks = [e.payload for e in events if e.type == "pnl_tick"]
        assert len(ticks) == status["position"] > 200
        assert ticks[-1].equity == status["equity"]
        assert len([e for e in events if e.type == "fill"]) == status["n_fills"] > 0
    finally:
        bus.drop(topic)
        bus.close()


def test_an_unreachable_bus_is_refused_before_the_session_runs(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    code, out, err = cli(capsys, ws, "paper", "start", str(spec), "--bus", "redis://127.0.0.1:1/0")
    assert code == 3  # the service is not there: the workspace-and-services exit code
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in err
    assert "Traceback" not in err + out
    doc = json.loads(cli(capsys, ws, "paper", "status", "1", "--json")[1])
    assert (doc["status"], doc["position"]) == ("created", 0)
    # detached: refused here, before a process is started for it
    code, out, err = cli(capsys, ws, "paper", "start", str(spec), "--detach",
                         "--bus", "redis://127.0.0.1:1/0")  # fmt: skip
    assert code == 3
    assert "cannot reach Redis" in err
    doc = json.loads(cli(capsys, ws, "paper", "status", "1", "--json")[1])
    assert (doc["status"], doc["pid"]) == ("created", None)
    assert not (ws / "paper" / "1.log").exists()
    code, out, err = cli(capsys, ws, "paper", "start", str(spec), "--bus", "http://x")
    assert code == 2
    assert "not a Redis URL" in err
