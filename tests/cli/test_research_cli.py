"""``alphaloop research`` and ``alphaloop strategies`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace

from .conftest import cli

ARGS = ("--goal", "technical only, long-only, monthly", "--data", "sp500-stocks")


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    with Workspace(tmp_path / "ws", holdout_fraction=0.2) as ws:
        ws.data.ensure_bundled()
    return tmp_path / "ws"


def test_a_session_finds_stores_and_reports(
    ws_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "session.html"
    code, out, _ = cli(
        capsys, ws_path, "research", *ARGS, "--budget", "16", "--batch-size", "8",
        "--workers", "1", "--report", str(report), "--json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == (0 if doc["n_survivors"] else 1)
    assert doc["counts"]["evaluated"] == 16
    assert doc["session"]["status"] == "finished"
    assert report.exists()
    code, out, _ = cli(capsys, ws_path, "strategies", "sessions", "--json")
    assert code == 0
    assert [s["id"] for s in json.loads(out)] == [doc["session_id"]]
    code, out, _ = cli(capsys, ws_path, "strategies", "top", "--limit", "3", "--json")
    assert code == 0
    top = json.loads(out)
    assert 1 <= len(top) <= 3
    code, out, _ = cli(capsys, ws_path, "strategies", "show", top[0]["hash"][:10])
    assert code == 0
    assert top[0]["hash"][:12] in out
    code, _, err = cli(capsys, ws_path, "research", "resume", str(doc["session_id"]))
    assert code == 2
    assert "finished already" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("research", "--data", "sp500-stocks"), "--goal and --data"),
        (("research", *ARGS, "--budget", "0"), "budget"),
        (("research", *ARGS, "--time-limit", "soon"), "time-limit"),
        (("research", *ARGS, "--executor", "cluster"), "executor"),
        (("research", "--goal", "long-short on AAPL and ZZZZ", "--data", "sp500-stocks"), "ZZZZ"),
        (("research", "--goal", "momentum", "--data", "no-such-data"), "no-such-data"),
        (("research", "resume", "42"), "42"),
    ],
)
def test_bad_input_is_refused_before_any_work(
    ws_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    code, _, err = cli(capsys, ws_path, *args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    with Workspace(ws_path, create=False) as ws:
        assert ws.strategies.sessions() == []
        assert ws.strategies.n_trials("sp500-stocks") == 0


def test_strategies_by_model_lists_the_users_of_a_model_version(
    ws_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, ws_path, "research", "--goal", "long-only, monthly rebalancing", "--data",
        "sp500-stocks", "--budget", "24", "--batch-size", "12", "--workers", "1", "--json",
    )  # fmt: skip
    doc = json.loads(out)
    (model,) = doc["models_start"]
    code, out, _ = cli(capsys, ws_path, "strategies", "by-model", model, "--json")
    assert code == 0
    rows = json.loads(out)
    hybrid = sum(r["n"] for r in doc["by_kind"] if r["kind"] != "pure_technical")
    assert len(rows) == hybrid > 0
    assert all(model in r["models"] for r in rows)
    code, out, _ = cli(capsys, ws_path, "strategies", "by-model", "nobody/v9")
    assert code == 0
    assert "no strategy uses nobody/v9" in out
    # the model improver on that version, from the command line
    code, out, _ = cli(
        capsys, ws_path, "research", "improve", "--data", "sp500-stocks", "--ref", model, "--json"
    )
    results = json.loads(out)
    assert [r["ref"] for r in results] == [model]
    assert results[0]["decision"] in ("registered", "kept", "no proposals")
    assert code == (0 if results[0]["new_ref"] else 1)
