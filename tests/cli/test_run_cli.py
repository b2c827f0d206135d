"""``alphaloop run --config``: the live loop from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli

CONFIG = """
name: short-drill
data: sp500-stocks
start: 2006-03-01
end: 2006-12-29
styles: [momentum, breakout]
lifecycle: {shadow_bars: 42, review_every: 21}
"""


def test_run_then_status(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    ws = tmp_path / "ws"
    cfg = tmp_path / "live.yaml"
    cfg.write_text(CONFIG)
    assert cli(capsys, ws, "init")[0] == 0
    code, out, err = cli(capsys, ws, "run", "--config", str(cfg), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["name"] == "short-drill"
    assert doc["first"].startswith("2006-03-01")
    assert doc["last"].startswith("2006-12-29")
    assert doc["halted"] is None
    assert doc["events"] > doc["bars"] * 2  # bars of 20 symbols, risk states, transitions
    assert {t["to"] for t in doc["transitions"]} >= {"shadow"}
    code, out, _ = cli(capsys, ws, "status", "--json")
    assert code == 0
    # breakout passed the entry gate and went live; momentum's Sharpe before the
    # start was negative, so it never left backtest (the refusal is audited)
    assert json.loads(out)["strategies"]["by_state"] == {"live": 1}
    code, out, _ = cli(capsys, ws, "audit", "list", "--action", "lifecycle.refused", "--json")
    assert code == 0
    assert "momentum" in out


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name: x\ndata: sp500-stocks\nstart: 2006-03-01\nstyles: [astrology]\n", "astrology"),
        ("name: x\ndata: sp500-stocks\nstart: 2006-03-01\nspeed: 3\n", "speed"),
        ("name: x\ndata: nope\nstart: 2006-03-01\n", "nope"),
    ],
)
def test_bad_configurations_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, match: str
) -> None:
    ws = tmp_path / "ws"
    cfg = tmp_path / "live.yaml"
    cfg.write_text(text)
    assert cli(capsys, ws, "init")[0] == 0
    code, _, err = cli(capsys, ws, "run", "--config", str(cfg))
    assert code == 2
    assert match in err
    assert "Traceback" not in err
