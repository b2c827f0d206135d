"""``alphaloop opportunities``: a ranked table, JSON, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace for the module: the command only reads."""
    from alphaloop.cli import main

    root = tmp_path_factory.mktemp("opportunities") / "ws"
    assert main(["--workspace", str(root), "init"]) == 0
    return root


def test_text_output_is_ranked_and_noted(
    capsys: pytest.CaptureFixture[str], ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = cli(capsys, ws, "opportunities", "--data", "sp500-stocks", "--top", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("sp500-stocks on ")
    assert lines[0].endswith("20 ranked")
    scores = [float(line.split()[1]) for line in lines if line.split()[:1] and
              line.split()[0].isupper() and len(line.split()) >= 5]  # fmt: skip
    assert len(scores) == 3
    assert scores == sorted(scores, reverse=True)
    assert "note: no volume field" in out
    assert "survivorship" in out


def test_json_is_causal_at_a_date(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = cli(
        capsys, ws, "opportunities", "--data", "sp500-ohlcv", "--at", "2005-03-15", "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["at"].startswith("2005-03-15")
    assert len(doc["ranking"]) == 1
    assert doc["ranking"][0]["liquidity"] is not None  # this dataset has volume


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--data", "sp500-stocks", "--at", "1980-01-01"], "before the panel's first bar"),
        (["--data", "sp500-stocks", "--top", "0"], "top must be >= 1"),
        (["--data", "fama-french"], "has no close field"),
        (["--data", "nope"], "nope"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], ws: Path, args: list[str], match: str
) -> None:
    code, _, err = cli(capsys, ws, "opportunities", *args)
    assert code == 2
    assert match in err
    assert "Traceback" not in err
