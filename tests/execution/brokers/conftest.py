"""Fixtures: the local Alpaca and Binance servers, and brokers connected to them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from alphaloop.execution.brokers import AlpacaBroker, Backoff, CcxtBroker
from tests.execution.brokers import fake_alpaca, fake_binance


def wait_until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until true; fail the test after ``timeout_s`` (no timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.fixture
def alpaca() -> Iterator[fake_alpaca.FakeAlpaca]:
    fake = fake_alpaca.FakeAlpaca()
    yield fake
    fake.close()


@pytest.fixture
def alpaca_broker(alpaca: fake_alpaca.FakeAlpaca) -> Iterator[AlpacaBroker]:
    env = {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
    }
    broker = AlpacaBroker(
        ["AAPL", "PENNY"],
        trading_url=alpaca.server.http,
        data_url=alpaca.server.http,
        stream_url=f"{alpaca.server.ws}/stream",
        environ=env,
        client_prefix="al",
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    wait_until(lambda: broker.stream_up and alpaca.listeners == 1)
    broker.drain_events()  # the first reconciliation
    yield broker
    broker.close()


@pytest.fixture
def binance() -> Iterator[fake_binance.FakeBinance]:
    fake = fake_binance.FakeBinance()
    yield fake
    fake.close()


@pytest.fixture
def ccxt_broker(binance: fake_binance.FakeBinance) -> Iterator[CcxtBroker]:
    env = {
        "ALPHALOOP_CCXT_BINANCE_SANDBOX_API_KEY": fake_binance.KEY,
        "ALPHALOOP_CCXT_BINANCE_SANDBOX_SECRET": fake_binance.SECRET,
    }
    broker = CcxtBroker(
        "binance",
        ["BTC/USDT", "XYZ/USDT"],
        base_url=binance.server.http,
        environ=env,
        poll_interval_s=0.02,
        client_prefix="al",
        backoff=Backoff(initial_s=0.02, max_s=0.1),
    )
    wait_until(lambda: broker.stream_up)
    broker.drain_events()
    yield broker
    broker.close()
