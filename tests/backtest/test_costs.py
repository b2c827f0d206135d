"""Costs and fill timing: fill_cost by hand, impact inputs without lookahead, CostModel checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alphaloop.execution.costs import (
    COST_CATEGORIES,
    CostModel,
    FillTiming,
    execution_lag,
    fill_cost,
    impact_inputs,
)

from .reference import fill_costs as reference_fill_costs


def costs_of(
    model: CostModel, shares: float, price: float, adv: float = math.nan, sigma: float = math.nan
) -> tuple[list[float], float]:
    """(commission, fees, spread, slippage, impact) and the total, from the numba function."""
    out = np.full(5, -1.0)
    total = fill_cost(model.as_array(), shares, price, adv, sigma, out)
    return out.tolist(), total


# -- fill_cost by hand ----------------------------------------------------------------


def test_minimum_commission() -> None:
    """100 shares at 50: 0.005 x 100 = 0.50 < the 1.00 minimum."""
    parts, total = costs_of(CostModel(), 100, 50.0)
    notional = 5_000.0
    expected = [1.0, 0.3e-4 * notional, 2e-4 * notional, 1e-4 * notional, 0.0]
    assert parts == pytest.approx(expected, rel=1e-15)
    assert total == pytest.approx(1.0 + 3.3e-4 * notional, rel=1e-15)


def test_per_share_commission_above_the_minimum() -> None:
    parts, _ = costs_of(CostModel(), -1_000, 50.0)  # a sell: only the size matters
    assert parts[0] == pytest.approx(5.0, rel=1e-15)


def test_percentage_commission_and_no_minimum_without_a_per_share_rate() -> None:
    model = CostModel.zero().model_copy(update={"commission_bps": 10.0, "commission_min": 1.0})
    parts, total = costs_of(model, 10, 5.0)  # notional 50: 0.05, the minimum does not apply
    assert parts == pytest.approx([0.05, 0.0, 0.0, 0.0, 0.0], rel=1e-15)
    assert total == pytest.approx(0.05, rel=1e-15)
    both = CostModel.zero().model_copy(
        update={"commission_per_share": 0.01, "commission_min": 2.0, "commission_bps": 10.0}
    )
    # minimum on the per-share part, then the bps on top: max(0.10, 2.00) + 0.05
    assert costs_of(both, 10, 5.0)[0][0] == pytest.approx(2.05, rel=1e-15)


def test_square_root_impact() -> None:
    """0.5 x 2% x sqrt(10,000 / 1,000,000) x 500,000 = 500."""
    model = CostModel.zero().model_copy(update={"impact": "sqrt", "impact_coef": 0.5})
    parts, total = costs_of(model, 10_000, 50.0, adv=1e6, sigma=0.02)
    assert parts[4] == pytest.approx(500.0, rel=1e-14)
    assert total == pytest.approx(500.0, rel=1e-14)
    # quadrupling the order doubles the impact per share
    assert costs_of(model, 40_000, 50.0, 1e6, 0.02)[0][4] == pytest.approx(4_000.0, rel=1e-14)


@pytest.mark.parametrize(("adv", "sigma"), [(math.nan, 0.02), (0.0, 0.02), (1e6, math.nan)])
def test_no_impact_without_history(adv: float, sigma: float) -> None:
    assert costs_of(CostModel(), 10_000, 50.0, adv, sigma)[0][4] == 0.0


def test_impact_none_turns_it_off() -> None:
    model = CostModel(impact="none")
    assert costs_of(model, 10_000, 50.0, 1e6, 0.02)[0][4] == 0.0
    assert model.as_array()[6] == 0.0


def test_zero_shares_cost_nothing() -> None:
    parts, total = costs_of(CostModel(), 0.0, 50.0, 1e6, 0.02)
    assert parts == [0.0] * 5
    assert total == 0.0


@settings(max_examples=200, deadline=None)
@given(
    shares=st.floats(-1e7, 1e7, allow_nan=False),
    price=st.floats(0.01, 1e4),
    adv=st.floats(1.0, 1e9) | st.sampled_from([0.0, math.nan]),  # shares a day
    sigma=st.floats(1e-6, 0.2) | st.sampled_from([0.0, math.nan]),
    per_share=st.sampled_from([0.0, 0.005]),
    bps=st.floats(0.0, 50.0),
)
def test_fill_cost_matches_the_written_out_rules(
    shares: float, price: float, adv: float, sigma: float, per_share: float, bps: float
) -> None:
    model = CostModel(commission_per_share=per_share, commission_bps=bps, slippage_bps=bps / 2)
    parts, total = costs_of(model, shares, price, adv, sigma)
    expected = reference_fill_costs(model, shares, price, adv, sigma)
    assert parts == pytest.approx(list(expected), rel=1e-12, abs=1e-12)
    assert total == pytest.approx(sum(expected), rel=1e-12, abs=1e-12)
    # the compiled and the plain-Python function are the same code
    out = np.zeros(5)
    assert fill_cost.py_func(model.as_array(), shares, price, adv, sigma, out) == total


# -- impact inputs: only bars before the fill ---------------------------------------------


def test_impact_inputs_by_hand() -> None:
    close = np.array([[10.0], [11.0], [9.9], [10.89], [10.0], [10.5]])
    volume = np.array([[100.0], [200.0], [300.0], [400.0], [500.0], [600.0]])
    adv, sigma = impact_inputs(close, volume, window=3)
    # adv[r] = mean of volume r-3 .. r-1
    assert np.isnan(adv[:3]).all()
    assert adv[3:, 0].tolist() == pytest.approx([200.0, 300.0, 400.0], rel=1e-14)
    # sigma[r] = sample std of the returns of bars r-3 .. r-1 (bar 0 has none)
    rets = close[1:, 0] / close[:-1, 0] - 1.0  # returns of bars 1..5
    assert np.isnan(sigma[:4]).all()
    assert sigma[4, 0] == pytest.approx(np.std(rets[0:3], ddof=1), rel=1e-12)
    assert sigma[5, 0] == pytest.approx(np.std(rets[1:4], ddof=1), rel=1e-12)


def test_impact_inputs_match_pandas_rolling_shifted() -> None:
    rng = np.random.default_rng(3)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 3)), axis=0))
    volume = rng.lognormal(12, 1, (300, 3))
    volume[100, 1] = np.nan
    adv, sigma = impact_inputs(close, volume, window=20)
    frame_v, frame_c = pd.DataFrame(volume), pd.DataFrame(close)
    np.testing.assert_allclose(adv, frame_v.rolling(20).mean().shift(1), rtol=1e-9)
    expected = frame_c.pct_change().rolling(20).std().shift(1)
    np.testing.assert_allclose(sigma, expected, rtol=1e-7)
    assert np.isnan(adv[101:121, 1]).all()
    assert not np.isnan(adv[121, 1])


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(3, 80),
    window=st.integers(2, 30),
    data=st.data(),
)
def test_impact_inputs_use_only_past_bars(
    seed: int, n_rows: int, window: int, data: st.DataObject
) -> None:
    """Changing bar r (and any later bar) leaves adv and sigma of rows 0..r unchanged."""
    rng = np.random.default_rng(seed)
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_rows, 2)), axis=0))
    volume = rng.lognormal(10, 1, (n_rows, 2))
    r = data.draw(st.integers(0, n_rows - 1))
    adv, sigma = impact_inputs(close, volume, window)
    close2, volume2 = close.copy(), volume.copy()
    close2[r:] *= rng.uniform(0.5, 2.0, close2[r:].shape)
    volume2[r:] = data.draw(st.sampled_from([0.0, 1e12, math.nan]))
    adv2, sigma2 = impact_inputs(close2, volume2, window)
    np.testing.assert_array_equal(adv2[: r + 1], adv[: r + 1])
    np.testing.assert_array_equal(sigma2[: r + 1], sigma[: r + 1])


def test_impact_inputs_without_volume_or_history() -> None:
    close = np.ones((10, 2))
    for adv, sigma in (impact_inputs(close, None, 5), impact_inputs(close, close, 10)):
        assert np.isnan(adv).all()
        assert np.isnan(sigma).all()


# -- the model ------------------------------------------------------------------------------


def test_cost_model_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="commision_bps"):
        CostModel(commision_bps=1.0)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "field",
    [
        "commission_per_share",
        "commission_min",
        "commission_bps",
        "exchange_fee_bps",
        "half_spread_bps",
        "slippage_bps",
        "impact_coef",
        "borrow_bps_annual",
    ],
)
@pytest.mark.parametrize("value", [-0.01, math.inf, math.nan])
def test_cost_model_rejects_negative_and_non_finite_values(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        CostModel(**{field: value})


def test_cost_model_rejects_bad_impact_settings() -> None:
    with pytest.raises(ValidationError, match="impact"):
        CostModel(impact="linear")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="impact_window"):
        CostModel(impact_window=1)


def test_cost_model_is_frozen_and_flat() -> None:
    model = CostModel()
    with pytest.raises(ValidationError):
        model.commission_bps = 5.0  # type: ignore[misc]
    assert model.as_array().tolist() == pytest.approx(
        [0.005, 1.0, 0.0, 0.3e-4, 2e-4, 1e-4, 0.5, 0.0, 0.0, 0.0], rel=1e-15
    )  # fee and half-spread per unit (contract), off for equities; the maker's commission
    assert model.borrow_rate == pytest.approx(0.005, rel=1e-15)
    zero = CostModel.zero()
    assert not zero.as_array().any()
    assert zero.borrow_rate == 0.0
    assert len(COST_CATEGORIES) == 6


def test_describe_says_when_impact_is_not_modelled() -> None:
    assert any("NOT modelled" in line for line in CostModel().describe(has_volume=False))
    assert any("square-root" in line for line in CostModel().describe(has_volume=True))


def test_fill_timing() -> None:
    assert execution_lag("next_open") == 1
    assert execution_lag(FillTiming.NEXT_CLOSE) == 1
    assert execution_lag("same_close") == 0
    assert FillTiming("next_open").price_field == "open"
    assert FillTiming("next_close").price_field == "close"
    assert [t.optimistic for t in FillTiming] == [False, False, True]
    assert FillTiming.SAME_CLOSE.describe().startswith("OPTIMISTIC")
    with pytest.raises(ValueError, match="next_week"):
        FillTiming("next_week")
