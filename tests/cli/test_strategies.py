"""``alphaloop strategies``: leaders, recent work, one strategy in full, its genealogy,
sessions and coverage, read from the strategy database that backtests fill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.backtest import quick_spec
from alphaloop.cli import main
from alphaloop.research import EvaluationRecord, Parentage
from tests.cli.conftest import cli, cli_on_read_only

DATA = "sp500-stocks"
EXPRS = ("Ref($close,21)/Ref($close,126)-1", "$close/Ref($close,63)-1")


@pytest.fixture(scope="module")
def strat_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two backtests through the CLI, then a child and a grandchild made by a session."""
    root = tmp_path_factory.mktemp("strategies") / "ws"
    for expr in EXPRS:
        args = ["backtest", "--expr", expr, "--data", DATA, "--fills", "next_close"]
        assert main(["--workspace", str(root), *args, "--end", "2005-12-31", "--json"]) == 0
    with Workspace(root) as ws:
        db = ws.strategies
        parent_hash = db.recent(1)[0]["hash"]
        other_hash = db.recent(2)[1]["hash"]
        sid = db.create_session(DATA, "momentum that survives costs", {}, {"budget": 2}, [])
        child = quick_spec("$close/Ref($close,42)-1", DATA, fills="next_close")
        grandchild = quick_spec("$close/Ref($close,84)-1", DATA, fills="next_close")
        db.record_strategy(
            child,
            family="momentum",
            origin="research",
            session_id=sid,
            parentage=Parentage(parent_hash, other_hash, "crossover", {"crossover": True}),
        )
        db.record_strategy(
            grandchild,
            family="momentum",
            origin="research",
            session_id=sid,
            parentage=Parentage(child.hash, None, "param", {"new_parameter": True}),
        )
        for spec, sharpe in ((child, 2.5), (grandchild, None)):
            status = "ok" if sharpe is not None else "failed"
            db.record_evaluation(
                EvaluationRecord(
                    spec.hash, "0123456789abcdef", status,
                    None if sharpe else "RuntimeError: boom", sharpe, {"turnover": 3.0}, [], {},
                    {"reasons": ["deflated Sharpe ratio 0.99 is above 0.95"]}, bool(sharpe),
                    None, {}, sid,
                )
            )  # fmt: skip
    return root


def test_backtests_fill_the_database_and_top_ranks_them(
    strat_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, strat_ws, "strategies", "top", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 3  # two backtests and the session's ok evaluation
    assert rows[0]["sharpe"] == 2.5
    sharpes = [r["sharpe"] for r in rows]
    assert sharpes == sorted(sharpes, reverse=True)
    backtests = [r for r in rows if r["protocol"] == "backtest"]
    assert {r["name"] for r in backtests} == {f"top5 {e}" for e in EXPRS}
    assert all(r["origin"] == "manual" and r["kind"] == "pure_technical" for r in backtests)
    code, out, _ = cli(capsys, strat_ws, "strategies", "top", "--passed", "--json")
    assert [r["sharpe"] for r in json.loads(out)] == [2.5]
    code, out, _ = cli(capsys, strat_ws, "strategies", "top", "--session", "1", "--json")
    assert len(json.loads(out)) == 1
    code, out, _ = cli(capsys, strat_ws, "strategies", "top", "--data", "vix", "--json")
    assert json.loads(out) == []
    code, out, _ = cli(capsys, strat_ws, "strategies", "top", "--data", DATA, "--limit", "2")
    assert code == 0
    assert "best by sharpe" in out
    assert "strategies tried on sp500-stocks: 4" in out


def test_show_has_spec_parents_and_every_evaluation(
    strat_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = cli(capsys, strat_ws, "strategies", "recent", "--json")
    recent = json.loads(out)
    grandchild = next(r for r in recent if r["status"] == "failed")
    code, out, _ = cli(capsys, strat_ws, "strategies", "show", grandchild["hash"][:8], "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["hash"] == grandchild["hash"]
    assert doc["parents"]["operator"] == "param"
    (evaluation,) = doc["evaluations"]
    assert evaluation["status"] == "failed"
    assert evaluation["reason"] == "RuntimeError: boom"
    assert doc["spec"]["signal"]["expr"] == "$close/Ref($close,84)-1"
    code, out, _ = cli(capsys, strat_ws, "strategies", "show", grandchild["hash"][:10])
    assert code == 0
    assert "reason: RuntimeError: boom" in out
    assert "made by param from" in out
    manual = next(r for r in recent if r["protocol"] == "backtest")
    code, out, _ = cli(capsys, strat_ws, "strategies", "show", manual["hash"])
    assert "evaluation backtest: ok" in out
    assert "sharpe_ratio" in out


def test_genealogy_tree_and_depth(strat_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, strat_ws, "strategies", "recent", "--json")
    grandchild = next(r for r in json.loads(out) if r["status"] == "failed")["hash"]
    code, out, _ = cli(capsys, strat_ws, "strategies", "genealogy", grandchild, "--json")
    assert code == 0
    tree = json.loads(out)
    (child,) = tree["parents"]
    assert child["operator"] == "crossover"
    assert len(child["parents"]) == 2
    code, out, _ = cli(capsys, strat_ws, "strategies", "genealogy", grandchild, "--depth", "1")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2  # the strategy and its parent, whose parents are beyond the depth
    assert grandchild[:12] in lines[0]
    assert "crossover" in lines[1]
    assert "..." in lines[1]


def test_sessions_recent_and_underexplored(
    strat_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, strat_ws, "strategies", "sessions", "--json")
    (session,) = json.loads(out)
    assert (session["id"], session["status"], session["n_evaluations"]) == (1, "running", 2)
    code, out, _ = cli(capsys, strat_ws, "strategies", "sessions")
    assert "momentum that survives costs" in out
    code, out, _ = cli(capsys, strat_ws, "strategies", "underexplored", "--json")
    rows = json.loads(out)
    assert [(r["family"], r["n"]) for r in rows] == [("custom", 2), ("momentum", 2)]
    assert rows[1]["n_passed"] == 1
    code, out, _ = cli(capsys, strat_ws, "strategies", "underexplored", "--data", DATA)
    assert code == 0
    assert "momentum" in out
    code, out, _ = cli(capsys, strat_ws, "strategies", "recent", "--limit", "1")
    assert code == 0
    assert "recent evaluations" in out


def test_unknown_or_ambiguous_references_are_bad_input(
    strat_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, strat_ws, "strategies", "show", "abcdef0123", "--json")
    assert code == 2
    assert json.loads(out)["error"]["type"] == "StrategyNotFoundError"
    code, _, err = cli(capsys, strat_ws, "strategies", "genealogy", "abc")
    assert code == 2
    assert "at least 6 hex digits" in err


def test_an_empty_workspace_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "empty"
    assert main(["--workspace", str(ws), "init"]) == 0
    capsys.readouterr()
    for command, expected in (
        ("top", "no evaluated strategy"),
        ("recent", "no strategy evaluated"),
        ("sessions", "no research session"),
        ("underexplored", "no strategy evaluated"),
    ):
        code, out, _ = cli(capsys, ws, "strategies", command)
        assert code == 0
        assert expected in out


def test_reads_a_read_only_workspace(strat_ws: Path) -> None:
    proc = cli_on_read_only(strat_ws, "strategies", "top", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 3
