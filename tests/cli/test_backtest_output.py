"""The backtest summary signs returns only: sizes (volatility, drawdown, rates) carry no '+'."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alphaloop.cli import main


def test_only_returns_carry_a_sign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--workspace",
        str(tmp_path / "ws"),
        "backtest",
        "--expr",
        "Ref($close,21)/Ref($close,126)-1",
    ]
    code = main([*args, "--data", "sp500-stocks", "--fills", "next_close", "--end", "2005-12-31"])
    out = capsys.readouterr().out
    assert code == 0
    rows = dict(re.findall(r"^(\S.*?)\s{2,}(\S+)\s*$", out, re.M))
    assert re.fullmatch(r"[+-]\d+\.\d\d%", rows["total return"])
    assert re.fullmatch(r"[+-]\d+\.\d\d%", rows["annual return"])
    for size in ("annual volatility", "cost drag (per year)", "win rate (round trips)"):
        assert re.fullmatch(r"\d+\.\d\d%", rows[size]), (size, rows[size])
    assert rows["max drawdown"].startswith("-")  # a drawdown is a negative return
    assert not rows["max drawdown"].startswith("+")
