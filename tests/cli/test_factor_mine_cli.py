"""``alphaloop factor mine`` and ``alphaloop factor mined``: exit codes, JSON, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.factors.mining import planted_panel
from tests.cli.conftest import cli


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    pp = planted_panel(alpha="corr_close_volume", seed=21, n_times=500, n_assets=30)
    csv = tmp_path / "planted.csv"
    pp.panel.to_long().to_csv(csv, index=False)
    root = tmp_path / "ws"
    code, _, err = cli(capsys, root, "data", "import", str(csv), "--name", "planted")
    assert code == 0, err
    code, _, err = cli(capsys, root, "holdout", "set", "planted", "--fraction", "0.2")
    assert code == 0, err
    return root


SMALL = ("--budget", "250", "--population", "80", "--pool", "4")


def test_mine_prints_the_pool_and_saves_a_library(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys, ws, "factor", "mine", "--data", "planted", *SMALL, "--library", "mined", "--json"
    )
    assert code in (0, 1), err
    doc = json.loads(out)
    assert code == (0 if doc["passed"] else 1)
    assert doc["n_scored"] == 250
    assert doc["library"] == "mined"
    assert Path(doc["library_path"]).is_file()
    first = doc["pool"]["members"][0]["name"]
    code, out, err = cli(
        capsys, ws, "factor", "eval", f'Factor("mined/{first}")', "--data", "planted",
        "--out", str(ws.parent / "f.parquet"),
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli(capsys, ws, "factor", "mine", "--data", "planted", *SMALL)
    assert "recorded result of the same run" in out
    code, out, _ = cli(capsys, ws, "factor", "mined", "list", "--json")
    assert [r["status"] for r in json.loads(out)] == ["finished"]
    code, out, _ = cli(capsys, ws, "factor", "mined", "show", str(doc["session_id"]))
    assert code == 0
    assert "expressions scored" in out


def test_the_holdout_needs_yes_and_is_spent_once(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, ws, "factor", "mine", "--data", "planted", *SMALL, "--json")
    session = str(json.loads(out)["session_id"])
    code, _, err = cli(capsys, ws, "factor", "mined", "holdout", session, "--note", "final")
    assert code == 2
    assert "--yes" in err
    code, out, err = cli(
        capsys, ws, "factor", "mined", "holdout", session, "--note", "final", "--yes", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["trials_before"] == 250
    code, _, err = cli(
        capsys, ws, "factor", "mined", "holdout", session, "--note", "again", "--yes"
    )
    assert code == 1
    assert "already" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--horizon", "900"), "too short"),
        (("--budget", "0"), "budget"),
        (("--seed-expression", "Mean($close,"), "seed expression"),
        (("--time-limit", "soon"), "time-limit"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(
    ws: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = cli(capsys, ws, "factor", "mine", "--data", "planted", *SMALL, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_an_unknown_session_is_an_error(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, ws, "factor", "mined", "show", "999")
    assert code == 2
    assert "no mining session" in err
