"""Rebalance sizing shared by both engines: by hand, twins, and the cash rule as a property.

The compiled functions of :mod:`alphaloop.execution.rebalance` must equal their
plain-Python twins bit for bit; the end-to-end reference
(:mod:`tests.backtest.reference`) and the engines' agreement tests cover
them again through :func:`~alphaloop.backtest.vectorized.simulate` and the
event engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.execution.costs import CostModel
from alphaloop.execution.rebalance import (
    ERR_LEVERAGE,
    ERR_PRICE,
    ERR_SHORT,
    OK,
    buys_cost,
    cash_fits,
    fit_buys_to_cash,
    fit_buys_to_cash_py,
    plan_rebalance,
    plan_rebalance_py,
    round_lot,
)

NAN = math.nan


def plan(
    weights: list[float],
    prices: list[float],
    *,
    cash: float,
    shares: list[float] | None = None,
    last: list[float] | None = None,
    max_leverage: float = 1.0,
    allow_short: bool = False,
    lots: list[float] | None = None,
    min_trade_value: float = 0.0,
    compiled: bool = True,
) -> tuple[tuple[int, int, float], np.ndarray, np.ndarray]:
    """(status, delta, base) of one rebalance."""
    n = len(weights)
    delta = np.full(n, -7.0)  # garbage: the function must overwrite it
    base = np.full(n, -7.0)
    fn = plan_rebalance if compiled else plan_rebalance_py
    status = fn(
        np.array(weights, dtype=float), np.array(prices, dtype=float),
        np.array(last if last is not None else [NAN] * n, dtype=float),
        np.array(shares if shares is not None else [0.0] * n, dtype=float), float(cash),
        float(max_leverage), allow_short, np.array(lots if lots is not None else [0.0] * n),
        float(min_trade_value), delta, base,
    )  # fmt: skip
    return (int(status[0]), int(status[1]), float(status[2])), delta, base


def fit(
    delta: list[float],
    base: list[float],
    prices: list[float],
    *,
    cash: float,
    costs: CostModel,
    shares: list[float] | None = None,
    lots: list[float] | None = None,
    compiled: bool = True,
) -> tuple[bool, np.ndarray]:
    """(scaled?, delta after) of :func:`fit_buys_to_cash`, no impact inputs."""
    n = len(delta)
    out = np.array(delta, dtype=float)
    fn = fit_buys_to_cash if compiled else fit_buys_to_cash_py
    scaled = fn(
        out, np.array(base, dtype=float),
        np.array(shares if shares is not None else [0.0] * n, dtype=float), float(cash),
        np.array(prices, dtype=float), np.array(lots if lots is not None else [0.0] * n),
        costs.as_array(), np.full(n, NAN), np.full(n, NAN), np.zeros(5),
    )  # fmt: skip
    return bool(scaled), out


def commission(bps: float = 0.0, minimum: float = 0.0, per_share: float = 0.0) -> CostModel:
    return CostModel.zero().model_copy(
        update={"commission_bps": bps, "commission_min": minimum, "commission_per_share": per_share}
    )


# -- plan_rebalance by hand ------------------------------------------------------------


@pytest.mark.parametrize("compiled", [True, False])
def test_target_shares_from_equity_and_lots(compiled: bool) -> None:
    """Equity 1000: 50% at 10 is 50 shares; 33.3% at 10 in lots of 10 is 30; 15% at 40 is 3.75."""
    status, delta, base = plan(
        [0.5, 0.333, 0.15], [10.0, 10.0, 40.0], cash=1000.0, lots=[1.0, 10.0, 0.0],
        compiled=compiled,
    )  # fmt: skip
    assert status == (OK, -1, pytest.approx(0.983, rel=1e-15))
    np.testing.assert_allclose(delta, [50.0, 30.0, 3.75], rtol=1e-15)
    np.testing.assert_allclose(base, [50.0, 33.3, 3.75], rtol=1e-15)


@pytest.mark.parametrize("compiled", [True, False])
def test_held_asset_without_price_is_valued_at_its_last_close(compiled: bool) -> None:
    """10 shares last closed at 50 plus 500 cash: equity 1000, leverage 0.5 + 0.5."""
    status, delta, base = plan(
        [NAN, 0.5], [NAN, 20.0], cash=500.0, shares=[10.0, 0.0], last=[50.0, NAN],
        compiled=compiled,
    )  # fmt: skip
    assert status == (OK, -1, 1.0)
    assert delta.tolist() == [0.0, 25.0]
    assert base.tolist() == [0.0, 25.0]


@pytest.mark.parametrize("compiled", [True, False])
def test_errors_name_the_asset(compiled: bool) -> None:
    lev, _, _ = plan([0.8, 0.5], [10.0, 10.0], cash=1000.0, compiled=compiled)
    assert lev[:2] == (ERR_LEVERAGE, -1)
    assert lev[2] == pytest.approx(1.3)
    short, _, _ = plan([0.2, -0.1], [10.0, 10.0], cash=1000.0, compiled=compiled)
    assert short[:2] == (ERR_SHORT, 1)
    allowed, delta, _ = plan(
        [0.2, -0.1], [10.0, 10.0], cash=1000.0, allow_short=True, compiled=compiled
    )
    assert allowed[0] == OK
    assert delta.tolist() == [20.0, -10.0]
    price, _, _ = plan([0.1, 0.5], [10.0, NAN], cash=1000.0, compiled=compiled)
    assert price[:2] == (ERR_PRICE, 1)
    # a zero target for an asset neither held nor priced is no trade, not an error
    fine, delta, _ = plan([0.5, 0.0], [10.0, NAN], cash=1000.0, compiled=compiled)
    assert fine[0] == OK
    assert delta.tolist() == [50.0, 0.0]


@pytest.mark.parametrize("compiled", [True, False])
def test_ruined_account_and_skipped_trades(compiled: bool) -> None:
    status, delta, base = plan([0.5], [10.0], cash=-5.0, compiled=compiled)
    assert status == (OK, -1, 0.0)
    assert delta.tolist() == [0.0]
    assert base.tolist() == [0.0]
    # restating the weight held: float dust is no trade
    _, delta, _ = plan([0.5], [10.0], cash=500.0, shares=[50.0 - 1e-13], compiled=compiled)
    assert delta.tolist() == [0.0]
    # 2 more shares (20 in notional) are below the minimum; selling out is not
    _, delta, _ = plan(
        [0.52, 0.0], [10.0, 10.0], cash=450.0, shares=[50.0, 5.0], min_trade_value=100.0,
        compiled=compiled,
    )  # fmt: skip
    assert delta.tolist() == [0.0, -5.0]


# -- fit_buys_to_cash by hand -----------------------------------------------------------


@pytest.mark.parametrize("compiled", [True, False])
def test_buys_that_fit_are_left_alone(compiled: bool) -> None:
    scaled, delta = fit(
        [50.0, -3.0], [50.0, 0.0], [10.0, 10.0], cash=1000.0, costs=commission(10.0),
        compiled=compiled,
    )  # fmt: skip
    assert not scaled
    assert delta.tolist() == [50.0, -3.0]


@pytest.mark.parametrize("compiled", [True, False])
def test_all_in_buy_pays_its_proportional_costs_from_the_cash(compiled: bool) -> None:
    """Weight 1 at 10 with 10 bps: cash / (10 x 1.001) shares."""
    scaled, delta = fit(
        [100.0], [100.0], [10.0], cash=1000.0, costs=commission(10.0), compiled=compiled
    )
    assert scaled
    assert delta[0] == pytest.approx(1000.0 / 10.01, rel=1e-12)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(("lot", "expected"), [(0.0, 700.0 / 10.01), (1.0, 69.0), (10.0, 60.0)])
def test_fixed_costs_leave_the_largest_buy_that_fits(
    compiled: bool, lot: float, expected: float
) -> None:
    """A 300 minimum commission plus 10 bps: 1000 in cash buys 69.93 shares at 10.

    In whole shares 69 (690 + 300 + 0.69); 70 would need 1000.70. ``scale *=
    cash / need`` converges slowly when a fixed cost is a large part of the
    need, so the fractional and whole-share cases end in the bisection.
    """
    scaled, delta = fit(
        [100.0], [100.0], [10.0], cash=1000.0,
        costs=commission(10.0, minimum=300.0, per_share=0.005), lots=[lot], compiled=compiled,
    )  # fmt: skip
    assert scaled
    # the largest that fits, up to the float tolerance of the cash check
    assert delta[0] == pytest.approx(expected, rel=1e-11)
    assert delta[0] * 10.01 + 300.0 <= 1000.0 * (1 + 1e-12) + 1e-9


@pytest.mark.parametrize("compiled", [True, False])
def test_buys_shrink_toward_the_held_shares(compiled: bool) -> None:
    """Holding 20, target 100, room for 50 more: the buy scales the 80-share gap."""
    scaled, delta = fit(
        [80.0], [100.0], [10.0], cash=500.0, costs=CostModel.zero(), shares=[20.0],
        compiled=compiled,
    )  # fmt: skip
    assert scaled
    assert delta[0] == pytest.approx(50.0, rel=1e-12)


def test_round_lot_rounds_toward_zero() -> None:
    assert round_lot(37.9, 10.0) == 30.0
    assert round_lot(-37.9, 10.0) == -30.0
    assert round_lot(37.9, 0.0) == 37.9


# -- twins --------------------------------------------------------------------------------

MODELS = (
    CostModel(),
    CostModel.zero(),
    commission(10.0),
    commission(minimum=300.0, per_share=0.005),
    CostModel(commission_min=50.0, impact_coef=1.0),
)


def random_case(rng: np.random.Generator) -> dict:
    n = int(rng.integers(1, 7))
    prices = rng.uniform(1.0, 200.0, n)
    prices[rng.random(n) < 0.1] = NAN
    last = rng.uniform(1.0, 200.0, n)
    shares = np.where(rng.random(n) < 0.5, np.round(rng.normal(0.0, 50.0, n)), 0.0)
    short = bool(rng.random() < 0.4)
    if not short:
        shares = np.abs(shares)
    weights = rng.uniform(-0.6 if short else 0.0, 0.6, n)
    weights[rng.random(n) < 0.2] = 0.0
    weights[rng.random(n) < 0.25] = NAN
    return {
        "weights": weights,
        "prices": prices,
        "last": last,
        "shares": shares,
        "cash": float(rng.choice([-100.0, 1e3, 1e4, 1e5])),
        "max_leverage": float(rng.choice([1.0, 1.5, 3.0])),
        "allow_short": short,
        "lots": rng.choice([0.0, 1.0, 10.0, 100.0], n),
        "min_trade_value": float(rng.choice([0.0, 500.0])),
        "params": MODELS[int(rng.integers(len(MODELS)))].as_array(),
        "adv": np.where(rng.random(n) < 0.7, rng.uniform(1e3, 1e6, n), NAN),
        "sigma": rng.uniform(0.005, 0.05, n),
    }


def run_twin(case: dict, compiled: bool) -> tuple:
    """plan, then (as both engines do for cash accounts) fit the buys to the cash."""
    n = len(case["weights"])
    delta, base = np.full(n, -7.0), np.full(n, -7.0)
    fn = plan_rebalance if compiled else plan_rebalance_py
    status = fn(
        case["weights"], case["prices"], case["last"], case["shares"], case["cash"],
        case["max_leverage"], case["allow_short"], case["lots"], case["min_trade_value"], delta,
        base,
    )  # fmt: skip
    status = (int(status[0]), int(status[1]), float(status[2]))
    planned = delta.copy()
    scaled = None
    if status[0] == OK:
        fit_fn = fit_buys_to_cash if compiled else fit_buys_to_cash_py
        scaled = fit_fn(
            delta, base, case["shares"], case["cash"], case["prices"], case["lots"],
            case["params"], case["adv"], case["sigma"], np.zeros(5),
        )  # fmt: skip
    return status, planned, base, None if scaled is None else bool(scaled), delta


def test_compiled_sizing_equals_its_python_twin() -> None:
    rng = np.random.default_rng(20240611)
    outcomes = {"ok": 0, "error": 0, "scaled": 0}
    for _ in range(400):
        case = random_case(rng)
        jit = run_twin(case, compiled=True)
        py = run_twin(case, compiled=False)
        assert jit[0][:2] == py[0][:2]
        np.testing.assert_array_equal(jit[0][2], py[0][2])
        for a, b in zip(jit[1:], py[1:], strict=True):
            np.testing.assert_array_equal(a, b)  # bit for bit, NaN where NaN
        outcomes["error" if jit[0][0] != OK else "ok"] += 1
        outcomes["scaled"] += bool(jit[3])
    # the draws reach every branch that matters: plans, errors and scaled buys
    assert min(outcomes.values()) >= 20, outcomes


# -- the cash rule as a property --------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    cash=st.floats(0.0, 1e6),
    model=st.sampled_from(MODELS),
    lot=st.sampled_from([0.0, 1.0, 7.0, 100.0]),
)
def test_fitted_buys_never_spend_more_than_the_cash(
    n: int, seed: int, cash: float, model: CostModel, lot: float
) -> None:
    rng = np.random.default_rng(seed)
    prices = rng.uniform(0.5, 500.0, n)
    held = np.array([round_lot(x, lot) for x in rng.uniform(0.0, 500.0, n)])
    shares = np.where(rng.random(n) < 0.5, held, 0.0)
    base = shares + rng.uniform(-200.0, 2000.0, n)
    delta = np.array([round_lot(b, lot) for b in base]) - shares
    before = delta.copy()
    adv, sigma = rng.uniform(1e3, 1e6, n), rng.uniform(0.005, 0.05, n)
    params, tmp = model.as_array(), np.zeros(5)
    lots = np.full(n, lot)
    fit_buys_to_cash(delta, base, shares, cash, prices, lots, params, adv, sigma, tmp)
    assert cash_fits(buys_cost(delta, prices, params, adv, sigma, tmp), cash)
    buys = before > 0.0
    assert (delta[~buys] == before[~buys]).all()  # sells and no-trades are untouched
    assert (delta[buys] <= before[buys]).all()  # buys only shrink ...
    assert (shares[buys] + delta[buys] >= shares[buys] - 1e-9).all()  # ... never below the held
