"""What counts as a trial: specs refused by the configuration check never ran and do not
count; specs that started and then failed or crashed do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app import backtests as use_case
from alphaloop.app.backtests import run_backtest
from alphaloop.backtest.spec import StrategySpec
from alphaloop.errors import AlphaloopError
from alphaloop.models.registry import ModelNotFoundError

DATA = "sp500-stocks"
GOOD = {
    "data": DATA,
    "start": "2014-01-01",
    "end": "2015-12-31",
    "signal": {"expr": "$close / Ref($close, 20) - 1"},
    "fills": "next_close",
}


def spec(**over: object) -> StrategySpec:
    return StrategySpec.from_dict({**GOOD, **over})


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace(tmp_path / "ws") as workspace:
        yield workspace


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"universe": ["AAPL", "NOPE"]}, "universe names assets not in"),
        ({"portfolio": {"k": 25}}, "portfolio.k is 25"),
        ({"start": "2030-01-01", "end": None}, "empty or one bar long"),
        ({"fills": "next_open"}, "need an 'open' field"),
        ({"stops": {"stop_loss": 0.1}}, "high and low"),
        ({"signal": {"expr": "Ref($close, 100000)"}}, "no value on any bar"),
        ({"signal": {"expr": "$volume"}}, "volume"),
        ({"benchmark": "nope"}, "benchmark dataset 'nope' not found"),
        ({"data": "nope"}, "nope"),
    ],
)
def test_a_refused_configuration_is_not_a_trial(ws: Workspace, over, match) -> None:
    run_backtest(ws, spec())
    assert ws.strategies.n_trials(DATA) == 1
    with pytest.raises(AlphaloopError, match=match):
        run_backtest(ws, spec(**over))
    assert ws.strategies.n_trials(DATA) == 1
    assert ws.strategies.n_trials("nope") == 0
    assert [r["status"] for r in ws.runs.list(kind="backtest")] == ["succeeded"]


def test_a_missing_signal_model_fails_before_any_data_is_read(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("data was read before the model was checked")

    monkeypatch.setattr(ws.data, "load", no_reads)
    monkeypatch.setattr(ws.data, "info", no_reads)
    with pytest.raises(ModelNotFoundError, match="ghost"):
        run_backtest(ws, spec(signal={"model": "ghost/v1"}))
    assert ws.runs.list() == []


def test_a_crash_after_the_start_is_a_trial(ws: Workspace, monkeypatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulator crashed")

    monkeypatch.setattr(use_case, "run_prepared", crash)
    with pytest.raises(RuntimeError, match="simulator crashed"):
        run_backtest(ws, spec())
    assert ws.strategies.n_trials(DATA) == 1
    (run,) = ws.runs.list(kind="backtest")
    assert run["status"] == "failed"
    assert "simulator crashed" in run["error"]
    assert run["params"]["spec_hash"] == spec().hash


def test_a_crash_while_computing_the_signal_is_a_trial(ws: Workspace, monkeypatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise MemoryError("out of memory")

    monkeypatch.setattr(use_case, "strategy_signal", crash)
    with pytest.raises(MemoryError):
        run_backtest(ws, spec())
    assert ws.strategies.n_trials(DATA) == 1
    assert [r["status"] for r in ws.runs.list(kind="backtest")] == ["failed"]


def test_k_equal_to_the_universe_runs_with_a_note(ws: Workspace) -> None:
    result = run_backtest(ws, spec(universe=["AAPL", "MSFT"], portfolio={"k": 2}))
    notes = result.assumptions["notes"]
    assert any("whole universe (2 assets)" in n for n in notes)
    assert result.to_dict()["assumptions"]["notes"] == notes
