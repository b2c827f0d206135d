"""``alphaloop risk regimes``: the current regime and the regime table, text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli


@pytest.fixture
def ws(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """A fresh workspace (the command only reads: it never creates one named with --workspace)."""
    root = tmp_path / "ws"
    assert cli(capsys, root, "init")[0] == 0
    return root


def test_text_output(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = cli(capsys, ws, "risk", "regimes", "--data", "sp500-index")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("sp500-index (vol) on ")
    assert first.endswith(("calm", "turbulent"))
    for word in ("regime", "Sharpe", "calm", "turbulent", "all", "note: regimes of an"):
        assert word in out


def test_json_output(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = cli(
        capsys, ws, "risk", "regimes", "--data", "sp500-stocks",
        "--method", "trend", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["method"] == "trend"
    assert doc["current"]["name"] in ("down", "flat", "up")
    assert [r["regime"] for r in doc["regimes"]] == ["down", "flat", "up", "all"]
    assert doc["assets"] == 20
    assert doc["params"] == {"fast": 50, "slow": 200, "band": 0.0}


def test_hmm_with_a_seed(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = cli(
        capsys, ws, "risk", "regimes", "--data", "vix", "--method", "hmm",
        "--seed", "4", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["params"]["seed"] == 4
    assert sum(doc["current"]["probabilities"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--data", "sp500-index", "--method", "garch"), "method: unknown value 'garch'"),
        (("--data", "nope"), "nope"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], ws: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = cli(capsys, ws, "risk", "regimes", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""
