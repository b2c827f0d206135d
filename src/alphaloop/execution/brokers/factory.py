"""A venue broker from its name: ``alpaca`` or ``ccxt:<exchange>``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alphaloop.execution.brokers.errors import BrokerError
from alphaloop.execution.brokers.venue import VenueBroker

__all__ = ["make_broker"]


def make_broker(venue: str, assets: Sequence[str] = (), **kwargs: Any) -> VenueBroker:
    """Build the broker ``venue`` names (paper unless ``live=True`` and an approval are given).

    ``kwargs`` go to :class:`AlpacaBroker` or :class:`CcxtBroker` unchanged.

    Raises
    ------
    BrokerError
        ``venue`` is neither ``alpaca`` nor ``ccxt:<exchange>``.
    """
    name, _, exchange = venue.strip().partition(":")
    if name == "alpaca" and not exchange:
        from alphaloop.execution.brokers.alpaca import AlpacaBroker

        return AlpacaBroker(assets, **kwargs)
    if name == "ccxt" and exchange:
        from alphaloop.execution.brokers.ccxt_venue import CcxtBroker

        return CcxtBroker(exchange, assets, **kwargs)
    raise BrokerError(
        f"unknown venue {venue!r}", hint="use 'alpaca' or 'ccxt:<exchange>' (e.g. ccxt:binance)"
    )
