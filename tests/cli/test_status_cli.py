"""``alphaloop status``: what is running, in what mode, with which models and kills."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import MODEL_SPEC, cli


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alphaloop.cli import main

    root = tmp_path_factory.mktemp("status") / "ws"
    spec = root.parent / "tiny.yaml"
    spec.write_text(MODEL_SPEC)
    assert main(["--workspace", str(root), "init"]) == 0
    assert main(["--workspace", str(root), "model", "train", str(spec)]) == 0
    return root


def test_a_fresh_system(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = cli(capsys, ws, "status", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["risk_mode"] == "normal"
    assert doc["strategies"]["by_state"] == {}
    assert doc["models"] == []  # nothing in production yet
    assert doc["kills"] == []
    assert doc["approvals_pending"] == 0


def test_mode_models_and_kills_show(
    capsys: pytest.CaptureFixture[str], ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert cli(capsys, ws, "policy", "set-mode", "defensive", "--reason", "drill")[0] == 0
    assert cli(capsys, ws, "model", "promote", "tiny/v1", "--stage", "production")[0] == 0
    assert cli(capsys, ws, "kill", "--reason", "drill")[0] == 0
    code, out, _ = cli(capsys, ws, "status", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["risk_mode"] == "defensive"
    [model] = doc["models"]
    assert model["ref"] == "tiny/v1"
    assert model["data_end"].startswith("1999-12-31")
    assert model["age_days"] > 365 * 20  # trained on data ending in 1999
    assert [k["reason"] for k in doc["kills"]] == ["drill"]
    code, out, _ = cli(capsys, ws, "status")
    assert code == 0
    assert out.startswith("risk mode defensive; strategies: none")
    assert "KILLED all drill" in out
    assert "tiny/v1" in out


def test_status_writes_nothing(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    db = ws / "alphaloop.db"
    before = db.stat().st_mtime_ns if db.exists() else None
    assert cli(capsys, ws, "status")[0] == 0
    after = db.stat().st_mtime_ns if db.exists() else None
    assert before == after


def test_status_on_a_read_only_workspace(ws: Path) -> None:
    from tests.cli.conftest import cli_on_read_only

    done = cli_on_read_only(ws, "status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["risk_mode"] in ("normal", "defensive")
