"""``model train --executor --workers --concurrent``: a process pool gives the in-process
search; options without a search, or an unknown executor, are one plain error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import MODEL_SPEC, cli

TUNED = MODEL_SPEC.replace("training: {n_splits: 3}", "training: {n_splits: 2, hpo_trials: 5}")


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_a_process_pool_trains_the_in_process_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, TUNED)
    docs = []
    for name, extra in (("here", ()), ("pool", ("--workers", "2"))):
        ws = tmp_path / name
        code, out, err = cli(
            capsys, ws, "model", "train", str(spec), "--concurrent", "2", *extra, "--json"
        )
        assert code == 0, err
        docs.append(json.loads(out))
    here, pool = docs
    assert pool["training"]["search"] == here["training"]["search"]
    assert pool["training"]["params"] == here["training"]["params"]
    assert here["training"]["search"]["n_trials"] == 5
    assert here["training"]["settings"]["hpo_concurrent"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--executor", "dask"), "--executor must be local or ray, got 'dask'"),
        (("--concurrent", "2"), "this spec has none (training.hpo_trials: 0)"),
    ],
)
def test_bad_search_options_are_one_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    spec = _spec(tmp_path, MODEL_SPEC)
    code, _, err = cli(capsys, tmp_path / "ws", "model", "train", str(spec), *args)
    assert code == 2
    assert message in " ".join(err.split())
    assert "Traceback" not in err
