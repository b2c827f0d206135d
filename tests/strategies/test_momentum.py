"""Momentum templates: time-series momentum finds a planted trend and not noise; cross-sectional
momentum's score is the skip-period return.

Synthetic panels: random walks with 1 % daily volatility, and for the planted
trend a per-asset drift of 0.1 % a day whose sign flips every 400 bars (so
both the long and the short side have something to find).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.backtest import backtest_panel
from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.vectorized import simulate
from alphaloop.data import Panel
from alphaloop.errors import SpecError
from alphaloop.execution import FillTiming
from alphaloop.strategies import (
    TEMPLATES,
    CrossSectionalMomentum,
    TemplateInputs,
    TimeSeriesMomentum,
)
from alphaloop.strategies.momentum import rolling_volatility, trailing_return
from tests.research.synthetic import make_info

N_ASSETS = 8
FAST = {"lookback": 63, "vol_window": 21}  # short windows: more rebalances per bar of data


def make_panel(seed: int, n_times: int = 1200, drift: float = 0.0, vol: float = 0.01) -> Panel:
    """Random walks; with ``drift``, each asset trends at +-drift a day, flipping every 400 bars.

    Field ``trend``: the sign of each asset's drift per bar (0 without drift).
    """
    rng = np.random.default_rng(seed)
    rets = rng.normal(0.0, vol, (n_times, N_ASSETS))
    flips = np.where((np.arange(n_times) // 400) % 2 == 0, 1.0, -1.0)
    trend = flips[:, None] * rng.choice([-1.0, 1.0], N_ASSETS)[None, :] * (drift != 0)
    close = 50.0 * np.exp(np.cumsum(rets + drift * trend, axis=0))
    index = pd.bdate_range("2012-01-02", periods=n_times, tz="UTC")
    return Panel(index, [f"A{j}" for j in range(N_ASSETS)], {"close": close, "trend": trend})


def inputs(panel: Panel, **kw) -> TemplateInputs:
    idx = panel.index
    monthly = np.r_[True, idx.month[1:] != idx.month[:-1]]
    close = np.asarray(panel["close"])
    kw = {"allow_short": True, "max_leverage": 1.0, **kw}
    return TemplateInputs(panel, np.isfinite(close), monthly, **kw)


def sharpe(returns: np.ndarray) -> float:
    r = returns[np.isfinite(returns)]
    return float(r.mean() / r.std(ddof=1) * np.sqrt(252)) if r.std() > 0 else 0.0


# -- time-series momentum -------------------------------------------------------------


def test_planted_trend_is_traded_with_a_positive_out_of_sample_net_return() -> None:
    panel = make_panel(seed=3, drift=0.001)
    out = TimeSeriesMomentum(**FAST).build(inputs(panel))
    assert out.kind == "weights"
    result = simulate(panel, out.weights, fills="next_close", allow_short=True)  # costs on
    half = panel.n_times // 2
    oos = result.equity.to_numpy()
    assert oos[-1] / oos[half] - 1.0 > 0.05  # 13.7 % on this seed
    assert sharpe(result.returns.to_numpy()[half:]) > 0.5  # 0.93 on this seed
    # it holds the trend's direction: after 400 bars of a known drift, the signs match
    rows = np.flatnonzero(np.isfinite(out.weights).any(axis=1))
    late = rows[(rows % 400) > 150]
    agree = np.sign(out.weights[late]) == panel["trend"][late]
    assert agree.mean() > 0.7  # chance: 0.5; a 63-bar drift of 6.3 % vs 7.9 % noise: ~0.79


def test_driftless_noise_has_no_consistent_edge_over_seeds() -> None:
    sharpes = []
    for seed in range(10):
        panel = make_panel(seed=100 + seed, n_times=1000)
        out = TimeSeriesMomentum(**FAST).build(inputs(panel))
        result = simulate(panel, out.weights, fills="next_close", allow_short=True)
        sharpes.append(sharpe(result.returns.to_numpy()[FAST["lookback"] :]))
    mean = float(np.mean(sharpes))
    # one seed's Sharpe over ~4 years has a standard error of ~0.5; the mean of ten, ~0.16
    assert -0.7 < mean < 0.35, sharpes
    assert sum(s > 0.5 for s in sharpes) <= 3, sharpes


def test_weights_follow_the_formula_on_a_hand_checked_row() -> None:
    panel = make_panel(seed=5, n_times=400, drift=0.0005)
    params = TimeSeriesMomentum(lookback=100, skip=10, vol_target=0.2, vol_window=30)
    out = params.build(inputs(panel, max_leverage=10.0, max_weight=10.0))
    close = pd.DataFrame(np.asarray(panel["close"]))
    t = int(np.flatnonzero(np.isfinite(out.weights).any(axis=1))[3])
    trend = close.iloc[t - 10] / close.iloc[t - 100] - 1.0
    rets = close.pct_change()
    sigma = rets.iloc[t - 29 : t + 1].std(ddof=1) * np.sqrt(252)
    expected = np.sign(trend) * 0.2 / (sigma * N_ASSETS)
    np.testing.assert_allclose(out.weights[t], expected.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.signal[t], (trend / sigma).to_numpy(), rtol=1e-12)
    # rows between rebalances are not decisions
    assert np.isnan(out.weights[t + 1]).all()


def test_limits_and_long_only_are_respected() -> None:
    panel = make_panel(seed=6, drift=0.001)
    out = TimeSeriesMomentum(**FAST).build(inputs(panel, max_weight=0.1, max_leverage=0.6))
    rows = np.isfinite(out.weights).any(axis=1)
    w = out.weights[rows]
    assert np.abs(w).max() <= 0.1 + 1e-12
    assert np.abs(w).sum(axis=1).max() <= 0.6 + 1e-12
    assert (w < 0).any()
    assert out.diagnostics["leverage_capped_rows"] > 0
    long_only = TimeSeriesMomentum(**FAST, long_only=True)
    assert not long_only.shorts
    lo = long_only.build(inputs(panel, allow_short=False)).weights
    assert np.nanmin(lo) == 0.0
    assert np.nanmax(lo) > 0.0
    # a long-only book is the long side of the long-short one, before the leverage cap
    both = TimeSeriesMomentum(**FAST).build(inputs(panel, max_leverage=100.0)).weights
    lo_big = long_only.build(inputs(panel, max_leverage=100.0)).weights
    np.testing.assert_allclose(
        lo_big, np.where(both > 0, both, np.where(np.isnan(both), np.nan, 0))
    )


@pytest.mark.parametrize("cut", [300, 517, 800])
def test_truncation_rows_up_to_t_do_not_change(cut: int) -> None:
    panel = make_panel(seed=7, drift=0.0005)
    params = TimeSeriesMomentum(lookback=126, skip=21, vol_window=42)
    full = params.build(inputs(panel))
    part = params.build(inputs(panel.iloc(slice(0, cut + 1))))
    np.testing.assert_array_equal(part.weights, full.weights[: cut + 1])
    np.testing.assert_array_equal(part.signal, full.signal[: cut + 1])


def test_both_engines_agree_on_ts_momentum_weights() -> None:
    panel = make_panel(seed=8, drift=0.0008)
    weights = TimeSeriesMomentum(**FAST).build(inputs(panel, max_leverage=1.5)).weights
    kw = {"fills": "next_close", "allow_short": True, "max_leverage": 1.5}
    a = simulate(panel, weights, **kw)
    b = EventEngine(panel, TargetWeightsStrategy(weights), **kw).run()
    x, y = a.equity.to_numpy(), b.equity.to_numpy()
    np.testing.assert_allclose(y, x, rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades) > 50


def test_missing_closes_and_ineligible_assets_get_no_position() -> None:
    panel = make_panel(seed=9, n_times=500, drift=0.001)
    close = np.asarray(panel["close"]).copy()
    close[200:260, 2] = np.nan
    gappy = Panel(panel.index, panel.assets, {"close": close})
    out = TimeSeriesMomentum(**FAST).build(inputs(gappy))
    rows = np.flatnonzero(np.isfinite(out.weights).any(axis=1))
    inside = rows[(rows >= 200) & (rows < 260)]
    assert inside.size
    assert (out.weights[inside, 2] == 0.0).all()
    assert np.isnan(out.signal[inside, 2]).all()
    # the other assets are split seven ways, not eight
    big = TimeSeriesMomentum(**FAST).build(inputs(gappy, max_leverage=100.0)).weights
    full = TimeSeriesMomentum(**FAST).build(inputs(panel, max_leverage=100.0)).weights
    t = inside[0]
    ratio = np.abs(big[t, [0, 1, 3]]) / np.abs(full[t, [0, 1, 3]])
    np.testing.assert_allclose(ratio, 8 / 7, rtol=1e-12)


def test_bad_parameters_and_inputs_are_refused() -> None:
    with pytest.raises(ValidationError, match="skip"):
        TimeSeriesMomentum(lookback=21, skip=21)
    with pytest.raises(ValidationError, match="vol_target"):
        TimeSeriesMomentum(vol_target=0.0)
    with pytest.raises(ValidationError):
        TimeSeriesMomentum(lookbak=10)
    with pytest.raises(SpecError, match="allow_short"):
        TimeSeriesMomentum().build(inputs(make_panel(1, 300), allow_short=False))
    # the spec refuses a shorting template without allow_short; spec_defaults turn it on
    doc = {"name": "t", "data": "x", "template": {"template": "ts_momentum"}}
    with pytest.raises(SpecError, match="allow_short"):
        StrategySpec.from_dict(doc)
    spec = StrategySpec.from_dict({**doc, **TimeSeriesMomentum().spec_defaults()})
    assert spec.template == TimeSeriesMomentum()
    assert spec.rebalance.frequency == "monthly"
    assert spec.limits.allow_short
    assert "allow_short" not in TimeSeriesMomentum(long_only=True).spec_defaults()["limits"]


def test_registered_with_a_grid_inside_its_bounds() -> None:
    assert TEMPLATES["ts_momentum"] is TimeSeriesMomentum
    for name, values in TimeSeriesMomentum.GRID.items():
        assert list(values) == sorted(values)
        for v in values:
            TimeSeriesMomentum(**{name: v, **({"lookback": 252} if name == "skip" else {})})
    assert TimeSeriesMomentum().warmup() == 252
    assert "ts_momentum(lookback=252" in TimeSeriesMomentum().describe()


def test_helpers_are_point_in_time() -> None:
    close = np.array([[1.0], [2.0], [4.0], [np.nan], [8.0], [16.0]])
    np.testing.assert_array_equal(
        trailing_return(close, 2, 1)[:, 0], [np.nan, np.nan, 1.0, 1.0, np.nan, np.nan]
    )
    vol = rolling_volatility(close, 3, 1.0)[:, 0]  # returns 1, 1, nan, nan, 1
    assert np.isnan(vol[:2]).all()  # two of three returns needed
    assert vol[2] == pytest.approx(0.0)
    assert np.isnan(vol[4])  # one return in bars 2..4
    np.testing.assert_array_equal(vol[:4], rolling_volatility(close[:4], 3, 1.0)[:, 0])
    # a finite window: history loaded before it changes nothing
    rng = np.random.default_rng(0)
    long = np.exp(np.cumsum(rng.normal(0, 0.01, (300, 2)), axis=0))
    np.testing.assert_allclose(
        rolling_volatility(long[100:], 20, 252.0)[50:],
        rolling_volatility(long, 20, 252.0)[150:],
        rtol=1e-12,
    )


# -- cross-sectional momentum --------------------------------------------------------


def test_xs_momentum_score_is_the_skip_period_return_and_ranks_the_planted_winner() -> None:
    panel = make_panel(seed=10, n_times=300)
    close = np.asarray(panel["close"]).copy()
    close[:, 4] *= np.exp(0.008 * np.arange(300))  # a steady winner
    panel = Panel(panel.index, panel.assets, {"close": close})
    out = CrossSectionalMomentum(lookback=60, skip=5).build(inputs(panel))
    assert out.kind == "signal"
    assert out.weights is None
    assert np.isnan(out.signal[:60]).all()
    t = 200
    np.testing.assert_allclose(out.signal[t], close[t - 5] / close[t - 60] - 1.0, rtol=1e-12)
    top = np.argmax(out.signal[60:], axis=1)
    assert (top == 4).mean() > 0.9
    cut = CrossSectionalMomentum(lookback=60, skip=5).build(inputs(panel.iloc(slice(0, 151))))
    np.testing.assert_array_equal(cut.signal, out.signal[:151])


def test_backtest_panel_runs_ts_momentum_in_both_engines() -> None:
    panel = make_panel(seed=12, n_times=700, drift=0.001)
    panel = Panel(panel.index, panel.assets, {"close": np.asarray(panel["close"])})
    doc = {"name": "t", "data": "synth", "template": {"template": "ts_momentum", **FAST}}
    spec = StrategySpec.from_dict({**doc, **TimeSeriesMomentum(**FAST).spec_defaults()})
    spec = spec.model_copy(update={"fills": FillTiming.NEXT_CLOSE})
    vec = backtest_panel(spec, make_info(panel), panel, "vectorized")
    evt = backtest_panel(spec, make_info(panel), panel, "event")
    a, b = vec.simulation.equity.to_numpy(), evt.simulation.equity.to_numpy()
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=0)
    assert len(vec.simulation.trades) == len(evt.simulation.trades) > 50
    # the backtest starts at the template's first signal: lookback (63) > vol_window (21)
    assert vec.simulation.equity.index[0] == panel.index[FAST["lookback"]]
    assert vec.assumptions["template"]["template"] == "ts_momentum"
    assert vec.metrics["sharpe_ratio"] > 0.5  # the planted trend, costs on (2.1 here)
