"""Alpaca market data for US stocks: bars, or bars built from trades.

The client is alpaca-py's ``StockHistoricalDataClient`` (``url_override``
points it at another server); the requests are built by its
``StockBarsRequest``/``StockTradesRequest``. The pages (``next_page_token``)
are walked here rather than inside alpaca-py, so that each page is cached
and retried on its own; alpaca-py's own retry is off (``_retry = 0``) so a
429 reaches :mod:`~alphaloop.data.sources.retry`, which honours
``Retry-After``.

- ``alpaca`` asks ``/v2/stocks/bars`` with ``adjustment=all`` (splits and
  dividends) or ``raw``. Daily bars are stamped by Alpaca at 00:00 New York
  time of their date; the store keeps the date.
- ``alpaca-trades`` asks ``/v2/stocks/trades`` and builds the bars itself:
  open, high, low, close and volume of the trades whose time falls in each
  interval (intervals with no trade have no bar). Prices are as traded.

Alpaca's bars carry no split or dividend events (its corporate-actions API
is another endpoint, not read here). Keys come from ``ALPHALOOP_ALPACA_KEY_ID``
and ``ALPHALOOP_ALPACA_SECRET_KEY`` (else the ``ALPHALOOP_ALPACA_PAPER_*``
pair the paper broker uses); an offline fetch needs none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.sources.base import BAR_FIELDS, FetchRequest, SymbolBars
from alphaloop.data.sources.fetching import Fetcher
from alphaloop.data.sources.retry import Transient, parse_retry_after
from alphaloop.errors import DataSourceError

__all__ = ["AlpacaSource", "trades_to_bars"]

EXCHANGE_TZ = "America/New_York"
MAX_PAGES = 100_000
_TIMEFRAMES = {"1m": (1, "Minute"), "5m": (5, "Minute"), "15m": (15, "Minute"),
               "30m": (30, "Minute"), "1h": (1, "Hour"), "1d": (1, "Day")}  # fmt: skip
_KEY_VARS = (
    ("ALPHALOOP_ALPACA_KEY_ID", "ALPHALOOP_ALPACA_SECRET_KEY"),
    ("ALPHALOOP_ALPACA_PAPER_KEY_ID", "ALPHALOOP_ALPACA_PAPER_SECRET_KEY"),
)


def _require_alpaca() -> None:
    try:
        import alpaca  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise DataSourceError(
            "alpaca-py is not installed", hint="pip install 'alphaloop[sources]'"
        ) from exc


def _keys(environ: Mapping[str, str]) -> tuple[str, str]:
    for key_var, secret_var in _KEY_VARS:
        key, secret = environ.get(key_var), environ.get(secret_var)
        if key and secret:
            return key, secret
    raise DataSourceError(
        "Alpaca market data needs an API key",
        hint="set ALPHALOOP_ALPACA_KEY_ID and ALPHALOOP_ALPACA_SECRET_KEY",
    )


@dataclass
class AlpacaSource:
    """US stock bars from Alpaca (``trades=True``: bars built from its trades).

    Parameters
    ----------
    fetcher : Fetcher
    base_url : str, optional
        The data API's base URL (default alpaca-py's, ``https://data.alpaca.markets``).
    trades : bool, default False
    feed : str, optional
        ``iex`` or ``sip`` (default: the account's).
    page_size : int, default 10000
    environ : mapping, optional
        Where the keys are read (default ``os.environ``).
    timeout_s : float, default 30
        Longest wait for an answer (a stalled request is retried).
    """

    fetcher: Fetcher
    base_url: str | None = None
    trades: bool = False
    feed: str | None = None
    page_size: int = 10_000
    environ: Mapping[str, str] | None = None
    asset_class: str | None = "equities"
    timeout_s: float = 30.0
    _client: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return "alpaca-trades" if self.trades else "alpaca"

    def client(self) -> Any:
        if self._client is None:
            _require_alpaca()
            from alpaca.data.historical.stock import StockHistoricalDataClient

            key, secret = _keys(os.environ if self.environ is None else self.environ)
            client = StockHistoricalDataClient(
                key, secret, raw_data=True, url_override=self.base_url
            )
            client._retry = 0  # retries are ours: per page, with backoff and Retry-After
            send = client._session.request  # alpaca-py sets no timeout: a stalled server would hang

            def request(method: str, url: str, **kw: Any) -> Any:
                kw.setdefault("timeout", self.timeout_s)
                return send(method, url, **kw)

            client._session.request = request
            self._client = client
        return self._client

    def _params(self, symbol: str, request: FetchRequest) -> tuple[str, dict[str, Any]]:
        _require_alpaca()
        from alpaca.data.enums import Adjustment
        from alpaca.data.requests import StockBarsRequest, StockTradesRequest
        from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

        common: dict[str, Any] = {
            "symbol_or_symbols": symbol,
            "start": request.start.to_pydatetime(),
            "end": request.end.to_pydatetime(),
            "limit": None,
        }
        if self.feed is not None:
            common["feed"] = self.feed
        if self.trades:
            return "/stocks/trades", StockTradesRequest(**common).to_request_fields()
        amount, unit = _TIMEFRAMES[request.interval]
        adjustment = Adjustment.ALL if request.adjusted else Adjustment.RAW
        fields = StockBarsRequest(
            timeframe=TimeFrame(amount, TimeFrameUnit(unit)), adjustment=adjustment, **common
        ).to_request_fields()
        return "/stocks/bars", fields

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        import requests
        from alpaca.common.exceptions import APIError

        try:
            return self.client().get(path, dict(params))
        except APIError as exc:
            status = exc.status_code
            if status == 429 or (status is not None and status >= 500):
                headers = exc.response.headers if exc.response is not None else {}
                raise Transient(
                    f"HTTP {status}", parse_retry_after(headers.get("Retry-After"))
                ) from None
            raise DataSourceError(f"alpaca {path}: HTTP {status}: {str(exc)[:300]}") from None
        except requests.RequestException as exc:
            raise Transient(f"{type(exc).__name__}: {str(exc)[:200]}") from None

    def fetch_symbol(self, symbol: str, request: FetchRequest) -> SymbolBars:
        path, fields = self._params(symbol, request)
        key = "trades" if self.trades else "bars"
        params = {k: str(v.value if isinstance(v, Enum) else v) for k, v in fields.items()}
        params["limit"] = str(self.page_size)
        items: list[dict[str, Any]] = []
        notes: list[str] = []
        cached = False
        token: str | None = None
        for page in range(MAX_PAGES):
            ask = {**params, "path": path, "page_token": token}
            query = {k: v for k, v in ask.items() if k != "path" and v is not None}
            what = f"{self.name} {symbol} page {page + 1}"
            answer = self.fetcher.get(self.name, ask, lambda q=query: self._get(path, q), what)
            cached = cached or answer.cached
            if answer.note:
                notes.append(answer.note)
            body = answer.body
            if not isinstance(body, dict):
                raise DataSourceError(f"{what}: the answer is not an object")
            got = (
                (body.get(key) or {}).get(symbol, [])
                if isinstance(body.get(key) or {}, dict)
                else None
            )
            if not isinstance(got, list):
                raise DataSourceError(f"{what}: {key!r} is not a list per symbol")
            items.extend(got)
            token = body.get("next_page_token")
            if not token:
                break
        if self.trades:
            bars = trades_to_bars(_trades(items, symbol), request.interval)
        else:
            bars = _bars(items, symbol)
        bars = bars[(bars.index >= request.start) & (bars.index < request.end)]
        return SymbolBars(
            symbol, bars, notes=tuple(notes[:3]), cached=cached, exchange_tz=EXCHANGE_TZ
        )


def _time(value: Any, where: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataSourceError(f"{where}: time {value!r} cannot be read") from None
    if ts is pd.NaT or ts.tzinfo is None:
        raise DataSourceError(f"{where}: time {value!r} has no UTC offset")
    return ts.tz_convert("UTC")


def _num(item: Mapping[str, Any], k: str, where: str) -> float:
    v = item.get(k)
    if v is None:
        return float("nan")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DataSourceError(f"{where}: {k} is {v!r}, not a number")
    return float(v)


def _bars(items: list[Any], symbol: str) -> pd.DataFrame:
    """Bars (index: open time UTC) from Alpaca's ``{t, o, h, l, c, v}`` items."""
    times, rows = [], []
    for i, item in enumerate(items):
        where = f"alpaca {symbol} bar {i}"
        if not isinstance(item, dict):
            raise DataSourceError(f"{where} is {item!r}, not an object")
        times.append(_time(item.get("t"), where))
        rows.append([_num(item, k, where) for k in ("o", "h", "l", "c", "v")])
    index = pd.DatetimeIndex(times, tz="UTC") if times else pd.DatetimeIndex([], tz="UTC")
    frame = pd.DataFrame(np.array(rows).reshape(-1, 5), index=index, columns=list(BAR_FIELDS))
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def _trades(items: list[Any], symbol: str) -> pd.DataFrame:
    times, price, size = [], [], []
    for i, item in enumerate(items):
        where = f"alpaca {symbol} trade {i}"
        if not isinstance(item, dict):
            raise DataSourceError(f"{where} is {item!r}, not an object")
        times.append(_time(item.get("t"), where))
        price.append(_num(item, "p", where))
        size.append(_num(item, "s", where))
    index = pd.DatetimeIndex(times, tz="UTC") if times else pd.DatetimeIndex([], tz="UTC")
    return pd.DataFrame({"price": price, "size": size}, index=index, dtype="float64")


def trades_to_bars(trades: pd.DataFrame, interval: str) -> pd.DataFrame:
    """OHLCV bars (index: open time UTC) of trades (index: UTC time; ``price``, ``size``).

    A trade at exactly an interval's start belongs to that interval. Daily
    bars group by the New York date (open time 00:00 New York). Trades are
    taken in time order (a stable sort keeps the vendor's order within a time).
    """
    from alphaloop.data.sources.base import INTERVALS

    if not len(trades):
        return _bars([], "")
    t = trades.sort_index(kind="stable")
    t = t[np.isfinite(t["price"].to_numpy())]
    if INTERVALS[interval] >= 86_400:
        local = t.index.tz_convert(EXCHANGE_TZ).normalize()
        bucket = local.tz_convert("UTC")
    else:
        bucket = t.index.floor(f"{INTERVALS[interval]}s")
    g = t.groupby(bucket, sort=True)
    out = pd.DataFrame(
        {
            "open": g["price"].first(),
            "high": g["price"].max(),
            "low": g["price"].min(),
            "close": g["price"].last(),
            "volume": g["size"].sum(),
        }
    )
    out.index = pd.DatetimeIndex(out.index).tz_convert("UTC")
    return out.astype("float64")
