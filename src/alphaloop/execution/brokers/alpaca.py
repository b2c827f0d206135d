"""Alpaca (stocks) through alpaca-py: paper and live endpoints.

* Orders: ``TradingClient`` (REST ``/v2/orders``), market, limit, stop and
  stop-limit, with our client order id (``<prefix>-<order id>``).
* Updates: ``TradingStream`` (the ``trade_updates`` WebSocket), run in a
  daemon thread; its connect and close are hooked so the broker knows when
  the stream is up, and reconciles after every reconnect.
* Account and positions: ``/v2/account``, ``/v2/positions``.
* Market data: ``StockHistoricalDataClient`` (bars, latest trade).

Keys come from ``ALPHALOOP_ALPACA_PAPER_KEY_ID`` /
``ALPHALOOP_ALPACA_PAPER_SECRET_KEY`` (paper) or ``ALPHALOOP_ALPACA_LIVE_KEY_ID``
/ ``ALPHALOOP_ALPACA_LIVE_SECRET_KEY`` (live, with ``live=True`` and a
:class:`~alphaloop.execution.brokers.safety.LiveApproval`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from alphaloop.execution.brokers.alpaca_stream import endpoint_url, hooked_stream
from alphaloop.execution.brokers.errors import BrokerError, VenueError
from alphaloop.execution.brokers.precision import MarketRules
from alphaloop.execution.brokers.safety import (
    Backoff,
    Credentials,
    LiveApproval,
    check_url,
    guard_session,
    require_live,
)
from alphaloop.execution.brokers.tracking import VenueOrderState, VenueStatus
from alphaloop.execution.brokers.venue import RateLimit, VenueBroker
from alphaloop.execution.orders import Order, OrderSide, OrderType

__all__ = [
    "ALPACA_ENV",
    "ALPACA_LIVE_HOSTS",
    "ALPACA_PAPER_HOSTS",
    "AlpacaBroker",
    "alpaca_state",
]

log = logging.getLogger(__name__)

#: environment variables of the keys: (key id, secret) for paper and for live
ALPACA_ENV = {
    "paper": ("ALPHALOOP_ALPACA_PAPER_KEY_ID", "ALPHALOOP_ALPACA_PAPER_SECRET_KEY"),
    "live": ("ALPHALOOP_ALPACA_LIVE_KEY_ID", "ALPHALOOP_ALPACA_LIVE_SECRET_KEY"),
}
_DATA_HOSTS = frozenset({"data.alpaca.markets", "data.sandbox.alpaca.markets"})
#: hosts a paper broker may reach (plus loopback)
ALPACA_PAPER_HOSTS = frozenset({"paper-api.alpaca.markets"}) | _DATA_HOSTS
#: hosts a live broker may reach (plus loopback)
ALPACA_LIVE_HOSTS = frozenset({"api.alpaca.markets"}) | _DATA_HOSTS

_STATUS = {
    "pending_new": VenueStatus.PENDING,
    "filled": VenueStatus.FILLED,
    "canceled": VenueStatus.CANCELED,
    "replaced": VenueStatus.CANCELED,
    "expired": VenueStatus.EXPIRED,
    "rejected": VenueStatus.REJECTED,
}


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def alpaca_state(order: Mapping[str, Any]) -> VenueOrderState:
    """A :class:`VenueOrderState` from an Alpaca order object (REST or ``trade_updates``)."""
    status = str(order.get("status", ""))
    return VenueOrderState(
        client_id=str(order.get("client_order_id", "")),
        venue_id=str(order["id"]) if order.get("id") else None,
        status=_STATUS.get(status, VenueStatus.OPEN),
        filled=_float(order.get("filled_qty")) or 0.0,
        avg_price=_float(order.get("filled_avg_price")),
        reason=status if status in ("rejected", "replaced", "canceled") else "",
    )


def _api_error(exc: Exception, what: str) -> Exception:
    """Translate an alpaca-py ``APIError`` (429 -> RateLimit, 4xx -> VenueError)."""
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status == 429:
        retry = response.headers.get("Retry-After") if response is not None else None
        try:
            return RateLimit(float(retry) if retry is not None else None)
        except ValueError:
            return RateLimit(None)
    try:
        message = exc.message  # type: ignore[attr-defined]
    except Exception:
        message = str(exc)[:200]
    if status is not None and 400 <= status < 500:
        return VenueError(f"alpaca: {what} refused ({status}): {message}")
    return BrokerError(f"alpaca: {what} failed ({status}): {message}")


class AlpacaBroker(VenueBroker):
    """A :class:`~alphaloop.execution.broker.Broker` on an Alpaca account.

    Parameters
    ----------
    assets : sequence of str
        Symbols, in the order of ``RebalanceToWeights.weights``.
    live : bool, default False
        Trade the live account. Needs live keys in the environment and ``approved_by``.
    approved_by : LiveApproval, optional
        The approval for live trading (scope ``"alpaca"``).
    trading_url, stream_url, data_url : str, optional
        Endpoint overrides (a local server in tests); checked against the
        paper or live host list (loopback is always allowed).
    fractional : bool, default False
        Allow fractional shares (step 1e-9, minimum notional $1); else whole shares.
    environ : mapping, optional
        Where to read the keys (default ``os.environ``).
    start_stream : bool, default True
        Start the ``trade_updates`` stream thread now.
    """

    def __init__(
        self,
        assets: Sequence[str] = (),
        *,
        live: bool = False,
        approved_by: LiveApproval | None = None,
        trading_url: str | None = None,
        stream_url: str | None = None,
        data_url: str | None = None,
        fractional: bool = False,
        environ: Mapping[str, str] | None = None,
        start_stream: bool = True,
        client_prefix: str | None = None,
        backoff: Backoff | None = None,
        max_retries: int = 3,
    ) -> None:
        from alpaca.data.historical import StockHistoricalDataClient
        from alpaca.trading.client import TradingClient

        super().__init__(
            "alpaca", assets, client_prefix=client_prefix, backoff=backoff, max_retries=max_retries
        )
        mode = "live" if live else "paper"
        credentials = Credentials.from_env(*ALPACA_ENV[mode], environ=environ)
        if live or approved_by is not None:
            require_live("alpaca", live=live, approved_by=approved_by, credentials=credentials)
        self.live = bool(live)
        self.fractional = fractional
        allowed = ALPACA_LIVE_HOSTS if live else ALPACA_PAPER_HOSTS
        what = f"an Alpaca {mode} broker"
        self.trading = TradingClient(
            credentials.key,
            credentials.secret,
            paper=not live,
            raw_data=True,
            url_override=trading_url,
        )
        self.data = StockHistoricalDataClient(
            credentials.key, credentials.secret, raw_data=True, url_override=data_url
        )
        # alpaca-py retries a 429 after a fixed 3 s; the broker retries after Retry-After
        for client in (self.trading, self.data):
            client._retry_codes = []
        self.allowed_hosts = allowed
        self._stream = hooked_stream(self, credentials, paper=not live, url_override=stream_url)
        self.urls = {
            "trading": endpoint_url(self.trading._base_url),
            "data": endpoint_url(self.data._base_url),
            "stream": endpoint_url(self._stream._endpoint),
        }
        for name, url in self.urls.items():
            check_url(url, allowed, what=f"{what} ({name})")
        # and again on every request and every stream connect, whatever changed since
        for client in (self.trading, self.data):
            guard_session(client._session, allowed, what)
        self._stream._reconnect_min_backoff = self.backoff.initial_s
        self._stream._reconnect_max_backoff = self.backoff.max_s
        self._thread: threading.Thread | None = None
        if start_stream:
            self.start_stream()

    def __repr__(self) -> str:
        mode = "live" if self.live else "paper"
        return f"AlpacaBroker({mode}, trading={self.urls['trading']}, stream_up={self.stream_up})"

    # ------------------------------------------------------------ stream
    def start_stream(self) -> None:
        """Run the ``trade_updates`` stream in a daemon thread (reconnects with backoff)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stream.subscribe_trade_updates(self._handle)
        self._thread = threading.Thread(target=self._stream.run, name="alpaca-stream", daemon=True)
        self._thread.start()

    async def _handle(self, message: Mapping[str, Any]) -> None:
        data = message.get("data") or {}
        order = data.get("order")
        if isinstance(order, Mapping):
            self._on_update(alpaca_state(order))

    def close(self) -> None:
        """Stop the stream thread (waits up to 10 s)."""
        thread = self._thread
        if thread is None:
            return
        loop = self._stream._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._stream.stop_ws(), loop).result(timeout=10)
            # closing the socket ends the pending receive now, not at its 5 s timeout
            asyncio.run_coroutine_threadsafe(self._stream.close(), loop).result(timeout=10)
        thread.join(timeout=10)
        self._thread = None
        self._on_stream_down()

    # ---------------------------------------------------------- orders
    def _rest(self, what: str, fn: Any, *args: Any) -> Any:
        from alpaca.common.exceptions import APIError

        try:
            return fn(*args)
        except APIError as exc:
            raise _api_error(exc, what) from None

    def _place(self, order: Order, client_id: str) -> VenueOrderState:
        from alpaca.trading import requests as rq
        from alpaca.trading.enums import OrderSide as Side
        from alpaca.trading.enums import TimeInForce as Tif

        common = {
            "symbol": order.asset,
            "qty": order.quantity,
            "side": Side.BUY if order.side is OrderSide.BUY else Side.SELL,
            "time_in_force": Tif(order.time_in_force.value),
            "client_order_id": client_id,
        }
        kind = order.order_type
        if kind is OrderType.MARKET:
            request: Any = rq.MarketOrderRequest(**common)
        elif kind is OrderType.LIMIT:
            request = rq.LimitOrderRequest(limit_price=order.limit_price, **common)
        elif kind is OrderType.STOP:
            request = rq.StopOrderRequest(stop_price=order.stop_price, **common)
        else:
            request = rq.StopLimitOrderRequest(
                limit_price=order.limit_price, stop_price=order.stop_price, **common
            )
        return alpaca_state(self._rest("submit", self.trading.submit_order, request))

    def _cancel(self, order: Order, client_id: str, venue_id: str | None) -> None:
        if venue_id is None:
            state = self._fetch(order, client_id, None)
            if state is None or state.venue_id is None:
                raise VenueError(f"alpaca: order {client_id} is unknown at the venue")
            venue_id = state.venue_id
        self._rest("cancel", self.trading.cancel_order_by_id, venue_id)

    def _fetch(self, order: Order, client_id: str, venue_id: str | None) -> VenueOrderState | None:
        try:
            raw = self._rest("fetch order", self.trading.get_order_by_client_id, client_id)
        except VenueError as exc:
            if "(404)" in exc.message:
                return None
            raise
        return alpaca_state(raw)

    # ----------------------------------------------------- account, data
    def account(self) -> dict[str, Any]:
        """The raw ``/v2/account`` document (cash, equity, buying power as strings)."""
        return dict(self._call("account", lambda: self._rest("account", self.trading.get_account)))

    @property
    def cash(self) -> float:
        return float(self.account()["cash"])

    @property
    def equity(self) -> float:
        return float(self.account()["equity"])

    def positions(self) -> dict[str, float]:
        raw = self._call(
            "positions", lambda: self._rest("positions", self.trading.get_all_positions)
        )
        out = {str(p["symbol"]): float(p["qty"]) for p in raw}
        return {k: v for k, v in out.items() if v != 0.0}

    def last_price(self, asset: str) -> float:
        from alpaca.data.requests import StockLatestTradeRequest

        request = StockLatestTradeRequest(symbol_or_symbols=asset)
        raw = self._call(
            "latest trade",
            lambda: self._rest("latest trade", self.data.get_stock_latest_trade, request),
        )
        trade = raw.get(asset) if isinstance(raw, Mapping) else None
        if not trade or "p" not in trade:
            raise VenueError(f"alpaca: no latest trade for {asset}")
        return float(trade["p"])

    def bars(
        self,
        assets: Sequence[str],
        start: datetime,
        end: datetime | None = None,
        timeframe: str = "1Day",
    ) -> pd.DataFrame:
        """OHLCV bars: one row per (symbol, timestamp UTC); prices in USD, volume in shares.

        ``timeframe`` is Alpaca's: ``1Min``, ``5Min``, ``1Hour``, ``1Day``, ...
        """
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

        amount = int("".join(ch for ch in timeframe if ch.isdigit()) or 1)
        unit = {
            "Min": TimeFrameUnit.Minute,
            "Hour": TimeFrameUnit.Hour,
            "Day": TimeFrameUnit.Day,
            "Week": TimeFrameUnit.Week,
            "Month": TimeFrameUnit.Month,
        }.get(timeframe.lstrip("0123456789"))
        if unit is None:
            raise BrokerError(
                f"unknown Alpaca timeframe {timeframe!r}", hint="e.g. 1Min, 1Hour, 1Day"
            )
        request = StockBarsRequest(
            symbol_or_symbols=list(assets), timeframe=TimeFrame(amount, unit), start=start, end=end
        )
        raw = self._call("bars", lambda: self._rest("bars", self.data.get_stock_bars, request))
        rows = [
            {
                "symbol": sym,
                "timestamp": pd.Timestamp(b["t"]),
                "open": b["o"],
                "high": b["h"],
                "low": b["l"],
                "close": b["c"],
                "volume": b["v"],
            }
            for sym, bars in (raw or {}).items()
            for b in bars
        ]
        columns = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
        return pd.DataFrame(rows, columns=columns)

    def _market_rules(self, asset: str, price: float | None) -> MarketRules:
        tick = Decimal("0.01") if price is None or price >= 1.0 else Decimal("0.0001")
        if self.fractional:
            return MarketRules(asset, tick, Decimal("1e-9"), None, Decimal("1"))
        return MarketRules(asset, tick, Decimal("1"), Decimal("1"), None)
