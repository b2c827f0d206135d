"""Spot crypto exchanges through ccxt: sandbox (testnet) for paper, live with approval.

* Paper = the exchange's sandbox (``set_sandbox_mode(True)``); an exchange
  without one cannot be paper traded here (use the simulated broker).
* Every HTTP request ccxt makes passes :func:`check_url` first, against the
  sandbox hosts (paper) or the live hosts (live), plus loopback.
* Order updates come from polling ``fetch_order`` for each open order (every
  ``poll_interval_s``) in a daemon thread; with no open order a cheap public
  request keeps the connection checked. A failed poll marks the update
  channel down (orders refused) until a poll succeeds; reconciliation then
  runs before the next order. ccxt.pro's ``watch_orders`` is not used: its
  WebSocket protocols differ per exchange, polling is the same everywhere.
* Orders are rounded to the market's precision and checked against its
  minimum amount and notional (:class:`MarketRules.from_ccxt`) before sending.

Keys: ``ALPHALOOP_CCXT_<EXCHANGE>_SANDBOX_API_KEY`` / ``..._SANDBOX_SECRET``
(/ ``..._SANDBOX_PASSWORD``) for paper, ``ALPHALOOP_CCXT_<EXCHANGE>_LIVE_*`` for live.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from alphaloop.execution.brokers.ccxt_urls import all_urls, ccxt_env, rebase, sandbox_hosts
from alphaloop.execution.brokers.errors import BrokerError, EndpointError, VenueError
from alphaloop.execution.brokers.precision import MarketRules
from alphaloop.execution.brokers.safety import (
    Backoff,
    Credentials,
    LiveApproval,
    RedactingLogger,
    check_url,
    host_of,
    require_live,
)
from alphaloop.execution.brokers.tracking import VenueOrderState, VenueStatus
from alphaloop.execution.brokers.venue import RateLimit, VenueBroker
from alphaloop.execution.orders import Order, OrderSide, OrderType, TimeInForce

__all__ = ["CcxtBroker"]

log = logging.getLogger(__name__)

_STATUS = {
    "open": VenueStatus.OPEN,
    "closed": VenueStatus.FILLED,
    "canceled": VenueStatus.CANCELED,
    "cancelled": VenueStatus.CANCELED,
    "expired": VenueStatus.EXPIRED,
    "rejected": VenueStatus.REJECTED,
}


class CcxtBroker(VenueBroker):
    """A :class:`~alphaloop.execution.broker.Broker` on a ccxt spot exchange.

    Parameters
    ----------
    exchange : str
        ccxt exchange id (``binance``, ``kraken``, ...).
    assets : sequence of str
        Unified symbols (``BTC/USDT``), in the order of rebalance weights.
    quote : str, default "USDT"
        The account currency: cash is its balance, equity is valued in it.
    live : bool, default False
        Trade the live exchange; needs live keys, ``approved_by``.
    approved_by : LiveApproval, optional
        Approval with scope ``"ccxt:<exchange>"``.
    base_url : str, optional
        Send every request to this host instead (a local server in tests);
        must be loopback or one of the allowed hosts.
    poll_interval_s : float, default 1.0
        Seconds between two polls of the open orders.
    options : mapping, optional
        Extra ccxt options (``{"defaultType": "spot"}`` is always set).
    """

    def __init__(
        self,
        exchange: str,
        assets: Sequence[str] = (),
        *,
        quote: str = "USDT",
        live: bool = False,
        approved_by: LiveApproval | None = None,
        base_url: str | None = None,
        poll_interval_s: float = 1.0,
        options: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        start_polling: bool = True,
        client_prefix: str | None = None,
        backoff: Backoff | None = None,
        max_retries: int = 3,
    ) -> None:
        import ccxt

        venue = f"ccxt:{exchange}"
        super().__init__(
            venue, assets, client_prefix=client_prefix, backoff=backoff, max_retries=max_retries
        )
        klass = getattr(ccxt, exchange, None)
        if klass is None or exchange not in ccxt.exchanges:
            raise BrokerError(f"unknown ccxt exchange {exchange!r}")
        key_var, secret_var, password_var = ccxt_env(exchange, live)
        credentials = Credentials.from_env(
            key_var, secret_var, password_var=password_var, environ=environ
        )
        if live or approved_by is not None:
            require_live(venue, live=live, approved_by=approved_by, credentials=credentials)
        self.live = bool(live)
        self.quote = quote
        self.poll_interval_s = poll_interval_s
        config: dict[str, Any] = {
            "apiKey": credentials.key,
            "secret": credentials.secret,
            "enableRateLimit": True,
            "options": {"defaultType": "spot", **dict(options or {})},
        }
        if credentials.password:
            config["password"] = credentials.password
        ex = klass(config)
        # ccxt logs request headers at DEBUG level, the API key among them
        ex.logger = RedactingLogger(logging.getLogger("ccxt.base.exchange"), credentials)
        fetch_markets = ex.options.get("fetchMarkets")
        user_set = bool(options) and "fetchMarkets" in options  # type: ignore[operator]
        if isinstance(fetch_markets, dict) and "types" in fetch_markets and not user_set:
            fetch_markets["types"] = ["spot"]  # spot only: no derivatives endpoints
        live_hosts = frozenset(host_of(u) for u in all_urls(ex.urls.get("api") or {}))
        test_hosts = sandbox_hosts(ex)
        if live:
            allowed = live_hosts - test_hosts
        else:
            if not test_hosts:
                raise EndpointError(
                    f"{venue} has no sandbox; paper trading cannot run on it",
                    hint="paper trade on the simulated broker, or pick an exchange with a testnet",
                )
            ex.set_sandbox_mode(True)
            allowed = test_hosts - (live_hosts - test_hosts)
        if base_url is not None:
            check_url(base_url, allowed, what=f"a {'live' if live else 'paper'} {venue} broker")
            ex.urls["api"] = rebase(ex.urls["api"], base_url)
        self.allowed_hosts = allowed
        for url in all_urls(ex.urls["api"]):
            check_url(url, allowed, what=f"a {'live' if live else 'paper'} {venue} broker")
        self._guard_requests(ex, venue)
        self.exchange = ex
        self._ccxt = ccxt
        self._lock = threading.Lock()
        self._io_lock = threading.RLock()
        self._watch: dict[str, tuple[str | None, str]] = {}  # client id -> (venue id, symbol)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._markets_loaded = False
        if start_polling:
            self.start_polling()

    def _guard_requests(self, ex: Any, venue: str) -> None:
        """Check every request's host before ccxt sends it."""
        send = ex.fetch
        what = f"a {'live' if self.live else 'paper'} {venue} broker"

        def guarded(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            check_url(url, self.allowed_hosts, what=what)
            return send(url, method, headers, body)

        ex.fetch = guarded

    def __repr__(self) -> str:
        mode = "live" if self.live else "sandbox"
        return f"CcxtBroker({self.exchange.id}, {mode}, stream_up={self.stream_up})"

    # ------------------------------------------------------------ requests
    def _ex(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call an exchange method, translating ccxt's errors to ours."""
        ccxt = self._ccxt
        try:
            with self._io_lock:  # one request at a time on the shared HTTP session
                return getattr(self.exchange, method)(*args, **kwargs)
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded):
            headers = self.exchange.last_response_headers or {}
            retry = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
            try:
                raise RateLimit(float(retry) if retry is not None else None) from None
            except ValueError:
                raise RateLimit(None) from None
        except ccxt.OrderNotFound:
            raise
        except ccxt.NetworkError as exc:
            raise BrokerError(f"{self.venue}: {what} failed: {type(exc).__name__}") from None
        except ccxt.ExchangeError as exc:
            raise VenueError(f"{self.venue}: {what} refused: {str(exc)[:300]}") from None

    def load_markets(self) -> dict[str, Any]:
        """The exchange's markets (precision, limits), loaded once."""
        if not self._markets_loaded:
            self._call("load markets", lambda: self._ex("load markets", "load_markets"))
            self._markets_loaded = True
        return self.exchange.markets

    def _state(self, raw: Mapping[str, Any], client_id: str) -> VenueOrderState:
        fee = raw.get("fee") or {}
        symbol = raw.get("symbol") or ""
        quote = symbol.split("/")[-1] if "/" in symbol else self.quote
        fee_cost = float(fee.get("cost") or 0.0) if fee.get("currency") == quote else 0.0
        status = _STATUS.get(str(raw.get("status")), VenueStatus.OPEN)
        return VenueOrderState(
            client_id=raw.get("clientOrderId") or client_id,
            venue_id=str(raw["id"]) if raw.get("id") is not None else None,
            status=status,
            filled=float(raw.get("filled") or 0.0),
            avg_price=float(raw["average"]) if raw.get("average") else None,
            fee=fee_cost,
            reason=str(raw.get("status") or ""),
        )

    # ------------------------------------------------------- venue ops
    def _market_rules(self, asset: str, price: float | None) -> MarketRules:
        markets = self.load_markets()
        if asset not in markets:
            raise BrokerError(f"{self.venue}: unknown market {asset!r}")
        return MarketRules.from_ccxt(markets[asset], self.exchange.precisionMode)

    def _place(self, order: Order, client_id: str) -> VenueOrderState:
        if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise VenueError(f"{self.venue}: {order.order_type.value} orders are not sent")
        params: dict[str, Any] = {"clientOrderId": client_id}
        if order.order_type is OrderType.LIMIT:
            if order.time_in_force is TimeInForce.DAY:
                raise VenueError(f"{self.venue}: DAY orders do not exist on spot crypto venues")
            params["timeInForce"] = order.time_in_force.value.upper()
        side = "buy" if order.side is OrderSide.BUY else "sell"
        with self._lock:
            self._watch[client_id] = (None, order.asset)
        raw = self._ex(
            "submit",
            "create_order",
            order.asset,
            order.order_type.value,
            side,
            order.quantity,
            order.limit_price,
            params,
        )
        state = self._state(raw, client_id)
        with self._lock:
            self._watch[client_id] = (state.venue_id, order.asset)
        return state

    def _cancel(self, order: Order, client_id: str, venue_id: str | None) -> None:
        params = {} if venue_id else {"clientOrderId": client_id}
        self._ex("cancel", "cancel_order", venue_id, order.asset, params)

    def _fetch(self, order: Order, client_id: str, venue_id: str | None) -> VenueOrderState | None:
        params = {} if venue_id else {"clientOrderId": client_id}
        try:
            raw = self._ex("fetch order", "fetch_order", venue_id, order.asset, params)
        except self._ccxt.OrderNotFound:
            return None
        return self._state(raw, client_id)

    def _watch_order(self, order: Order) -> None:
        if order.is_open:
            cid = self.tracker.client_id(order.order_id)
            with self._lock:
                self._watch[cid] = (self.tracker.venue_ids.get(order.order_id), order.asset)

    def drain_events(self) -> list:  # type: ignore[override]
        events = super().drain_events()
        with self._lock:  # stop polling orders that are done
            for order in self.tracker.orders.values():
                if not order.is_open:
                    self._watch.pop(self.tracker.client_id(order.order_id), None)
        return events

    # ------------------------------------------------------------ polling
    def start_polling(self) -> None:
        """Start the daemon thread that polls open orders (the update channel)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll_loop, name="ccxt-poll", daemon=True)
        self._thread.start()

    def poll_once(self) -> None:
        """One poll: every watched order's state goes to the update queue."""
        with self._lock:
            watched = list(self._watch.items())
        if not watched:
            self.load_markets() if not self._markets_loaded else self._ex("heartbeat", "fetch_time")
        for client_id, (venue_id, symbol) in watched:
            params = {} if venue_id else {"clientOrderId": client_id}
            try:
                raw = self._ex("poll", "fetch_order", venue_id, symbol, params)
            except self._ccxt.OrderNotFound:
                continue  # not there yet, or never arrived: reconciliation decides
            self._on_update(self._state(raw, client_id))

    def _poll_loop(self) -> None:
        backoff = Backoff(self.backoff.initial_s, self.backoff.max_s, seed=1)
        while not self._stop.is_set():
            try:
                self.poll_once()
            except RateLimit as limit:
                wait = (
                    limit.retry_after_s if limit.retry_after_s is not None else backoff.next_delay()
                )
                self._stop.wait(min(wait, self.max_wait_s))
                continue
            except Exception as exc:
                if self.stream_up:
                    log.warning("%s: order polling failed (%s); orders paused", self.venue, exc)
                self._on_stream_down()
                self._stop.wait(backoff.next_delay())
                continue
            backoff.reset()
            if not self.stream_up:
                self._on_stream_up()
            self._stop.wait(self.poll_interval_s)

    def close(self) -> None:
        """Stop polling (waits up to 10 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._on_stream_down()

    # --------------------------------------------------- account, data
    def balance(self) -> dict[str, Any]:
        """ccxt's unified balance (``total``, ``free``, ``used`` by currency)."""
        return self._call("balance", lambda: self._ex("balance", "fetch_balance"))

    def positions(self) -> dict[str, float]:
        """Spot holdings of the base currency of each asset (units of that currency)."""
        total = self.balance().get("total") or {}
        out = {}
        for asset in self.assets:
            amount = float(total.get(asset.split("/")[0]) or 0.0)
            if amount != 0.0:
                out[asset] = amount
        return out

    @property
    def cash(self) -> float:
        return float((self.balance().get("total") or {}).get(self.quote) or 0.0)

    @property
    def equity(self) -> float:
        total = self.balance().get("total") or {}
        value = float(total.get(self.quote) or 0.0)
        for asset in self.assets:
            amount = float(total.get(asset.split("/")[0]) or 0.0)
            if amount:
                value += amount * self.last_price(asset)
        return value

    def last_price(self, asset: str) -> float:
        ticker = self._call("ticker", lambda: self._ex("ticker", "fetch_ticker", asset))
        price = ticker.get("last") or ticker.get("close")
        if not price:
            raise VenueError(f"{self.venue}: no last price for {asset}")
        return float(price)

    def ohlcv(
        self,
        asset: str,
        timeframe: str = "1d",
        since_ms: int | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Bars of ``asset``: timestamp (UTC), open, high, low, close (quote
        currency per unit) and volume (base units); ``since_ms`` in ms since the epoch."""
        rows = self._call(
            "ohlcv", lambda: self._ex("ohlcv", "fetch_ohlcv", asset, timeframe, since_ms, limit)
        )
        frame = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
        return frame
