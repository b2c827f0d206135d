"""Results too good to be true are flagged: in the result, its JSON, the CLI and the tearsheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.backtest.plausibility import (
    HIT_RATE_LIMIT,
    MIN_ROUND_TRIPS,
    SHARPE_LIMITS,
    bar_class,
    check_plausibility,
)
from alphaloop.backtest.spec import StrategySpec, load_spec
from alphaloop.backtest.tearsheet import render_backtest_report
from alphaloop.cli import main


def _checks(metrics: dict, returns: np.ndarray, frequency: str) -> list[str]:
    return [f.check for f in check_plausibility(metrics, returns, frequency)]


FLAT = np.zeros(300)


@pytest.mark.parametrize(
    ("sharpe", "frequency", "flagged"),
    [
        (3.5, "daily", True),
        (2.9, "daily", False),
        (3.5, "1h", False),
        (5.5, "5min", True),
        (2.5, "monthly", True),
        (1.9, "weekly", False),
    ],
)
def test_sharpe_limits_depend_on_the_bar_frequency(
    sharpe: float, frequency: str, flagged: bool
) -> None:
    assert ("sharpe" in _checks({"sharpe_ratio": sharpe}, FLAT, frequency)) is flagged


def test_sharpe_is_not_judged_on_a_handful_of_bars() -> None:
    assert _checks({"sharpe_ratio": 9.0}, np.zeros(19), "daily") == []
    assert _checks({"sharpe_ratio": float("nan")}, FLAT, "daily") == []


def test_win_rate_needs_more_than_thirty_round_trips() -> None:
    many = {"win_rate": 0.8, "n_round_trips": MIN_ROUND_TRIPS + 1}
    assert _checks(many, FLAT, "daily") == ["win_rate"]
    assert _checks({"win_rate": 0.8, "n_round_trips": MIN_ROUND_TRIPS}, FLAT, "daily") == []
    assert _checks({"win_rate": 0.7, "n_round_trips": 500}, FLAT, "daily") == []


def test_hit_rate_of_bars() -> None:
    wins = np.r_[np.full(80, 0.01), np.full(20, -0.01), np.zeros(50)]
    assert _checks({}, wins, "daily") == ["hit_rate"]  # 80% of the 100 non-zero bars
    even = np.r_[np.full(60, 0.01), np.full(40, -0.01)]
    assert _checks({}, even, "daily") == []
    assert _checks({}, wins[:90], "daily") == []  # fewer than 100 non-zero bars
    flag = check_plausibility({}, wins, "daily")[0]
    assert flag.value == pytest.approx(0.8)
    assert flag.limit == HIT_RATE_LIMIT
    assert flag.to_dict()["sample"] == 100


def test_bar_classes() -> None:
    assert bar_class("daily") == "daily"
    assert bar_class("1h") == "intraday"
    assert bar_class("30s") == "intraday"
    assert bar_class("monthly") == "weekly or coarser"
    assert set(SHARPE_LIMITS) == {"intraday", "daily", "weekly or coarser"}


# -- a dataset column holding a forward return --------------------------------------------


@pytest.fixture(scope="module")
def leak(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    root = tmp_path_factory.mktemp("leak")
    rng = np.random.default_rng(11)
    days = pd.bdate_range("2018-01-01", periods=700, tz="UTC")
    frames = []
    for asset in ("A", "B", "C", "D", "E"):
        close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, len(days))))
        # what a position decided at t's close and filled at t+1's close earns
        forward = np.r_[close[2:] / close[1:-1] - 1.0, np.nan, np.nan]
        frames.append(
            pd.DataFrame(
                {"timestamp": days.strftime("%Y-%m-%d"), "asset": asset, "close": close,
                 "fwd": forward}
            )
        )  # fmt: skip
    pd.concat(frames).to_csv(root / "leak.csv", index=False)
    ws = Workspace(root / "ws")
    ws.data.import_file(root / "leak.csv", "leaky")
    spec = root / "leak.yaml"
    spec.write_text(
        "data: leaky\nsignal: {expr: $fwd}\nportfolio: {k: 1}\n"
        "rebalance: {frequency: daily}\nfills: next_close\n"
    )
    return ws, spec


def test_a_forward_return_column_is_flagged(leak: tuple[Workspace, Path]) -> None:
    ws, spec_path = leak
    result = run_backtest(ws, load_spec(spec_path), record=False)
    assert result.metrics["sharpe_ratio"] > 3.0
    checks = {f["check"] for f in result.implausible}
    assert "sharpe" in checks
    assert result.to_dict()["implausible"] == result.implausible
    assert any(
        n.startswith("IMPLAUSIBLE: annual Sharpe ratio") for n in result.assumptions["notes"]
    )
    html = render_backtest_report(result)
    assert 'id="implausible-banner"' in html
    assert "implausible for daily bars" in html


def test_the_cli_prints_and_returns_the_flags(
    leak: tuple[Workspace, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, spec_path = leak
    args = ["--workspace", str(ws.root), "backtest", str(spec_path)]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "sharpe" in {f["check"] for f in doc["implausible"]}
    # the run log keeps the flags with the run
    assert "sharpe" in ws.runs.get(doc["run_id"])["result"]["implausible"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "IMPLAUSIBLE: annual Sharpe ratio" in text
    assert "lookahead" in text


def test_an_ordinary_strategy_is_not_flagged(shared_workspace: Workspace) -> None:
    spec = StrategySpec.from_dict(
        {
            "data": "sp500-stocks",
            "signal": {"expr": "$close/Ref($close,120)-1"},
            "portfolio": {"k": 5},
            "fills": "next_close",
        }
    )
    result = run_backtest(shared_workspace, spec, record=False)
    assert result.implausible == []
    assert not any(n.startswith("IMPLAUSIBLE") for n in result.assumptions["notes"])
    assert 'id="implausible-banner"' not in render_backtest_report(result)
