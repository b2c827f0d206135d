"""Yahoo Finance bars from its public chart API (``/v8/finance/chart/SYMBOL``).

Why not the ``yfinance`` package: it sends every request through a
``curl_cffi`` session to hosts fixed in its code (``query1``/``query2``
``.finance.yahoo.com`` and ``fc.yahoo.com`` for a cookie and a "crumb"), so
it cannot be pointed at another server without patching its internals, and
the tests could not run it against a local server. This client asks the same
endpoint with a configurable base URL and reads the same JSON.

The request: ``period1``/``period2`` (Unix seconds), ``interval``,
``events=div,splits``, ``includeAdjustedClose=true``. The answer:
``chart.result[0]`` with ``meta`` (``exchangeTimezoneName``), ``timestamp``
(bar open times, Unix seconds), ``indicators.quote[0]`` (open, high, low,
close, volume; prices **split-adjusted**, volume split-adjusted),
``indicators.adjclose[0].adjclose`` (split- and dividend-adjusted close) and
``events`` (``splits``: numerator/denominator; ``dividends``: amount per
share as of its date). An error is ``chart.error`` (code, description).

Adjusted bars (the default) scale open, high, low and close by
``adjclose / close``; raw bars undo the splits (prices times the product of
the ratios of later splits, volume divided by it), which gives the prices as
traded. Yahoo serves intraday bars for recent spans only (1m: 7 days per
request, within the last 30 days; up to 1h: 60 days per request); longer
spans are asked window by window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from alphaloop.data.sources.base import BAR_FIELDS, FetchRequest, SymbolBars, stamp_bars
from alphaloop.data.sources.events import check_events
from alphaloop.data.sources.fetching import Fetcher
from alphaloop.data.sources.http import get_json
from alphaloop.errors import DataSourceError

__all__ = ["YAHOO_URL", "YahooSource"]

YAHOO_URL = "https://query2.finance.yahoo.com"
#: Longest span asked in one request, per interval (days).
WINDOW_DAYS = {"1m": 7, "5m": 59, "15m": 59, "30m": 59, "1h": 59, "1d": None}
_PRICES = ("open", "high", "low", "close")
#: Yahoo refuses (HTTP 429) clients that do not look like a browser.
HEADERS = {"User-Agent": "Mozilla/5.0 (compatible; alphaloop)", "Accept": "application/json"}


@dataclass
class YahooSource:
    """Bars of Yahoo Finance symbols (``AAPL``, ``^GSPC``, ``EURUSD=X``, ``BTC-USD``).

    Parameters
    ----------
    fetcher : Fetcher
        Cache, retries and the offline switch.
    base_url : str, default :data:`YAHOO_URL`
    timeout_s : float, default 30
    """

    fetcher: Fetcher
    base_url: str = YAHOO_URL
    timeout_s: float = 30.0
    name: str = "yahoo"
    asset_class: str | None = None  # stocks, indices, FX and crypto alike: read from the bars

    def windows(self, request: FetchRequest) -> list[tuple[int, int]]:
        """The ``(period1, period2)`` pairs (Unix seconds) that cover the request."""
        lo, hi = int(request.start.timestamp()), int(request.end.timestamp())
        days = WINDOW_DAYS[request.interval]
        if days is None:
            return [(lo, hi)]
        step = days * 86_400
        return [(a, min(a + step, hi)) for a in range(lo, hi, step)]

    def fetch_symbol(self, symbol: str, request: FetchRequest) -> SymbolBars:
        frames, events, notes, cached = [], [], [], False
        tz = "UTC"
        for p1, p2 in self.windows(request):
            ask = {
                "symbol": symbol,
                "period1": p1,
                "period2": p2,
                "interval": request.interval,
                "events": "div,splits",
                "includeAdjustedClose": "true",
                "includePrePost": "false",
            }
            url = f"{self.base_url.rstrip('/')}/v8/finance/chart/{quote(symbol, safe='')}"
            what = f"yahoo {symbol} {request.interval}"
            answer = self.fetcher.get(
                self.name,
                ask,
                lambda url=url, ask=ask, what=what: _get_chart(url, ask, what, self.timeout_s),
                what,
            )
            cached = cached or answer.cached
            if answer.note:
                notes.append(answer.note)
            bars, evs, tz, parsed = parse_chart(answer.body, symbol, request.adjusted)
            notes.extend(n for n in parsed if n not in notes)
            frames.append(bars)
            events.append(evs)
        bars = pd.concat(frames)
        bars = bars[~bars.index.duplicated(keep="last")].sort_index()
        bars = bars[(bars.index >= request.start) & (bars.index < request.end)]
        empty = bars[list(_PRICES)].isna().all(axis=1)
        if empty.any():
            notes.append(f"{int(empty.sum())} bar(s) without any price left out")
            bars = bars[~empty]
        ev = pd.concat(events, ignore_index=True).drop_duplicates(["date", "kind"])
        return SymbolBars(symbol, bars, check_events(ev), tuple(notes), cached, tz)


def _get_chart(url: str, ask: dict[str, Any], what: str, timeout_s: float) -> Any:
    params = {k: v for k, v in ask.items() if k != "symbol"}
    return get_json(url, params, headers=HEADERS, timeout_s=timeout_s, what=what, error_json=True)


def _numbers(values: Any, n: int, where: str) -> np.ndarray:
    """A float array of length ``n`` from a JSON list (null: NaN); garbage is an error."""
    if not isinstance(values, list) or len(values) != n:
        raise DataSourceError(f"{where}: expected {n} values, got {_describe(values)}")
    try:  # the usual answer: numbers and nulls, converted at once (null -> NaN)
        fast = np.array(values, dtype="float64")
    except (ValueError, TypeError):
        fast = None
    if fast is not None and not any(isinstance(v, (str, bool)) for v in values):
        return fast
    out = np.empty(n)
    for i, v in enumerate(values):
        if v is None:
            out[i] = np.nan
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[i] = float(v)
        else:
            raise DataSourceError(f"{where}: value {i} is {v!r}, not a number")
    return out


def _describe(values: Any) -> str:
    return f"{len(values)} values" if isinstance(values, list) else type(values).__name__


def parse_chart(
    body: Any, symbol: str, adjusted: bool
) -> tuple[pd.DataFrame, pd.DataFrame, str, list[str]]:
    """Bars (index: open times UTC), events, the exchange's time zone and notes of an answer."""
    where = f"yahoo {symbol}"
    notes: list[str] = []
    try:
        chart = body["chart"]
        error = chart.get("error")
        results = chart.get("result")
    except (TypeError, KeyError, AttributeError):
        raise DataSourceError(f"{where}: the answer is not a chart") from None
    if error:
        desc = error.get("description") if isinstance(error, dict) else error
        raise DataSourceError(f"{where}: Yahoo says: {desc}", hint="check the symbol")
    if not results:
        raise DataSourceError(f"{where}: the answer holds no chart")
    res = results[0]
    meta = res.get("meta") or {}
    tz = str(meta.get("exchangeTimezoneName") or "UTC")
    stamps = res.get("timestamp") or []
    n = len(stamps)
    try:
        quote = res["indicators"]["quote"][0] if n else {}
    except (KeyError, IndexError, TypeError):
        raise DataSourceError(f"{where}: the chart has no quote") from None
    index = pd.DatetimeIndex(
        pd.to_datetime(_numbers(stamps, n, f"{where} timestamp"), unit="s", utc=True)
    )
    cols = {f: _numbers(quote.get(f), n, f"{where} {f}") for f in BAR_FIELDS} if n else {}
    bars = pd.DataFrame(cols, index=index, columns=list(BAR_FIELDS), dtype="float64")
    events = _events(res.get("events") or {}, symbol, where, tz)
    if n:
        adj = (res.get("indicators") or {}).get("adjclose") or [{}]
        if adjusted and not (isinstance(adj[0], dict) and adj[0].get("adjclose") is not None):
            notes.append(
                "Yahoo gave no adjusted close (as for intraday bars): prices are split-adjusted, "
                "not dividend-adjusted"
            )
        elif adjusted:
            adjclose = _numbers(adj[0].get("adjclose"), n, f"{where} adjclose")
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = adjclose / bars["close"].to_numpy()
            for f in _PRICES:
                bars[f] = bars[f].to_numpy() * factor
        else:
            factor = split_factors(index, events)
            for f in _PRICES:
                bars[f] = bars[f].to_numpy() * factor
            bars["volume"] = bars["volume"].to_numpy() / factor
    return bars, events, tz, notes


def split_factors(index: pd.DatetimeIndex, events: pd.DataFrame) -> np.ndarray:
    """Per bar, the product of the ratios (new/old) of the splits after it.

    A split dated at a bar takes effect at that bar: the bars before it are
    multiplied by its ratio to give prices as traded.
    """
    factor = np.ones(len(index))
    splits = events[events["kind"] == "split"]
    for date, ratio in zip(splits["date"], splits["value"], strict=True):
        factor[index < date] *= ratio
    return factor


def _events(doc: Any, symbol: str, where: str, tz: str) -> pd.DataFrame:
    """Splits and dividends, dated 00:00 UTC of their trading date in the exchange's zone."""
    rows: list[tuple[pd.Timestamp, str, str, float]] = []
    if not isinstance(doc, dict):
        raise DataSourceError(f"{where}: events are {type(doc).__name__}, not an object")
    for item in (doc.get("splits") or {}).values():
        try:
            num, den = float(item["numerator"]), float(item["denominator"])
            date = pd.Timestamp(int(item["date"]), unit="s", tz="UTC")
        except (KeyError, TypeError, ValueError):
            raise DataSourceError(f"{where}: a split event cannot be read: {item!r}") from None
        if not (num > 0 and den > 0) or math.isinf(num / den):
            raise DataSourceError(f"{where}: a split event has ratio {num}:{den}")
        rows.append((date, symbol, "split", num / den))
    for item in (doc.get("dividends") or {}).values():
        try:
            amount = float(item["amount"])
            date = pd.Timestamp(int(item["date"]), unit="s", tz="UTC")
        except (KeyError, TypeError, ValueError):
            raise DataSourceError(f"{where}: a dividend event cannot be read: {item!r}") from None
        rows.append((date, symbol, "dividend", amount))
    out = pd.DataFrame(rows, columns=["date", "symbol", "kind", "value"])
    if len(out):
        out["date"] = stamp_bars(pd.DatetimeIndex(out["date"]), "1d", tz)
    return out
