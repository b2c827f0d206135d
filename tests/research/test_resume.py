"""A session killed (SIGKILL) at random points and resumed ends with the same database
as an uninterrupted one with the same seed (wall-clock fields aside)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from alphaloop.app import Workspace

ARGS = (
    "research",
    "--goal",
    "long-only strategies, monthly rebalancing",
    "--data",
    "sp500-stocks",
    "--budget",
    "60",
    "--batch-size",
    "6",
    "--workers",
    "1",
    "--seed",
    "11",
    "--json",
)
WALL_CLOCK = {"created_at", "updated_at", "finished_at"}
N_KILLS = 10


def _cli(ws: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alphaloop.cli", "--workspace", str(ws), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "120", "ALPHALOOP_HOLDOUT_FRACTION": "0.2"},
    )


def _count(db: Path, table: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return 0


def _status(db: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT status FROM research_sessions WHERE id = 1").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every research table's rows without wall-clock columns, in a stable order."""
    out = {}
    with sqlite3.connect(db) as conn:
        for table in (
            "strategies",
            "strategy_parents",
            "evaluations",
            "dataset_trials",
            "agent_decisions",
            "research_sessions",
        ):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c not in WALL_CLOCK and c != "summary"]
            rows = conn.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
    return out


@pytest.mark.slow
def test_killed_and_resumed_session_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    base = tmp_path / "base"
    with Workspace(base, holdout_fraction=0.2) as ws:
        ws.data.ensure_bundled()
    plain, killed = tmp_path / "plain", tmp_path / "killed"
    shutil.copytree(base, plain)
    shutil.copytree(base, killed)

    done = _cli(plain, *ARGS)
    assert done.wait(timeout=600) in (0, 1), done.stderr.read() if done.stderr else ""

    db = killed / "alphaloop.db"
    rng = np.random.default_rng(5)
    targets = np.sort(rng.integers(0, 60, size=N_KILLS))
    kills = 0
    proc = _cli(killed, *ARGS)
    for target in targets:
        deadline = time.monotonic() + 300
        while _count(db, "evaluations") < target and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        status = _status(db)
        if status == "finished":
            break
        # killed before the session was stored: start it again; else resume it
        proc = _cli(killed, *ARGS) if status is None else _cli(killed, "research", "resume", "1")
    if proc.poll() is None or proc.returncode not in (-9,):
        assert proc.wait(timeout=600) in (0, 1), proc.stderr.read() if proc.stderr else ""
    assert _status(db) == "finished"
    assert kills >= N_KILLS // 2  # most kills landed while the session was working
    assert _contents(db) == _contents(plain / "alphaloop.db")
