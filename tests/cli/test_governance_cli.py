"""``alphaloop audit``, ``kill`` and ``approvals`` end to end (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from alphaloop.app import Workspace
from alphaloop.execution import Governance, Order, OrderSide, order_fields

from .conftest import cli, cli_on_read_only


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines are matched whole: a console as wide as any line (whatever COLUMNS was)."""
    monkeypatch.setenv("COLUMNS", "240")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return tmp_path / "ws"


def test_kill_set_status_clear(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, err = cli(capsys, ws, "kill", "--reason", "flash crash", "--actor", "ops")
    assert code == 0, err
    assert "kill switch SET for all" in out
    assert "active: all: flash crash (by ops" in out
    code, out, _ = cli(capsys, ws, "kill", "--scope", "session", "paper-1", "--reason", "x",
                       "--json")  # fmt: skip
    assert code == 0
    assert {(k["scope"], k["target"]) for k in json.loads(out)["active"]} == {
        ("all", ""),
        ("session", "paper-1"),
    }
    code, out, err = cli(capsys, ws, "kill", "--clear")
    assert code == 2
    assert "needs --reason" in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, ws, "kill", "--clear", "--reason", "calm", "--actor", "ops")
    assert code == 0
    assert "kill switch cleared for all" in out
    code, out, _ = cli(capsys, ws, "kill", "--status", "--json")
    assert [k["scope"] for k in json.loads(out)["active"]] == ["session"]


def test_kill_bad_scope_exits_2(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, _, err = cli(capsys, ws, "kill", "--scope", "desk", "--reason", "x")
    assert code == 2
    assert "unknown scope 'desk'" in err
    code, _, err = cli(capsys, ws, "kill", "--scope", "strategy", "--reason", "x")
    assert code == 2
    assert "needs an id" in err
    code, _, err = cli(capsys, ws, "kill", "--clear", "--reason", "x")
    assert code == 2
    assert "nothing to clear" in err


def test_audit_list_and_verify(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    cli(capsys, ws, "kill", "--reason", "one", "--actor", "ops")
    cli(capsys, ws, "kill", "--clear", "--reason", "two", "--actor", "ops")
    code, out, _ = cli(capsys, ws, "audit", "list", "--json")
    assert code == 0
    entries = json.loads(out)
    assert [e["action"] for e in entries] == ["kill.set", "kill.cleared"]
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    code, out, _ = cli(capsys, ws, "audit", "list", "--action", "kill.cleared")
    assert code == 0
    assert "kill.cleared" in out
    assert "kill.set" not in out
    code, out, _ = cli(capsys, ws, "audit", "list", "--since", "2999-01-01", "--json")
    assert json.loads(out) == []
    code, _, err = cli(capsys, ws, "audit", "list", "--since", "yesterday")
    assert code == 2
    assert "--since" in err
    code, out, _ = cli(capsys, ws, "audit", "verify")
    assert code == 0
    assert f"audit chain intact: 2 entries; head 2:{entries[1]['hash']}" in out
    code, out, _ = cli(capsys, ws, "audit", "verify", "--anchor", f"1:{entries[0]['hash']}")
    assert code == 0


def test_audit_verify_exits_1_and_says_where(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    for k in range(3):
        cli(capsys, ws, "kill", "--reason", f"r{k}", "--scope", "session", f"s{k}")
    w = Workspace(ws)
    with w.db.session() as s:
        s.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2"))
    w.close()
    code, out, _ = cli(capsys, ws, "audit", "verify")
    assert code == 1
    assert "audit chain BROKEN at entry 2" in out
    assert "edited" in out
    code, out, _ = cli(capsys, ws, "audit", "verify", "--json")
    assert code == 1
    problem = json.loads(out)["problem"]
    assert (problem["seq"], problem["kind"]) == (2, "edited")
    code, _, err = cli(capsys, ws, "audit", "verify", "--anchor", "2:abc")
    assert code == 2
    assert "SEQ:HASH" in err


def test_approvals_list_approve_reject(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    w = Workspace(ws, create=True)
    gov = Governance.open(w.db)
    a = gov.approvals.request(order_fields(Order(1, "AAPL", OrderSide.BUY, 5.0), "s1"),
                              actor="system")  # fmt: skip
    b = gov.approvals.request(order_fields(Order(2, "MSFT", OrderSide.SELL, 3.0), "s1"),
                              actor="system")  # fmt: skip
    w.close()
    code, out, err = cli(capsys, ws, "approvals", "list")
    assert code == 0, err
    assert "buy 5 AAPL" in out
    assert "sell 3 MSFT" in out
    code, out, _ = cli(capsys, ws, "approvals", "approve", str(a.id), "--actor", "ann")
    assert code == 0
    assert f"approved request {a.id}" in out
    code, _, err = cli(capsys, ws, "approvals", "reject", str(b.id))
    assert code == 2
    assert "needs a reason" in err
    code, out, _ = cli(capsys, ws, "approvals", "reject", str(b.id), "--reason", "too big",
                       "--actor", "ann", "--json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["status"] == "rejected"
    code, _, err = cli(capsys, ws, "approvals", "approve", str(b.id))
    assert code == 2
    assert "is rejected, not pending" in err
    code, out, _ = cli(capsys, ws, "approvals", "list", "--status", "approved", "--json")
    assert [x["id"] for x in json.loads(out)] == [a.id]
    code, out, _ = cli(capsys, ws, "audit", "list", "--action", "approval.", "--json")
    assert [e["actor"] for e in json.loads(out)] == ["system", "system", "ann", "ann"]


def test_approvals_list_reads_a_read_only_workspace(ws: Path) -> None:
    w = Workspace(ws, create=True)
    gov = Governance.open(w.db)
    gov.approvals.request(order_fields(Order(1, "AAPL", OrderSide.BUY, 5.0), "s1"), actor="system")
    w.close()
    listed = cli_on_read_only(ws, "approvals", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [a["status"] for a in json.loads(listed.stdout)] == ["pending"]
