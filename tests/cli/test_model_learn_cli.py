"""``alphaloop model learn``: a learning cycle from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import MODEL_SPEC, cli


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alphaloop.cli import main

    root = tmp_path_factory.mktemp("learn") / "ws"
    spec = root.parent / "tiny.yaml"
    spec.write_text(MODEL_SPEC)
    assert main(["--workspace", str(root), "init"]) == 0
    assert main(["--workspace", str(root), "model", "train", str(spec)]) == 0
    return root


def test_learning_needs_a_production_version(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, _, err = cli(capsys, ws, "model", "learn", "tiny", "--as-of", "2000-03-31")
    assert code == 2
    assert "no production version" in err
    assert "model promote tiny/vN --stage production" in err


def test_dry_run_then_retrain(
    capsys: pytest.CaptureFixture[str], ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert cli(capsys, ws, "model", "promote", "tiny/v1", "--stage", "production")[0] == 0
    code, out, _ = cli(
        capsys, ws, "model", "learn", "tiny", "--as-of", "2000-03-31", "--dry-run", "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["action"] == "none"
    assert doc["retrain"]["due"] is True
    assert doc["new_version"] is None
    code, out, _ = cli(capsys, ws, "model", "learn", "tiny", "--as-of", "2000-03-31")
    assert code == 0
    assert "action retrained" in out
    assert "new candidate in shadow: tiny/v2" in out
    code, out, _ = cli(capsys, ws, "model", "learn", "tiny", "--as-of", "2000-04-28")
    assert code == 0
    assert "action shadowing" in out


def test_bad_policy_exits_2(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, _, err = cli(capsys, ws, "model", "learn", "tiny", "--level", "2")
    assert code == 2
    assert "level must be in (0, 1)" in err
