"""Training through the workspace: seeds, benchmarks, the registry, a policy as a signal,
the report, and tuning that never reads the test span."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.rl.spec import RLSpec

STRATEGY = {
    "name": "rl-xom",
    "data": "sp500-stocks",
    "universe": ["XOM"],
    "portfolio": {"method": "threshold", "entry_long": 0.5},
    "rebalance": {"frequency": "daily"},
    "fills": "next_close",
    "start": "2013-06-01",
}


def _spec(**fields: object) -> RLSpec:
    base: dict = {
        "name": "ppo-xom",
        "data": "sp500-stocks",
        "universe": ["XOM"],
        "start": "2010-01-01",
        "hyperparameters": {"n_steps": 64, "batch_size": 32, "n_epochs": 2},
        "env": {"fills": "next_close", "episode_length": 126},
        "timesteps": 128,
        "seeds": 2,
        "evaluation": {"every": 128},
        "checkpoint_every": 128,
        "risk": {"max_position": 1.0, "drawdown_stop": 0.5},
    }
    return RLSpec.from_dict({**base, **fields})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("rl")
    ws = Workspace(root / "ws")
    from alphaloop.app.rl import train_rl

    result = train_rl(ws, _spec(), report=root / "report.html")
    yield ws, result, root
    ws.close()


def test_results_are_a_distribution_over_seeds_next_to_benchmarks(trained) -> None:
    _, result, _ = trained
    doc = result.to_dict()
    assert doc["seeds"] == [0, 1]
    summary = doc["test"]["summary"]["total_return"]
    assert summary["n"] == 2
    assert len(summary["values"]) == 2
    assert summary["ci_low"] <= summary["mean"] <= summary["ci_high"]
    assert summary["mean"] == pytest.approx(np.mean(summary["values"]))
    assert {"buy_and_hold", "equal_weight"} <= set(doc["benchmarks"])
    assert doc["benchmarks"]["buy_and_hold"]["total_costs"] > 0  # costs on for benchmarks too
    spans = doc["spans"]
    assert spans["train"]["end"] < spans["validation"]["start"] < spans["test"]["start"]
    assert any("survivor" in c for c in doc["caveats"])


def test_the_report_shows_seeds_and_benchmarks(trained) -> None:
    _, result, root = trained
    page = (root / "report.html").read_text()
    assert "buy and hold" in page
    assert "equal weight" in page
    assert "mean of 2 seeds" in page
    assert "survivor" in page
    assert result.to_dict()["report"] == str(root / "report.html")


def test_the_policy_is_registered_with_lineage_and_seeds(trained) -> None:
    ws, result, _ = trained
    doc = result.to_dict()
    version = ws.models.get(doc["ref"])
    assert version.family == "rl"
    assert version.params["seeds"] == [0, 1]
    assert pd.Timestamp(version.label_end) == pd.Timestamp(doc["spans"]["validation"]["end"])
    assert version.dataset_hash == ws.data.info("sp500-stocks").content_hash
    assert "test_total_return_mean" in version.metrics


def test_a_registered_policy_is_a_strategy_signal(trained) -> None:
    from alphaloop.app.backtests import run_backtest
    from alphaloop.app.models import predict_panel
    from alphaloop.backtest import StrategySpec

    ws, result, _ = trained
    ref = result.to_dict()["ref"]
    spec = StrategySpec.model_validate({**STRATEGY, "signal": {"model": ref}})
    backtest = run_backtest(ws, spec, record=False)
    label_end = pd.Timestamp(ws.models.get(ref).label_end)
    assert backtest.simulation.equity.index[0] > label_end  # out of sample only
    panel = ws.data.load("sp500-stocks", assets=["XOM"], start="2015-01-01")
    signal, _ = predict_panel(ws, ref, panel)
    decided = signal[np.isfinite(signal)]
    assert len(decided) > 200
    assert set(np.unique(decided)) <= {0.0, 0.5, 1.0}


def test_tuning_reads_training_and_validation_spans_only(trained, monkeypatch) -> None:
    from alphaloop import rl
    from alphaloop.app.rl import tune_rl

    ws, result, _ = trained
    spans_seen, last_rows = [], []
    real = rl.TradingEnv

    class Spy(real):
        def __init__(self, config, panel=None, **kw):
            super().__init__(config, panel, **kw)
            spans_seen.append(config.span)
            last_rows.append(self.market.span[1])

    monkeypatch.setattr(rl, "TradingEnv", Spy)
    tuned = tune_rl(ws, _spec(timesteps=64, seeds=1), trials=2).to_dict()
    assert tuned["n_trials"] == 2
    assert tuned["best_params"]
    assert "test" not in spans_seen
    assert set(spans_seen) <= {"train", "validation"}
    test_start = result.to_dict()["spans"]["test"]["rows"][0]
    assert max(last_rows) < test_start  # no array of the environment reaches the test span
    run = ws.runs.get(tuned["run_id"])
    assert run["kind"] == "rl-tune"
    assert run["result"]["n_trials"] == 2


@pytest.mark.slow
def test_regime_ensemble_reports_across_seeds(tmp_path: Path) -> None:
    from alphaloop.app.rl import train_rl

    ws = Workspace(tmp_path / "ws")
    spec = _spec(seeds=1, timesteps=128, ensemble={"min_history": 100, "min_run": 10}, risk=None)
    doc = train_rl(ws, spec).to_dict()
    ens = doc["ensemble"]
    assert ens["n_regimes"] == 2
    assert len(ens["per_seed"]) == 1
    share = ens["per_seed"][0]["mix_share"]
    assert sum(share.values()) == pytest.approx(1.0)
    assert np.isfinite(ens["summary"]["total_return"]["mean"])
    ws.close()


def test_the_policy_signal_at_t_does_not_change_when_data_after_t_is_cut(trained) -> None:
    """The lookahead scan's truncation test, on a few cut points: row t of the signal
    from data up to t equals row t from all the data (the last row included)."""
    from alphaloop.app.models import predict_panel

    ws, result, _ = trained
    ref = result.to_dict()["ref"]
    panel = ws.data.load("sp500-stocks", assets=["XOM"], start="2014-01-01")
    full, _ = predict_panel(ws, ref, panel)
    for cut in (300, 450, panel.n_times - 40):
        part, _ = predict_panel(ws, ref, panel.iloc(slice(0, cut)))
        np.testing.assert_array_equal(part, full[:cut])
        assert np.isfinite(part[-1]).all()  # a decision on the last bar it has
