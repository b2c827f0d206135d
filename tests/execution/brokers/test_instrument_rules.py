"""Stored instrument metadata in the venue brokers' rounding (tick, lot, minimum notional)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from alphaloop.data.assets import Instrument
from alphaloop.execution import Order, OrderSide, OrderType, SubmitOrder
from alphaloop.execution.brokers import OrderSizeError
from alphaloop.execution.brokers.precision import MarketRules

VENUE = MarketRules("ES", Decimal("0.01"), Decimal("0.001"), None, Decimal("5"))


def test_stored_values_override_the_venue_and_unset_ones_keep_it() -> None:
    es = Instrument(
        symbol="ES", asset_class="future", currency="USD", multiplier=50, tick_size=0.25,
        min_notional=100_000, expiry=date(2027, 3, 19),
    )  # fmt: skip
    rules = VENUE.with_instrument(es)
    assert rules.price_tick == Decimal("0.25")
    assert rules.amount_step == Decimal("1")  # a future trades whole contracts
    assert rules.min_notional == Decimal("2000")  # 100,000 of notional / multiplier 50
    assert rules.round_price(5000.3, OrderSide.BUY) == 5000.25
    assert rules.round_amount(2.9) == 2.0
    # 1 contract at 1,000 points is 50,000 of notional, under the stored 100,000
    with pytest.raises(OrderSizeError, match="minimum notional 2000"):
        rules.prepare(OrderSide.BUY, 1, price=1000.0)
    bare = Instrument(symbol="ES", asset_class="equity", currency="USD")
    assert VENUE.with_instrument(bare) == VENUE


def test_ccxt_broker_rounds_with_stored_metadata(binance, ccxt_broker) -> None:  # type: ignore[no-untyped-def]
    coin = Instrument(
        symbol="BTC/USDT", asset_class="crypto", currency="USDT", base_currency="BTC",
        tick_size=1.0, lot_size=0.001,
    )  # fmt: skip
    ccxt_broker.use_instruments({"BTC/USDT": coin})
    order = Order(
        ccxt_broker.new_order_id(), "BTC/USDT", OrderSide.BUY, 0.0123456, OrderType.LIMIT,
        limit_price=60_000.729,
    )  # fmt: skip
    ccxt_broker.submit(SubmitOrder(order, row=3))
    (sent,) = binance.orders.values()
    # the venue alone would send 0.01234 at 60000.72 (see test_ccxt)
    assert (sent["origQty"], sent["price"]) == ("0.012", "60000")
