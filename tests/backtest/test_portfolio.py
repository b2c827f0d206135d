"""Portfolio construction: selection, weighting, caps, schedules, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.portfolio import rebalance_rows, target_weights, trailing_volatility
from alphaloop.backtest.spec import Limits, PortfolioRule, Rebalance
from alphaloop.errors import BacktestError


def _weights(signal, rule, limits=None, close=None, eligible=None, rebalance=None):
    signal = np.asarray(signal, dtype=float)
    close = np.ones_like(signal) if close is None else np.asarray(close, dtype=float)
    eligible = np.ones(signal.shape, dtype=bool) if eligible is None else eligible
    rebalance = np.ones(signal.shape[0], dtype=bool) if rebalance is None else rebalance
    return target_weights(signal, close, eligible, rule, limits or Limits(), rebalance)


def test_top_k_equal_weights_pick_the_highest() -> None:
    w = _weights([[0.1, 0.5, np.nan, 0.3]], PortfolioRule(k=2))
    np.testing.assert_allclose(w, [[0.0, 0.5, 0.0, 0.5]])


def test_top_k_skips_ineligible_and_nan_signals() -> None:
    eligible = np.array([[True, False, True, True]])
    w = _weights([[0.1, 0.9, 0.2, np.nan]], PortfolioRule(k=2), eligible=eligible)
    np.testing.assert_allclose(w, [[0.5, 0.0, 0.5, 0.0]])


def test_signal_weighting_and_cap_redistributes() -> None:
    rule = PortfolioRule(k=3, weighting="signal")
    w = _weights([[6.0, 3.0, 1.0]], rule)
    np.testing.assert_allclose(w, [[0.6, 0.3, 0.1]])
    capped = _weights([[6.0, 3.0, 1.0]], rule, Limits(max_weight=0.4))
    # 0.6 capped at 0.4; the 0.2 left goes to the others in proportion 3:1 -> 0.45 > cap
    np.testing.assert_allclose(capped, [[0.4, 0.4, 0.2]])
    assert capped.sum() == pytest.approx(1.0)


def test_cap_leaves_cash_when_every_name_is_capped() -> None:
    w = _weights([[1.0, 2.0]], PortfolioRule(k=2), Limits(max_weight=0.3))
    np.testing.assert_allclose(w, [[0.3, 0.3]])


def test_inverse_volatility_uses_only_past_returns() -> None:
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, [0.01, 0.03], (60, 2)), axis=0))
    vol = trailing_volatility(close, 20)
    assert np.isnan(vol[19]).all()
    assert np.isfinite(vol[20]).all()
    ret = close[1:21] / close[:20] - 1
    np.testing.assert_allclose(vol[20], ret.std(axis=0, ddof=1), rtol=1e-12)
    # changing a later price leaves earlier volatility untouched
    later = close.copy()
    later[40:] *= 3
    np.testing.assert_array_equal(trailing_volatility(later, 20)[:40], vol[:40])
    rule = PortfolioRule(k=2, weighting="inverse_volatility")
    w = _weights(np.ones((60, 2)), rule, close=close)
    inv = 1 / vol[30]
    np.testing.assert_allclose(w[30], inv / inv.sum())
    assert (w[:20] == 0).all()  # no volatility yet: nothing eligible


def test_quantile_long_short_balanced() -> None:
    rule = PortfolioRule(method="quantile_long_short", quantile=0.25, gross=2.0)
    w = _weights([[1, 2, 3, 4, 5, 6, 7, 8]], rule, Limits(max_leverage=2, allow_short=True))
    np.testing.assert_allclose(w, [[-0.5, -0.5, 0, 0, 0, 0, 0.5, 0.5]])


def test_threshold_hysteresis() -> None:
    rule = PortfolioRule(method="threshold", entry_long=1.0, exit_long=0.0)
    s = np.array([[0.5], [1.5], [0.5], [-0.1], [0.5], [2.0]])
    w = _weights(s, rule)
    np.testing.assert_allclose(w[:, 0], [0, 1, 1, 0, 0, 1])


def test_threshold_long_and_short() -> None:
    rule = PortfolioRule(method="threshold", entry_long=1.0, entry_short=-1.0)
    s = np.array([[2.0, -2.0, 0.0]])
    w = _weights(s, rule, Limits(allow_short=True))
    np.testing.assert_allclose(w, [[0.5, -0.5, 0.0]])


def test_non_rebalance_rows_are_nan() -> None:
    rebalance = np.array([True, False, True])
    w = _weights(np.ones((3, 2)), PortfolioRule(k=1), rebalance=rebalance)
    assert np.isnan(w[1]).all()
    assert np.isfinite(w[[0, 2]]).all()


def test_shape_errors() -> None:
    with pytest.raises(BacktestError, match="same"):
        target_weights(
            np.ones((3, 2)), np.ones((3, 3)), np.ones((3, 2), bool), PortfolioRule(k=1),
            Limits(), np.ones(3, bool),
        )  # fmt: skip
    with pytest.raises(BacktestError, match="rebalance mask"):
        _weights(np.ones((3, 2)), PortfolioRule(k=1), rebalance=np.ones(2, bool))


def test_schedules_pick_the_first_bar_of_each_period() -> None:
    idx = pd.bdate_range("2024-01-01", "2024-04-30", tz="UTC")
    monthly = idx[rebalance_rows(idx, Rebalance(frequency="monthly"))]
    assert [d.strftime("%m-%d") for d in monthly] == ["01-01", "02-01", "03-01", "04-01"]
    weekly = idx[rebalance_rows(idx, Rebalance(frequency="weekly"))]
    assert all(d.day_of_week == 0 for d in weekly)
    assert len(weekly) == 18
    quarterly = idx[rebalance_rows(idx, Rebalance(frequency="quarterly"))]
    assert [d.strftime("%m-%d") for d in quarterly] == ["01-01", "04-01"]
    bars = rebalance_rows(idx, Rebalance(frequency="bars", every=10))
    assert np.flatnonzero(bars)[:3].tolist() == [0, 10, 20]
    assert rebalance_rows(idx, Rebalance(frequency="daily")).all()
    assert rebalance_rows(idx[:0], Rebalance()).shape == (0,)
