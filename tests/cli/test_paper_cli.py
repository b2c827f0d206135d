"""``alphaloop paper``: start (from a file or a strategy id, in the foreground or detached),
status, stop, report, and clear refusals with exit code 2."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.conftest import cli

SPEC = """
name: paper-mom
data: sp500-stocks
signal: {expr: "Ref($close, 1) / Ref($close, 61) - 1"}
portfolio: {method: top_k, k: 3}
rebalance: {frequency: weekly}
fills: next_close
start: "2019-01-01"
end: "2019-12-31"
"""


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert cli(capsys, root, "init")[0] == 0
    return root


def _spec(tmp_path: Path, text: str = SPEC, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_start_status_report_and_stop(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    code, out, err = cli(capsys, ws, "paper", "start", str(spec), "--json")
    assert code == 0, err
    doc = json.loads(out)
    session = doc["session"]
    assert doc["new"] is True
    assert session["status"] == "finished"
    assert session["position"] == session["n_bars"] == doc["bars"]
    sid = session["id"]

    code, out, _ = cli(capsys, ws, "paper", "status")
    assert code == 0
    assert "paper-mom" in out
    assert "finished" in out
    code, out, _ = cli(capsys, ws, "paper", "status", str(sid), "--json")
    status = json.loads(out)
    assert status["n_fills"] > 0
    assert status["positions"]

    page = tmp_path / "paper.html"
    code, out, err = cli(capsys, ws, "paper", "report", str(sid), "--report", str(page), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["agrees"] is True
    assert report["fills_matched"] == report["fills_compared"] == status["n_fills"]
    assert report["daily"][0]["paper_pnl"] == pytest.approx(
        report["daily"][0]["paper_equity"] - 1_000_000
    )
    assert "Paper session" in page.read_text()
    code, out, _ = cli(capsys, ws, "paper", "report", str(sid))
    assert "agrees with the backtest" in out

    code, _, err = cli(capsys, ws, "paper", "stop", str(sid))
    assert code == 2
    assert "already finished" in err


@pytest.mark.slow
def test_a_strategy_id_from_the_database_starts_a_session(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    code, out, err = cli(capsys, ws, "backtest", str(spec), "--json")
    assert code == 0, err
    spec_hash = json.loads(out)["spec_hash"]
    code, out, err = cli(capsys, ws, "paper", "start", spec_hash[:10], "--json")
    assert code == 0, err
    session = json.loads(out)["session"]
    assert session["spec_hash"] == spec_hash
    assert session["status"] == "finished"


def wait_finished(
    capsys: pytest.CaptureFixture[str], ws: Path, sid: int, timeout_s: float = 120
) -> dict:
    """``paper status SID --json`` once the (detached) session has finished."""
    deadline = time.monotonic() + timeout_s
    status: dict = {}
    while time.monotonic() < deadline:
        status = json.loads(cli(capsys, ws, "paper", "status", str(sid), "--json")[1])
        if status["status"] == "finished":
            break
        time.sleep(0.5)
    assert status["status"] == "finished", (ws / "paper" / f"{sid}.log").read_text()
    return status


def test_detached_sessions_run_in_their_own_process(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    code, out, err = cli(capsys, ws, "paper", "start", str(spec), "--detach", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pid"] > 0
    sid = doc["session"]["id"]
    status = wait_finished(capsys, ws, sid)
    assert status["pid"] == doc["pid"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--feed", "alpaca"), "missing credentials: ALPHALOOP_ALPACA_PAPER_KEY_ID"),
        (("--autonomy", "L9"), "--autonomy: unknown autonomy level 'L9'"),
        (("--live",), "--live needs a venue feed"),
        (("--feed", "kafka:x"), "unknown feed"),
        (("--speed", "-1"), "speed"),
        (("--data", "no-such-data"), "no-such-data"),
    ],
)
def test_bad_input_is_refused_with_exit_code_2(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    spec = _spec(tmp_path)
    code, out, err = cli(capsys, ws, "paper", "start", str(spec), *args)
    assert code == 2
    assert says in err
    assert "Traceback" not in err + out


def test_an_l1_session_records_signals_and_shows_its_refusals(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, SPEC.replace('end: "2019-12-31"', 'end: "2019-03-31"'))
    code, out, err = cli(capsys, ws, "paper", "start", str(spec), "--autonomy", "L1", "--json")
    assert code == 0, err
    session = json.loads(out)["session"]
    assert session["autonomy"] == "L1"
    code, out, _ = cli(capsys, ws, "paper", "status", str(session["id"]), "--json")
    status = json.loads(out)
    assert status["n_fills"] == 0
    gate = status["gate"]
    assert gate["sent"] == 0
    assert gate["refused"] == gate["commands"] > 0
    assert gate["refused_by_stage"] == {"autonomy": gate["commands"]}
    code, out, _ = cli(capsys, ws, "paper", "status", str(session["id"]))
    assert f"gate: {gate['commands']} command(s): 0 sent" in out
    assert "autonomy L1: signals only" in out
    code, out, _ = cli(capsys, ws, "audit", "list", "--action", "rebalance.", "--json")
    assert len(json.loads(out)) == gate["commands"]


def test_unknown_sessions_and_missing_specs_are_refused(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, ws, "paper", "status", "99")
    assert code == 2
    assert "no paper session 99" in err
    code, _, err = cli(capsys, ws, "paper", "start", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "does not exist" in err
    code, _, err = cli(capsys, ws, "paper", "start", "abcdef123456")
    assert code == 2
    code, _, err = cli(capsys, ws, "paper", "report", "5")
    assert code == 2
    assert "no paper session 5" in err


def test_resume_carries_on_a_session_and_says_what_reconciliation_found(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphaloop.app import Workspace, open_paper, paper_store
    from alphaloop.app.paper import build_paper_session
    from alphaloop.backtest import load_spec

    spec = load_spec(_spec(tmp_path))
    w = Workspace(ws)
    info, _ = open_paper(w, spec)
    store = paper_store(w)
    session = build_paper_session(w, store.claim(info.id))
    session.run(stop=lambda: session.position >= 60)  # then the process "dies"
    w.close()
    code, out, err = cli(capsys, ws, "paper", "resume", str(info.id))
    assert code == 0, err
    assert "resumed at bar 60 (restart 1)" in out
    assert "reconciled with the broker: nothing to repair" in out
    assert "finished" in out
