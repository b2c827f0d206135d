"""Keys only from the environment, never shown; live needs live=True, live keys and an
approval; every paper path reaches only paper or sandbox hosts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alphaloop.execution.brokers import (
    ALPACA_LIVE_HOSTS,
    ALPACA_PAPER_HOSTS,
    AlpacaBroker,
    Backoff,
    CcxtBroker,
    Credentials,
    EndpointError,
    LiveApproval,
    LiveTradingError,
    MissingCredentialsError,
)
from alphaloop.execution.brokers.ccxt_urls import sandbox_hosts
from alphaloop.execution.brokers.safety import host_of

SECRET = "s3cr3t-value-must-never-show"
PAPER_ENV = {
    "ALPHALOOP_ALPACA_PAPER_KEY_ID": "PKPAPER",
    "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": SECRET,
}
LIVE_ENV = {"ALPHALOOP_ALPACA_LIVE_KEY_ID": "AKLIVE", "ALPHALOOP_ALPACA_LIVE_SECRET_KEY": SECRET}


def ccxt_env(exchange: str, mode: str = "SANDBOX") -> dict[str, str]:
    stem = f"ALPHALOOP_CCXT_{exchange.upper()}_{mode}"
    return {f"{stem}_API_KEY": "key", f"{stem}_SECRET": SECRET, f"{stem}_PASSWORD": "pw"}


def test_credentials_come_from_named_variables_and_hide_the_secret():
    creds = Credentials.from_env("K", "S", environ={"K": "key-id", "S": SECRET})
    assert (creds.key, creds.secret) == ("key-id", SECRET)
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)
    assert "key-id" not in repr(creds)
    with pytest.raises(MissingCredentialsError, match="K, S not set") as info:
        Credentials.from_env("K", "S", environ={})
    assert info.value.exit_code == 2


def test_paper_never_reads_live_keys_and_live_never_reads_paper_keys():
    with pytest.raises(MissingCredentialsError, match="ALPHALOOP_ALPACA_PAPER_KEY_ID"):
        AlpacaBroker(environ=LIVE_ENV, start_stream=False)
    approval = LiveApproval("ada", scope="alpaca")
    with pytest.raises(MissingCredentialsError, match="ALPHALOOP_ALPACA_LIVE_KEY_ID"):
        AlpacaBroker(live=True, approved_by=approval, environ=PAPER_ENV, start_stream=False)


def test_alpaca_paper_defaults_are_paper_hosts_only():
    broker = AlpacaBroker(["AAPL"], environ=PAPER_ENV, start_stream=False)
    hosts = {host_of(u) for u in broker.urls.values()}
    assert hosts <= ALPACA_PAPER_HOSTS
    assert "api.alpaca.markets" not in hosts
    assert broker.urls["trading"] == "https://paper-api.alpaca.markets"
    assert broker.urls["stream"] == "wss://paper-api.alpaca.markets/stream"
    assert SECRET not in repr(broker)


@pytest.mark.parametrize("field", ["trading_url", "stream_url"])
def test_alpaca_paper_refuses_a_live_url(field):
    live_url = {
        "trading_url": "https://api.alpaca.markets",
        "stream_url": "wss://api.alpaca.markets/stream",
    }
    with pytest.raises(
        EndpointError, match=r"paper broker .* may not reach api\.alpaca\.markets"
    ) as info:
        AlpacaBroker(environ=PAPER_ENV, start_stream=False, **{field: live_url[field]})
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"live": True}, "needs an approval token"),
        ({"live": True, "approved_by": "ada"}, "needs an approval token"),
        ({"live": True, "approved_by": LiveApproval("ada", scope="ccxt:binance")}, "not 'alpaca'"),
        ({"live": False, "approved_by": LiveApproval("ada", scope="alpaca")}, "explicit live=True"),
    ],
)
def test_alpaca_live_is_refused_without_every_condition(kwargs, message):
    with pytest.raises(LiveTradingError, match=message):
        AlpacaBroker(environ={**PAPER_ENV, **LIVE_ENV}, start_stream=False, **kwargs)


def test_live_approval_needs_a_name():
    with pytest.raises(LiveTradingError, match="name of who approved"):
        LiveApproval("  ", scope="alpaca")


def test_alpaca_live_with_approval_reaches_live_hosts_and_refuses_paper_ones():
    approval = LiveApproval("ada", scope="alpaca", reason="promotion after 30 paper days")
    broker = AlpacaBroker(live=True, approved_by=approval, environ=LIVE_ENV, start_stream=False)
    assert {host_of(u) for u in broker.urls.values()} <= ALPACA_LIVE_HOSTS
    assert broker.urls["trading"] == "https://api.alpaca.markets"
    with pytest.raises(EndpointError):
        AlpacaBroker(
            live=True,
            approved_by=approval,
            environ=LIVE_ENV,
            start_stream=False,
            trading_url="https://paper-api.alpaca.markets",
        )


def test_every_ccxt_paper_path_uses_only_sandbox_hosts():
    import ccxt

    checked = 0
    for exchange in ccxt.exchanges:
        if not getattr(ccxt, exchange)().urls.get("test"):
            continue
        try:
            broker = CcxtBroker(exchange, environ=ccxt_env(exchange), start_polling=False)
        except EndpointError:
            continue  # refused (a sandbox that shares hosts with live, or none usable)
        sandbox = sandbox_hosts(broker.exchange)
        live = {host_of(u) for u in _all_urls(getattr(ccxt, exchange)().urls["api"])} - sandbox
        used = {host_of(u) for u in _all_urls(broker.exchange.urls["api"])}
        assert used, exchange
        assert used <= sandbox, exchange
        assert not used & live, exchange
        assert broker.allowed_hosts.isdisjoint(live), exchange
        assert SECRET not in repr(broker)
        checked += 1
    assert checked >= 40  # ccxt 4.5.90 describes a sandbox for 48 exchanges


def test_ccxt_exchange_without_sandbox_cannot_be_paper_traded():
    with pytest.raises(EndpointError, match="has no sandbox"):
        CcxtBroker("bitstamp", environ=ccxt_env("bitstamp"), start_polling=False)


def test_ccxt_paper_refuses_a_live_base_url():
    with pytest.raises(EndpointError, match=r"may not reach api\.binance\.com"):
        CcxtBroker(
            "binance",
            environ=ccxt_env("binance"),
            start_polling=False,
            base_url="https://api.binance.com",
        )


def test_ccxt_request_guard_stops_a_live_request_before_it_is_sent():
    broker = CcxtBroker("binance", environ=ccxt_env("binance"), start_polling=False)
    # even if something rewrote the URLs after the checks, the request is refused here
    broker.exchange.urls["api"]["public"] = "https://api.binance.com/api/v3"
    with pytest.raises(EndpointError, match=r"may not reach api\.binance\.com"):
        broker.exchange.fetch("https://api.binance.com/api/v3/time")
    with pytest.raises(EndpointError):
        broker.exchange.fetch_time()


def test_ccxt_live_needs_approval_for_that_exchange():
    env = ccxt_env("binance", "LIVE")
    with pytest.raises(LiveTradingError, match="approval token"):
        CcxtBroker("binance", live=True, environ=env, start_polling=False)
    with pytest.raises(LiveTradingError, match="not 'ccxt:binance'"):
        CcxtBroker(
            "binance",
            live=True,
            approved_by=LiveApproval("ada", scope="alpaca"),
            environ=env,
            start_polling=False,
        )
    broker = CcxtBroker(
        "binance",
        live=True,
        approved_by=LiveApproval("ada", scope="ccxt:binance"),
        environ=env,
        start_polling=False,
    )
    used = {host_of(u) for u in _all_urls(broker.exchange.urls["api"])}
    assert "api.binance.com" in used
    assert not used & sandbox_hosts(broker.exchange)


def test_backoff_grows_caps_and_resets():
    backoff = Backoff(initial_s=1.0, max_s=4.0, seed=3)
    delays = [backoff.next_delay() for _ in range(5)]
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(0.5 * c <= d <= c for d, c in zip(delays, caps, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_importing_execution_loads_neither_alpaca_nor_ccxt():
    code = (
        "import sys, alphaloop.execution, alphaloop.execution.brokers as b; "
        "b.MarketRules; b.LiveApproval; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ccxt', 'alpaca')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _all_urls(node):
    if isinstance(node, str):
        if "://" in node:
            yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _all_urls(value)


def test_make_broker_by_venue_name():
    from alphaloop.execution.brokers import BrokerError, make_broker

    alpaca = make_broker("alpaca", ["AAPL"], environ=PAPER_ENV, start_stream=False)
    assert isinstance(alpaca, AlpacaBroker)
    assert not alpaca.live
    ccxt_broker = make_broker(
        "ccxt:binance", ["BTC/USDT"], environ=ccxt_env("binance"), start_polling=False
    )
    assert isinstance(ccxt_broker, CcxtBroker)
    assert ccxt_broker.venue == "ccxt:binance"
    for bad in ("ib", "ccxt", "alpaca:x"):
        with pytest.raises(BrokerError, match="unknown venue"):
            make_broker(bad)
