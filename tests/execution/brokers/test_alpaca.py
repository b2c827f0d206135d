"""AlpacaBroker against a local server speaking Alpaca's REST and trade_updates protocols."""

from __future__ import annotations

import json
import logging
from datetime import datetime

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
from alphaloop.execution.brokers import (
    AlpacaBroker,
    Backoff,
    MissingCredentialsError,
    OrderSizeError,
    StreamDownError,
    VenueError,
)
from tests.execution.brokers import fake_alpaca
from tests.execution.brokers.conftest import wait_until

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def collect(broker, until, timeout_s=10.0):
    """Drain events until ``until(events)`` holds."""
    events = []

    def done():
        events.extend(broker.drain_events())
        return until(events)

    wait_until(done, timeout_s)
    return events


def fills(events):
    return [e for e in events if isinstance(e, (OrderPartiallyFilled, OrderFilled))]


def posted(alpaca):
    return [r for r in alpaca.server.requests if r == ("POST", "/v2/orders")]


def limit(broker, asset, side, qty, price):
    order = Order(broker.new_order_id(), asset, side, qty, OrderType.LIMIT, limit_price=price)
    broker.submit(SubmitOrder(order, row=7))
    return order


def test_limit_order_is_rounded_then_filled_in_parts(alpaca, alpaca_broker):
    order = limit(alpaca_broker, "AAPL", BUY, 10.7, 190.129)
    sent = next(iter(alpaca.orders.values()))
    assert (sent["qty"], sent["limit_price"]) == ("10.0", "190.12")
    assert sent["client_order_id"] == "al-1"
    events = alpaca_broker.drain_events()
    assert [type(e) for e in events] == [OrderSubmitted, OrderAccepted]
    alpaca.fill("al-1", 4, 190.10)
    part = collect(alpaca_broker, fills)
    assert [(type(e), e.quantity, e.price) for e in fills(part)] == [
        (OrderPartiallyFilled, 4.0, 190.10)
    ]
    alpaca.fill("al-1", 6, 190.00)
    rest = collect(alpaca_broker, fills)
    assert [(type(e), e.quantity) for e in fills(rest)] == [(OrderFilled, 6.0)]
    assert rest[-1].price == pytest.approx(190.0)
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == pytest.approx((4 * 190.10 + 6 * 190.00) / 10)
    assert alpaca_broker.positions() == {"AAPL": 10.0}
    assert alpaca_broker.cash == pytest.approx(100_000 - 4 * 190.10 - 6 * 190.00)
    assert alpaca_broker.open_orders() == []


def test_sub_dollar_stock_uses_the_finer_tick(alpaca, alpaca_broker):
    limit(alpaca_broker, "PENNY", SELL, 100, 0.51234)
    assert next(iter(alpaca.orders.values()))["limit_price"] == "0.5124"  # sells round up


def test_rejected_order_becomes_order_rejected_with_the_reason(alpaca, alpaca_broker):
    alpaca.reject_next = "insufficient buying power"
    order = limit(alpaca_broker, "AAPL", BUY, 1_000, 190.0)
    events = alpaca_broker.drain_events()
    assert [type(e) for e in events] == [OrderSubmitted, OrderRejected]
    assert "403" in events[-1].reason
    assert "insufficient buying power" in events[-1].reason
    assert order.status is OrderStatus.REJECTED


def test_rate_limit_is_retried_after_retry_after(alpaca, alpaca_broker):
    alpaca.rate_limit_next = 2
    order = limit(alpaca_broker, "AAPL", BUY, 1, 190.0)
    assert len(posted(alpaca)) == 3  # two 429s, then accepted
    assert order.status is OrderStatus.ACCEPTED
    alpaca.rate_limit_next = 50
    refused = limit(alpaca_broker, "AAPL", BUY, 1, 190.0)
    assert refused.status is OrderStatus.REJECTED
    assert "rate limited" in refused.events[-1].reason
    assert len(alpaca.orders) == 1


def test_no_order_is_sent_while_the_stream_is_down(alpaca, alpaca_broker):
    alpaca.refuse_streams = True
    alpaca.disconnect()
    wait_until(lambda: not alpaca_broker.stream_up)
    order = Order(alpaca_broker.new_order_id(), "AAPL", BUY, 1, OrderType.LIMIT, limit_price=190.0)
    with pytest.raises(StreamDownError, match="stream is down; order #1 was not sent"):
        alpaca_broker.submit(SubmitOrder(order, row=1))
    assert order.status is OrderStatus.NEW
    assert posted(alpaca) == []
    alpaca.refuse_streams = False  # the venue comes back: the client reconnects with backoff
    wait_until(lambda: alpaca_broker.stream_up and alpaca.listeners == 1)
    alpaca_broker.submit(SubmitOrder(order, row=2))
    assert order.status is OrderStatus.ACCEPTED
    assert alpaca_broker.reconciliations >= 2


def test_update_dropped_during_an_outage_is_recovered_by_reconciliation(alpaca, alpaca_broker):
    order = limit(alpaca_broker, "AAPL", BUY, 10, 190.0)
    alpaca_broker.drain_events()
    alpaca.refuse_streams = True
    alpaca.disconnect()
    wait_until(lambda: not alpaca_broker.stream_up)
    alpaca.fill("al-1", 4, 189.5)  # sent to nobody: the stream is down
    assert fills(alpaca_broker.drain_events()) == []
    alpaca.refuse_streams = False
    events = collect(alpaca_broker, fills)
    assert [(type(e), e.quantity, e.price) for e in fills(events)] == [
        (OrderPartiallyFilled, 4.0, 189.5)
    ]
    # the recovered fill is not counted again by later updates or reconciliations
    alpaca.resend_last()
    alpaca_broker.reconcile()
    alpaca.fill("al-1", 6, 190.0)
    rest = collect(alpaca_broker, fills)
    assert [(type(e), e.quantity) for e in fills(rest)] == [(OrderFilled, 6.0)]
    assert order.filled_quantity == 10
    assert order.status is OrderStatus.FILLED


def test_a_dropped_update_is_made_up_by_the_next_cumulative_one(alpaca, alpaca_broker):
    order = limit(alpaca_broker, "AAPL", BUY, 10, 190.0)
    alpaca_broker.drain_events()
    alpaca.drop_next_updates = 1
    alpaca.fill("al-1", 3, 189.0)  # lost on the wire
    alpaca.fill("al-1", 2, 190.0)
    events = collect(alpaca_broker, fills)
    (fill,) = fills(events)
    assert fill.quantity == 5.0
    assert fill.price == pytest.approx((3 * 189.0 + 2 * 190.0) / 5)
    assert order.avg_price == pytest.approx(
        float(alpaca.orders[next(iter(alpaca.orders))]["filled_avg_price"])
    )


def test_repeated_updates_count_once(alpaca, alpaca_broker):
    limit(alpaca_broker, "AAPL", BUY, 10, 190.0)
    alpaca_broker.drain_events()
    alpaca.fill("al-1", 4, 190.0)
    first = collect(alpaca_broker, fills)
    alpaca.resend_last()
    alpaca.resend_last()
    alpaca.fill("al-1", 1, 190.0)  # a marker that arrives after the repeats
    later = collect(alpaca_broker, fills)
    assert [e.quantity for e in fills(first) + fills(later)] == [4.0, 1.0]
    assert alpaca_broker.reconcile() == []


def test_cancel_of_a_partly_filled_order(alpaca, alpaca_broker):
    order = limit(alpaca_broker, "AAPL", SELL, 10, 191.0)
    alpaca.fill("al-1", 3, 191.0)
    collect(alpaca_broker, fills)
    assert alpaca_broker.cancel(CancelOrder(order.order_id, row=8))
    events = collect(alpaca_broker, lambda ev: any(isinstance(e, OrderCanceled) for e in ev))
    assert order.status is OrderStatus.CANCELED
    assert order.filled_quantity == 3
    assert events[-1].row == 8
    assert not alpaca_broker.cancel(CancelOrder(order.order_id, row=9))
    assert alpaca_broker.positions() == {"AAPL": -3.0}


def test_market_order_account_and_market_data(alpaca, alpaca_broker):
    order = Order(alpaca_broker.new_order_id(), "AAPL", BUY, 2.6)
    alpaca_broker.submit(SubmitOrder(order, row=1))
    assert next(iter(alpaca.orders.values()))["qty"] == "2.0"
    # whole shares have no minimum notional: the market order needed no quote
    assert ("GET", "/v2/stocks/trades/latest") not in alpaca.server.requests
    assert alpaca_broker.last_price("AAPL") == 190.0
    assert alpaca_broker.equity == pytest.approx(100_000.0)
    bars = alpaca_broker.bars(["AAPL", "PENNY"], start=datetime(2024, 1, 1))
    assert list(bars.columns) == ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
    assert len(bars) == 6
    assert bars["timestamp"].dt.tz is not None
    assert bars.iloc[0][["open", "close"]].tolist() == [102.0, 102.5]


def test_fractional_shares_and_their_minimum_notional(alpaca):
    env = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
    }
    broker = AlpacaBroker(
        trading_url=alpaca.server.http,
        data_url=alpaca.server.http,
        stream_url=f"{alpaca.server.ws}/stream",
        environ=env,
        fractional=True,
    )
    try:
        wait_until(lambda: broker.stream_up)
        order = Order(broker.new_order_id(), "AAPL", BUY, 0.1234567891234)
        broker.submit(SubmitOrder(order, row=1))
        assert order.quantity == pytest.approx(0.123456789)
        tiny = Order(broker.new_order_id(), "AAPL", BUY, 0.001)  # 0.19 USD < 1 USD
        with pytest.raises(OrderSizeError, match="below the minimum notional 1"):
            broker.submit(SubmitOrder(tiny, row=1))
        assert tiny.status is OrderStatus.NEW
        assert len(alpaca.orders) == 1
    finally:
        broker.close()


def test_keys_never_appear_in_logs_errors_or_reprs(alpaca, caplog):
    caplog.set_level(logging.DEBUG)
    env = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
    }
    broker = AlpacaBroker(
        trading_url=alpaca.server.http,
        data_url=alpaca.server.http,
        stream_url=f"{alpaca.server.ws}/stream",
        environ=env,
    )
    try:
        wait_until(lambda: broker.stream_up)
        order = limit(broker, "AAPL", BUY, 1, 190.0)
        alpaca.fill(broker.tracker.client_id(order.order_id), 1, 190.0)
        collect(broker, fills)
        text = caplog.text + repr(broker) + json.dumps(broker.urls)
    finally:
        broker.close()
    wrong = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": "PKWRONG",
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": "wrong-secret-xyz",
    }
    bad = AlpacaBroker(
        trading_url=alpaca.server.http,
        data_url=alpaca.server.http,
        environ=wrong,
        start_stream=False,
    )
    with pytest.raises(VenueError, match="401") as info:
        bad.account()
    text += str(info.value)
    assert "401" in str(info.value)
    for secret in (fake_alpaca.SECRET, fake_alpaca.KEY, "wrong-secret-xyz", "PKWRONG"):
        assert secret not in text
    with pytest.raises(MissingCredentialsError):
        AlpacaBroker(environ={}, start_stream=False)


@pytest.mark.parametrize(("when", "placed"), [("after", True), ("before", False)])
def test_a_send_with_an_unknown_outcome_is_settled_by_reconciliation(
    alpaca, alpaca_broker, when, placed
):
    alpaca.fail_next_submit = when  # the server answers 500: was the order placed?
    order = limit(alpaca_broker, "AAPL", BUY, 5, 190.0)
    assert order.status is OrderStatus.SUBMITTED  # not guessed either way
    events = alpaca_broker.drain_events()  # reconciliation runs first
    if placed:
        assert order.status is OrderStatus.ACCEPTED
        alpaca.fill(alpaca_broker.tracker.client_id(order.order_id), 5, 190.0)
        done = collect(alpaca_broker, fills)
        assert [e.quantity for e in fills(done)] == [5.0]
    else:
        assert order.status is OrderStatus.REJECTED
        assert events[-1].reason == "not found at the venue"
    assert len(alpaca.orders) == int(placed)


def test_rebalance_sends_market_orders_for_the_difference(alpaca, alpaca_broker):
    import numpy as np

    from alphaloop.execution import RebalanceToWeights

    alpaca.positions["AAPL"] = 100.0
    alpaca.cash -= 100 * 190.0  # equity stays 100,000
    alpaca_broker.rebalance(RebalanceToWeights(np.array([0.38, np.nan]), row=4))
    (sent,) = alpaca.orders.values()  # 0.38 * 100,000 / 190 = 200 shares: buy 100 more
    assert (sent["symbol"], sent["side"], sent["qty"], sent["type"]) == (
        "AAPL",
        "buy",
        "100.0",
        "market",
    )
    with pytest.raises(Exception, match="1 weights for 2 assets"):
        alpaca_broker.rebalance(RebalanceToWeights(np.array([0.5]), row=5))


def test_modify_is_refused_with_what_to_do_instead(alpaca_broker):
    from alphaloop.execution import ModifyOrder

    with pytest.raises(Exception, match="cancel the order and submit a new one"):
        alpaca_broker.modify(ModifyOrder(1, row=1, quantity=2.0))


def test_every_request_is_checked_against_the_paper_hosts(alpaca, alpaca_broker):
    from alphaloop.execution.brokers import EndpointError

    alpaca_broker.trading._base_url = "https://api.alpaca.markets"  # as if something rewired it
    before = len(alpaca.server.requests)
    with pytest.raises(EndpointError, match=r"may not reach api\.alpaca\.markets"):
        alpaca_broker.account()
    assert len(alpaca.server.requests) == before


def test_client_order_ids_differ_between_broker_instances(alpaca):
    env = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
    }
    one, two = (
        AlpacaBroker(trading_url=alpaca.server.http, environ=env, start_stream=False)
        for _ in range(2)
    )
    assert one.tracker.client_id(1) != two.tracker.client_id(1)
    assert one.tracker.client_id(1).endswith("-1")


def test_a_stream_that_refuses_the_keys_never_comes_up(alpaca):
    env = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
    }
    alpaca.stream_key = "SOMEONE-ELSE"
    broker = AlpacaBroker(
        trading_url=alpaca.server.http,
        stream_url=f"{alpaca.server.ws}/stream",
        environ=env,
        backoff=Backoff(initial_s=0.05, max_s=0.1),
    )
    try:
        wait_until(lambda: alpaca.auth_headers.count("bad") >= 2)  # it keeps trying, with backoff
        assert not broker.stream_up
        order = Order(broker.new_order_id(), "AAPL", BUY, 1)
        with pytest.raises(StreamDownError):
            broker.submit(SubmitOrder(order, row=1))
    finally:
        broker.close()


def test_restored_orders_are_reconciled_once_after_a_restart(alpaca, alpaca_broker):
    order = limit(alpaca_broker, "AAPL", BUY, 10, 190.0)
    alpaca.fill("al-1", 2, 190.0)
    collect(alpaca_broker, fills)
    stored = list(order.events)
    alpaca_broker.close()  # the process dies
    alpaca.fill("al-1", 5, 189.0)  # nobody listens
    rebuilt = Order(order.order_id, "AAPL", BUY, 10, OrderType.LIMIT, limit_price=190.0)
    for event in stored:
        rebuilt.apply(event)
    env = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
    }
    again = AlpacaBroker(
        trading_url=alpaca.server.http,
        stream_url=f"{alpaca.server.ws}/stream",
        environ=env,
        client_prefix="al",
    )
    try:
        again.restore([rebuilt])
        wait_until(lambda: again.stream_up)
        missed = collect(again, fills)
        assert [(e.quantity, e.price) for e in fills(missed)] == [(5.0, 189.0)]
        assert again.drain_events() == []
        assert again.open_orders("AAPL") == [rebuilt]
    finally:
        again.close()
