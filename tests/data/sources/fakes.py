"""Local servers that answer like Yahoo's chart API, Binance's klines and Alpaca's market data.

Each holds a price series per symbol (made from a seeded random walk: the
prices *as traded*), serves it in the vendor's JSON shape with the vendor's
paging, and can be told to answer the next requests with HTTP 429 (with a
``Retry-After``), 5xx, garbage or nothing. ``requests`` lists what was asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from aiohttp import web

from tests.execution.brokers import fake_binance
from tests.execution.brokers.servers import LocalServer

NY = "America/New_York"


@dataclass
class Series:
    """Bars as traded: open times (UTC), OHLCV, splits (date, num, den), dividends (date, cash)."""

    times: pd.DatetimeIndex
    ohlcv: np.ndarray  # (n, 5) open, high, low, close, volume as traded
    splits: list[tuple[pd.Timestamp, float, float]] = field(default_factory=list)
    dividends: list[tuple[pd.Timestamp, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.times = pd.DatetimeIndex(self.times).as_unit("ns")

    def split_factor(self) -> np.ndarray:
        """Per bar, the product of the ratios of later splits (Yahoo divides prices by it)."""
        f = np.ones(len(self.times))
        for date, num, den in self.splits:
            f[self.times < date] *= num / den
        return f

    def split_adjusted(self) -> np.ndarray:
        """Prices divided and volume multiplied by the split factor (Yahoo's ``quote``)."""
        f = self.split_factor()
        out = self.ohlcv.copy()
        out[:, :4] /= f[:, None]
        out[:, 4] *= f
        return out

    def adjclose(self) -> np.ndarray:
        """Yahoo's adjusted close: split-adjusted close times the dividend factors after it."""
        adj = self.split_adjusted()
        close = adj[:, 3]
        factor = np.ones(len(self.times))
        for date, cash in self.dividends:
            k = int(np.searchsorted(self.times, date))
            if k == 0:
                continue
            cash_adj = cash / self.split_factor()[k]
            factor[:k] *= 1.0 - cash_adj / close[k - 1]
        return close * factor


def trading_days(start: str, n: int) -> pd.DatetimeIndex:
    """``n`` weekdays from ``start`` (New York dates)."""
    return pd.bdate_range(start, periods=n)


def walk(n: int, seed: int, start_price: float = 100.0) -> np.ndarray:
    """OHLCV of a seeded random walk (consistent: low <= open, close <= high)."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[start_price, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.integers(1_000, 100_000, n).astype(float)
    return np.column_stack([open_, high, low, close, volume]).round(4)


def daily_series(start: str, n: int, seed: int, *, split: tuple[int, float] | None = None,
                 dividend: tuple[int, float] | None = None) -> Series:  # fmt: skip
    """Daily bars opening 09:30 New York; ``split=(bar, ratio)`` from that bar on."""
    days = trading_days(start, n)
    times = pd.DatetimeIndex(
        [pd.Timestamp(f"{d:%Y-%m-%d} 09:30", tz=NY).tz_convert("UTC") for d in days]
    )
    ohlcv = walk(n, seed)
    s = Series(times, ohlcv)
    if split is not None:
        k, ratio = split
        ohlcv[k:, :4] /= ratio  # as traded: prices drop by the ratio at the split
        ohlcv[k:, 4] *= ratio
        s.splits.append((times[k], ratio, 1.0))
    if dividend is not None:
        k, cash = dividend
        s.dividends.append((times[k], cash))
    return s


def intraday_series(day: str, minutes: int, n: int, seed: int) -> Series:
    """``n`` bars of ``minutes`` from 09:30 New York on ``day``."""
    first = pd.Timestamp(f"{day} 09:30", tz=NY).tz_convert("UTC")
    times = pd.DatetimeIndex([first + pd.Timedelta(minutes=minutes * i) for i in range(n)])
    return Series(times, walk(n, seed))


class Scripted:
    """Answers queued for the next requests: ``(status, headers, body)``; body None: JSON error."""

    def __init__(self) -> None:
        self.queue: list[tuple[int, dict[str, str], Any]] = []

    def push(self, status: int, *, headers: dict[str, str] | None = None, body: Any = None,
             times: int = 1) -> None:  # fmt: skip
        self.queue.extend([(status, headers or {}, body)] * times)

    def pop(self) -> web.Response | None:
        if not self.queue:
            return None
        status, headers, body = self.queue.pop(0)
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=headers)
        return web.json_response(body or {"message": "scripted"}, status=status, headers=headers)


class FakeYahoo:
    """``GET /v8/finance/chart/{symbol}`` in Yahoo's JSON shape."""

    def __init__(self) -> None:
        self.series: dict[str, Series] = {}
        self.garbage: dict[str, Any] = {}  # symbol -> body served instead (200)
        self.script = Scripted()
        self.requests: list[dict[str, str]] = []
        app = web.Application()
        app.router.add_get("/v8/finance/chart/{symbol}", self.chart)
        self.server = LocalServer(app)
        self.closed = False

    @property
    def url(self) -> str:
        return self.server.http

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.server.close()

    async def chart(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"]
        self.requests.append({"symbol": symbol, **request.query})
        scripted = self.script.pop()
        if scripted is not None:
            return scripted
        if symbol in self.garbage:
            body = self.garbage[symbol]
            if isinstance(body, str):
                return web.Response(text=body, content_type="text/html")
            return web.json_response(body)
        s = self.series.get(symbol)
        if s is None:
            err = {"code": "Not Found", "description": "No data found, symbol may be delisted"}
            return web.json_response({"chart": {"result": None, "error": err}}, status=404)
        p1, p2 = int(request.query["period1"]), int(request.query["period2"])
        unix = s.times.asi8 // 10**9
        keep = (unix >= p1) & (unix < p2)
        adj = s.split_adjusted()[keep]
        intraday = request.query.get("interval", "1d") != "1d"
        events: dict[str, Any] = {}
        for date, num, den in s.splits:
            if p1 <= date.timestamp() < p2:
                t = int(date.timestamp())
                ratio = f"{num:g}:{den:g}"
                events.setdefault("splits", {})[str(t)] = {
                    "date": t, "numerator": num, "denominator": den, "splitRatio": ratio
                }  # fmt: skip
        for date, cash in s.dividends:
            if p1 <= date.timestamp() < p2:
                t = int(date.timestamp())
                k = int(np.searchsorted(s.times, date))
                events.setdefault("dividends", {})[str(t)] = {
                    "amount": cash / s.split_factor()[k],
                    "date": t,
                }
        quote = {
            name: [None if np.isnan(v) else float(v) for v in adj[:, j]]
            for j, name in enumerate(("open", "high", "low", "close", "volume"))
        }
        indicators: dict[str, Any] = {"quote": [quote]}
        if not intraday:
            indicators["adjclose"] = [{"adjclose": [float(v) for v in s.adjclose()[keep]]}]
        result: dict[str, Any] = {
            "meta": {
                "currency": "USD",
                "symbol": symbol,
                "exchangeName": "NMS",
                "fullExchangeName": "NasdaqGS",
                "instrumentType": "EQUITY",
                "firstTradeDate": int(unix[0]),
                "regularMarketTime": int(unix[-1]),
                "hasPrePostMarketData": True,
                "gmtoffset": -18000,
                "timezone": "EST",
                "exchangeTimezoneName": NY,
                "priceHint": 2,
                "dataGranularity": request.query.get("interval", "1d"),
                "range": "",
                "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "5y", "max"],
            },
            "timestamp": [int(u) for u in unix[keep]],
            "indicators": indicators,
        }
        if events:
            result["events"] = events
        return web.json_response({"chart": {"result": [result], "error": None}})


class FakeExchange:
    """Binance's ``exchangeInfo`` and ``klines`` (paged by ``startTime`` and ``limit``)."""

    def __init__(self, max_limit: int = 1000) -> None:
        self.series: dict[str, Series] = {}  # by Binance id: BTCUSDT
        self.max_limit = max_limit
        self.script = Scripted()
        self.requests: list[dict[str, str]] = []
        app = web.Application()
        app.router.add_get("/api/v3/exchangeInfo", self.exchange_info)
        app.router.add_get("/api/v3/klines", self.klines)
        self.server = LocalServer(app)
        self.closed = False

    @property
    def url(self) -> str:
        return self.server.http

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.server.close()

    async def exchange_info(self, request: web.Request) -> web.Response:
        return await fake_binance.FakeBinance.exchange_info(self, request)  # type: ignore[arg-type]

    async def klines(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.query))
        scripted = self.script.pop()
        if scripted is not None:
            return scripted
        s = self.series.get(request.query["symbol"])
        if s is None:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        step = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}[
            request.query["interval"]
        ]
        ms = s.times.asi8 // 10**6
        keep = ms >= int(request.query.get("startTime", 0))
        if "endTime" in request.query:
            keep &= ms <= int(request.query["endTime"])
        limit = min(int(request.query.get("limit", 500)), self.max_limit)
        idx = np.flatnonzero(keep)[:limit]
        rows = [
            [int(ms[i]), *(f"{v:.4f}" for v in s.ohlcv[i, :5]), int(ms[i]) + step - 1,
             "0", 1, "0", "0", "0"]
            for i in idx
        ]  # fmt: skip
        return web.json_response(rows)


def crypto_series(start: str, step: str, n: int, seed: int, gaps: tuple[int, ...] = ()) -> Series:
    """``n`` bars every ``step`` from ``start`` UTC, without the bars at ``gaps``."""
    times = pd.date_range(start, periods=n, freq=step, tz="UTC")
    keep = np.ones(n, dtype=bool)
    keep[list(gaps)] = False
    return Series(pd.DatetimeIndex(times[keep]), walk(n, seed, 40_000.0)[keep])


ALPACA_KEY, ALPACA_SECRET = "PKDATAKEY000000", "data-secret-never-shown"


class FakeAlpacaData:
    """``/v2/stocks/bars`` and ``/v2/stocks/trades`` with ``next_page_token`` paging."""

    def __init__(self, page_size: int = 10_000) -> None:
        self.bars: dict[str, Series] = {}
        self.trades: dict[str, pd.DataFrame] = {}  # index: UTC time; price, size
        self.page_size = page_size
        self.stall_s = 0.0  # answer this late (a stalled server)
        self.script = Scripted()
        self.requests: list[dict[str, str]] = []
        app = web.Application()
        app.router.add_get("/v2/stocks/bars", self.get_bars)
        app.router.add_get("/v2/stocks/trades", self.get_trades)
        self.server = LocalServer(app)
        self.closed = False

    @property
    def url(self) -> str:
        return self.server.http

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.server.close()

    async def _stall(self) -> None:
        if self.stall_s:
            await asyncio.sleep(self.stall_s)

    def _guard(self, request: web.Request) -> web.Response | None:
        self.requests.append(dict(request.query))
        if request.headers.get("APCA-API-KEY-ID") != ALPACA_KEY:
            return web.json_response({"code": 40110000, "message": "forbidden"}, status=401)
        return self.script.pop()

    def _page(self, request: web.Request, items: list[dict[str, Any]], key: str) -> web.Response:
        symbol = request.query["symbols"]
        size = min(int(request.query.get("limit", 1000)), self.page_size)
        first = int(request.query.get("page_token", "0"))
        page = items[first : first + size]
        nxt = str(first + size) if first + size < len(items) else None
        return web.json_response({key: {symbol: page} if page else {}, "next_page_token": nxt})

    @staticmethod
    def _span(request: web.Request, times: pd.DatetimeIndex) -> np.ndarray:
        start = pd.Timestamp(request.query["start"]).tz_convert("UTC")
        end = pd.Timestamp(request.query["end"]).tz_convert("UTC")
        return np.asarray((times >= start) & (times <= end))

    async def get_bars(self, request: web.Request) -> web.Response:
        await self._stall()
        refused = self._guard(request)
        if refused is not None:
            return refused
        s = self.bars.get(request.query["symbols"])
        if s is None:
            return self._page(request, [], "bars")
        daily = request.query["timeframe"] == "1Day"
        # Alpaca stamps daily bars at 00:00 New York of their date
        stamps = (
            pd.DatetimeIndex([t.tz_convert(NY).normalize() for t in s.times]).tz_convert("UTC")
            if daily
            else s.times
        )
        data = s.ohlcv if request.query.get("adjustment") == "raw" else s.split_adjusted()
        keep = self._span(request, stamps)
        items = [
            {"t": _iso(t), "o": r[0], "h": r[1], "l": r[2], "c": r[3], "v": r[4], "n": 10,
             "vw": (r[1] + r[2]) / 2}
            for t, r, k in zip(stamps, data, keep, strict=True) if k
        ]  # fmt: skip
        return self._page(request, items, "bars")

    async def get_trades(self, request: web.Request) -> web.Response:
        refused = self._guard(request)
        if refused is not None:
            return refused
        t = self.trades.get(request.query["symbols"])
        if t is None:
            return self._page(request, [], "trades")
        keep = self._span(request, pd.DatetimeIndex(t.index))
        items = [
            {"t": _iso(ts, nanos=True), "x": "V", "p": float(p), "s": float(s), "c": ["@"],
             "i": i, "z": "C"}
            for i, (ts, p, s, k) in enumerate(zip(t.index, t["price"], t["size"], keep,
                                                  strict=True)) if k
        ]  # fmt: skip
        return self._page(request, items, "trades")


def _iso(ts: pd.Timestamp, *, nanos: bool = False) -> str:
    ts = ts.tz_convert("UTC")
    if nanos:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond:06d}{ts.nanosecond:03d}Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    return datetime.now(UTC)
