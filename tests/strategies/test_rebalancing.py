"""Threshold (drift) and cost-aware rebalancing: hand-computed bands, cost tests, parity.

See :mod:`alphaloop.strategies.rebalancing`. The filtered weights must run in
both engines to the same equity, use no bar after the decision, and skip what
they claim to skip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
from alphaloop.backtest.portfolio import rebalance_rows, target_weights
from alphaloop.backtest.spec import Limits, PortfolioRule, Rebalance, StrategySpec
from alphaloop.backtest.vectorized import simulate
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError, SpecError
from alphaloop.execution.costs import CostModel
from alphaloop.strategies.rebalancing import filter_trades
from tests.backtest.test_spec import PINNED

CHEAP = CostModel(commission_per_share=0.0, commission_min=0.0)


def run_filter(weights, close, volume=None, **kw):
    args = {
        "drift": None,
        "cost_aware": False,
        "edge_window": 20,
        "costs": CostModel.zero(),
        "capital": 1e6,
        "periods_per_year": 252.0,
    }
    return filter_trades(weights, close, volume, **{**args, **kw})


def make_panel(seed: int, n_rows: int = 500, n_assets: int = 10, drift: float = 0.0004) -> Panel:
    """OHLCV random walks, 1.5% daily volatility, volume around 1e6 shares."""
    rng = np.random.default_rng(seed)
    shape = (n_rows, n_assets)
    start = rng.uniform(20.0, 100.0, n_assets)
    close = start * np.exp(np.cumsum(rng.normal(drift, 0.015, shape), axis=0))
    prev = np.vstack([start, close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.004, shape))
    high = np.maximum(open_, close) * 1.005
    low = np.minimum(open_, close) * 0.995
    volume = np.round(rng.lognormal(13.8, 0.3, shape))
    index = pd.bdate_range("2020-01-02", periods=n_rows, tz="UTC")
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return Panel(index, [f"A{j}" for j in range(n_assets)], fields)


def top_k_weights(panel: Panel, frequency: str = "weekly", k: int = 4) -> np.ndarray:
    """Top-k equal weights on a slow signal (a 120-bar return), so the membership rarely moves."""
    close = np.asarray(panel["close"])
    signal = np.full(close.shape, np.nan)
    signal[120:] = close[120:] / close[:-120] - 1.0
    rebalance = rebalance_rows(panel.index, Rebalance(frequency=frequency))
    eligible = np.isfinite(close)
    return target_weights(signal, close, eligible, PortfolioRule(k=k), Limits(), rebalance)


# -- drift ----------------------------------------------------------------------------------


def test_drift_band_skips_small_drift_and_trades_large() -> None:
    close = np.array(
        [[100.0, 100.0, 100.0], [110.0, 100.0, 90.0], [121.0, 100.0, 81.0], [121.0, 100.0, 81.0]]
    )
    third = np.full(3, 1 / 3)
    weights = np.vstack([third, third, third, third])
    out, stats = run_filter(weights, close, drift=0.05)
    # row 1: book (0.3667, 0.3333, 0.3000), max drift 0.0333 <= 0.05 -> skipped
    # row 2: book (0.40331/1.00667, 0.33333/1.00667, 0.27/1.00667)
    #      = (0.40066, 0.33113, 0.26821), max drift 0.0673 > 0.05 -> trades
    # row 3: no price change since the trade, drift 0 -> skipped
    np.testing.assert_array_equal(out[0], third)
    assert np.isnan(out[1]).all()
    np.testing.assert_array_equal(out[2], third)
    assert np.isnan(out[3]).all()
    assert stats["decision_rows"] == 4
    assert stats["drift_skipped_rows"] == 2
    assert stats["traded_rows"] == 2
    # a band just above row 2's drift skips it as well; just below keeps it
    book = np.array([0.4033333333, 1 / 3, 0.27]) / (1 + (0.1 * 0.3666667 - 0.1 * 0.3))
    gap = np.abs(book - third).max()
    assert gap == pytest.approx(0.06733, abs=1e-4)
    assert np.isnan(run_filter(weights, close, drift=gap + 1e-6)[0][2]).all()
    assert np.isfinite(run_filter(weights, close, drift=gap - 1e-6)[0][2]).all()


def test_exits_and_entries_trade_whatever_the_band() -> None:
    close = np.full((5, 3), 100.0)
    close[3:, 0] = 110.0
    weights = np.array(
        [
            [0.3, 0.3, 0.0],
            [0.3, 0.3, 0.0],
            [0.3, 0.0, 0.3],
            [0.3, 0.0, 0.3],
            [0.0, 0.0, 0.3],
        ]
    )
    out, stats = run_filter(weights, close, drift=0.5)
    # from cash, 0.3 off target is inside a 0.5 band, but these are entries
    np.testing.assert_array_equal(out[0], weights[0])
    assert np.isnan(out[1]).all()  # no change: inside the band
    np.testing.assert_array_equal(out[2], weights[2])  # an exit and an entry: the whole row
    assert np.isnan(out[3]).all()  # asset 0 drifted, still inside the band
    np.testing.assert_array_equal(out[4], weights[4])  # the exit trades
    assert stats["drift_skipped_rows"] == 2


def test_nan_targets_leave_the_asset_and_do_not_count() -> None:
    close = np.array([[100.0, 100.0], [100.0, 200.0]])
    weights = np.array([[0.5, 0.5], [0.5, np.nan]])
    out, _ = run_filter(weights, close, drift=0.1)
    # asset 1 doubled (book 0.333/0.667) but has no target on row 1: only asset 0's drift counts
    assert np.isfinite(out[1, 0])
    assert np.isnan(out[1, 1])


def test_wider_band_trades_less_and_costs_less() -> None:
    panel = make_panel(3)
    weights = top_k_weights(panel, "daily")
    close, volume = np.asarray(panel["close"]), np.asarray(panel["volume"])
    costs = CostModel()
    fills, charged, turnover = [], [], []
    for band in (None, 0.01, 0.03, 0.08):
        out, stats = run_filter(weights, close, volume, drift=band, costs=costs)
        sim = simulate(panel, out, costs=costs)
        fills.append(len(sim.trades))
        charged.append(sum(sim.costs.values()))
        turnover.append(float(sim.turnover.sum()))
        if band is not None:
            assert stats["drift_skipped_rows"] > 0
            assert stats["drift_cost_saved"] > 0
    # entries and exits always trade, so what the band saves is the re-weighting trades
    assert fills == sorted(fills, reverse=True)
    assert fills[0] > 2 * fills[-1]
    assert charged == sorted(charged, reverse=True)
    assert charged[-1] < 0.97 * charged[0]
    assert turnover == sorted(turnover, reverse=True)


# -- cost-aware -----------------------------------------------------------------------------


def two_asset_market(n_rows: int = 200, trend: float = 0.0005) -> tuple[np.ndarray, np.ndarray]:
    """Both assets rise by ``trend`` a day with opposite +-1% swings; asset 1 barely trades.

    Over 20 bars the book earns about 1% per unit of exposure. A rebalancing
    trade is about 0.5% of equity: 50 shares at 100 on a 1e6 book. Asset 0
    costs 3.3 bps of it; asset 1, with 5 shares a day, adds square-root impact
    of 0.5 x 1% x sqrt(10), about 1.6%.
    """
    t = np.arange(n_rows)
    wiggle = np.where(t % 2 == 0, 1.0, -1.0)[:, None] * np.array([0.01, -0.01])
    rets = trend + wiggle
    rets[0] = 0.0
    close = 100.0 * np.cumprod(1.0 + rets, axis=0)
    volume = np.column_stack([np.full(n_rows, 5e7), np.full(n_rows, 5.0)])
    return close, volume


def two_asset_panel(close: np.ndarray, volume: np.ndarray) -> Panel:
    index = pd.bdate_range("2020-01-02", periods=len(close), tz="UTC")
    return Panel(index, ["CHEAP", "DEAR"], {"open": close, "close": close, "volume": volume})


def test_cost_aware_skips_the_expensive_asset_and_keeps_the_cheap_one() -> None:
    close, volume = two_asset_market()
    weights = np.full(close.shape, 0.45)
    out, stats = run_filter(weights, close, volume, cost_aware=True, edge_window=20, costs=CHEAP)
    later = slice(25, None)  # after the edge's warm-up
    assert np.isfinite(out[:20]).all()  # warm-up: the edge is unknown, nothing skipped
    assert np.isfinite(out[later, 0]).all()  # 3.3 bps against ~1% of edge: always trades
    # the dear asset's ~0.5% trades are skipped; the tiny ones after each swing back
    # (impact grows with sqrt(size)) still pass
    skipped = np.isnan(out[later, 1])
    assert skipped.mean() > 0.4
    assert stats["cost_skipped_trades"] == np.isnan(out[:, 1]).sum()
    assert stats["cost_aware_cost_saved"] > 0
    panel = two_asset_panel(close, volume)
    plain = simulate(panel, weights, costs=CHEAP, fills="next_close").trades
    kept = simulate(panel, out, costs=CHEAP, fills="next_close").trades
    dear_cost = [t.loc[t["asset"] == "DEAR", "impact"].sum() for t in (plain, kept)]
    assert dear_cost[1] < 0.5 * dear_cost[0]
    assert (kept["asset"] == "CHEAP").sum() == (plain["asset"] == "CHEAP").sum()
    # with zero costs nothing is worth skipping
    free, free_stats = run_filter(weights, close, volume, cost_aware=True, costs=CostModel.zero())
    assert np.isfinite(free).all()
    assert free_stats["cost_skipped_trades"] == 0


def test_without_an_edge_only_exits_trade() -> None:
    close, volume = two_asset_market(trend=0.0)  # the book earns nothing
    weights = np.full(close.shape, 0.45)
    weights[-1] = [0.45, 0.0]
    out, _ = run_filter(weights, close, volume, cost_aware=True, edge_window=10, costs=CHEAP)
    assert np.isnan(out[30:-1]).all()
    assert out[-1, 1] == 0.0  # the exit trades
    assert np.isnan(out[-1, 0])


def test_kept_positions_leave_headroom_under_the_cap() -> None:
    close, volume = two_asset_market()
    weights = np.full(close.shape, 0.5)  # gross 1.0 = the cap
    out, stats = run_filter(weights, close, volume, cost_aware=True, costs=CHEAP, max_leverage=1.0)
    kept = np.isnan(out[:, 1])
    assert stats["rows_scaled_for_headroom"] == kept.sum() > 0
    assert (out[kept, 0] < 0.5).all()  # scaled down to leave the kept position its headroom
    panel = two_asset_panel(close, volume)
    sim = simulate(panel, out, costs=CHEAP, fills="next_close")
    assert sim.gross_exposure.max() <= 1.0 + 1e-9  # and no leverage error
    event = EventEngine(panel, TargetWeightsStrategy(out), costs=CHEAP, fills="next_close").run()
    np.testing.assert_allclose(event.equity.to_numpy(), sim.equity.to_numpy(), rtol=1e-9, atol=0)
    # without a cap nothing is scaled
    _, free = run_filter(weights, close, volume, cost_aware=True, costs=CHEAP)
    assert free["rows_scaled_for_headroom"] == 0


# -- point in time, parity ------------------------------------------------------------------


def test_rows_up_to_t_ignore_later_data() -> None:
    panel = make_panel(5, n_rows=400)
    weights = top_k_weights(panel, "daily")
    close, volume = np.asarray(panel["close"]), np.asarray(panel["volume"])
    kw = {"drift": 0.02, "cost_aware": True, "edge_window": 30, "costs": CostModel()}
    full, _ = run_filter(weights, close, volume, **kw)
    for t in (150, 233, 311):
        cut, _ = run_filter(weights[: t + 1], close[: t + 1], volume[: t + 1], **kw)
        np.testing.assert_array_equal(cut, full[: t + 1])
        changed = close.copy()
        changed[t + 1 :] *= 1.7
        moved, _ = run_filter(weights, changed, volume * 3, **kw)
        np.testing.assert_array_equal(moved[: t + 1], full[: t + 1])


@pytest.mark.parametrize("fills", ["next_open", "next_close"])
def test_both_engines_agree_on_filtered_weights(fills: str) -> None:
    panel = make_panel(8, n_rows=300, n_assets=6)
    weights = top_k_weights(panel, "daily", k=3)
    close, volume = np.asarray(panel["close"]), np.asarray(panel["volume"])
    costs = CostModel()
    out, stats = run_filter(
        weights, close, volume, drift=0.01, cost_aware=True, edge_window=30, costs=costs,
        max_leverage=1.0,
    )  # fmt: skip
    assert stats["drift_skipped_rows"] > 0
    assert stats["cost_skipped_trades"] > 0
    mixed = np.isfinite(out).any(axis=1) & np.isnan(out).any(axis=1)
    assert mixed.any()  # rows where some assets trade and the cost rule keeps others
    a = simulate(panel, out, costs=costs, fills=fills)
    b = EventEngine(panel, TargetWeightsStrategy(out), costs=costs, fills=fills).run()
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades) > 0


def test_long_short_books_filter_and_agree() -> None:
    panel = make_panel(12, n_rows=300, n_assets=8)
    close, volume = np.asarray(panel["close"]), np.asarray(panel["volume"])
    signal = np.full(close.shape, np.nan)
    signal[60:] = close[60:] / close[:-60] - 1.0
    rule = PortfolioRule(method="quantile_long_short", quantile=0.25, gross=1.5)
    limits = Limits(max_leverage=1.5, allow_short=True)
    daily = np.ones(len(close), dtype=bool)
    weights = target_weights(signal, close, np.isfinite(close), rule, limits, daily)
    out, stats = run_filter(
        weights, close, volume, drift=0.02, cost_aware=True, edge_window=20, costs=CostModel(),
        max_leverage=1.5,
    )  # fmt: skip
    assert stats["drift_skipped_rows"] > 0
    assert (out[np.isfinite(out)] < 0).any()  # shorts pass through the filter
    kw = {"costs": CostModel(), "max_leverage": 1.5, "allow_short": True}
    a = simulate(panel, out, **kw)
    b = EventEngine(panel, TargetWeightsStrategy(out), **kw).run()
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9, atol=0)
    assert len(a.trades) < len(simulate(panel, weights, **kw).trades)


def test_a_row_whose_kept_positions_cannot_fit_trades_in_full() -> None:
    close, volume = two_asset_market()
    weights = np.full(close.shape, 0.5)
    weights[:, 0] = 0.0  # the cheap asset is never held: nothing to scale down
    out, stats = run_filter(weights, close, volume, cost_aware=True, costs=CHEAP, max_leverage=0.5)
    assert stats["cost_skipped_trades"] == 0
    assert stats["rows_forced_in_full"] > 0
    np.testing.assert_array_equal(out, weights)


def test_deterministic() -> None:
    panel = make_panel(9, n_rows=250)
    weights = top_k_weights(panel, "daily")
    close, volume = np.asarray(panel["close"]), np.asarray(panel["volume"])
    kw = {"drift": 0.02, "cost_aware": True, "costs": CostModel()}
    a = run_filter(weights, close, volume, **kw)
    b = run_filter(weights, close, volume, **kw)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


# -- errors and the spec --------------------------------------------------------------------


def test_bad_inputs_raise() -> None:
    close = np.ones((3, 2))
    with pytest.raises(BacktestError, match="same"):
        run_filter(np.ones((3, 3)), close)
    with pytest.raises(BacktestError, match="drift"):
        run_filter(np.ones((3, 2)), close, drift=1.5)
    with pytest.raises(BacktestError, match="volume"):
        run_filter(np.ones((3, 2)), close, np.ones((2, 2)))


BASE = {"data": "d", "signal": {"expr": "$close"}}


@pytest.mark.parametrize(
    ("rebalance", "field"),
    [({"drift": 1.5}, "drift"), ({"drift": 0}, "drift"), ({"edge_window": 2}, "edge_window")],
)
def test_spec_refuses_bad_rebalance_fields(rebalance: dict, field: str) -> None:
    with pytest.raises(SpecError, match=field):
        StrategySpec.from_dict({**BASE, "rebalance": rebalance})


def test_new_fields_at_defaults_keep_old_hashes() -> None:
    for expected, fields in PINNED.items():
        explicit = {
            **fields,
            "rebalance": {
                **fields.get("rebalance", {}),
                "drift": None,
                "cost_aware": False,
                "edge_window": 63,
            },
        }
        assert StrategySpec.from_dict(explicit).hash == expected
    plain = StrategySpec.from_dict(BASE)
    assert StrategySpec.from_dict({**BASE, "rebalance": {"drift": 0.02}}).hash != plain.hash
    assert StrategySpec.from_dict({**BASE, "rebalance": {"cost_aware": True}}).hash != plain.hash
    with_edge = {**BASE, "rebalance": {"cost_aware": True, "edge_window": 21}}
    assert StrategySpec.from_dict(with_edge).hash != plain.hash


# -- through the runner ---------------------------------------------------------------------


def run_spec(panel: Panel, engine: str, **rebalance: object):
    from alphaloop.backtest.runner import equal_weight_benchmark, prepare_strategy, run_prepared
    from tests.research.synthetic import make_info

    close = np.asarray(panel["close"])
    signal = np.full(close.shape, np.nan)
    signal[120:] = close[120:] / close[:-120] - 1.0
    spec = StrategySpec.from_dict(
        {
            "data": "synth",
            "signal": {"expr": "$close / Ref($close, 120) - 1"},
            "portfolio": {"k": 4},
            "rebalance": {"frequency": "daily", **rebalance},
        }
    )
    prep = prepare_strategy(spec, make_info(panel), panel, signal)
    return run_prepared(prep, engine, *equal_weight_benchmark(prep))


def test_the_runner_filters_records_and_both_engines_agree() -> None:
    panel = make_panel(4, n_rows=400)
    plain = run_spec(panel, "vectorized")
    assert "stats" not in plain.assumptions["rebalance"]
    a = run_spec(panel, "vectorized", drift=0.02, cost_aware=True, edge_window=30)
    b = run_spec(panel, "event", drift=0.02, cost_aware=True, edge_window=30)
    np.testing.assert_allclose(
        b.simulation.equity.to_numpy(), a.simulation.equity.to_numpy(), rtol=1e-9, atol=0
    )
    record = a.assumptions["rebalance"]
    assert record["drift"] == 0.02
    assert record["cost_aware"] is True
    stats = record["stats"]
    assert stats["drift_skipped_rows"] > 0
    assert stats["decision_rows"] == stats["traded_rows"] + stats["drift_skipped_rows"]
    assert len(a.simulation.trades) < len(plain.simulation.trades)
    assert sum(a.simulation.costs.values()) < sum(plain.simulation.costs.values())


@pytest.mark.parametrize("rebalance", [{"drift": 0.02}, {"drift": 0.01, "cost_aware": True}])
def test_the_lookahead_scan_finds_the_filtered_targets_clean(rebalance: dict) -> None:
    from alphaloop.backtest.lookahead import scan_lookahead
    from alphaloop.backtest.runner import scan_decisions, target_signal_fn

    panel = make_panel(6, n_rows=700, n_assets=8)
    spec = StrategySpec.from_dict(
        {
            "data": "synth",
            "signal": {"expr": "$close / Ref($close, 60) - 1"},
            "portfolio": {"k": 3},
            "rebalance": {"frequency": "weekly", "edge_window": 30, **rebalance},
        }
    )

    def momentum(p: Panel) -> np.ndarray:
        close = np.asarray(p["close"])
        out = np.full(close.shape, np.nan)
        out[60:] = close[60:] / close[:-60] - 1.0
        return out

    fn = target_signal_fn(spec, momentum, costs=CostModel())
    full = fn(panel)["target_weights"]
    plain = target_signal_fn(spec.replace(rebalance={"frequency": "weekly"}), momentum)(panel)
    assert np.isfinite(plain["target_weights"]).any(axis=1).sum() > (
        np.isfinite(full).any(axis=1).sum()
    )  # the filter ran in the scan's pipeline
    report = scan_lookahead(
        fn, panel, decisions=scan_decisions(spec, panel.index), n_points=8, min_history=200
    )
    assert report.clean, report.findings[:3]
