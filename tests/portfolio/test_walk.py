"""Walk-forward optimization: windows end at the rebalance close, failures fall back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest import StrategySpec, backtest_panel
from alphaloop.data import Panel
from alphaloop.errors import SpecError
from alphaloop.portfolio import OptimizerConfig, optimize_weights, walk_forward_weights
from tests.research.synthetic import make_info

N = 5


def closes(n_times: int = 400, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rets = 0.01 * (0.5 * rng.standard_normal((n_times, 1)) + rng.standard_normal((n_times, N)))
    rets *= np.linspace(0.5, 2.0, N)
    return 50.0 * np.exp(np.cumsum(rets + 0.0003, axis=0))


def test_window_ends_at_the_rebalance_close() -> None:
    close = closes()
    cfg = OptimizerConfig(method="min_variance", window=60)
    walk = walk_forward_weights(close, np.ones(close.shape, bool), [100, 250], cfg)
    rets = close[1:] / close[:-1] - 1.0  # rets[t - 1] is the return of bar t
    for t in (100, 250):
        alone = optimize_weights(rets[t - 60 : t], cfg)
        np.testing.assert_allclose(walk.weights[t], alone.weights, atol=1e-9)
    assert np.isnan(walk.weights[101]).all()
    assert walk.solved == 2
    assert walk.events == ()


@pytest.mark.parametrize("method", ["max_sharpe", "hrp"])
def test_truncation_weights_unchanged_when_later_data_is_removed(method: str) -> None:
    close = closes()
    cfg = OptimizerConfig(method=method, window=80, max_weight=0.5)
    rows = np.arange(100, 400, 21)
    full = walk_forward_weights(close, np.ones(close.shape, bool), rows, cfg)
    for cut in (150, 260):
        short = walk_forward_weights(
            close[: cut + 1], np.ones((cut + 1, N), bool), rows[rows <= cut], cfg
        )
        np.testing.assert_array_equal(short.weights, full.weights[: cut + 1])


def test_failures_fall_back_and_are_recorded() -> None:
    close = closes()
    close[:, 1] = close[:, 0]  # duplicates are fine for min variance; NaNs are cut per asset
    close[200:210, 2] = np.nan  # asset 2 has no full window at row 220: left out, not failed
    # every asset falls: no positive Sharpe ratio exists, max_sharpe fails
    close[250:] = close[250] * np.exp(np.cumsum(np.full((150, N), -0.01), axis=0))
    close[250:] *= np.exp(np.random.default_rng(0).normal(0, 0.001, (150, N)))
    cfg = OptimizerConfig(method="max_sharpe", window=60)
    walk = walk_forward_weights(close, np.ones(close.shape, bool), [220, 380], cfg)
    assert walk.weights[220, 2] == 0
    assert walk.weights[220].sum() == pytest.approx(1.0)
    assert [e.row for e in walk.events] == [380]
    assert walk.events[0].fallback == "inverse_volatility"
    assert np.all(walk.weights[380] > 0)
    assert walk.weights[380].sum() == pytest.approx(1.0)
    prev = walk_forward_weights(
        close,
        np.ones(close.shape, bool),
        [220, 380],
        cfg.model_copy(update={"fallback": "previous"}),
    )
    np.testing.assert_array_equal(prev.weights[380], prev.weights[220])
    assert prev.events[0].fallback == "previous"


def test_infeasible_bounds_and_short_windows_never_abort() -> None:
    close = closes()
    cfg = OptimizerConfig(method="min_variance", window=60, max_weight=0.1)  # 5 x 0.1 < 1
    walk = walk_forward_weights(close, np.ones(close.shape, bool), [30, 100, 200], cfg)
    assert [e.fallback for e in walk.events] == ["none", "inverse_volatility", "inverse_volatility"]
    assert "infeasible" in walk.events[1].reason
    assert np.isnan(walk.weights[30]).all()
    assert walk.weights[100].sum() == pytest.approx(1.0)
    # more assets than observations: 30 assets, 12 returns
    many = np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, (40, 30)), axis=0))
    walk = walk_forward_weights(
        many, np.ones(many.shape, bool), [39], OptimizerConfig(method="max_sharpe", window=12)
    )
    assert walk.weights[39].sum() == pytest.approx(1.0)


def spec(optimizer: dict, **portfolio) -> StrategySpec:
    return StrategySpec.from_dict(
        {
            "data": "synth",
            "signal": {"expr": "Mean($close, 5) / $close"},
            "portfolio": {"method": "optimize", "optimizer": optimizer, **portfolio},
            "rebalance": {"frequency": "monthly"},
            "fills": "next_close",
        }
    )


def panel(close: np.ndarray) -> Panel:
    index = pd.bdate_range("2018-01-02", periods=len(close), tz="UTC")
    return Panel(index, [f"S{j}" for j in range(close.shape[1])], {"close": close})


def test_backtest_reports_fallback_count_and_dates() -> None:
    p = panel(closes())
    ok = backtest_panel(spec({"method": "hrp", "window": 60}), make_info(p), p)
    assert ok.metrics["optimizer_fallbacks"] == 0
    assert ok.assumptions["portfolio"]["optimizer_stats"]["solved"] > 10
    bad = backtest_panel(
        spec({"method": "min_variance", "window": 60, "max_weight": 0.1}), make_info(p), p
    )
    stats = bad.assumptions["portfolio"]["optimizer_stats"]
    assert bad.metrics["optimizer_fallbacks"] == stats["fallbacks"] > 10
    assert stats["skipped"] == ok.assumptions["portfolio"]["optimizer_stats"]["skipped"] >= 1
    failed = [e for e in stats["events"] if e["fallback"] == "inverse_volatility"]
    assert len(failed) == stats["fallbacks"]
    assert failed[0]["date"].startswith("2018")
    assert any("optimizer fell back at" in n for n in bad.assumptions["notes"])
    assert bad.simulation.equity.notna().all()


def test_spec_errors_name_the_field() -> None:
    with pytest.raises(SpecError, match="optimizer"):
        spec({"method": "hrp", "max_turnover": 0.2})
    with pytest.raises(SpecError, match="min_weight"):
        spec({"method": "hrp", "min_weight": 0.4, "max_weight": 0.3})
    with pytest.raises(SpecError, match="method optimize needs optimizer"):
        StrategySpec.from_dict(
            {"data": "d", "signal": {"expr": "close"}, "portfolio": {"method": "optimize"}}
        )
    with pytest.raises(SpecError, match="best"):
        spec({"method": "best"})


def test_optimized_spec_passes_the_lookahead_scan() -> None:
    from alphaloop.backtest import scan_lookahead
    from alphaloop.backtest.runner import scan_decisions, target_signal_fn

    p = panel(closes(500))
    s = spec({"method": "max_sharpe", "window": 60, "max_weight": 0.5})
    closes_of = lambda q: np.asarray(q["close"], dtype=np.float64)  # noqa: E731
    report = scan_lookahead(
        target_signal_fn(s, closes_of),
        p,
        decisions=scan_decisions(s, p.index),
        n_points=6,
        settle=100,
        min_history=150,
        max_decision_points=20,
    )
    assert report.clean, report.findings
