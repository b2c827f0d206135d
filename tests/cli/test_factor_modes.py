"""``factor analyze`` on one asset (time-series mode), mistyped library names, and the
operator listing, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.cli import main

MOMENTUM = "Ref($close, 1) / Ref($close, 21) - 1"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("factor-modes") / "ws"
    assert main(["--workspace", str(root), "init"]) == 0
    return root


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_one_asset_prints_the_time_series_analysis(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    code, out, err = run(capsys, ws, "factor", "analyze", MOMENTUM, "--data", "sp500-ohlcv")
    assert code == 0, err
    assert "time-series analysis" in out
    assert "hit rate" in out
    assert "not shown in this mode" in out


def test_time_series_json_has_per_asset_figures(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    code, out, _ = run(
        capsys, ws, "factor", "analyze", MOMENTUM, "--data", "sp500-stocks",
        "--mode", "time-series", "--end", "2005-12-31", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["analysis_mode"] == "time-series"
    ts = doc["time_series"]
    assert ts["pooled"]["n_assets"] == len(ts["assets"]) == 20
    assert 0.0 <= ts["pooled"]["hit_rate"] <= 1.0
    assert ts["pooled"]["n_hits"] <= ts["pooled"]["n_signed"]


def test_a_mistyped_library_name_is_refused_with_the_closest_name(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    code, _, err = run(capsys, ws, "factor", "analyze", "alpha185", "--data", "sp500-ohlcv")
    assert code != 0
    assert "unknown factor library 'alpha185'" in err
    assert "did you mean 'alpha158'" in err


def test_operator_listing_shows_if_and_group(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = run(capsys, ws, "factor", "operators", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["operators"]}
    assert rows["If"]["signature"] == "If(cond, x, y)"
    assert rows["If"]["min_args"] == rows["If"]["max_args"] == 3
    assert "Group" in rows
