"""``--executor`` and ``--workers`` on ``factor mine`` and ``rl tune``: a process pool gives
the in-process pool; a bad executor is one plain error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.factors.mining import planted_panel
from tests.cli.conftest import cli

SMALL = ("--budget", "200", "--population", "60", "--pool", "3", "--seed", "2")


def _ws(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> Path:
    csv = tmp_path / "planted.csv"
    if not csv.exists():
        pp = planted_panel(alpha="corr_close_volume", seed=21, n_times=400, n_assets=25)
        pp.panel.to_long().to_csv(csv, index=False)
    root = tmp_path / name
    code, _, err = cli(capsys, root, "data", "import", str(csv), "--name", "planted")
    assert code == 0, err
    return root


def test_mining_on_a_process_pool_gives_the_in_process_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = []
    for name, extra in (("serial", ()), ("pool", ("--executor", "local", "--workers", "2"))):
        ws = _ws(tmp_path, capsys, name)
        code, out, err = cli(
            capsys, ws, "factor", "mine", "--data", "planted", *SMALL, *extra, "--json"
        )
        assert code in (0, 1), err
        docs.append(json.loads(out))
    serial, pooled = docs
    assert pooled["n_scored"] == serial["n_scored"] == 200
    assert pooled["pool"] == serial["pool"]
    assert pooled["key"] == serial["key"]  # where it ran is not part of what the run is


@pytest.mark.parametrize(
    "args",
    [
        ("factor", "mine", "--data", "planted", "--executor", "dask"),
        ("rl", "tune", "spec.yaml", "--executor", "dask"),
    ],
)
def test_an_unknown_executor_is_one_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, _, err = cli(capsys, tmp_path / "ws", *args)
    assert code != 0
    assert "--executor must be local or ray, got 'dask'" in err
    assert "Traceback" not in err
