"""Orders leaving the system carry quoted prices on the quoted tick, quantities in contracts.

Inside the system a future's prices are ``quoted * multiplier`` (and a
foreign-quoted asset's ``quoted * rate``); the venue broker converts them back
at the boundary. Checked against the local Alpaca server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest

from alphaloop.data.assets import Instrument
from alphaloop.execution import Order, OrderSide, OrderType, RebalanceToWeights, SubmitOrder
from alphaloop.execution.brokers import AlpacaBroker, Backoff, BrokerError
from tests.execution.brokers import fake_alpaca
from tests.execution.brokers.conftest import wait_until

BUY, SELL = OrderSide.BUY, OrderSide.SELL
ES = Instrument(
    symbol="ES", asset_class="future", currency="USD", multiplier=50, tick_size=0.25,
    expiry=date(2027, 3, 19),
)  # fmt: skip
SAP = Instrument(symbol="SAP", asset_class="equity", currency="EUR", tick_size=0.01)
EURUSD = Instrument(
    symbol="EURUSD", asset_class="fx", currency="USD", base_currency="EUR", tick_size=0.00001,
    lot_size=1000,
)  # fmt: skip
RATE = 1.1  # USD per EUR


@pytest.fixture
def venue() -> Iterator[fake_alpaca.FakeAlpaca]:
    fake = fake_alpaca.FakeAlpaca(
        cash=1_000_000.0, prices={"ES": 5000.0, "SAP": 100.0, "EURUSD": 1.08}
    )
    yield fake
    fake.close()


@pytest.fixture
def broker(venue: fake_alpaca.FakeAlpaca) -> Iterator[AlpacaBroker]:
    env = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
    }
    b = AlpacaBroker(
        ["ES", "SAP", "EURUSD"], trading_url=venue.server.http, data_url=venue.server.http,
        stream_url=f"{venue.server.ws}/stream", environ=env, client_prefix="al",
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )  # fmt: skip
    wait_until(lambda: b.stream_up and venue.listeners == 1)
    b.drain_events()
    b.use_instruments(
        {"ES": ES, "SAP": SAP, "EURUSD": EURUSD}, base_currency="usd", rates={"EUR": RATE}
    )
    yield b
    b.close()


def send(broker: AlpacaBroker, asset: str, side: OrderSide, qty: float, kind: OrderType,
         **prices: float) -> Order:  # fmt: skip
    order = Order(broker.new_order_id(), asset, side, qty, kind, **prices)
    broker.submit(SubmitOrder(order, row=3))
    return order


def last_sent(venue: fake_alpaca.FakeAlpaca) -> dict:
    return list(venue.orders.values())[-1]


def test_future_limit_goes_out_at_the_quoted_price_on_the_quoted_tick(venue, broker) -> None:
    # 5000.30 points is 250,015 per contract inside the system
    order = send(broker, "ES", BUY, 3.7, OrderType.LIMIT, limit_price=5000.30 * 50)
    sent = last_sent(venue)
    assert (sent["qty"], sent["limit_price"]) == ("3.0", "5000.25")  # whole contracts, tick down
    assert order.limit_price == 5000.25
    assert order.quantity == 3.0
    send(broker, "ES", SELL, 1, OrderType.LIMIT, limit_price=5000.30 * 50)
    assert last_sent(venue)["limit_price"] == "5000.5"  # a sell rounds up


def test_future_stop_and_stop_limit_are_converted(venue, broker) -> None:
    send(broker, "ES", SELL, 2, OrderType.STOP, stop_price=4990.1 * 50)
    sent = last_sent(venue)
    assert (sent["type"], sent["stop_price"]) == ("stop", "4990.25")
    send(broker, "ES", BUY, 1, OrderType.STOP_LIMIT, stop_price=5010.0 * 50,
         limit_price=5012.6 * 50)  # fmt: skip
    sent = last_sent(venue)
    assert (sent["stop_price"], sent["limit_price"]) == ("5010.0", "5012.5")


def test_trailing_stops_are_refused_before_anything_is_sent(venue, broker) -> None:
    with pytest.raises(BrokerError, match="trailing stops"):
        send(broker, "ES", SELL, 1, OrderType.TRAILING_STOP, trail_fraction=0.01)
    assert venue.orders == {}


def test_foreign_quoted_asset_goes_out_in_its_own_currency(venue, broker) -> None:
    # 100.05 EUR is 110.055 USD inside the system; float noise must not cross a tick
    send(broker, "SAP", BUY, 10, OrderType.LIMIT, limit_price=100.05 * RATE)
    assert last_sent(venue)["limit_price"] == "100.05"
    broker.set_rates({"EUR": 1.25})
    send(broker, "SAP", SELL, 10, OrderType.LIMIT, limit_price=100.05 * 1.25)
    assert last_sent(venue)["limit_price"] == "100.05"


def test_fx_pair_keeps_five_decimals_and_lots(venue, broker) -> None:
    send(broker, "EURUSD", BUY, 12_345, OrderType.LIMIT, limit_price=1.083459)
    sent = last_sent(venue)
    assert (sent["qty"], sent["limit_price"]) == ("12000.0", "1.08345")
    send(broker, "EURUSD", SELL, 1000, OrderType.LIMIT, limit_price=1.083451)
    assert last_sent(venue)["limit_price"] == "1.08346"


def test_a_foreign_asset_without_a_rate_is_refused(venue, broker) -> None:
    broker.set_rates({})
    with pytest.raises(BrokerError, match="quoted in EUR and no EUR/USD rate"):
        send(broker, "SAP", BUY, 1, OrderType.LIMIT, limit_price=110.0)
    assert venue.orders == {}
    with pytest.raises(BrokerError, match="must be positive"):
        broker.set_rates({"EUR": float("nan")})


def test_rebalance_sizes_futures_in_contracts(venue, broker) -> None:
    # 0.6 x 1,000,000 / (5000 x 50) = 2.4 contracts: 2 are sent (not 120)
    broker.rebalance(RebalanceToWeights(np.array([0.6, np.nan, np.nan]), row=4))
    sent = last_sent(venue)
    assert (sent["symbol"], sent["qty"], sent["type"]) == ("ES", "2.0", "market")
    assert broker.unit_value("SAP") == pytest.approx(100.0 * RATE)


@pytest.mark.parametrize("side", [BUY, SELL])
def test_every_quoted_tick_survives_the_round_trip(broker, side) -> None:
    from alphaloop.execution.brokers.precision import MarketRules

    rules = MarketRules("ES").with_instrument(ES)
    sap_rules = MarketRules("SAP").with_instrument(SAP)
    rng = np.random.default_rng(7)
    ticks = rng.integers(4000, 40_000, size=500)
    for rate in (1.0, RATE, 0.913, 149.37):
        broker.set_rates({"EUR": rate})
        for k in ticks:
            quoted = float(k) * 0.25
            back = broker.to_quoted("ES", quoted * 50.0)
            assert rules.round_price(back, side) == quoted
            eur = round(float(k) * 0.01, 2)
            assert sap_rules.round_price(broker.to_quoted("SAP", eur * rate), side) == eur
