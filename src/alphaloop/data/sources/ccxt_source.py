"""OHLCV bars from any exchange ccxt supports, page by page, within its rate limits.

``ccxt:<exchange>`` (``ccxt:binance``, ``ccxt:kraken``): ccxt's
``fetch_ohlcv(symbol, timeframe, since, limit)`` is asked page after page,
each page starting one bar after the last bar received, until the span's end,
an empty page, or a page that does not advance. ccxt spaces the requests by
the exchange's own rate limit (``enableRateLimit``); an answer of HTTP 429 or
418 (ccxt's ``RateLimitExceeded``/``DDoSProtection``) is retried after the
server's ``Retry-After``, network errors with backoff. Each page is cached as
the list ccxt returned (``[[open ms, open, high, low, close, volume], ...]``).

Exchange bars carry no splits or dividends (no events); times are UTC. An
exchange that skips bars without trades leaves gaps, which the quality checks
report. ``base_url`` replaces the scheme and host of every API URL of the
exchange (paths kept), for a local server or a proxy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from alphaloop.data.sources.base import BAR_FIELDS, FetchRequest, SymbolBars
from alphaloop.data.sources.fetching import Fetcher
from alphaloop.data.sources.retry import Transient, parse_retry_after
from alphaloop.errors import DataSourceError

__all__ = ["CcxtSource"]

MAX_PAGES = 100_000


def _rebase(node: Any, base: str) -> Any:
    if isinstance(node, str) and "://" in node:
        parts = urlsplit(node)
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    if isinstance(node, dict):
        return {k: _rebase(v, base) for k, v in node.items()}
    return node


@dataclass
class CcxtSource:
    """Bars of one ccxt exchange (symbols in ccxt's form: ``BTC/USDT``).

    Parameters
    ----------
    exchange : str
        A ccxt exchange id (``binance``, ``kraken``, ...).
    fetcher : Fetcher
    base_url : str, optional
        Replaces the host of the exchange's API URLs.
    page_limit : int, default 1000
        Bars asked per page (exchanges cap it; a shorter page is not the end).
    """

    exchange: str
    fetcher: Fetcher
    base_url: str | None = None
    page_limit: int = 1000
    asset_class: str | None = "crypto"
    _client: Any = field(default=None, repr=False)
    _markets_loaded: bool = field(default=False, repr=False)

    @property
    def name(self) -> str:
        return f"ccxt:{self.exchange}"

    def client(self) -> Any:
        """The ccxt exchange object (created once; rate limits on)."""
        if self._client is None:
            try:
                import ccxt
            except ImportError as exc:  # pragma: no cover - the extra is installed in tests
                raise DataSourceError(
                    "ccxt is not installed", hint="pip install 'alphaloop[sources]'"
                ) from exc
            klass = getattr(ccxt, self.exchange, None)
            if klass is None or self.exchange not in ccxt.exchanges:
                raise DataSourceError(
                    f"unknown ccxt exchange {self.exchange!r}",
                    hint="see ccxt's list of exchanges (ccxt.exchanges)",
                )
            ex = klass({"enableRateLimit": True, "options": {"defaultType": "spot"}})
            fetch_markets = ex.options.get("fetchMarkets")
            if isinstance(fetch_markets, dict) and "types" in fetch_markets:
                fetch_markets["types"] = ["spot"]
            if self.base_url is not None:
                ex.urls["api"] = _rebase(ex.urls["api"], self.base_url)
            self._client = ex
        return self._client

    def _page(self, symbol: str, timeframe: str, since_ms: int) -> list[list[Any]]:
        import ccxt

        ex = self.client()
        try:
            if not self._markets_loaded:
                ex.load_markets()
                self._markets_loaded = True
            if timeframe not in (ex.timeframes or {}):
                raise DataSourceError(
                    f"{self.name} has no {timeframe} bars",
                    hint="its intervals: " + ", ".join(ex.timeframes or {}),
                )
            return list(ex.fetch_ohlcv(symbol, timeframe, since=since_ms, limit=self.page_limit))
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
            headers = ex.last_response_headers or {}
            retry = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
            raise Transient(
                f"rate limited: {type(exc).__name__}", parse_retry_after(retry)
            ) from None
        except ccxt.NetworkError as exc:
            raise Transient(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        except ccxt.BaseError as exc:
            raise DataSourceError(
                f"{self.name} {symbol}: {type(exc).__name__}: {str(exc)[:300]}"
            ) from None

    def fetch_symbol(self, symbol: str, request: FetchRequest) -> SymbolBars:
        step_ms = request.interval_s * 1000
        since = int(request.start.timestamp() * 1000)
        end = int(request.end.timestamp() * 1000)
        rows: list[list[Any]] = []
        notes: list[str] = []
        cached = False
        for _ in range(MAX_PAGES):
            ask = {
                "exchange": self.exchange,
                "symbol": symbol,
                "timeframe": request.interval,
                "since": since,
                "limit": self.page_limit,
            }
            at = pd.Timestamp(since, unit="ms", tz="UTC")
            what = f"{self.name} {symbol} {request.interval} from {at:%Y-%m-%d %H:%M}"
            answer = self.fetcher.get(
                self.name,
                ask,
                lambda since=since: self._page(symbol, request.interval, since),
                what,
            )
            cached = cached or answer.cached
            if answer.note:
                notes.append(answer.note)
            page = _check_page(answer.body, what)
            if not page:
                break
            rows.extend(page)
            last = int(page[-1][0])
            if last < since or last + step_ms >= end:
                break
            since = last + step_ms
        else:  # pragma: no cover - a span of 100,000 pages
            raise DataSourceError(f"{self.name} {symbol}: more than {MAX_PAGES} pages")
        bars = _frame(rows)
        bars = bars[(bars.index >= request.start) & (bars.index < request.end)]
        if len(notes) > 3:
            notes = [*notes[:3], f"... and {len(notes) - 3} more page(s) from the cache"]
        return SymbolBars(symbol, bars, notes=tuple(notes), cached=cached, exchange_tz="UTC")


def _check_page(body: Any, what: str) -> list[list[Any]]:
    if not isinstance(body, list):
        raise DataSourceError(f"{what}: the answer is {type(body).__name__}, not a list of bars")
    for i, row in enumerate(body):
        if not isinstance(row, list) or len(row) < 6:
            raise DataSourceError(f"{what}: bar {i} is {row!r}, not [time, o, h, l, c, v]")
        for v in row[:6]:
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise DataSourceError(f"{what}: bar {i} holds {v!r}, not a number")
        if row[0] is None:
            raise DataSourceError(f"{what}: bar {i} has no time")
    return body


def _frame(rows: list[list[Any]]) -> pd.DataFrame:
    """Bars indexed by open time (UTC); a bar repeated across pages is kept once (the last)."""
    if not rows:
        return pd.DataFrame(
            {f: pd.Series([], dtype="float64") for f in BAR_FIELDS},
            index=pd.DatetimeIndex([], tz="UTC"),
        )
    arr = np.array([[np.nan if v is None else float(v) for v in r[:6]] for r in rows])
    index = pd.DatetimeIndex(pd.to_datetime(arr[:, 0].astype(np.int64), unit="ms", utc=True))
    frame = pd.DataFrame(arr[:, 1:6], index=index, columns=list(BAR_FIELDS))
    return frame[~frame.index.duplicated(keep="last")].sort_index()
