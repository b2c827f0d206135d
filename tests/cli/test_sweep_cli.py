"""``alphaloop sweep``: the same points in process and in a process pool, on the search span
only, recorded as a run; bad grids and assets are plain errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.cli.conftest import cli

GRID = ("--data", "nasdaq-ohlcv", "--fast", "3,10,400", "--slow", "30,90")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alphaloop.app import Workspace

    root = tmp_path_factory.mktemp("sweep") / "ws"
    with Workspace(root, holdout_fraction=0.2) as w:
        w.data.ensure_bundled()
        assert w.data.holdout_boundary("nasdaq-ohlcv") is not None  # sealed: the last fifth
    return root


def test_a_process_pool_gives_the_in_process_points(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, ws, "sweep", *GRID, "--json")
    assert code == 0, err
    serial = json.loads(out)
    code, out, err = cli(capsys, ws, "sweep", *GRID, "--workers", "2", "--json")
    assert code == 0, err
    pooled = json.loads(out)
    assert serial["n_points"] == 4  # fast 400 pairs with no slow window
    assert pooled["points"] == serial["points"]
    assert len({p["total_return"] for p in serial["points"]}) == 4
    assert serial["best"]["sharpe"] == max(p["sharpe"] for p in serial["points"])
    assert serial["fills"] == "next_open"
    # the search span only: the sealed last fifth is never read
    assert serial["span"]["bars"] < 5031
    assert pd.Timestamp(serial["span"]["end"]) < pd.Timestamp("2018-12-31", tz="UTC")
    code, out, err = cli(capsys, ws, "runs", "show", str(serial["run_id"]), "--json")
    assert code == 0, err
    assert json.loads(out)["result"]["n_points"] == 4


def test_the_table_names_the_number_of_points(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = cli(capsys, ws, "sweep", *GRID, "--top", "2")
    assert code == 0, err
    assert "4 points on the search span" in out
    assert "selected among 4 points: expect it to be optimistic" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fast", "5,x"), "--fast takes whole numbers"),
        (("--fast", "200", "--slow", "50"), "no sweep point"),
        (("--asset", "ZZZ"), "has no asset ZZZ"),
        (("--executor", "dask"), "--executor must be local or ray"),
    ],
)
def test_bad_grids_are_plain_errors(
    ws: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = cli(capsys, ws, "sweep", "--data", "nasdaq-ohlcv", *args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err


def test_every_point_is_a_trial_and_the_best_is_deflated(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphaloop.app import Workspace

    with Workspace(ws) as w:
        before = w.strategies.n_trials("nasdaq-ohlcv")
    code, out, err = cli(capsys, ws, "sweep", *GRID, "--json")
    assert code == 0, err
    doc = json.loads(out)
    with Workspace(ws) as w:
        after = w.strategies.n_trials("nasdaq-ohlcv")
    assert after == before + 4
    deflated = doc["deflated"]
    assert deflated["n_trials"] == after
    assert 0.0 <= deflated["dsr"] <= 1.0
    # the re-run best point is the reported one
    assert deflated["sharpe"] == pytest.approx(doc["best"]["sharpe"], rel=1e-9)
