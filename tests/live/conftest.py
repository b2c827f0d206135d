"""Fixtures of the live-feed tests (see :mod:`tests.live.live_venues`)."""

from tests.live.live_venues import alpaca_venue, binance_venue, bus, live_ws

__all__ = ["alpaca_venue", "binance_venue", "bus", "live_ws"]
