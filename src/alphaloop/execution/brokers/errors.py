"""Typed errors of the venue brokers (Alpaca, ccxt).

Every message says what was refused and where (venue, asset, order); none
ever contains a key or a secret.
"""

from __future__ import annotations

from alphaloop.errors import AlphaloopError

__all__ = [
    "BrokerError",
    "EndpointError",
    "LiveTradingError",
    "MissingCredentialsError",
    "OrderSizeError",
    "RateLimitedError",
    "StreamDownError",
    "VenueError",
]


class BrokerError(AlphaloopError):
    """Base class of every error a venue broker raises."""


class MissingCredentialsError(BrokerError):
    """The environment variables that hold a venue's keys are not set."""


class EndpointError(BrokerError):
    """A URL that the configuration may not reach (a live host for paper, an unknown host)."""


class LiveTradingError(BrokerError):
    """Live trading was asked for without ``live=True``, live keys or an approval."""


class OrderSizeError(BrokerError):
    """An order that, rounded to the venue's precision, is below its minimum size or notional."""


class StreamDownError(BrokerError):
    """The order-update stream is down: orders are refused until it is back and reconciled."""


class RateLimitedError(BrokerError):
    """The venue kept answering 429 (rate limited) after the allowed retries."""


class VenueError(BrokerError):
    """The venue answered with an error (rejected request, unknown order, server error)."""
