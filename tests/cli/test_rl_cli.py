"""``alphaloop rl``: train and tune from a spec file; bad specs exit 2; Ctrl-C keeps the
last checkpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from tests.cli.conftest import CLI_COMMAND, cli


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole output lines are matched: a console as wide as they are (another test in the
    same worker may have left a narrow one)."""
    monkeypatch.setenv("COLUMNS", "200")


TINY = """\
name: ppo-xom
data: sp500-stocks
universe: [XOM]
start: 2010-01-01
hyperparameters: {{n_steps: 64, batch_size: 32, n_epochs: 2}}
env: {{fills: next_close, episode_length: 126}}
timesteps: {timesteps}
seeds: 1
evaluation: {{every: {every}}}
checkpoint_every: 64
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    Workspace(root).data.ensure_bundled()
    return root


def _spec(tmp_path: Path, timesteps: int = 64, every: int = 64) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(TINY.format(timesteps=timesteps, every=every))
    return path


def test_bad_spec_exits_2_naming_the_field(ws: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: a\ndata: sp500-stocks\nalgorithm: DQN\nenv: {action: continuous}\n")
    code, out, err = cli(capsys, ws, "rl", "train", str(path))
    assert code == 2
    assert out == ""
    assert "DQN needs discrete" in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, ws, "rl", "train", str(path), "--json")
    assert code == 2
    assert json.loads(out)["error"]["type"] == "SpecError"


def test_train_and_tune_report_json(ws: Path, tmp_path: Path, capsys) -> None:
    spec = _spec(tmp_path)
    report = tmp_path / "rl.html"
    code, out, err = cli(
        capsys, ws, "rl", "train", str(spec), "--seeds", "2", "--json", "--report", str(report)
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["seeds"] == [0, 1]
    assert doc["ref"] == "ppo-xom/v1"
    assert doc["test"]["summary"]["sharpe_ratio"]["n"] == 2
    assert report.is_file()
    code, out, err = cli(capsys, ws, "rl", "train", str(spec), "--seeds", "2")
    assert code == 0, err
    assert "registered ppo-xom/v2" in out
    assert "buy & hold" in out
    assert "resumed: seed 0" in out  # finished seeds are loaded from their checkpoints
    code, out, err = cli(capsys, ws, "rl", "tune", str(spec), "--trials", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["n_trials"] == 2


def test_ctrl_c_keeps_the_last_checkpoint(ws: Path, tmp_path: Path) -> None:
    spec = _spec(tmp_path, timesteps=1_000_000, every=1_000_000)
    proc = subprocess.Popen(
        [*CLI_COMMAND, "--workspace", str(ws), "rl", "train", str(spec), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoints = ws / "rl" / "checkpoints" / "ppo-xom"
    deadline = time.monotonic() + 240
    while not list(checkpoints.glob("*/seed_0/latest.zip")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert json.loads(out)["error"]["type"] == "WorkInterruptedError"
    (seed_dir,) = checkpoints.glob("*/seed_0")
    state = json.loads((seed_dir / "state.json").read_text())
    assert state["timesteps"] >= 64
    assert not state.get("finished")
    assert (seed_dir / "latest.zip").stat().st_size > 0
    runs = Workspace(ws, create=False).runs.list()
    assert [r["status"] for r in runs if r["kind"] == "rl-train"] == ["interrupted"]
