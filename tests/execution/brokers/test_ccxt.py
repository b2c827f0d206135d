"""CcxtBroker (binance sandbox) against a local server speaking Binance's /api/v3 protocol."""

from __future__ import annotations

import pytest

from alphaloop.execution import (
    CancelOrder,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    SubmitOrder,
)
from alphaloop.execution.brokers import OrderSizeError, StreamDownError
from tests.execution.brokers.conftest import wait_until

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def collect(broker, until, timeout_s=10.0):
    events = []

    def done():
        events.extend(broker.drain_events())
        return until(events)

    wait_until(done, timeout_s)
    return events


def fills(events):
    return [e for e in events if isinstance(e, (OrderPartiallyFilled, OrderFilled))]


def posts(binance):
    return [r for r in binance.server.requests if r == ("POST", "/api/v3/order")]


def limit(broker, asset, side, qty, price):
    order = Order(broker.new_order_id(), asset, side, qty, OrderType.LIMIT, limit_price=price)
    broker.submit(SubmitOrder(order, row=3))
    return order


def test_rounded_limit_order_passes_the_venue_filters_and_fills_in_parts(binance, ccxt_broker):
    order = limit(ccxt_broker, "BTC/USDT", BUY, 0.0123456, 60_000.129)
    (sent,) = binance.orders.values()
    assert (sent["origQty"], sent["price"]) == ("0.01234", "60000.12")
    assert sent["clientOrderId"] == "al-1"
    assert binance.bad_signatures == 0
    assert [type(e) for e in ccxt_broker.drain_events()] == [OrderSubmitted, OrderAccepted]
    binance.fill("al-1", 0.005, 60_000.0)
    first = collect(ccxt_broker, fills)
    assert [(type(e), e.quantity, e.price) for e in fills(first)] == [
        (OrderPartiallyFilled, 0.005, 60_000.0)
    ]
    binance.fill("al-1", 0.00734, 59_990.0)
    rest = collect(ccxt_broker, fills)
    (last,) = fills(rest)
    assert type(last) is OrderFilled
    assert last.quantity == pytest.approx(0.00734)
    assert last.price == pytest.approx(59_990.0)
    assert order.status is OrderStatus.FILLED
    assert ccxt_broker.positions() == {"BTC/USDT": pytest.approx(0.01234)}
    assert ccxt_broker.cash == pytest.approx(10_000 - 0.005 * 60_000 - 0.00734 * 59_990)


def test_half_unit_tick_rounds_sells_up_and_buys_down(binance, ccxt_broker):
    limit(ccxt_broker, "XYZ/USDT", SELL, 5.9, 12.3)
    limit(ccxt_broker, "XYZ/USDT", BUY, 5.0, 12.3)
    sell, buy = binance.orders.values()
    assert (sell["origQty"], sell["price"]) == ("5", "12.5")
    assert (buy["origQty"], buy["price"]) == ("5", "12")


def test_min_notional_is_refused_before_anything_is_sent(binance, ccxt_broker):
    order = Order(
        ccxt_broker.new_order_id(), "BTC/USDT", BUY, 0.00008, OrderType.LIMIT, limit_price=60_000.0
    )
    with pytest.raises(OrderSizeError, match=r"BTC/USDT: order notional 4.8 .* minimum notional 5"):
        ccxt_broker.submit(SubmitOrder(order, row=1))
    market = Order(ccxt_broker.new_order_id(), "XYZ/USDT", SELL, 0.7)
    with pytest.raises(OrderSizeError, match="rounds to 0 at step 1"):
        ccxt_broker.submit(SubmitOrder(market, row=1))
    assert order.status is OrderStatus.NEW
    assert posts(binance) == []


def test_market_order_is_valued_at_the_last_price_for_the_notional_check(binance, ccxt_broker):
    small = Order(ccxt_broker.new_order_id(), "XYZ/USDT", BUY, 1.0)  # 1 x 12 = 12 >= 10
    ccxt_broker.submit(SubmitOrder(small, row=1))
    assert small.status is OrderStatus.ACCEPTED
    binance.prices["XYZUSDT"] = 9.0  # now 1 x 9 < 10
    refused = Order(ccxt_broker.new_order_id(), "XYZ/USDT", BUY, 1.0)
    with pytest.raises(OrderSizeError, match="notional 9"):
        ccxt_broker.submit(SubmitOrder(refused, row=1))


def test_venue_rejection_becomes_order_rejected(binance, ccxt_broker):
    order = limit(ccxt_broker, "BTC/USDT", BUY, 1.0, 60_000.0)  # 60k > 10k USDT
    events = ccxt_broker.drain_events()
    assert [type(e) for e in events] == [OrderSubmitted, OrderRejected]
    assert "insufficient balance" in events[-1].reason
    assert order.status is OrderStatus.REJECTED


def test_rate_limit_is_retried_after_retry_after(binance, ccxt_broker):
    binance.rate_limit_next = 2  # the next two order placements answer 429
    order = limit(ccxt_broker, "BTC/USDT", BUY, 0.001, 60_000.0)
    assert len(posts(binance)) == 3
    assert order.status is OrderStatus.ACCEPTED
    binance.rate_limit_next = 50
    refused = limit(ccxt_broker, "BTC/USDT", BUY, 0.001, 60_000.0)
    assert refused.status is OrderStatus.REJECTED
    assert "rate limited" in refused.events[-1].reason
    assert len(binance.orders) == 1


def test_orders_are_refused_while_polling_fails_and_reconciled_after(binance, ccxt_broker):
    order = limit(ccxt_broker, "BTC/USDT", BUY, 0.01, 60_000.0)
    ccxt_broker.drain_events()
    binance.down = True
    wait_until(lambda: not ccxt_broker.stream_up)
    blocked = Order(
        ccxt_broker.new_order_id(), "BTC/USDT", BUY, 0.001, OrderType.LIMIT, limit_price=60_000.0
    )
    with pytest.raises(StreamDownError):
        ccxt_broker.submit(SubmitOrder(blocked, row=4))
    binance.fill("al-1", 0.004, 59_000.0)  # happens while nobody can see it
    binance.down = False
    events = collect(ccxt_broker, fills)
    assert [(e.quantity, e.price) for e in fills(events)] == [(0.004, 59_000.0)]
    ccxt_broker.submit(SubmitOrder(blocked, row=5))
    assert blocked.status is OrderStatus.ACCEPTED
    assert ccxt_broker.reconcile() == []
    assert order.filled_quantity == pytest.approx(0.004)


def test_cancel_after_a_partial_fill(binance, ccxt_broker):
    order = limit(ccxt_broker, "BTC/USDT", SELL, 0.01, 61_000.0)
    binance.fill("al-1", 0.002, 61_000.0)
    collect(ccxt_broker, fills)
    assert ccxt_broker.cancel(CancelOrder(order.order_id, row=6))
    events = collect(ccxt_broker, lambda ev: any(isinstance(e, OrderCanceled) for e in ev))
    assert events[-1].row == 6
    assert order.status is OrderStatus.CANCELED
    assert order.filled_quantity == pytest.approx(0.002)
    assert not ccxt_broker.cancel(CancelOrder(order.order_id, row=7))


def test_ohlcv_and_equity(binance, ccxt_broker):
    bars = ccxt_broker.ohlcv("BTC/USDT", "1d")
    assert list(bars.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert str(bars["timestamp"].iloc[0]) == "2024-01-02 00:00:00+00:00"
    assert bars["close"].tolist() == [100.5, 101.5, 102.5]
    binance.balances["BTC"] = 0.5
    assert ccxt_broker.equity == pytest.approx(10_000 + 0.5 * 60_000)
    assert ccxt_broker.last_price("XYZ/USDT") == 12.0


def test_a_restarted_broker_takes_back_its_orders_and_misses_no_fill(binance, ccxt_broker):
    from alphaloop.execution.brokers import CcxtBroker
    from tests.execution.brokers import fake_binance

    order = limit(ccxt_broker, "BTC/USDT", BUY, 0.01, 60_000.0)
    binance.fill("al-1", 0.003, 60_000.0)
    collect(ccxt_broker, fills)
    stored = list(order.events)  # what a session persisted
    ccxt_broker.close()  # the process dies
    binance.fill("al-1", 0.004, 59_000.0)  # the venue keeps trading meanwhile

    rebuilt = Order(order.order_id, "BTC/USDT", BUY, 0.01, OrderType.LIMIT, limit_price=60_000.0)
    for event in stored:
        rebuilt.apply(event)
    env = {
        "ALPHALOOP_CCXT_BINANCE_SANDBOX_API_KEY": fake_binance.KEY,
        "ALPHALOOP_CCXT_BINANCE_SANDBOX_SECRET": fake_binance.SECRET,
    }
    again = CcxtBroker(
        "binance",
        ["BTC/USDT"],
        base_url=binance.server.http,
        environ=env,
        poll_interval_s=0.02,
        client_prefix="al",
    )
    try:
        again.restore([rebuilt])
        wait_until(lambda: again.stream_up)
        missed = collect(again, fills)
        assert [(e.quantity, e.price) for e in fills(missed)] == [(0.004, 59_000.0)]
        assert fills(missed)[0].fill_id > stored[-1].fill_id
        assert again.new_order_id() == 2
        binance.fill("al-1", 0.003, 61_000.0)
        rest = collect(again, fills)
        assert [type(e) for e in fills(rest)] == [OrderFilled]
        assert rebuilt.filled_quantity == pytest.approx(0.01)
        assert rebuilt.avg_price == pytest.approx(
            (0.003 * 60_000 + 0.004 * 59_000 + 0.003 * 61_000) / 0.01
        )
    finally:
        again.close()


def test_keys_never_appear_in_logs_or_errors(binance, ccxt_broker, caplog):
    import logging

    from tests.execution.brokers import fake_binance

    caplog.set_level(logging.DEBUG)
    limit(ccxt_broker, "BTC/USDT", BUY, 0.01, 60_000.0)
    rejected = limit(ccxt_broker, "BTC/USDT", BUY, 1.0, 60_000.0)
    binance.fill("al-1", 0.01, 60_000.0)
    collect(ccxt_broker, fills)
    text = caplog.text + repr(ccxt_broker) + rejected.events[-1].reason
    assert "insufficient balance" in rejected.events[-1].reason
    assert "X-MBX-APIKEY': '***'" in caplog.text  # ccxt logged its headers, redacted
    assert fake_binance.SECRET not in text
    assert fake_binance.KEY not in text
