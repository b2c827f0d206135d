"""The volatility-targeting overlay: a scaled book's realized volatility sits nearer the target,
the caps hold, NaN semantics are kept, and row t uses bars up to t only.

Synthetic panel: four random walks whose daily volatility switches between
0.4 % and 2 % every 200 bars (a regime-switching market).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.backtest import StrategySpec, backtest_panel, scan_lookahead
from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
from alphaloop.backtest.runner import scan_decisions, target_signal_fn
from alphaloop.backtest.vectorized import simulate
from alphaloop.data import Panel
from alphaloop.errors import BacktestError, SpecError
from alphaloop.execution.costs import CostModel
from alphaloop.strategies import VolatilityTarget, apply_vol_target
from tests.research.synthetic import make_info

N = 4
TARGET = 0.10


def regime_panel(seed: int = 1, n_times: int = 1600) -> Panel:
    rng = np.random.default_rng(seed)
    daily = np.where((np.arange(n_times) // 200) % 2 == 0, 0.004, 0.02)
    common = rng.standard_normal((n_times, 1))
    rets = daily[:, None] * (0.6 * common + 0.8 * rng.standard_normal((n_times, N)))
    close = 40.0 * np.exp(np.cumsum(rets, axis=0))
    index = pd.bdate_range("2014-01-02", periods=n_times, tz="UTC")
    return Panel(index, [f"R{j}" for j in range(N)], {"close": close})


def weekly_equal_weights(panel: Panel, gross: float = 1.0) -> np.ndarray:
    idx = panel.index
    weekly = np.r_[
        True, idx.isocalendar().week.to_numpy()[1:] != idx.isocalendar().week.to_numpy()[:-1]
    ]
    w = np.full(panel.shape, np.nan)
    w[weekly] = gross / N
    return w


def scale(
    weights: np.ndarray, panel: Panel, max_leverage: float = 3.0, **kw
) -> tuple[np.ndarray, dict]:
    close = np.asarray(panel["close"])
    overlay = VolatilityTarget(**{"target": TARGET, **kw})
    return apply_vol_target(
        weights, close, np.isfinite(close), overlay, periods_per_year=252, max_leverage=max_leverage
    )


def regime_vols(returns: np.ndarray, start: int) -> np.ndarray:
    """Annualized volatility of each 200-bar regime from ``start`` on."""
    blocks = [returns[s : s + 200] for s in range(start, len(returns) - 199, 200)]
    return np.array([b.std(ddof=1) * np.sqrt(252) for b in blocks])


@pytest.mark.parametrize("estimator", ["covariance", "realized"])
def test_scaled_book_volatility_is_nearer_the_target(estimator: str) -> None:
    panel = regime_panel()
    raw = weekly_equal_weights(panel)
    scaled, stats = scale(raw, panel, estimator=estimator, window=21, max_scale=3.0)
    kw = {"fills": "next_close", "max_leverage": 3.0, "costs": CostModel()}
    before = simulate(panel, raw, **kw).returns.to_numpy()
    after = simulate(panel, scaled, **kw).returns.to_numpy()
    vb, va = regime_vols(before, 200), regime_vols(after, 200)
    # unscaled: ~5 % in calm regimes, ~25 % in wild ones; scaled: near 10 % in both
    assert np.abs(np.log(va / TARGET)).mean() < 0.5 * np.abs(np.log(vb / TARGET)).mean()
    assert va.max() / va.min() < 0.5 * vb.max() / vb.min()
    assert abs(after[200:].std(ddof=1) * np.sqrt(252) - TARGET) < 0.03
    assert stats["rows_scaled"] > 300
    assert stats["min_scale"] < 0.6
    assert stats["max_scale"] > 1.5


def test_covariance_estimate_is_the_book_on_the_trailing_covariance() -> None:
    panel = regime_panel(seed=2, n_times=300)
    close = np.asarray(panel["close"])
    w = np.full(panel.shape, np.nan)
    w[100] = [0.5, -0.2, 0.3, 0.1]
    w[150] = [np.nan, 0.4, np.nan, np.nan]  # only R1 changes; the others are carried
    w[150, 3] = 0.0
    out, stats = scale(w, panel, window=30, max_scale=10.0, max_leverage=10.0)
    rets = close[1:] / close[:-1] - 1.0
    for t, book in ((100, w[100]), (150, np.array([0.5, 0.4, 0.3, 0.0]))):
        cov = np.cov(rets[t - 30 : t], rowvar=False)  # returns of bars t-29 .. t
        vol = np.sqrt(book @ cov @ book * 252)
        np.testing.assert_allclose(out[t], w[t] * TARGET / vol, rtol=1e-10)
    assert np.isnan(out[150, [0, 2]]).all()
    assert np.isnan(out[np.r_[0:100, 101:150, 151:300]]).all()
    assert stats["rows_scaled"] == 2


def test_realized_estimate_is_the_books_own_trailing_returns() -> None:
    panel = regime_panel(seed=3, n_times=300)
    close = np.asarray(panel["close"])
    w = np.full(panel.shape, np.nan)
    w[50] = [0.25, 0.25, 0.25, 0.25]
    w[90] = [0.5, 0.0, 0.0, -0.2]
    w[140] = [0.1, 0.1, 0.1, 0.1]
    out, stats = scale(w, panel, window=40, estimator="realized", max_scale=10.0, max_leverage=10.0)
    rets = close[1:] / close[:-1] - 1.0  # rets[s - 1] is bar s's return
    # bar 140: bars 101..140, the book decided at 90 in force on all of them
    path = rets[100:140] @ w[90]
    vol = path.std(ddof=1) * np.sqrt(252)
    np.testing.assert_allclose(out[140], w[140] * TARGET / vol, rtol=1e-10)
    # bar 90: bars 51..90, the book decided at 50 (the book's own past, not the new book)
    path = rets[50:90] @ w[50]
    np.testing.assert_allclose(
        out[90], w[90] * TARGET / (path.std(ddof=1) * np.sqrt(252)), rtol=1e-10
    )
    # bar 50 has no history of the book: the covariance estimate stands in
    assert stats["rows_fallback"] == 1
    cov = np.cov(rets[50 - 40 : 50], rowvar=False)
    np.testing.assert_allclose(
        out[50], w[50] * TARGET / np.sqrt(w[50] @ cov @ w[50] * 252), rtol=1e-10
    )


def test_scale_is_capped_by_max_scale_and_max_leverage() -> None:
    panel = regime_panel(seed=4, n_times=400)
    close = np.asarray(panel["close"])
    calm = Panel(panel.index, panel.assets, {"close": 40.0 + 0.001 * close})  # ~0 volatility
    w = weekly_equal_weights(calm, gross=0.8)
    out, stats = scale(w, calm, max_scale=1.5)
    rows = np.isfinite(w).any(axis=1) & (np.arange(400) >= 63)
    np.testing.assert_allclose(out[rows], w[rows] * 1.5, rtol=1e-12)
    assert stats["rows_max_scale"] == rows.sum()
    assert stats["max_scale"] == pytest.approx(1.5)
    eligible = np.isfinite(close)
    capped, stats = apply_vol_target(
        w, np.asarray(calm["close"]), eligible, VolatilityTarget(target=0.1, max_scale=5.0),
        periods_per_year=252, max_leverage=1.0,
    )  # fmt: skip
    np.testing.assert_allclose(np.abs(capped[rows]).sum(axis=1), 1.0, rtol=1e-12)
    assert stats["rows_leverage_capped"] == rows.sum()
    # rows before a full window are left as they are, and counted
    np.testing.assert_array_equal(out[:63], w[:63])
    assert stats["rows_unestimated"] == int(np.isfinite(w[:63]).any(axis=1).sum()) > 0


@pytest.mark.parametrize("estimator", ["covariance", "realized"])
def test_truncation_rows_up_to_t_do_not_change(estimator: str) -> None:
    panel = regime_panel(seed=5, n_times=700)
    rng = np.random.default_rng(5)
    w = np.full(panel.shape, np.nan)
    rows = np.flatnonzero(rng.random(700) < 0.1)
    w[rows] = rng.uniform(-0.5, 0.5, (rows.size, N))
    w[rows[::3], 1] = np.nan  # per-asset "leave it"
    close = np.asarray(panel["close"])
    eligible = np.isfinite(close)
    overlay = VolatilityTarget(target=0.15, window=30, estimator=estimator)
    full, _ = apply_vol_target(w, close, eligible, overlay, periods_per_year=252, max_leverage=2.0)
    assert not np.allclose(full[rows[-1]], w[rows[-1]])
    for cut in (100, 333, 500, 699):
        part, _ = apply_vol_target(
            w[: cut + 1], close[: cut + 1], eligible[: cut + 1], overlay,
            periods_per_year=252, max_leverage=2.0,
        )  # fmt: skip
        np.testing.assert_array_equal(part, full[: cut + 1])


def test_both_engines_agree_on_scaled_weights() -> None:
    panel = regime_panel(seed=6, n_times=600)
    scaled, _ = scale(weekly_equal_weights(panel), panel, window=21)
    kw = {"fills": "next_close", "max_leverage": 3.0}
    a = simulate(panel, scaled, **kw)
    b = EventEngine(panel, TargetWeightsStrategy(scaled), **kw).run()
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades) > 100


def test_bad_settings_and_inputs_are_refused() -> None:
    for bad in ({"target": 0.0}, {"target": 2.5}, {"target": 0.1, "window": 4},
                {"target": 0.1, "estimator": "garch"}, {"target": 0.1, "max_scal": 2}):  # fmt: skip
        with pytest.raises(ValidationError):
            VolatilityTarget(**bad)
    overlay = VolatilityTarget(target=0.1)
    assert overlay.window == 63
    assert overlay.max_scale == 2.0
    assert "vol target 10%" in overlay.describe()
    with pytest.raises(BacktestError, match="one shape"):
        apply_vol_target(
            np.zeros((10, 2)), np.ones((10, 3)), np.ones((10, 3), bool), overlay,
            periods_per_year=252, max_leverage=1.0,
        )  # fmt: skip


# -- through the spec and the runner --------------------------------------------------


def overlay_spec(overlay: dict | None, estimator: str = "covariance") -> StrategySpec:
    doc = {
        "name": "ew",
        "data": "synth",
        "signal": {"expr": "$close"},
        "portfolio": {"method": "top_k", "k": N},
        "rebalance": {"frequency": "weekly"},
        "limits": {"max_leverage": 3.0},
        "fills": "next_close",
    }
    if overlay is not None:
        doc["overlay"] = {**overlay, "estimator": estimator}
    return StrategySpec.from_dict(doc)


@pytest.mark.parametrize("estimator", ["covariance", "realized"])
def test_backtest_panel_applies_the_overlay_in_both_engines(estimator: str) -> None:
    panel = regime_panel(seed=7, n_times=1000)
    info = make_info(panel)
    spec = overlay_spec({"target": TARGET, "window": 21, "max_scale": 3.0}, estimator)
    vec = backtest_panel(spec, info, panel, "vectorized")
    evt = backtest_panel(spec, info, panel, "event")
    np.testing.assert_allclose(
        evt.simulation.equity.to_numpy(), vec.simulation.equity.to_numpy(), rtol=1e-9, atol=0
    )
    assert len(vec.simulation.trades) == len(evt.simulation.trades) > 100
    record = vec.assumptions["overlay"]
    assert record["target"] == TARGET
    assert record["estimator"] == estimator
    assert record["stats"]["rows_scaled"] > 150
    assert any(n.startswith("vol target 10%") for n in vec.assumptions["notes"])
    plain = backtest_panel(overlay_spec(None), info, panel, "vectorized")
    assert plain.assumptions["overlay"] is None
    vol_on = regime_vols(vec.simulation.returns.to_numpy(), 200)
    vol_off = regime_vols(plain.simulation.returns.to_numpy(), 200)
    assert np.abs(np.log(vol_on / TARGET)).mean() < 0.5 * np.abs(np.log(vol_off / TARGET)).mean()


def test_the_spec_takes_an_overlay_and_its_scan_is_clean() -> None:
    plain, with_overlay = overlay_spec(None), overlay_spec({"target": 0.1})
    assert "overlay" not in plain.canonical()  # old hashes stay
    assert plain.hash != with_overlay.hash
    assert with_overlay.overlay == VolatilityTarget(target=0.1)
    with pytest.raises(SpecError, match="overlay"):
        StrategySpec.from_dict({"data": "x", "signal": {"expr": "$close"}, "overlay": {}})
    panel = regime_panel(seed=8, n_times=700)
    spec = overlay_spec({"target": 0.1, "window": 30}, "realized")
    closes = lambda p: np.asarray(p["close"], dtype=np.float64)  # noqa: E731  the expr $close
    report = scan_lookahead(
        target_signal_fn(spec, closes),
        panel,
        decisions=scan_decisions(spec, panel.index),
        n_points=8,
        settle=120,
        min_history=150,
        max_decision_points=40,
    )
    assert report.clean, report.findings
