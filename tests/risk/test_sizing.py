"""Position sizing: Kelly on known moments, volatility targeting, ATR, fixed fractional, regimes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alphaloop.risk import (
    RegimeLabels,
    RiskError,
    atr_position_size,
    average_true_range,
    fixed_fractional_size,
    kelly_fraction,
    regime_scale,
    rolling_kelly,
    volatility_target_scale,
)
from tests.risk.helpers import assert_causal, dates


def _with_moments(mean: float, std: float, n: int, seed: int = 0) -> np.ndarray:
    """A sample whose mean and sample standard deviation are exactly ``mean`` and ``std``."""
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + std * z


def test_full_kelly_on_known_moments() -> None:
    x = _with_moments(0.001, 0.01, 500)
    full = kelly_fraction(x, fraction=1.0, haircut="none", max_leverage=100.0)
    assert full == pytest.approx(0.001 / 0.01**2)  # 10x


def test_fraction_and_risk_free_and_cap() -> None:
    x = _with_moments(0.001, 0.01, 500)
    assert kelly_fraction(x, fraction=0.5, haircut="none", max_leverage=100.0) == pytest.approx(5.0)
    assert kelly_fraction(
        x, fraction=1.0, haircut="none", risk_free=0.0005, max_leverage=100.0
    ) == pytest.approx(5.0)
    assert kelly_fraction(x, fraction=1.0, haircut="none", max_leverage=2.0) == 2.0
    assert kelly_fraction(-x, fraction=1.0, haircut="none", max_leverage=2.0) == -2.0


def test_standard_error_haircut_by_hand() -> None:
    x = _with_moments(0.001, 0.01, 400)  # standard error 0.01 / 20 = 0.0005
    shrunk = kelly_fraction(x, fraction=1.0, z=1.0, max_leverage=100.0)
    assert shrunk == pytest.approx((0.001 - 0.0005) / 0.01**2)
    negative = kelly_fraction(-x, fraction=1.0, z=1.0, max_leverage=100.0)
    assert negative == pytest.approx(-shrunk)


def test_an_edge_inside_its_noise_bets_nothing() -> None:
    x = _with_moments(0.0004, 0.01, 400)  # standard error 0.0005 > edge
    assert kelly_fraction(x, fraction=1.0) == 0.0
    assert kelly_fraction(x, fraction=1.0, haircut="none") > 0.0


@given(
    mean=st.floats(-0.01, 0.01),
    std=st.floats(0.001, 0.05),
    z=st.floats(0.0, 3.0),
)
def test_haircut_never_increases_the_bet(mean: float, std: float, z: float) -> None:
    x = _with_moments(mean, std, 250)
    raw = kelly_fraction(x, fraction=1.0, haircut="none", max_leverage=1e6)
    cut = kelly_fraction(x, fraction=1.0, z=z, max_leverage=1e6)
    assert abs(cut) <= abs(raw) + 1e-12
    assert cut == 0.0 or math.copysign(1.0, cut) == math.copysign(1.0, raw)


def test_rolling_kelly_uses_the_window_before_each_bar() -> None:
    returns = pd.Series(np.random.default_rng(2).normal(0.001, 0.01, 300), index=dates(300))
    k = rolling_kelly(returns, window=100, haircut="none", max_leverage=100.0)
    assert k.iloc[:100].isna().all()
    expected = kelly_fraction(returns.iloc[100:200], haircut="none", max_leverage=100.0)
    assert k.iloc[200] == pytest.approx(expected)
    assert_causal(lambda r: rolling_kelly(r, window=100), returns, [100, 101, 250])


def test_volatility_target_by_hand() -> None:
    returns = pd.Series(np.random.default_rng(3).normal(0.0, 0.01, 200), index=dates(200))
    scale = volatility_target_scale(returns, target_vol=0.10, window=20, max_leverage=50.0)
    assert scale.iloc[:20].isna().all()
    trailing = returns.iloc[80:100].std(ddof=1) * math.sqrt(252)
    assert scale.iloc[100] == pytest.approx(0.10 / trailing)


def test_volatility_target_hits_its_target_on_stationary_returns() -> None:
    returns = pd.Series(np.random.default_rng(4).normal(0.0, 0.02, 5000), index=dates(5000))
    scale = volatility_target_scale(returns, target_vol=0.10, window=63, max_leverage=10.0)
    realised = (scale * returns).dropna().std() * math.sqrt(252)
    assert realised == pytest.approx(0.10, rel=0.05)


def test_volatility_target_caps_leverage_and_handles_flat_windows() -> None:
    returns = pd.Series(np.r_[np.zeros(30), np.full(30, 0.001)], index=dates(60))
    scale = volatility_target_scale(returns, window=10, max_leverage=3.0)
    assert (scale.dropna() <= 3.0).all()
    assert scale.iloc[15] == 3.0  # a window with no volatility


def test_volatility_target_frame_is_per_column() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"a": rng.normal(0, 0.01, 100), "b": rng.normal(0, 0.03, 100)}, index=dates(100)
    )
    scale = volatility_target_scale(frame, window=20, max_leverage=50.0)
    pd.testing.assert_series_equal(
        scale["b"], volatility_target_scale(frame["b"], window=20, max_leverage=50.0)
    )


@given(arrays(np.float64, 80, elements=st.floats(-0.2, 0.2)), st.integers(25, 79))
def test_volatility_target_and_kelly_are_causal(values: np.ndarray, cut: int) -> None:
    returns = pd.Series(values, index=dates(80))
    assert_causal(lambda r: volatility_target_scale(r, window=20), returns, [cut])
    assert_causal(lambda r: rolling_kelly(r, window=20), returns, [cut])


def _ohlc(n: int, seed: int = 6) -> tuple[pd.Series, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    close = pd.Series(100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), index=dates(n))
    high = close * (1.0 + rng.uniform(0, 0.01, n))
    low = close * (1.0 - rng.uniform(0, 0.01, n))
    return high, low, close


def test_average_true_range_by_hand() -> None:
    idx = dates(4)
    high = pd.Series([10.0, 12.0, 11.0, 13.0], index=idx)
    low = pd.Series([9.0, 10.0, 8.0, 12.0], index=idx)
    close = pd.Series([9.5, 11.0, 9.0, 12.5], index=idx)
    # true ranges 1, max(2, 2.5, 0.5) = 2.5, max(3, 0, 3) = 3, max(1, 4, 3) = 4
    atr = average_true_range(high, low, close, window=2)
    tr = [1.0, 2.5, 3.0, 4.0]
    expected = [math.nan, 0.5 * tr[0] + 0.5 * tr[1]]
    expected += [0.5 * expected[1] + 0.5 * tr[2]]
    expected += [0.5 * expected[2] + 0.5 * tr[3]]
    np.testing.assert_allclose(atr.to_numpy(), expected)


def test_atr_size_uses_the_previous_bar() -> None:
    high, low, close = _ohlc(100)
    units = atr_position_size(high, low, close, capital=1e6, risk_fraction=0.01, window=14)
    atr = average_true_range(high, low, close, window=14)
    assert units.iloc[:14].isna().all()
    assert units.iloc[50] == pytest.approx(1e6 * 0.01 / (2.0 * atr.iloc[49]))
    ohlc = pd.DataFrame({"high": high, "low": low, "close": close})
    assert_causal(
        lambda f: atr_position_size(f["high"], f["low"], f["close"], capital=1e6),
        ohlc,
        [15, 60],
    )


def test_atr_refuses_bad_prices() -> None:
    high, low, close = _ohlc(30)
    with pytest.raises(RiskError, match="close: prices must be positive"):
        average_true_range(high, low, close.where(close.index != close.index[5], -1.0))
    with pytest.raises(RiskError, match="high: below low"):
        average_true_range(low, high, close)


def test_fixed_fractional() -> None:
    assert fixed_fractional_size(100_000.0, 0.02, 5.0) == pytest.approx(400.0)
    np.testing.assert_allclose(fixed_fractional_size(1e4, 0.01, np.array([1.0, 2.0])), [100, 50])
    with pytest.raises(RiskError, match="stop_distance: expected positive"):
        fixed_fractional_size(1e4, 0.01, 0.0)
    with pytest.raises(RiskError, match=r"risk_fraction: expected a number in \(0, 1\]"):
        fixed_fractional_size(1e4, 1.5, 1.0)


def test_regime_scale_lags_one_bar_and_maps_names() -> None:
    labels = pd.Series([-1, 0, 0, 1, 1, 0], index=dates(6))
    regimes = RegimeLabels(labels=labels, names=("calm", "turbulent"), method="vol")
    scale = regime_scale(regimes, {"calm": 1.0, "turbulent": 0.25}, warmup=0.5)
    np.testing.assert_allclose(scale.to_numpy(), [0.5, 0.5, 1.0, 1.0, 0.25, 0.25])
    by_label = regime_scale(labels, {0: 1.0, 1: 0.25}, warmup=0.5)
    pd.testing.assert_series_equal(scale, by_label)
    assert_causal(lambda s: regime_scale(s, {0: 1.0, 1: 0.25}), labels, [2, 4])


def test_regime_scale_needs_every_regime() -> None:
    labels = pd.Series([0, 1, 2], index=dates(3))
    with pytest.raises(RiskError, match=r"scales: no scale for regime\(s\) \[2\]"):
        regime_scale(labels, {0: 1.0, 1: 0.5})
    regimes = RegimeLabels(labels=labels, names=("a", "b", "c"), method="vol")
    with pytest.raises(RiskError, match="scales: unknown regime 'd'"):
        regime_scale(regimes, {"d": 1.0})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kelly_fraction(np.zeros(10)), "returns: zero variance"),
        (lambda: kelly_fraction([0.01]), "returns: 1 bars is too short"),
        (lambda: kelly_fraction([0.01, np.nan, 0.02]), "returns: 1 missing"),
        (lambda: kelly_fraction([0.01, 0.02], haircut="bayes"), "haircut: unknown value"),
        (lambda: kelly_fraction([0.01, 0.02], fraction=0.0), "fraction: expected a number"),
        (lambda: volatility_target_scale(np.zeros(5), window=10), "returns: 5 bars"),
        (lambda: volatility_target_scale(np.zeros(50), target_vol=-1), "target_vol"),
    ],
)
def test_bad_input_names_the_field(call: object, message: str) -> None:
    with pytest.raises(RiskError, match=message):
        call()  # type: ignore[operator]


@given(arrays(np.float64, 40, elements=st.floats(-0.05, 0.05)), st.integers(15, 39))
def test_average_true_range_is_causal(moves: np.ndarray, cut: int) -> None:
    close = pd.Series(100.0 * np.exp(np.cumsum(moves)), index=dates(40))
    ohlc = pd.DataFrame({"high": close * 1.01, "low": close * 0.99, "close": close})
    assert_causal(
        lambda f: average_true_range(f["high"], f["low"], f["close"], window=14), ohlc, [cut]
    )
