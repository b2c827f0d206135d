"""Rounding to a venue's tick and step, and minimum checks, before an order is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.execution.brokers import MarketRules, OrderSizeError
from alphaloop.execution.orders import OrderSide

BUY, SELL = OrderSide.BUY, OrderSide.SELL
CENT = MarketRules(
    "BTC/USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5")
)
HALF = MarketRules("XYZ/USDT", Decimal("0.5"), Decimal("1"), Decimal("1"), Decimal("10"))


@pytest.mark.parametrize(
    ("rules", "price", "side", "expected"),
    [
        (CENT, 100.129, BUY, 100.12),  # a buy never pays more than asked
        (CENT, 100.121, SELL, 100.13),  # a sell never receives less than asked
        (CENT, 100.12, BUY, 100.12),  # on the grid: unchanged
        (CENT, 100.12, SELL, 100.12),
        (HALF, 12.3, BUY, 12.0),
        (HALF, 12.3, SELL, 12.5),
        (HALF, 12.5, SELL, 12.5),
        (HALF, 12.74, BUY, 12.5),
        (HALF, 12.76, SELL, 13.0),
    ],
)
def test_price_rounds_in_the_traders_favour(rules, price, side, expected):
    assert rules.round_price(price, side) == expected


def test_float_artefacts_do_not_cross_a_tick():
    # 0.1 + 0.2 = 0.30000000000000004 in binary: still 0.30 on a 0.01 grid for a sell
    assert CENT.round_price(0.1 + 0.2, SELL) == 0.3
    # 1.15 is 1.149999... in binary; its shortest repr is on the grid, so it stays
    assert CENT.round_price(1.15, BUY) == 1.15
    assert CENT.round_price(1.15, SELL) == 1.15
    # amounts too: 0.1 * 3 = 0.30000000000000004 is 0.3 on a 0.1 step, not 0.3 + noise
    assert MarketRules("A/B", None, Decimal("0.1")).round_amount(0.1 * 3) == 0.3
    assert MarketRules("A/B", None, Decimal("0.1")).round_amount(0.7 - 0.4) == 0.3


@pytest.mark.parametrize(
    ("rules", "amount", "expected"),
    [(CENT, 0.0123456, 0.01234), (CENT, 0.00001, 0.00001), (HALF, 7.99, 7.0), (HALF, 3.0, 3.0)],
)
def test_amount_rounds_down_to_the_step(rules, amount, expected):
    assert rules.round_amount(amount) == expected
    assert rules.prepare(BUY, amount, price=1e6).amount == expected


def test_amount_below_one_step_is_refused_with_the_step():
    with pytest.raises(OrderSizeError, match=r"amount 0.5 rounds to 0 at step 1"):
        HALF.prepare(BUY, 0.5, price=20.0)


def test_min_amount_is_checked_after_rounding():
    rules = MarketRules("A/B", Decimal("0.01"), Decimal("0.1"), Decimal("1"), None)
    with pytest.raises(OrderSizeError, match=r"amount 0.9 is below the minimum amount 1"):
        rules.prepare(SELL, 0.99, price=5.0)
    assert rules.prepare(SELL, 1.05, price=5.0).amount == 1.0


def test_min_notional_refusal_says_value_and_threshold():
    # 0.00008 BTC at 60,000 = 4.8 USDT < 5
    with pytest.raises(OrderSizeError, match=r"notional 4.8 .* below the minimum notional 5"):
        CENT.prepare(BUY, 0.00008, price=60_000.0)
    ok = CENT.prepare(BUY, 0.00009, price=60_000.0)
    assert ok.notional == pytest.approx(5.4)


def test_min_notional_uses_the_rounded_values():
    # 1.9 -> 1 share; a buy at 12.3 -> 12.0; notional 12 >= 10
    assert HALF.prepare(BUY, 1.9, price=12.3).notional == 12.0
    # 1 share at 10.4 rounds to 10.0 for a buy: 10 >= 10 passes; at 9.9 -> 9.5 fails
    assert HALF.prepare(BUY, 1.0, price=10.4).price == 10.0
    with pytest.raises(OrderSizeError, match=r"notional 9\.5"):
        HALF.prepare(BUY, 1.0, price=9.9)


def test_market_orders_are_valued_at_the_reference_price():
    assert CENT.prepare(SELL, 0.001, reference_price=60_000.0).notional == pytest.approx(60.0)
    with pytest.raises(OrderSizeError, match="needs a reference price"):
        CENT.prepare(SELL, 0.001)
    with pytest.raises(OrderSizeError, match="below the minimum notional"):
        CENT.prepare(SELL, 0.00001, reference_price=60_000.0)


def test_bad_numbers_are_refused():
    with pytest.raises(OrderSizeError, match="price must be positive"):
        CENT.round_price(-1.0, BUY)
    with pytest.raises(OrderSizeError, match="amount must be positive"):
        CENT.round_amount(0.0)
    with pytest.raises(OrderSizeError, match="rounds to 0"):
        HALF.round_price(0.2, BUY)


def test_rules_from_ccxt_tick_size_and_decimal_places():
    market = {
        "symbol": "ETH/USDT",
        "precision": {"price": 0.5, "amount": 0.001},
        "limits": {"amount": {"min": 0.001}, "cost": {"min": 10.0}},
    }
    rules = MarketRules.from_ccxt(market, 4)  # TICK_SIZE
    assert (rules.price_tick, rules.amount_step) == (Decimal("0.5"), Decimal("0.001"))
    assert (rules.min_amount, rules.min_notional) == (Decimal("0.001"), Decimal("10.0"))
    digits = {"symbol": "X/Y", "precision": {"price": 2, "amount": 3}, "limits": {}}
    rules = MarketRules.from_ccxt(digits, 2)  # DECIMAL_PLACES
    assert (rules.price_tick, rules.amount_step) == (Decimal("0.01"), Decimal("0.001"))
    assert rules.min_notional is None
    with pytest.raises(Exception, match="significant digits"):
        MarketRules.from_ccxt(digits, 3)


ticks = st.sampled_from([Decimal("0.01"), Decimal("0.5"), Decimal("0.0001"), Decimal("5")])
prices = st.floats(min_value=10.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(tick=ticks, price=prices)
def test_rounded_prices_are_on_the_grid_within_one_tick(tick, price):
    rules = MarketRules("P/Q", tick, None, None, None)
    buy = Decimal(repr(rules.round_price(price, BUY)))
    sell = Decimal(repr(rules.round_price(price, SELL)))
    exact = Decimal(repr(price))
    assert buy <= exact + tick * Decimal("1e-9")
    assert sell >= exact - tick * Decimal("1e-9")
    assert exact - buy < tick
    assert sell - exact < tick
    assert buy % tick == 0
    assert sell % tick == 0


@given(step=ticks, amount=st.floats(min_value=5.0, max_value=1e6, allow_nan=False))
def test_rounded_amounts_never_exceed_the_request(step, amount):
    rules = MarketRules("P/Q", None, step, None, None)
    rounded = Decimal(repr(rules.round_amount(amount)))
    exact = Decimal(repr(amount))
    assert rounded <= exact + step * Decimal("1e-9")
    assert exact - rounded < step
    assert rounded % step == 0
