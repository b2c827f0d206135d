"""``alphaloop policy`` and ``alphaloop lifecycle`` end to end (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.backtest import quick_spec

from .conftest import cli


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    Workspace(tmp_path / "ws").close()
    return tmp_path / "ws"


def test_policy_show_set_mode_block_allow_history(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    code, out, err = cli(capsys, ws, "policy", "show")
    assert code == 0, err
    assert "risk mode: NORMAL (policy version 0)" in out
    assert "* normal" in out
    assert "max_gross=0.5" in out
    code, out, err = cli(capsys, ws, "policy", "set-mode", "defensive", "--reason", "vol spike",
                         "--actor", "ann")  # fmt: skip
    assert code == 0, err
    assert "policy v1: risk mode defensive (by ann)" in out
    code, out, _ = cli(capsys, ws, "policy", "set-mode", "defensive", "--reason", "again")
    assert code == 0
    assert "nothing changed" in out
    code, _, err = cli(capsys, ws, "policy", "set-mode", "panic", "--reason", "x")
    assert code == 2
    assert "unknown risk mode 'panic'" in err
    assert "Traceback" not in err
    code, _, err = cli(capsys, ws, "policy", "block", "TSLA")
    assert code == 2
    assert "needs a reason" in err
    code, out, _ = cli(capsys, ws, "policy", "block", "TSLA", "--reason", "news", "--json")
    assert code == 0
    assert json.loads(out)["detail"] == {"kind": "symbol", "name": "TSLA"}
    code, out, _ = cli(capsys, ws, "policy", "allow", "AAPL", "--only", "--reason", "focus")
    assert code == 0
    code, out, _ = cli(capsys, ws, "policy", "set-limits", "normal", "--limit", "max_gross=0.8",
                       "--threshold", "min_shadow_bars=40", "--reason", "desk rules")  # fmt: skip
    assert code == 0, out
    code, out, _ = cli(capsys, ws, "policy", "show", "--json")
    p = json.loads(out)
    assert (p["mode"], p["blocked_symbols"], p["allowed_symbols"]) == (
        "defensive", ["TSLA"], ["AAPL"])  # fmt: skip
    assert p["modes"]["normal"]["limits"] == {"max_gross": 0.8}
    assert p["modes"]["normal"]["thresholds"]["min_shadow_bars"] == 40
    code, _, err = cli(capsys, ws, "policy", "set-limits", "normal", "--limit", "max_gross",
                       "--reason", "x")  # fmt: skip
    assert code == 2
    assert "is not KEY=VALUE" in err
    code, out, _ = cli(capsys, ws, "policy", "history", "--json")
    changes = json.loads(out)
    assert [c["change"] for c in changes] == ["mode", "block", "allow", "settings"]
    assert changes[0]["actor"] == "ann"
    assert changes[0]["reason"] == "vol spike"
    code, out, _ = cli(capsys, ws, "policy", "history")
    assert "vol spike" in out
    assert "policy history" in out
    code, out, _ = cli(capsys, ws, "audit", "verify")
    assert code == 0
    assert "4 entries" in out


def test_lifecycle_commands_and_their_exit_codes(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    w = Workspace(ws)
    w.data.ensure_bundled()
    spec = quick_spec("Ref($close, 1) / Ref($close, 61) - 1", "sp500-stocks", top_k=4)
    w.strategies.record_strategy(spec)
    w.close()
    h = spec.hash[:10]
    code, out, _ = cli(capsys, ws, "lifecycle", "list")
    assert code == 0
    assert "no strategy has left backtest" in out
    code, _, err = cli(capsys, ws, "lifecycle", "promote", h, "--to", "live")
    assert code == 2
    assert "from backtest to live" in err
    assert "Traceback" not in err
    code, _, err = cli(capsys, ws, "lifecycle", "promote", h, "--to", "shadow")
    assert code == 1
    assert "never validated" in err
    code, out, _ = cli(capsys, ws, "lifecycle", "promote", h, "--to", "shadow", "--json")
    doc = json.loads(out)
    assert code == 1
    assert doc["error"]["type"] == "PromotionRefusedError"
    assert {g["name"]: g["passed"] for g in doc["error"]["gates"]} == {
        "policy": True, "validation": False}  # fmt: skip
    code, out, _ = cli(capsys, ws, "lifecycle", "review", h, "--dry-run")
    assert code == 0
    assert "healthy" in out
    code, out, _ = cli(capsys, ws, "policy", "block", h, "--strategy", "--reason", "crowded")
    assert code == 0
    code, out, _ = cli(capsys, ws, "policy", "show", "--json")
    assert json.loads(out)["blocked_strategies"] == [spec.hash]  # the prefix, resolved
    # a strategy still in backtest has no health to review, blocked or not
    code, out, _ = cli(capsys, ws, "lifecycle", "review", h, "--json")
    assert code == 0
    assert json.loads(out) == {"decision": None, "transition": None}
    code, _, err = cli(capsys, ws, "lifecycle", "retire", h)
    assert code == 2
    assert "reason" in err
    code, out, err = cli(capsys, ws, "lifecycle", "retire", h, "--reason", "superseded",
                         "--actor", "ann")  # fmt: skip
    assert code == 0, err
    assert "backtest -> retired" in out
    assert "by ann" in out
    code, out, _ = cli(capsys, ws, "lifecycle", "list", "--json")
    assert [i["state"] for i in json.loads(out)] == ["retired"]
    code, out, _ = cli(capsys, ws, "lifecycle", "list", "--state", "live")
    assert "no strategy" in out
    code, _, err = cli(capsys, ws, "lifecycle", "demote", h, "--reason", "x")
    assert code == 2
    assert "retirement is final" in err
