"""Venue brokers: Alpaca (stocks) and ccxt (spot crypto exchanges).

Both implement :class:`~alphaloop.execution.broker.Broker`, so a strategy runs
on them unchanged. Public names load on first use
(:func:`alphaloop.faces.load_public`): ``import alphaloop.execution`` never
imports alpaca-py or ccxt (the ``brokers`` extra), and neither does this
package until :class:`AlpacaBroker` or :class:`CcxtBroker` is built.

Modules: :mod:`.safety` (credentials from the environment, live approval,
endpoint checks, backoff), :mod:`.precision` (rounding and minimums),
:mod:`.tracking` (venue snapshots to order events, no fill lost or doubled),
:mod:`.venue` (the venue-independent broker: stream guard, reconciliation,
rate limits, restore after a restart), :mod:`.factory` (a broker by venue
name), :mod:`.alpaca` with :mod:`.alpaca_stream` and :mod:`.ccxt_venue` with
:mod:`.ccxt_urls` (the adapters), :mod:`.errors`. See docs/brokers.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.execution.brokers.alpaca import (
        ALPACA_ENV,
        ALPACA_LIVE_HOSTS,
        ALPACA_PAPER_HOSTS,
        AlpacaBroker,
    )
    from alphaloop.execution.brokers.ccxt_urls import ccxt_env
    from alphaloop.execution.brokers.ccxt_venue import CcxtBroker
    from alphaloop.execution.brokers.errors import (
        BrokerError,
        EndpointError,
        LiveTradingError,
        MissingCredentialsError,
        OrderSizeError,
        RateLimitedError,
        StreamDownError,
        VenueError,
    )
    from alphaloop.execution.brokers.factory import make_broker
    from alphaloop.execution.brokers.precision import MarketRules, RoundedOrder
    from alphaloop.execution.brokers.safety import Backoff, Credentials, LiveApproval
    from alphaloop.execution.brokers.tracking import OrderTracker, VenueOrderState, VenueStatus
    from alphaloop.execution.brokers.venue import VenueBroker

_HOME: dict[str, str] = {
    "ALPACA_ENV": "alphaloop.execution.brokers.alpaca",
    "ALPACA_LIVE_HOSTS": "alphaloop.execution.brokers.alpaca",
    "ALPACA_PAPER_HOSTS": "alphaloop.execution.brokers.alpaca",
    "AlpacaBroker": "alphaloop.execution.brokers.alpaca",
    "CcxtBroker": "alphaloop.execution.brokers.ccxt_venue",
    "ccxt_env": "alphaloop.execution.brokers.ccxt_urls",
    "BrokerError": "alphaloop.execution.brokers.errors",
    "EndpointError": "alphaloop.execution.brokers.errors",
    "LiveTradingError": "alphaloop.execution.brokers.errors",
    "MissingCredentialsError": "alphaloop.execution.brokers.errors",
    "OrderSizeError": "alphaloop.execution.brokers.errors",
    "RateLimitedError": "alphaloop.execution.brokers.errors",
    "StreamDownError": "alphaloop.execution.brokers.errors",
    "VenueError": "alphaloop.execution.brokers.errors",
    "make_broker": "alphaloop.execution.brokers.factory",
    "MarketRules": "alphaloop.execution.brokers.precision",
    "RoundedOrder": "alphaloop.execution.brokers.precision",
    "Backoff": "alphaloop.execution.brokers.safety",
    "Credentials": "alphaloop.execution.brokers.safety",
    "LiveApproval": "alphaloop.execution.brokers.safety",
    "OrderTracker": "alphaloop.execution.brokers.tracking",
    "VenueOrderState": "alphaloop.execution.brokers.tracking",
    "VenueStatus": "alphaloop.execution.brokers.tracking",
    "VenueBroker": "alphaloop.execution.brokers.venue",
}

__all__ = [
    "ALPACA_ENV",
    "ALPACA_LIVE_HOSTS",
    "ALPACA_PAPER_HOSTS",
    "AlpacaBroker",
    "Backoff",
    "BrokerError",
    "CcxtBroker",
    "Credentials",
    "EndpointError",
    "LiveApproval",
    "LiveTradingError",
    "MarketRules",
    "MissingCredentialsError",
    "OrderSizeError",
    "OrderTracker",
    "RateLimitedError",
    "RoundedOrder",
    "StreamDownError",
    "VenueBroker",
    "VenueError",
    "VenueOrderState",
    "VenueStatus",
    "ccxt_env",
    "make_broker",
]


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
