"""StrategySpec ``sizing:`` and ``regime:``: validation, identity, causality and what they do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest import backtest_panel, scan_lookahead, target_signal_fn
from alphaloop.backtest.sizing_steps import apply_regime, apply_sizing, simple_returns
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.spec_sizing import KellySizing
from alphaloop.data import Panel
from alphaloop.data.bundled import load_bundled
from alphaloop.errors import BacktestError, SpecError
from tests.research.synthetic import make_info

MOMENTUM = "Ref($close, 1) / Ref($close, 21) - 1"


def spec(**extra: object) -> StrategySpec:
    doc = {
        "name": "sized",
        "data": "synth",
        "signal": {"expr": MOMENTUM},
        "portfolio": {"method": "top_k", "k": 3},
        "rebalance": {"frequency": "weekly"},
        "fills": "next_close",
        **extra,
    }
    return StrategySpec.from_dict(doc)


def ohlc_panel(n: int = 900, m: int = 6, seed: int = 3) -> Panel:
    """Prices with two volatility regimes (calm and turbulent stretches of 150 bars)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2015-01-05", periods=n, freq="B", tz="UTC")
    vol = np.where((np.arange(n) // 150) % 2 == 0, 0.008, 0.025)[:, None]
    rets = vol * rng.standard_normal((n, m)) + 0.0003
    close = 40 * np.cumprod(1 + rets, axis=0)
    spread = np.abs(rng.standard_normal((n, m))) * vol * close
    fields = {"open": close * (1 + 0.001 * rng.standard_normal((n, m))),
              "high": close + spread, "low": close - spread, "close": close,
              "volume": np.full((n, m), 1e6)}  # fmt: skip
    return Panel(index, [f"S{j}" for j in range(m)], fields)


# ------------------------------------------------------------------ spec
def test_specs_without_sizing_or_regime_keep_their_hashes():
    # recorded before sizing and regime existed (same documents, same code otherwise)
    recorded = {
        "254ddae1b6a702b3eab159b8b39e4ffd6ef8b00fcf11fed63eeadf87dce8137d": {
            "data": "sp500-stocks",
            "signal": {"expr": MOMENTUM},
            "portfolio": {"method": "top_k", "k": 5},
        },
        "831eff997521cee7ac0dec8666881ee31e241fe9e6f95a2a4923bdff23c4dbc4": {
            "data": "sp500-stocks",
            "signal": {"expr": "-Delta($close, 5)"},
            "portfolio": {"method": "top_k", "k": 3, "weighting": "inverse_volatility"},
            "rebalance": {"frequency": "weekly"},
            "overlay": {"target": 0.1},
            "limits": {"max_weight": 0.5},
        },
    }
    for digest, doc in recorded.items():
        s = StrategySpec.from_dict(doc)
        assert "sizing" not in s.canonical()
        assert "regime" not in s.canonical()
        assert s.hash == digest
    sized = StrategySpec.from_dict({**doc, "sizing": {"method": "kelly"}})
    assert sized.hash != StrategySpec.from_dict(doc).hash


def test_sizing_and_regime_round_trip_through_yaml():
    s = spec(
        sizing={"method": "atr", "risk_per_trade": 0.02, "window": 10},
        regime={"detector": "trend", "scale": {"down": 0.25}, "fast": 20, "slow": 100},
    )
    again = StrategySpec.from_dict(__import__("yaml").safe_load(s.to_yaml()))
    assert again.hash == s.hash
    assert again.regime.multipliers() == (0.25, 1.0, 1.0)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"sizing": {"method": "martingale"}}, "one of vol_target, kelly"),
        ({"sizing": {"target": 0.1}}, "sizing needs method"),
        ({"sizing": {"method": "atr", "stop": 0.1}}, "atr has no field stop; its fields"),
        ({"sizing": {"method": "kelly", "fraction": 1.5}}, "fraction"),
        (
            {"sizing": {"method": "vol_target", "target": 0.1}, "overlay": {"target": 0.1}},
            "keep one",
        ),
        ({"regime": {"detector": "volatility"}}, "exactly one of allow"),
        ({"regime": {"detector": "volatility", "allow": ["up"]}}, "not regimes of detector"),
        ({"regime": {"detector": "trend", "allow": ["up"], "scale": {"down": 0}}}, "exactly one"),
        ({"regime": {"detector": "trend", "allow": ["up"], "fast": 80, "slow": 50}}, "fast"),
        ({"regime": {"detector": "sunspots", "allow": ["calm"]}}, "detector"),
    ],
)
def test_bad_sizing_and_regime_are_spec_errors_naming_the_field(extra, words):
    with pytest.raises(SpecError, match=words):
        spec(**extra)


def test_atr_needs_high_and_low_and_fixed_fractional_a_stop():
    data = ohlc_panel(n=300)
    close_only = Panel(data.index, data.assets, {"close": data["close"]})
    with pytest.raises(BacktestError, match="high and low"):
        backtest_panel(spec(sizing={"method": "atr"}), make_info(close_only), close_only)
    with pytest.raises(BacktestError, match="stop distance"):
        backtest_panel(spec(sizing={"method": "fixed_fractional"}), make_info(data), data)
    with_stop = spec(sizing={"method": "fixed_fractional", "risk_per_trade": 0.01},
                     stops={"stop_loss": 0.05})  # fmt: skip
    result = backtest_panel(with_stop, make_info(data), data)
    assert result.assumptions["sizing"]["stats"]["rows_sized"] > 0


# ------------------------------------------------------------------ what sizing does
def test_vol_target_realizes_close_to_its_target_on_bundled_data():
    """Weekly top-5 momentum on the 20 bundled S&P 500 stocks, 2000-2022: the realized
    volatility of the sized book is within 15 % (relative) of the 10 % target, while the
    unsized book runs at more than twice the target."""
    panel = load_bundled("sp500-stocks").to_panel()
    info = make_info(panel, "sp500-stocks")
    base = {"data": "sp500-stocks", "signal": {"expr": MOMENTUM}, "start": "2000-01-01",
            "portfolio": {"method": "top_k", "k": 5}, "rebalance": {"frequency": "weekly"},
            "fills": "next_close"}  # fmt: skip
    plain = backtest_panel(StrategySpec.from_dict(base), info, panel)
    sized_spec = {**base, "sizing": {"method": "vol_target", "target": 0.10, "lookback": 63}}
    sized = backtest_panel(StrategySpec.from_dict(sized_spec), info, panel)
    realized = sized.metrics["annual_volatility"]
    assert abs(realized - 0.10) <= 0.015
    assert plain.metrics["annual_volatility"] > 0.2
    assert sized.assumptions["sizing"]["stats"]["rows_sized"] > 1000


def test_kelly_with_haircut_never_exceeds_the_leverage_cap():
    rng = np.random.default_rng(7)
    n, m = 700, 5
    close = 30 * np.cumprod(1 + 0.002 + 0.004 * rng.standard_normal((n, m)), axis=0)
    eligible = np.ones((n, m), dtype=bool)
    weights = np.full((n, m), np.nan)
    weights[::5] = rng.uniform(0, 0.4, size=(len(range(0, n, 5)), m))
    for cap, fraction in ((1.0, 1.0), (1.5, 0.5), (0.3, 1.0)):
        rule = KellySizing(method="kelly", fraction=fraction, lookback=120)
        out, stats = apply_sizing(weights, close, eligible, rule, periods_per_year=252,
                                  max_weight=1.0, max_leverage=cap)  # fmt: skip
        gross = np.nansum(np.abs(out), axis=1)
        assert gross.max() <= cap + 1e-12
        assert stats["rows_sized"] > 100
    # a strong planted edge is levered up to the cap, and a haircut makes it smaller
    full = KellySizing(method="kelly", fraction=1.0, lookback=120, haircut="none")
    cut = KellySizing(method="kelly", fraction=1.0, lookback=120, z=3.0)
    a, _ = apply_sizing(weights, close, eligible, full, periods_per_year=252, max_weight=1,
                        max_leverage=10)  # fmt: skip
    b, _ = apply_sizing(weights, close, eligible, cut, periods_per_year=252, max_weight=1,
                        max_leverage=10)  # fmt: skip
    sized = np.isfinite(a).any(axis=1) & (np.arange(n) >= 120)
    assert (np.nansum(np.abs(b[sized]), axis=1) <= np.nansum(np.abs(a[sized]), axis=1)).all()
    assert np.nansum(np.abs(a[sized]), axis=1).max() > 1.0


def test_max_weight_caps_every_sized_position():
    data = ohlc_panel()
    for sizing in ({"method": "fixed_fractional", "stop": 0.02, "risk_per_trade": 0.05},
                   {"method": "atr", "risk_per_trade": 0.05}):  # fmt: skip
        s = spec(sizing=sizing, limits={"max_weight": 0.3, "max_leverage": 0.8},
                 portfolio={"method": "top_k", "k": 3, "gross": 0.8})  # fmt: skip
        targets = target_signal_fn(s, _momentum)(data)["target_weights"]
        assert np.nanmax(np.abs(targets)) <= 0.3 + 1e-12
        assert np.nansum(np.abs(targets), axis=1).max() <= 0.8 + 1e-12


def test_risk_parity_equalizes_risk_contributions_of_the_held_assets():
    data = ohlc_panel()
    s = spec(sizing={"method": "risk_parity", "lookback": 63})
    targets = target_signal_fn(s, _momentum)(data)["target_weights"]
    close = np.asarray(data["close"])
    rets = simple_returns(close, np.ones(close.shape, bool))
    t = int(np.flatnonzero(np.isfinite(targets).any(axis=1))[-1])
    w = targets[t]
    held = np.flatnonzero(w > 0)
    cov = np.cov(rets[t - 62 : t + 1][:, held], rowvar=False)
    contributions = w[held] * (cov @ w[held])
    assert len(held) == 3
    assert np.allclose(contributions / contributions.sum(), 1 / 3, atol=1e-6)
    assert np.isclose(w.sum(), 1.0)


def _momentum(panel: Panel) -> np.ndarray:
    close = np.asarray(panel["close"], dtype=np.float64)
    out = np.full(close.shape, np.nan)
    out[21:] = close[20:-1] / close[:-21] - 1.0
    return out


# ------------------------------------------------------------------ causality
@pytest.mark.parametrize(
    "extra",
    [
        {"sizing": {"method": "vol_target", "target": 0.1, "lookback": 40}},
        {"sizing": {"method": "kelly", "lookback": 60}},
        {"sizing": {"method": "fixed_fractional", "stop": 0.05}},
        {"sizing": {"method": "atr", "window": 5}},
        {"sizing": {"method": "risk_parity", "lookback": 40}},
        {"regime": {"detector": "volatility", "allow": ["calm"], "min_history": 100}},
        {"regime": {"detector": "trend", "scale": {"down": 0.0}, "fast": 10, "slow": 40}},
    ],
    ids=lambda e: next(iter(e.values()))["method" if "sizing" in e else "detector"],
)
def test_truncation_and_warmup_scans_are_clean(extra):
    data = ohlc_panel()
    s = spec(**extra)
    fn = target_signal_fn(s, _momentum)
    settle = 120 + max(s.sizing.warmup() if s.sizing else 0, s.regime.warmup() if s.regime else 0)
    report = scan_lookahead(fn, data, n_points=8, settle=settle, min_history=150,
                            max_decision_points=25)  # fmt: skip
    assert report.clean, report.summary()
    # and a peek is caught through the same steps
    peek = target_signal_fn(s, lambda p: np.roll(np.asarray(p["close"], float), -1, axis=0))
    caught = scan_lookahead(peek, data, n_points=4, settle=settle, min_history=150,
                            max_decision_points=4, warmups=())  # fmt: skip
    assert not caught.clean


# ------------------------------------------------------------------ regimes
def test_an_always_open_gate_equals_the_ungated_backtest():
    data = ohlc_panel()
    info = make_info(data)
    plain = backtest_panel(spec(), info, data)
    for regime in ({"detector": "volatility", "allow": ["calm", "turbulent"]},
                   {"detector": "trend", "scale": {"down": 1.0}}):  # fmt: skip
        gated = backtest_panel(spec(regime=regime), info, data)
        pd.testing.assert_series_equal(gated.simulation.equity, plain.simulation.equity)
        assert gated.assumptions["regime"]["stats"]["rows_changed"] == 0


def test_regime_changes_between_rebalances_retarget_the_book_from_the_next_bar():
    weights = np.full((10, 2), np.nan)
    weights[0] = [0.5, 0.5]
    weights[6] = [1.0, 0.0]
    mult = np.array([1, 1, 1, 0, 0, 1, 1, 1, 0.5, 0.5], dtype=float)
    out, stats = apply_regime(weights, mult)
    assert np.array_equal(out[3], [0.0, 0.0])  # decided at the close of bar 3
    assert np.isnan(out[4]).all()  # no change: no order
    assert np.array_equal(out[5], [0.5, 0.5])  # the intended book back
    assert np.array_equal(out[6], [1.0, 0.0])
    assert np.array_equal(out[8], [0.5, 0.0])
    assert stats["rows_changed"] == 3


def test_gating_helps_a_planted_regime_dependent_edge():
    """A score that predicts the next bar's return in calm markets and the opposite in
    turbulent ones: holding its top assets only while calm beats holding them always."""
    rng = np.random.default_rng(21)
    n, m = 2400, 10
    index = pd.date_range("2012-01-02", periods=n, freq="B", tz="UTC")
    turbulent = (np.arange(n) // 200) % 2 == 1
    score = rng.standard_normal((n, m))
    vol = np.where(turbulent, 0.03, 0.008)[:, None]
    common = vol[:, 0] * rng.standard_normal(n)
    rets = 0.5 * vol * rng.standard_normal((n, m)) + common[:, None]
    edge = np.where(turbulent[1:, None], -1.0, 1.0) * 0.004 * score[:-1]
    # a decision at t fills at the close of t + 1 and earns the return of t + 2
    rets[2:] += edge[:-1]
    close = 50 * np.cumprod(1 + rets, axis=0)
    panel = Panel(index, [f"A{j}" for j in range(m)], {"close": close, "score": score})
    info = make_info(panel)
    base = {"data": "synth", "signal": {"expr": "$score"}, "fills": "next_close",
            "portfolio": {"method": "top_k", "k": 3}, "rebalance": {"frequency": "daily"},
            "costs": {"commission_per_share": 0.0, "commission_min": 0.0, "exchange_fee_bps": 0.0,
                      "half_spread_bps": 0.0, "slippage_bps": 0.0, "impact": "none"}}  # fmt: skip
    gate = {"detector": "volatility", "allow": ["calm"], "window": 10, "min_history": 150}
    ungated = backtest_panel(StrategySpec.from_dict(base), info, panel, signal=score)
    gated = backtest_panel(StrategySpec.from_dict({**base, "regime": gate}), info, panel,
                           signal=score)  # fmt: skip
    assert gated.metrics["sharpe_ratio"] > ungated.metrics["sharpe_ratio"] + 0.5
    share = gated.assumptions["regime"]["stats"]["share_gated"]
    assert 0.3 < share < 0.7


def test_both_engines_trade_the_sized_and_gated_book():
    data = ohlc_panel(n=500)
    info = make_info(data)
    s = spec(
        sizing={"method": "vol_target", "target": 0.08, "lookback": 40},
        regime={"detector": "trend", "scale": {"down": 0.0}, "fast": 10, "slow": 40},
    )
    vec = backtest_panel(s, info, data, "vectorized")
    evt = backtest_panel(s, info, data, "event")
    assert evt.assumptions["sizing"] == vec.assumptions["sizing"]
    assert evt.assumptions["regime"]["stats"]["rows_changed"] > 0
    np.testing.assert_allclose(evt.simulation.equity, vec.simulation.equity, rtol=1e-9)
    plain = backtest_panel(spec(), info, data, "event")
    assert not np.allclose(plain.simulation.equity, evt.simulation.equity)


def test_hidden_state_regimes_are_filtered_so_truncation_passes():
    """The HMM refits from the first loaded bar (the warm-up test would report that), but
    its labels are forward-filtered: cutting the future changes no earlier target."""
    data = ohlc_panel(n=700)
    s = spec(regime={"detector": "hmm", "allow": ["calm"], "min_history": 300})
    result = backtest_panel(s, make_info(data), data)
    stats = result.assumptions["regime"]["stats"]
    assert set(stats["bars_by_regime"]) == {"warm-up", "calm", "turbulent"}
    assert 0 < stats["share_gated"] < 1
    report = scan_lookahead(target_signal_fn(s, _momentum), data, n_points=4, settle=300,
                            min_history=320, max_decision_points=4, warmups=())  # fmt: skip
    assert report.clean, report.summary()
