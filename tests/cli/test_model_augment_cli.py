"""``alphaloop model train`` with ``augment:``: the registry records the synthetic training rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import MODEL_SPEC, cli


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole output lines are matched: a console as wide as they are (another test in the
    same worker may have left a narrow one)."""
    monkeypatch.setenv("COLUMNS", "200")


def test_augmented_training_is_recorded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli(capsys, ws, "init")[0] == 0
    spec = tmp_path / "aug.yaml"
    spec.write_text(
        MODEL_SPEC.replace("name: tiny", "name: tiny-aug")
        + 'start: "1996-01-01"\naugment: {generator: bootstrap, paths: 2, seed: 7}\n'
    )
    code, out, err = cli(capsys, ws, "model", "train", str(spec))
    assert code == 0, err
    assert "SYNTHETIC training rows from 2 bootstrap path(s) per fit, seed 7" in out
    code, out, _ = cli(capsys, ws, "model", "show", "tiny-aug/v1", "--json")
    assert code == 0
    version = json.loads(out)
    assert version["metrics"]["n_synthetic_train"] > 0
    recipe = json.loads((Path(version["artifact_path"]) / "recipe.json").read_text())
    aug = recipe["augment"]
    assert (aug["generator"], aug["paths"], aug["seed"]) == ("bootstrap", 2, 7)
    assert [f["stage"] for f in aug["fits"]] == ["cv", "cv", "cv", "final"]
    assert aug["synthetic_rows"] == version["metrics"]["n_synthetic_train"]
    assert recipe["spec"]["augment"]["paths"] == 2
