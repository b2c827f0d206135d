"""Consumers killed with SIGKILL at random points (seeded) lose nothing and apply nothing twice.

Each round starts ``kill_worker.py`` as a real process, waits until it has
applied some more events, waits a random extra moment and kills it with
SIGKILL; the next round's process resumes from the stored offset (Redis: the
group's offset and pending list; in process: a SQLite offset store and a
replayed feed). After the kills a last process runs to the end. The handler
counts every event id in the transaction that commits the offset: each
count must be exactly 1, for every event.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from alphaloop.live.bus import RedisBus
from tests.live.bus.conftest import REDIS_URL
from tests.live.bus.kill_worker import feed

WORKER = Path(__file__).with_name("kill_worker.py")
ROOT = Path(__file__).resolve().parents[3]
KILLS = 5
N = 3000


def _start(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, stderr=subprocess.PIPE)


def _kill_rounds(args: list[str], progress: Callable[[], int], seed: int) -> list[int]:
    """Kill ``KILLS`` workers at seeded random points; the progress seen at each kill."""
    rng = random.Random(seed)
    seen = []
    for _ in range(KILLS):
        before = progress()
        proc = _start(*args)
        deadline = time.monotonic() + 60
        while progress() < before + 50:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        seen.append(progress())
    final = _start(*args)
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr.decode()[-2000:]
    return seen


@pytest.mark.slow
def test_redis_consumer_killed_five_times_applies_every_event_once(redis_prefix: str) -> None:
    import redis

    bus = RedisBus(REDIS_URL, prefix=redis_prefix)
    for start in range(0, N, 500):
        bus.publish_many(feed(N)[start : start + 500])
    client = redis.Redis.from_url(REDIS_URL)
    counts = f"{redis_prefix}:counts"
    seen = _kill_rounds(
        ["redis", REDIS_URL, redis_prefix, str(N)], lambda: client.hlen(counts), seed=19
    )
    assert seen == sorted(seen)
    assert seen[-1] < N  # every kill landed before the end
    got = {k.decode(): int(v) for k, v in client.hgetall(counts).items()}
    assert got == {e.id: 1 for e in feed(N)}
    info = client.xinfo_groups(bus.key("events"))[0]
    assert int(info["pending"]) == 0
    client.close()
    bus.close()


@pytest.mark.slow
def test_in_process_consumer_killed_five_times_applies_every_event_once(tmp_path: Path) -> None:
    path = tmp_path / "offsets.db"

    def progress() -> int:
        if not path.exists():
            return 0
        con = sqlite3.connect(path)
        try:
            return con.execute("SELECT count(*) FROM effects").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not there yet
            return 0
        finally:
            con.close()

    seen = _kill_rounds(["memory", str(path), str(N)], progress, seed=20)
    assert seen == sorted(seen)
    assert seen[-1] < N
    con = sqlite3.connect(path)
    rows = dict(con.execute("SELECT event_id, count(*) FROM effects GROUP BY event_id"))
    assert rows == {e.id: 1 for e in feed(N)}
    assert con.execute("SELECT next_offset FROM bus_offsets").fetchall() == [(N,)]
    con.close()
