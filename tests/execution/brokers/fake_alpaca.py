"""An Alpaca paper account that speaks Alpaca's REST and ``trade_updates`` protocols.

REST (``/v2/orders``, ``/v2/orders:by_client_order_id``, ``/v2/account``,
``/v2/positions``, market data ``/v2/stocks/bars`` and
``/v2/stocks/trades/latest``) and the WebSocket ``/stream`` (authenticate,
listen, then ``trade_updates`` in binary frames, as the paper endpoint sends
them). Orders fill only when a test says so (:meth:`FakeAlpaca.fill`), so
every partial fill, drop and disconnect is placed exactly.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.execution.brokers.servers import LocalServer

KEY, SECRET = "PKTESTKEY0000000000", "test-secret-value-never-shown"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


class FakeAlpaca:
    """State and handlers of the fake; ``server`` is the running :class:`LocalServer`."""

    def __init__(self, *, cash: float = 100_000.0, prices: dict[str, float] | None = None) -> None:
        self.cash = cash
        self.prices = dict(prices or {"AAPL": 190.0, "PENNY": 0.5123})
        self.positions: dict[str, float] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.rate_limit_next = 0
        self.retry_after = "0.2"
        self.reject_next: str | None = None
        self.drop_next_updates = 0
        self.refuse_streams = False
        self.fail_next_submit: str | None = None  # "before" or "after" placing the order
        self.last_payload: bytes | None = None
        self.auth_headers: list[str] = []  # "ok" / "bad" per stream authentication
        self.stream_key = KEY
        #: bars served by /v2/stocks/bars: symbol -> [{"t", "o", "h", "l", "c", "v"}, ...]
        #: (None: three fixed days); only the first ``published`` of each are visible
        self.bar_series: dict[str, list[dict[str, Any]]] | None = None
        self.published = 0
        self.data_down = False  # market data answers 503 (a lost connection)
        self.data_refused = 0  # requests answered 503 while down
        app = web.Application()
        app.router.add_post("/v2/orders", self.submit)
        app.router.add_get("/v2/orders:by_client_order_id", self.by_client_id)
        app.router.add_get("/v2/orders", self.list_orders)
        app.router.add_delete("/v2/orders/{id}", self.cancel)
        app.router.add_get("/v2/account", self.account)
        app.router.add_get("/v2/positions", self.get_positions)
        app.router.add_get("/v2/stocks/bars", self.bars)
        app.router.add_get("/v2/stocks/trades/latest", self.latest_trades)
        app.router.add_get("/stream", self.stream)
        app.middlewares.append(self._guard)
        self.server = LocalServer(app)

    # ------------------------------------------------------------ control
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/stream":
            return await handler(request)
        if (request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")) != (
            KEY,
            SECRET,
        ):
            return _error(401, 40110000, "request is not authorized")
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return _error(429, 42910000, "rate limit exceeded", {"Retry-After": self.retry_after})
        return await handler(request)

    @property
    def order_requests(self) -> int:
        """``POST /v2/orders`` requests served so far (refused ones included)."""
        return sum(1 for m, p in self.server.requests if m == "POST" and p == "/v2/orders")

    @property
    def listeners(self) -> int:
        return sum(1 for ws in self.sockets if not ws.closed)

    def fill(self, client_id: str, qty: float, price: float) -> None:
        """The venue fills ``qty`` more of the order at ``price`` and sends the update."""
        order = next(o for o in self.orders.values() if o["client_order_id"] == client_id)
        done = float(order["filled_qty"])
        avg = float(order["filled_avg_price"] or 0.0)
        total = done + qty
        order["filled_avg_price"] = str((avg * done + price * qty) / total)
        order["filled_qty"] = str(total)
        full = total >= float(order["qty"]) - 1e-12
        order["status"] = "filled" if full else "partially_filled"
        order["updated_at"] = _now()
        sign = 1.0 if order["side"] == "buy" else -1.0
        symbol = order["symbol"]
        self.positions[symbol] = self.positions.get(symbol, 0.0) + sign * qty
        self.cash -= sign * qty * price
        self._send(
            "fill" if full else "partial_fill",
            order,
            price=str(price),
            qty=str(qty),
            position_qty=str(self.positions[symbol]),
        )

    def set_status(self, client_id: str, status: str, event: str) -> None:
        order = next(o for o in self.orders.values() if o["client_order_id"] == client_id)
        order["status"] = status
        self._send(event, order)

    def _send(self, event: str, order: dict[str, Any], **extra: str) -> None:
        if self.drop_next_updates > 0:
            self.drop_next_updates -= 1
            return
        message = {
            "stream": "trade_updates",
            "data": {"event": event, "timestamp": _now(), "order": dict(order), **extra},
        }
        if event in ("fill", "partial_fill"):
            message["data"]["execution_id"] = str(uuid.uuid4())
        payload = json.dumps(message).encode()
        self.last_payload = payload
        self._push(payload)

    def resend_last(self) -> None:
        """Send the last update again (a venue may repeat itself)."""
        assert self.last_payload is not None
        self._push(self.last_payload)

    def _push(self, payload: bytes) -> None:
        async def push() -> None:
            for ws in list(self.sockets):
                if not ws.closed:
                    await ws.send_bytes(payload)

        self.server.send_soon(push)

    def disconnect(self) -> None:
        """Close every stream connection (the client reconnects)."""

        async def close() -> None:
            for ws in list(self.sockets):
                await ws.close()
            self.sockets.clear()

        self.server.call(close)

    def close(self) -> None:
        self.disconnect()
        self.server.close()

    # --------------------------------------------------------------- REST
    def _order(self, body: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        return {
            "id": str(uuid.uuid4()),
            "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, body["symbol"])),
            "symbol": body["symbol"],
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(body["qty"]),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": body.get("order_class") or "simple",
            "order_type": body["type"],
            "type": body["type"],
            "side": body["side"],
            "time_in_force": body["time_in_force"],
            "limit_price": None if body.get("limit_price") is None else str(body["limit_price"]),
            "stop_price": None if body.get("stop_price") is None else str(body["stop_price"]),
            "status": "accepted",
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }

    async def submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        cid = body.get("client_order_id")
        if any(o["client_order_id"] == cid for o in self.orders.values()):
            return _error(422, 40010001, "client_order_id must be unique")
        if self.fail_next_submit == "before":  # the request dies before the order exists
            self.fail_next_submit = None
            return _error(500, 50010000, "internal server error")
        if self.reject_next is not None:
            message, self.reject_next = self.reject_next, None
            return _error(403, 40310000, message)
        order = self._order(body)
        self.orders[order["id"]] = order
        self._send("new", order)
        if self.fail_next_submit == "after":  # placed, but the answer is lost
            self.fail_next_submit = None
            return _error(500, 50010000, "internal server error")
        return web.json_response(order)

    async def by_client_id(self, request: web.Request) -> web.Response:
        cid = request.query.get("client_order_id")
        for order in self.orders.values():
            if order["client_order_id"] == cid:
                return web.json_response(order)
        return _error(404, 40410000, "order not found")

    async def list_orders(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.orders.values()))

    async def cancel(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["id"])
        if order is None:
            return _error(404, 40410000, "order not found")
        if order["status"] in ("filled", "canceled", "expired", "rejected"):
            return _error(422, 42210000, f'order is already in "{order["status"]}" state')
        order["status"] = "canceled"
        order["canceled_at"] = _now()
        self._send("canceled", order)
        return web.Response(status=204)

    async def account(self, request: web.Request) -> web.Response:
        value = sum(q * self.prices[s] for s, q in self.positions.items())
        return web.json_response(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, "account")),
                "account_number": "PA3TESTACCT",
                "status": "ACTIVE",
                "currency": "USD",
                "cash": f"{self.cash:.2f}",
                "equity": f"{self.cash + value:.2f}",
                "portfolio_value": f"{self.cash + value:.2f}",
                "buying_power": f"{self.cash:.2f}",
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "shorting_enabled": True,
                "multiplier": "1",
            }
        )

    async def get_positions(self, request: web.Request) -> web.Response:
        out = []
        for symbol, qty in self.positions.items():
            if qty == 0:
                continue
            price = self.prices[symbol]
            out.append(
                {
                    "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
                    "symbol": symbol,
                    "exchange": "NASDAQ",
                    "asset_class": "us_equity",
                    "avg_entry_price": str(price),
                    "qty": str(qty),
                    "side": "long" if qty > 0 else "short",
                    "market_value": str(qty * price),
                    "cost_basis": str(qty * price),
                    "current_price": str(price),
                }
            )
        return web.json_response(out)

    async def bars(self, request: web.Request) -> web.Response:
        symbols = request.query["symbols"].split(",")
        if self.data_down:
            self.data_refused += 1
            return _error(503, 50300000, "service unavailable")
        if self.bar_series is not None:
            start = request.query.get("start")
            lo = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
            if lo is not None and lo.tzinfo is None:
                lo = lo.replace(tzinfo=UTC)
            served = {}
            for s in symbols:
                rows = self.bar_series.get(s, [])[: self.published]
                served[s] = [
                    b for b in rows
                    if lo is None or datetime.fromisoformat(b["t"].replace("Z", "+00:00")) >= lo
                ]  # fmt: skip
            return web.json_response({"bars": served, "next_page_token": None})
        bars = {
            s: [
                {
                    "t": f"2024-01-0{d}T05:00:00Z",
                    "o": 100.0 + d,
                    "h": 101.0 + d,
                    "l": 99.0 + d,
                    "c": 100.5 + d,
                    "v": 1000 * d,
                    "n": 10 * d,
                    "vw": 100.2 + d,
                }
                for d in (2, 3, 4)
            ]
            for s in symbols
        }
        return web.json_response({"bars": bars, "next_page_token": None})

    async def latest_trades(self, request: web.Request) -> web.Response:
        symbols = request.query["symbols"].split(",")
        trades = {
            s: {"t": _now(), "x": "V", "p": self.prices[s], "s": 100, "c": ["@"], "i": 1, "z": "C"}
            for s in symbols
        }
        return web.json_response({"trades": trades})

    # ---------------------------------------------------------- WebSocket
    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if self.refuse_streams:  # the venue's stream is down: accept, then drop at once
            await ws.close()
            return ws
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            data = json.loads(msg.data)
            action = data.get("action")
            if action in ("authenticate", "auth"):
                creds = data.get("data") or {}
                ok = (creds.get("key_id"), creds.get("secret_key")) == (self.stream_key, SECRET)
                self.auth_headers.append("ok" if ok else "bad")
                status = "authorized" if ok else "unauthorized"
                await ws.send_bytes(
                    json.dumps(
                        {
                            "stream": "authorization",
                            "data": {"status": status, "action": "authenticate"},
                        }
                    ).encode()
                )
                if not ok:
                    await ws.close()
            elif action == "listen":
                streams = (data.get("data") or {}).get("streams") or []
                await ws.send_bytes(
                    json.dumps({"stream": "listening", "data": {"streams": streams}}).encode()
                )
                if "trade_updates" in streams:
                    self.sockets.append(ws)
        return ws
