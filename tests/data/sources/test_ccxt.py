"""ccxt (the real library) against a local Binance: pages, rate limits, gaps, bad symbols."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.sources import FetchRequest, fetch_dataset, parse_time
from alphaloop.data.sources.ccxt_source import CcxtSource
from alphaloop.errors import DataSourceError, SourceOfflineError
from tests.data.sources.fakes import crypto_series


def _request(*symbols: str, interval: str = "1h", start: str = "2024-01-01",
             end: str = "2024-01-06") -> FetchRequest:  # fmt: skip
    return FetchRequest(
        "ccxt:binance", symbols, parse_time(start, "start"), parse_time(end, "end"), interval
    )


def _source(exchange, fetcher, page_limit: int = 25) -> CcxtSource:
    src = CcxtSource("binance", fetcher, exchange.url, page_limit=page_limit)
    src.client().rateLimit = 1  # ms between requests: the local server has no limit to keep
    return src


def test_pages_are_walked_and_bars_stamped_at_their_close(ws, exchange, make_fetcher):
    exchange.series["BTCUSDT"] = crypto_series("2024-01-01", "1h", 120, 5)
    out = fetch_dataset(ws.data, _source(exchange, make_fetcher()), _request("BTC/USDT"), "btc")
    klines = [r for r in exchange.requests if "interval" in r]
    assert len(klines) == 5  # 120 bars in pages of 25
    starts = [int(r["startTime"]) for r in klines]
    assert starts == sorted(starts)
    assert len(set(starts)) == 5
    rows = pd.read_parquet(ws.data.store.version_dir("btc", 1) / "rows.parquet")
    s = exchange.series["BTCUSDT"]
    assert list(rows["timestamp"]) == list(s.times + pd.Timedelta(hours=1))
    np.testing.assert_allclose(rows["close"], s.ohlcv[:, 3], rtol=1e-9)
    assert out.dataset.market.asset_class == "crypto"


def test_rate_limit_answers_are_retried_after_the_servers_wait(ws, exchange, make_fetcher):
    exchange.series["BTCUSDT"] = crypto_series("2024-01-01", "1h", 60, 6)
    exchange.script.push(
        429, headers={"Retry-After": "3"}, body={"code": -1003, "msg": "Too many requests."}
    )
    fetcher = make_fetcher()
    out = fetch_dataset(ws.data, _source(exchange, fetcher), _request("BTC/USDT"), "btc")
    assert out.dataset.rows == 60
    assert fetcher.retrier.waits == [3.0]


def test_gaps_reach_the_quality_report(ws, exchange, make_fetcher):
    exchange.series["XYZUSDT"] = crypto_series("2024-01-01", "1h", 48, 7, gaps=(10, 11, 12, 13))
    exchange.series["BTCUSDT"] = crypto_series("2024-01-01", "1h", 48, 8)
    out = fetch_dataset(
        ws.data, _source(exchange, make_fetcher()), _request("BTC/USDT", "XYZ/USDT"), "pair"
    )
    gaps = [i for i in out.result.final_report.warnings if i.check == "calendar_gaps"]
    assert gaps
    assert gaps[0].count >= 4


def test_bad_symbol_and_garbage_page_fail_only_their_symbol(ws, exchange, make_fetcher):
    exchange.series["BTCUSDT"] = crypto_series("2024-01-01", "1h", 30, 9)
    src = _source(exchange, make_fetcher())
    out = fetch_dataset(ws.data, src, _request("BTC/USDT", "NOPE/USDT"), "btc")
    assert out.imported == ("BTC/USDT",)
    assert "NOPE/USDT" in out.failures[0].reason or "BadSymbol" in out.failures[0].reason
    exchange.series["XYZUSDT"] = crypto_series("2024-01-01", "1h", 30, 10)
    src._page = lambda *a: [[1, "x"]]  # type: ignore[method-assign]
    with pytest.raises(DataSourceError, match="not"):
        src.fetch_symbol("XYZ/USDT", _request("XYZ/USDT"))


def test_an_unknown_exchange_is_a_clear_error(make_fetcher):
    with pytest.raises(DataSourceError, match="unknown ccxt exchange"):
        CcxtSource("nosuchexchange", make_fetcher()).client()


def test_offline_pages_come_from_the_cache(ws, exchange, make_fetcher):
    exchange.series["BTCUSDT"] = crypto_series("2024-01-01", "1h", 60, 11)
    first = fetch_dataset(ws.data, _source(exchange, make_fetcher()), _request("BTC/USDT"), "b")
    exchange.close()
    offline = CcxtSource("binance", make_fetcher(offline=True), "http://127.0.0.1:9", 25)
    again = fetch_dataset(ws.data, offline, _request("BTC/USDT"), "b")
    assert again.dataset.content_hash == first.dataset.content_hash
    # pages are keyed by where they start: a shorter span reads the same pages
    shorter = fetch_dataset(ws.data, offline, _request("BTC/USDT", end="2024-01-02"), "b")
    assert shorter.dataset.rows == 24
    with pytest.raises(SourceOfflineError):
        fetch_dataset(ws.data, offline, _request("BTC/USDT", start="2024-01-01 01:00"), "b")


def test_bars_still_open_are_never_fetched(ws, exchange, make_fetcher):
    now = pd.Timestamp.now(tz="UTC").floor("1h")
    start = now - pd.Timedelta(hours=10)
    exchange.series["BTCUSDT"] = crypto_series(str(start.tz_localize(None)), "1h", 20, 12)
    req = FetchRequest("ccxt:binance", ("BTC/USDT",), start, now + pd.Timedelta(days=2), "1h")
    out = fetch_dataset(ws.data, _source(exchange, make_fetcher()), req, "live")
    rows = pd.read_parquet(ws.data.store.version_dir("live", 1) / "rows.parquet")
    assert rows["timestamp"].max() <= pd.Timestamp.now(tz="UTC")  # every bar had closed
    assert any(n.startswith("end cut to") for n in out.notes)
    later = FetchRequest("ccxt:binance", ("BTC/USDT",), now + pd.Timedelta(hours=2),
                         now + pd.Timedelta(days=2), "1h")  # fmt: skip
    with pytest.raises(DataSourceError, match="has closed yet"):
        fetch_dataset(ws.data, _source(exchange, make_fetcher()), later, "live")
