"""Ctrl-C: exit 130, a sentence on what was interrupted, the work recorded as interrupted.

Each test starts a real command, waits until it is visibly at work (a run
recorded as running, a progress bar on its terminal, a first dataset row),
then sends SIGINT.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from tests.cli.conftest import CLI_COMMAND, Terminal

MOMENTUM = "Ref($close, 21) / Ref($close, 126) - 1"
WAIT_S = 240  # generous: the machine may be busy; no assertion depends on how long


def _start(ws: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI_COMMAND, "--workspace", str(ws), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_row(ws: Path, sql: str, proc: subprocess.Popen[str]) -> None:
    """Poll the workspace database (read-only) until ``sql`` returns a row."""
    db = ws / "alphaloop.db"
    deadline = time.monotonic() + WAIT_S
    while True:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
                    if conn.execute(sql).fetchone() is not None:
                        return
            except sqlite3.OperationalError:  # the schema is still being created
                pass
        if proc.poll() is not None:
            raise AssertionError(f"the command ended first: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the command never got to the point to interrupt")
        time.sleep(0.05)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    Workspace(root).data.ensure_bundled()
    return root


def test_interrupted_validation(ws: Path) -> None:
    proc = _start(ws, "validate", "--expr", MOMENTUM, "--data", "sp500-stocks",
                  "--fills", "next_close", "--json")  # fmt: skip
    _wait_for_row(ws, "SELECT id FROM runs WHERE kind = 'validate' AND status = 'running'", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130
    assert err == ""
    runs = Workspace(ws, create=False).runs.list()
    (validate,) = [r for r in runs if r["kind"] == "validate"]
    assert validate["status"] == "interrupted"
    assert validate["error"] == "interrupted by the user"
    assert validate["finished_at"] is not None
    assert "running" not in {r["status"] for r in runs}  # none left behind as running
    error = json.loads(out)["error"]
    assert error["type"] == "WorkInterruptedError"
    assert error["exit_code"] == 130
    assert f"validate run {validate['id']}" in error["recorded"]
    assert error["message"].startswith("`alphaloop validate` stopped; ")
    assert error["message"].endswith(" recorded as interrupted")


def test_interrupted_analysis_on_a_terminal(ws: Path) -> None:
    term = Terminal("--workspace", str(ws), "factor", "analyze", "alpha158-close",
                    "--data", "sp500-stocks")  # fmt: skip
    term.wait_for("evaluating 75 factor(s)")  # its progress bar is up: it is at work
    term.proc.send_signal(signal.SIGINT)
    assert term.finish() == 130
    shown = " ".join(term.text.split())
    assert "interrupted: `alphaloop factor analyze` stopped; nothing was recorded" in shown
    assert "Traceback" not in shown


def test_interrupted_import_is_recorded(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()  # an empty workspace: the import registers the bundled data first
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2000-01-03", periods=500)
    assets = [f"A{i:02d}" for i in range(20)]
    frame = pd.DataFrame(
        {
            "timestamp": np.repeat(days.strftime("%Y-%m-%d"), len(assets)),
            "symbol": np.tile(assets, len(days)),
            "close": rng.uniform(10, 20, len(days) * len(assets)).round(4),
        }
    )
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    proc = _start(ws, "data", "import", str(path), "--name", "prices")
    _wait_for_row(ws, "SELECT id FROM datasets", proc)  # the import is under way
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130
    assert f"import of {path} as 'prices' recorded as interrupted" in " ".join(err.split())
    catalog = Workspace(ws, create=False).data
    (attempt,) = catalog.imports("prices")
    assert attempt["status"] == "interrupted"
    assert "prices" not in {d.name for d in catalog.list()}
    assert not (ws / "data" / "prices").exists()  # nothing stored


def test_database_library_logs_stay_off_the_terminal(tmp_path: Path) -> None:
    """A Ctrl-C during a database read made SQLAlchemy print 'Error closing cursor'
    with a traceback; the CLI keeps the library's log records to itself."""
    import subprocess
    import sys

    code = (
        "import logging, sys\n"
        "from alphaloop.cli import main\n"
        f"assert main(['--workspace', {str(tmp_path / 'w')!r}, 'init']) == 0\n"
        "logging.getLogger('sqlalchemy.pool.impl.QueuePool').error('Error closing cursor')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "Error closing cursor" not in done.stderr
