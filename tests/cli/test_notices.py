"""Requests clipped at a sealed holdout are said in one line on stderr, JSON stays clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.cli import main

MOMENTUM = "Ref($close, 21) / Ref($close, 126) - 1"


def test_a_backtest_past_the_holdout_says_where_the_data_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
    ws = str(tmp_path / "ws")
    args = ["--workspace", ws, "backtest", "--expr", MOMENTUM, "--data", "sp500-stocks"]
    args += ["--fills", "next_close", "--end", "2022-12-28", "--json"]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)  # stdout holds the JSON document only
    notes = [line for line in captured.err.splitlines() if line.startswith("note: sp500-stocks")]
    assert len(notes) == 1  # said once, however often the data was loaded
    assert "end 2022-12-28 is inside the sealed holdout" in notes[0]
    assert doc["period"]["end"][:10] < "2022-12-28"
