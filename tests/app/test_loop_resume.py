"""The live loop resumes after a crash or kill -9 and leaves the records of an unbroken run.

Each bar commits with the loop's checkpoint in one transaction, and its events carry
ids derived from run, bar, kind and key: a run stopped anywhere and started again
ends with the same audit entries, lifecycle transitions, policy changes, model
versions and checkpoint as a run that was never stopped, and the same events on the
Redis stream, each once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from alphaloop.app.run_loop import run_loop
from alphaloop.errors import ConfigError
from alphaloop.live.loop_config import LoopConfig
from alphaloop.live.loop_state import LoopCheckpoints

sys.path.insert(0, str(Path(__file__).parent))
from loop_resume_support import loop_config, prepare, records, stream

redis = pytest.importorskip("redis")
URL = "redis://127.0.0.1:6379/0"
WORKER = Path(__file__).parent / "loop_kill_worker.py"
LEARNING_BARS = (42, 84, 126, 168, 210, 252, 294)  # every learning.every bars


def _redis_up() -> bool:
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=0.5).ping()
        return True
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")


def _drop(prefix: str) -> None:
    client = redis.Redis.from_url(URL)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def _comparable(ws, prefix: str) -> dict:
    got = records(ws)
    got["audit"] = [tuple(str(x).replace(prefix, "PREFIX") for x in e) for e in got["audit"]]
    return got


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    """The run never stopped: its records and its stream."""
    prefix = f"resume-ref-{uuid.uuid4().hex[:8]}"
    ws = prepare(tmp_path_factory.mktemp("ref") / "ws")
    result = run_loop(ws, LoopConfig.model_validate(loop_config(prefix)))
    got = _comparable(ws, prefix), stream(URL, prefix, "events"), result
    ws.close()
    yield got
    _drop(prefix)


def test_the_reference_run_does_what_the_drill_needs(reference) -> None:
    recs, events, result = reference
    assert any(t["to"] == "live" for t in result.transitions)
    assert {r["action"] for r in result.learning} >= {"retrained", "archived"}
    assert len(recs["models"]) >= 3
    assert recs["checkpoint"][1] == "finished"
    assert len({e[0] for e in events}) == len(events) == result.events


class CrashError(RuntimeError):
    """Stands for the process dying at a point inside a bar."""


class FlakyBus:
    """The run's bus, which dies on its ``fail_at``-th publication (after the bar's
    records were written in its transaction, before the commit)."""

    def __init__(self, bus, fail_at: int) -> None:
        self.bus, self.fail_at, self.calls = bus, fail_at, 0

    def publish_many(self, events):
        self.calls += 1
        if self.calls == self.fail_at:
            raise CrashError(f"publication {self.calls}")
        return self.bus.publish_many(events)

    def close(self) -> None:
        self.bus.close()


def test_a_run_that_crashes_mid_bar_resumes_to_the_same_records(
    reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alphaloop.app.run_loop as run_module

    real = run_module._bus
    prefix = f"resume-crash-{uuid.uuid4().hex[:8]}"
    ws = prepare(tmp_path / "ws")
    config = LoopConfig.model_validate(loop_config(prefix))
    rng = np.random.default_rng(19)
    crashes = 0
    try:
        for fail_at in rng.integers(2, 60, size=5):  # counted from each (re)start
            flaky = lambda cfg, n=int(fail_at): FlakyBus(real(cfg), n)  # noqa: E731
            monkeypatch.setattr(run_module, "_bus", flaky)
            try:
                run_loop(ws, config)
            except CrashError:
                crashes += 1
        monkeypatch.setattr(run_module, "_bus", real)
        result = run_loop(ws, config)
        assert crashes == 5
        assert result.resumed_at is not None
        recs, events, ref = reference
        assert _comparable(ws, prefix) == recs
        assert stream(URL, prefix, "events") == events
        assert result.equity == ref.equity
        assert result.transitions == ref.transitions
        resumed = [e for e in records(ws, skip=())["audit"] if e[1] == "loop.resumed"]
        assert len(resumed) == crashes
        # a finished run started again changes nothing
        again = run_loop(ws, config)
        assert again.equity == result.equity
        assert _comparable(ws, prefix) == recs
    finally:
        ws.close()
        _drop(prefix)


def test_another_configuration_under_the_same_name_is_refused(tmp_path: Path) -> None:
    prefix = f"resume-cfg-{uuid.uuid4().hex[:8]}"
    ws = prepare(tmp_path / "ws")
    try:
        short = loop_config(prefix, end="2006-06-30")
        run_loop(ws, LoopConfig.model_validate(short))
        longer = LoopConfig.model_validate(loop_config(prefix, end="2006-09-29"))
        with pytest.raises(ConfigError, match="another configuration"):
            run_loop(ws, longer)
        fresh = run_loop(ws, longer, restart=True)
        cp = LoopCheckpoints(ws.db).get("resume-drill")
        assert cp is not None
        assert cp.epoch == 1
        assert cp.status == "finished"
        assert fresh.resumed_at is None
        assert fresh.last.month == 9
    finally:
        ws.close()
        _drop(prefix)


@pytest.mark.slow
def test_kill_9_at_ten_seeded_points_leaves_the_records_of_an_unbroken_run(
    reference, tmp_path: Path
) -> None:
    prefix = f"resume-kill-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "ws"
    prepare(root).close()
    rng = np.random.default_rng(2026)
    bars = sorted({*rng.choice(np.arange(1, 335), size=6, replace=False).tolist(),
                   *rng.choice(LEARNING_BARS, size=4, replace=False).tolist()})  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    kills = 0
    try:
        for bar in bars:
            delay_ms = float(rng.uniform(0, 30))
            proc = subprocess.run([sys.executable, str(WORKER), "all", str(root), prefix, str(bar),  # noqa: PLW1510
                                   f"{delay_ms:.3f}"], capture_output=True, text=True, env=env,
                                  timeout=300)  # fmt: skip
            assert proc.returncode in (-9, 0), proc.stderr[-2000:]
            kills += proc.returncode == -9
        proc = subprocess.run([sys.executable, str(WORKER), "all", str(root), prefix],  # noqa: PLW1510
                              capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert kills >= 10
        assert result["resumed_at"] is not None
        from alphaloop.app import Workspace

        ws = Workspace(root)
        recs, events, ref = reference
        got = _comparable(ws, prefix)
        for key in recs:
            assert got[key] == recs[key], key
        assert stream(URL, prefix, "events") == events  # each event once, in order
        assert result["equity"] == ref.equity
        ws.close()
    finally:
        _drop(prefix)


def _learning(recs: dict) -> list:
    return [e for e in recs["audit"] if e[1].startswith(("learning.", "model."))]


@pytest.mark.slow
def test_the_learning_manager_as_its_own_consumer_survives_kill_9(
    reference, tmp_path: Path
) -> None:
    """The loop runs without learning; the learning manager, a consumer of its bars with
    a stored offset, is killed ten times (during and between cycles) and restarted."""
    from alphaloop.app import Workspace

    prefix = f"resume-learn-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "ws"
    ws = prepare(root)
    config = LoopConfig.model_validate(loop_config(prefix))
    loop = run_loop(ws, config, learning=False)
    assert loop.learning == []
    ws.close()
    rng = np.random.default_rng(7)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    kills = 0
    try:
        for _ in range(10):
            delay_ms = float(rng.uniform(0, 400))
            proc = subprocess.run(  # noqa: PLW1510
                [sys.executable, str(WORKER), "learning", str(root), prefix, "1",
                 f"{delay_ms:.3f}"], capture_output=True, text=True, env=env, timeout=300,
            )  # fmt: skip
            assert proc.returncode in (-9, 0), proc.stderr[-2000:]
            kills += proc.returncode == -9
        proc = subprocess.run(  # noqa: PLW1510
            [sys.executable, str(WORKER), "learning", str(root), prefix],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        done = json.loads(proc.stdout.strip().splitlines()[-1])
        assert kills >= 8  # a late kill may come after the last cycle
        recs, _, ref = reference
        assert done["cycles"] == ref.learning
        ws = Workspace(root)
        got = records(ws)
        assert got["models"] == recs["models"]
        assert got["stages"] == recs["stages"]
        assert _learning(got) == _learning(recs)
        released = [e for e in stream(URL, prefix, "events") if e[1] == "model"]
        assert len({e[0] for e in released}) == len(released)
        ws.close()
    finally:
        _drop(prefix)
