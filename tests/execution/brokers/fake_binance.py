"""A Binance spot testnet that speaks the ``/api/v3`` REST protocol ccxt uses.

Public: ``exchangeInfo`` (with PRICE_FILTER, LOT_SIZE and NOTIONAL filters),
``time``, ``klines``, ``ticker/24hr``. Signed (``X-MBX-APIKEY`` header and an
HMAC-SHA256 ``signature`` the server verifies): ``order`` (POST, GET,
DELETE), ``account``. The server applies Binance's filters, so an order that
was not rounded correctly is rejected as the real venue would (code -1013).
Orders fill only when a test calls :meth:`FakeBinance.fill`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.execution.brokers.servers import LocalServer

KEY, SECRET = "sandbox-api-key-0001", "sandbox-secret-never-shown"

MARKETS = {
    # symbol: (base, quote, tick, step, min qty, min notional)
    "BTCUSDT": ("BTC", "USDT", "0.01", "0.00001", "0.00001", "5"),
    "XYZUSDT": ("XYZ", "USDT", "0.5", "1", "1", "10"),
}


def _ms() -> int:
    return int(time.time() * 1000)


def _err(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status, headers=headers)


class FakeBinance:
    """State and handlers; ``server`` is the running :class:`LocalServer`."""

    def __init__(self, *, balances: dict[str, float] | None = None) -> None:
        self.balances = dict(balances or {"USDT": 10_000.0, "BTC": 0.0, "XYZ": 0.0})
        self.prices = {"BTCUSDT": 60_000.0, "XYZUSDT": 12.0}
        self.orders: dict[int, dict[str, Any]] = {}
        self.next_id = 1000
        self.rate_limit_next = 0
        self.retry_after = "0.2"
        self.down = False
        self.bad_signatures = 0
        #: klines served: symbol (BTCUSDT) -> [[open ms, o, h, l, c, v], ...] (None: three
        #: fixed days); only the first ``published`` of each are visible
        self.kline_series: dict[str, list[list[Any]]] | None = None
        self.published = 0
        self.refused_while_down = 0
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/api/v3/exchangeInfo", self.exchange_info)
        app.router.add_get("/api/v3/time", self.server_time)
        app.router.add_get("/api/v3/klines", self.klines)
        app.router.add_get("/api/v3/ticker/24hr", self.ticker)
        app.router.add_post("/api/v3/order", self.new_order)
        app.router.add_get("/api/v3/order", self.get_order)
        app.router.add_delete("/api/v3/order", self.cancel_order)
        app.router.add_get("/api/v3/account", self.account)
        self.server = LocalServer(app)

    # ------------------------------------------------------------ control
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.down:
            self.refused_while_down += 1
            return web.Response(status=503, text="Service Unavailable")
        if self.rate_limit_next > 0 and request.method == "POST":  # order placement only
            self.rate_limit_next -= 1
            return _err(
                429,
                -1003,
                "Too many requests; current limit is 6000 request weight per 1 MINUTE.",
                {"Retry-After": self.retry_after},
            )
        return await handler(request)

    async def _signed(self, request: web.Request) -> dict[str, str] | web.Response:
        payload = (await request.text()) if request.method == "POST" else request.query_string
        if request.headers.get("X-MBX-APIKEY") != KEY:
            return _err(401, -2015, "Invalid API-key, IP, or permissions for action.")
        unsigned, _, signature = payload.rpartition("&signature=")
        expected = hmac.new(SECRET.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            self.bad_signatures += 1
            return _err(400, -1022, "Signature for this request is not valid.")
        return dict(parse_qsl(unsigned))

    def fill(self, client_id: str, qty: float, price: float) -> None:
        order = next(o for o in self.orders.values() if o["clientOrderId"] == client_id)
        base, quote = MARKETS[order["symbol"]][:2]
        done = Decimal(order["executedQty"]) + Decimal(str(qty))
        order["executedQty"] = str(done)
        order["cummulativeQuoteQty"] = str(
            Decimal(order["cummulativeQuoteQty"]) + Decimal(str(qty)) * Decimal(str(price))
        )
        order["status"] = "FILLED" if done >= Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = _ms()
        sign = 1 if order["side"] == "BUY" else -1
        self.balances[base] = self.balances.get(base, 0.0) + sign * qty
        self.balances[quote] -= sign * qty * price

    def close(self) -> None:
        self.server.close()

    # ------------------------------------------------------------ public
    async def exchange_info(self, request: web.Request) -> web.Response:
        symbols = []
        for name, (base, quote, tick, step, min_qty, min_notional) in MARKETS.items():
            symbols.append(
                {
                    "symbol": name,
                    "status": "TRADING",
                    "baseAsset": base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": [
                        "LIMIT",
                        "LIMIT_MAKER",
                        "MARKET",
                        "STOP_LOSS_LIMIT",
                        "TAKE_PROFIT_LIMIT",
                    ],
                    "icebergAllowed": True,
                    "ocoAllowed": True,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": True,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": tick,
                            "maxPrice": "1000000.00",
                            "tickSize": tick,
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": min_qty,
                            "maxQty": "9000.00",
                            "stepSize": step,
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": min_notional,
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER"],
                }
            )
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": _ms(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": symbols,
            }
        )

    async def server_time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": _ms()})

    @property
    def order_requests(self) -> int:
        """``POST /api/v3/order`` requests served so far (refused ones included)."""
        return sum(1 for m, p in self.server.requests if m == "POST" and p == "/api/v3/order")

    def _series(self, request: web.Request) -> web.Response:
        assert self.kline_series is not None
        rows = self.kline_series.get(request.query["symbol"], [])[: self.published]
        start = request.query.get("startTime")
        limit = int(request.query.get("limit") or 500)
        if start is not None:
            rows = [r for r in rows if r[0] >= int(start)][:limit]
        else:
            rows = rows[-limit:]
        day = 86_400_000
        out = [[r[0], f"{r[1]}", f"{r[2]}", f"{r[3]}", f"{r[4]}", f"{r[5]}", r[0] + day - 1,
                "0", 1, "0", "0", "0"] for r in rows]  # fmt: skip
        return web.json_response(out)

    async def klines(self, request: web.Request) -> web.Response:
        if self.kline_series is not None:
            return self._series(request)
        day = 86_400_000
        start = 1_704_153_600_000  # 2024-01-02 UTC
        rows = [
            [
                start + i * day,
                f"{100 + i}.00",
                f"{101 + i}.00",
                f"{99 + i}.00",
                f"{100.5 + i}",
                f"{10 * (i + 1)}.5",
                start + (i + 1) * day - 1,
                "1000.0",
                5,
                "1.0",
                "100.0",
                "0",
            ]
            for i in range(3)
        ]
        return web.json_response(rows)

    async def ticker(self, request: web.Request) -> web.Response:
        symbol = request.query["symbol"]
        last = f"{self.prices[symbol]:.8f}"
        return web.json_response(
            {
                "symbol": symbol,
                "priceChange": "0",
                "priceChangePercent": "0",
                "weightedAvgPrice": last,
                "prevClosePrice": last,
                "lastPrice": last,
                "lastQty": "1",
                "bidPrice": last,
                "bidQty": "1",
                "askPrice": last,
                "askQty": "1",
                "openPrice": last,
                "highPrice": last,
                "lowPrice": last,
                "volume": "100",
                "quoteVolume": "100",
                "openTime": _ms() - 86_400_000,
                "closeTime": _ms(),
                "firstId": 1,
                "lastId": 2,
                "count": 2,
            }
        )

    # ------------------------------------------------------------ signed
    def _order_json(self, order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    async def new_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        symbol = params["symbol"]
        _, _, tick, step, min_qty, min_notional = MARKETS[symbol]
        qty = Decimal(params["quantity"])
        price = Decimal(params["price"]) if "price" in params else Decimal(str(self.prices[symbol]))
        if "price" in params and price % Decimal(tick) != 0:
            return _err(400, -1013, "Filter failure: PRICE_FILTER")
        if qty % Decimal(step) != 0 or qty < Decimal(min_qty):
            return _err(400, -1013, "Filter failure: LOT_SIZE")
        if qty * price < Decimal(min_notional):
            return _err(400, -1013, "Filter failure: NOTIONAL")
        cid = params.get("newClientOrderId") or f"web_{self.next_id}"
        if any(o["clientOrderId"] == cid for o in self.orders.values()):
            return _err(400, -2010, "Duplicate order sent.")
        if params["side"] == "BUY" and float(qty * price) > self.balances["USDT"]:
            return _err(400, -2010, "Account has insufficient balance for requested action.")
        self.next_id += 1
        now = _ms()
        order = {
            "symbol": symbol,
            "orderId": self.next_id,
            "orderListId": -1,
            "clientOrderId": cid,
            "price": params.get("price", "0.00000000"),
            "origQty": params["quantity"],
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "status": "NEW",
            "timeInForce": params.get("timeInForce", "GTC"),
            "type": params["type"],
            "side": params["side"],
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": now,
            "updateTime": now,
            "isWorking": True,
            "workingTime": now,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        self.orders[order["orderId"]] = order
        answer = self._order_json(order)
        answer["transactTime"] = now
        answer["fills"] = []
        return web.json_response(answer)

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        if "orderId" in params:
            return self.orders.get(int(params["orderId"]))
        cid = params.get("origClientOrderId")
        return next((o for o in self.orders.values() if o["clientOrderId"] == cid), None)

    async def get_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        order = self._find(params)
        if order is None:
            return _err(400, -2013, "Order does not exist.")
        return web.json_response(self._order_json(order))

    async def cancel_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        order = self._find(params)
        if order is None or order["status"] in ("FILLED", "CANCELED", "EXPIRED", "REJECTED"):
            return _err(400, -2011, "Unknown order sent.")
        order["status"] = "CANCELED"
        order["updateTime"] = _ms()
        return web.json_response(self._order_json(order))

    async def account(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        balances = [
            {"asset": a, "free": f"{v:.8f}", "locked": "0.00000000"}
            for a, v in self.balances.items()
        ]
        return web.json_response(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": _ms(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": 1,
            }
        )
