"""``alphaloop portfolio optimize`` on the bundled S&P 500 stocks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from alphaloop.app.workspace import Workspace
from alphaloop.cli import main


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_optimize_json_weights_from_the_search_span(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    with Workspace(ws, holdout_fraction=0.2) as opened:  # a sealed holdout to stay out of
        boundary = opened.data.holdout_boundary("sp500-stocks")
    assert boundary is not None
    code, out, err = run(capsys, ws, "portfolio", "optimize", "--data", "sp500-stocks",
                         "--method", "hrp", "--window", "126", "--max-weight", "0.2",
                         "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert sum(doc["weights"].values()) == pytest.approx(1.0)
    assert max(doc["weights"].values()) <= 0.2 + 1e-6
    assert doc["fallback"] is None
    assert doc["diagnostics"]["n_observations"] == 126
    assert pd.Timestamp(doc["date"]) < boundary  # the last bar before the sealed holdout


def test_optimize_text_and_infeasible_bounds_fall_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["--data", "sp500-stocks", "--method", "min_variance", "--max-weight", "0.02"]
    code, out, err = run(capsys, tmp_path / "ws", "portfolio", "optimize", *args)
    assert code == 0, err
    assert "fallback inverse_volatility" in out
    assert "infeasible" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--method", "best"], "method"),
        (["--method", "hrp", "--min-weight", "0.5", "--max-weight", "0.1"], "min_weight"),
        (["--method", "hrp", "--window", "5"], "window"),
    ],
)
def test_bad_options_exit_non_zero_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    code, out, err = run(capsys, tmp_path / "ws", "portfolio", "optimize", "--data",
                         "sp500-stocks", *args)  # fmt: skip
    assert code != 0
    assert words in err
    assert "Traceback" not in err + out
