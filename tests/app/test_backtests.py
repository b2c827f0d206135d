"""Running specs end to end on bundled real data, through the API and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest, scan_spec
from alphaloop.backtest import runner
from alphaloop.backtest.portfolio import rebalance_rows
from alphaloop.backtest.spec import StrategySpec, quick_spec
from alphaloop.cli import main
from alphaloop.errors import BacktestError

MOMENTUM = "$close / Ref($close, 60) - 1"


def spec(**over: object) -> StrategySpec:
    # sp500-ohlcv holds one asset: k above 1 is refused
    base = {
        "name": "mom",
        "data": "sp500-ohlcv",
        "signal": {"expr": MOMENTUM},
        "portfolio": {"k": 1},
    }
    return StrategySpec.from_dict({**base, **over})


@pytest.fixture(scope="module")
def result(shared_workspace: Workspace) -> runner.BacktestResult:
    return run_backtest(shared_workspace, spec(portfolio={"k": 1}))


def test_accounting_identity(result: runner.BacktestResult) -> None:
    sim = result.simulation
    # every currency unit gained or lost, costs included, is in some round trip
    pnl = sim.round_trips["pnl"].sum()
    assert sim.final_value - result.spec.capital == pytest.approx(pnl, rel=1e-9)
    assert sum(sim.costs.values()) == pytest.approx(sim.bar_costs.sum(), rel=1e-9)
    assert result.metrics["total_costs"] == pytest.approx(sum(sim.costs.values()))
    assert sim.costs["commission"] > 0
    assert sim.costs["spread"] > 0
    assert sim.costs["impact"] > 0
    # long-only, no leverage: cash never negative means gross exposure <= 1 (+ rounding)
    assert sim.gross_exposure.max() <= 1 + 1e-9


def test_orders_fill_the_bar_after_each_rebalance(result: runner.BacktestResult) -> None:
    sim = result.simulation
    idx = sim.equity.index
    decided = np.flatnonzero(rebalance_rows(idx, result.spec.rebalance))
    fill_days = set(idx[decided[decided + 1 < len(idx)] + 1])
    assert set(sim.trades["time"]) <= fill_days
    # fills happen at the open of that bar
    panel = pd.DataFrame(result.simulation.trades)
    assert (panel["reason"] == "order").all()
    assert result.assumptions["fills"]["timing"] == "next_open"


def test_fill_prices_are_next_open(shared_workspace: Workspace, result) -> None:
    data = shared_workspace.data.load("sp500-ohlcv")
    opens = data.frame("open")
    t = result.simulation.trades.iloc[:20]
    expected = [opens.at[row.time, row.asset] for row in t.itertuples()]
    np.testing.assert_array_equal(t["price"].to_numpy(), expected)


def test_result_json_and_run_log(shared_workspace: Workspace, result) -> None:
    doc = result.to_dict()
    text = json.dumps(doc, allow_nan=False)
    assert {"metrics", "trades", "assumptions", "round_trips", "spec_hash"} <= set(doc)
    for key in ("sharpe_ratio", "sortino_ratio", "max_drawdown", "alpha", "beta", "var_95"):
        assert key in doc["metrics"]
    assert doc["assumptions"]["costs"]["half_spread_bps"] == 2.0
    assert doc["n_trades"] == len(doc["trades"]) > 0
    assert "survivorship" not in text or doc["assumptions"]["data"]["caveats"]
    runs = shared_workspace.runs.list(kind="backtest")
    mine = [r for r in runs if r["id"] == result.run_id]
    assert mine
    assert mine[0]["status"] == "succeeded"
    assert mine[0]["params"]["spec_hash"] == result.spec_hash


def test_same_close_is_labelled_optimistic(shared_workspace: Workspace) -> None:
    r = run_backtest(shared_workspace, spec(fills="same_close"), record=False)
    assert r.assumptions["fills"]["optimistic"]
    assert any("OPTIMISTIC" in n for n in r.assumptions["notes"])
    honest = run_backtest(shared_workspace, spec(fills="next_close"), record=False)
    assert not honest.assumptions["fills"]["optimistic"]


def test_benchmark_and_universe(shared_workspace: Workspace) -> None:
    data = shared_workspace.data.load("sp500-ohlcv")
    few = list(data.assets[:4])
    r = run_backtest(
        shared_workspace,
        spec(universe=few, benchmark="sp500-index", portfolio={"k": 1}),
        record=False,
    )
    assert set(r.simulation.trades["asset"].astype(str)) <= set(few)
    assert r.benchmark_label.startswith("sp500-index")
    assert np.isfinite(r.metrics["beta"])


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"universe": ["NOPE"]}, "universe names assets not in"),
        ({"benchmark": "nope"}, "benchmark dataset 'nope' not found"),
        ({"start": "2030-01-01"}, "empty"),
        ({"signal": {"expr": "Ref($close, 100000)"}}, "no value on any bar"),
    ],
)
def test_bad_specs_fail_clearly(shared_workspace: Workspace, over, match) -> None:
    with pytest.raises(BacktestError, match=match):
        run_backtest(shared_workspace, spec(**over), record=False)


def test_close_only_data_needs_close_fills(shared_workspace: Workspace) -> None:
    with pytest.raises(BacktestError, match="next open need an 'open' field"):
        run_backtest(shared_workspace, quick_spec(MOMENTUM, "sp500-stocks"), record=False)


def test_scan_spec_clean(shared_workspace: Workspace) -> None:
    report = scan_spec(shared_workspace, spec(), n_points=6)
    assert report.clean, report.summary()
    assert set(report.outputs) == {"signal", "target_weights"}


# --------------------------------------------------------------------- CLI
def cli(capsys, ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_backtest_quick_form(capsys, shared_workspace: Workspace, tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    code, out, err = cli(
        capsys, shared_workspace, "backtest", "--expr", MOMENTUM, "--data", "sp500-ohlcv",
        "--top-k", "1", "--json", "--report", str(report),
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert {"metrics", "trades", "assumptions"} <= set(doc)
    assert report.exists()
    assert report.stat().st_size > 10_000
    code, out, _ = cli(
        capsys, shared_workspace, "backtest", "--expr", MOMENTUM, "--data", "sp500-ohlcv",
        "--top-k", "1",
    )  # fmt: skip
    assert code == 0
    assert "Sharpe" in out
    assert "next bar's open" in out
    assert "strategies tried on this dataset:" in out


def test_cli_backtest_spec_file(capsys, shared_workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(spec(portfolio={"k": 1}).to_yaml())
    code, out, err = cli(capsys, shared_workspace, "backtest", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["spec_hash"] == spec(portfolio={"k": 1}).hash


def test_cli_errors_without_traceback(capsys, shared_workspace: Workspace, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: sp500-ohlcv\nsignal: {expr: $close}\nportfolio: {method: best}\n")
    code, _, err = cli(capsys, shared_workspace, "backtest", str(bad))
    assert code == 2
    assert "portfolio.method: 'best' is not allowed" in err
    assert "Traceback" not in err
    code, _, err = cli(capsys, shared_workspace, "backtest")
    assert code == 2
    assert "nothing to run" in err
    code, _, err = cli(
        capsys, shared_workspace, "backtest", str(bad), "--expr", "$close", "--data", "x"
    )
    assert code == 2
    assert "not both" in err
    code, _, err = cli(capsys, shared_workspace, "backtest", "--expr", "$close", "--data", "nope")
    assert code == 2
    assert "nope" in err


def test_cli_lookahead_exit_codes(capsys, shared_workspace: Workspace, monkeypatch) -> None:
    args = ("lookahead", "--expr", MOMENTUM, "--data", "sp500-ohlcv", "--top-k", "1",
            "--points", "4")  # fmt: skip
    code, out, _ = cli(capsys, shared_workspace, *args)
    assert code == 0
    assert "clean" in out

    def leaky(s: StrategySpec, ws: Workspace | None = None):
        def fn(panel):
            close = pd.DataFrame(np.asarray(panel["close"]))
            return {"centered": close.rolling(5, center=True).mean().to_numpy()}

        return fn

    from alphaloop.app import backtests

    monkeypatch.setattr(backtests, "strategy_signal_fn", leaky)
    code, out, _ = cli(capsys, shared_workspace, *args, "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["clean"] is False
    assert doc["findings"][0]["output"] == "centered"


def test_cli_subprocess(shared_workspace: Workspace) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "alphaloop.cli", "--workspace", str(shared_workspace.root),
         "backtest", "--expr", MOMENTUM, "--data", "sp500-ohlcv", "--top-k", "1", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["metrics"]["n_periods"] > 1000


@pytest.mark.parametrize(
    "over",
    [
        {"portfolio": {"k": 1}, "rebalance": {"frequency": "weekly"},
         "stops": {"stop_loss": 0.05, "trailing_stop": 0.1}},
        {"data": "sp500-stocks", "fills": "next_close", "portfolio": {"k": 5,
         "weighting": "inverse_volatility"}},
        {"data": "sp500-stocks", "fills": "next_close", "portfolio": {
            "method": "quantile_long_short", "quantile": 0.25, "gross": 2.0},
         "limits": {"max_leverage": 2.0, "allow_short": True}},
    ],
)  # fmt: skip
def test_both_engines_agree_through_the_runner(shared_workspace: Workspace, over) -> None:
    s = spec(**over)
    a = run_backtest(shared_workspace, s, record=False)
    b = run_backtest(shared_workspace, s, engine="event", record=False)
    np.testing.assert_allclose(
        b.simulation.equity.to_numpy(), a.simulation.equity.to_numpy(), rtol=1e-9, atol=0
    )
    assert len(a.simulation.trades) == len(b.simulation.trades) > 0
    assert a.metrics["total_costs"] == pytest.approx(b.metrics["total_costs"], rel=1e-9)
    assert b.engine == "event"


def test_a_spec_maker_fee_reaches_both_engines_and_the_record(shared_workspace: Workspace) -> None:
    costs = {"preset": "crypto", "maker_commission_bps": 2.0}
    over = {"costs": costs, "stops": {"take_profit": 0.04}, "rebalance": {"frequency": "weekly"}}
    vec = run_backtest(shared_workspace, spec(**over), record=False)
    evt = run_backtest(shared_workspace, spec(**over), engine="event", record=False)
    a, b = vec.simulation.trades, evt.simulation.trades
    np.testing.assert_array_equal(a["liquidity"], b["liquidity"])
    np.testing.assert_allclose(a["commission"], b["commission"], rtol=1e-9)
    np.testing.assert_allclose(vec.simulation.equity, evt.simulation.equity, rtol=1e-9)
    maker = a["liquidity"] == "maker"
    assert maker.sum() > 3
    assert (maker == (a["reason"] == "take_profit")).all()
    np.testing.assert_allclose(a.loc[maker, "commission"], 2e-4 * a.loc[maker, "notional"])
    np.testing.assert_allclose(a.loc[~maker, "commission"], 10e-4 * a.loc[~maker, "notional"])
    record = vec.assumptions["costs"]
    assert record["maker_commission_bps"] == 2.0
    assert record["source"] == "spec"
    assert any("maker fills" in line for line in record["description"])
    note = f"maker commission 2 bps on {int(maker.sum()):,} of {len(a):,} fills"
    assert any(n.startswith(note) for n in vec.assumptions["notes"])
    assert any(n.startswith(note) for n in evt.assumptions["notes"])
    plain = run_backtest(shared_workspace, spec(stops={"take_profit": 0.04}), record=False)
    assert "maker_commission_bps" not in plain.assumptions["costs"]
    assert not any("maker" in n for n in plain.assumptions["notes"])
