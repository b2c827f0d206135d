"""alpaca-py's data client against a local server: bar pages, trades to bars, 429, keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.sources import FetchRequest, fetch_dataset, parse_time
from alphaloop.data.sources.alpaca import AlpacaSource, trades_to_bars
from alphaloop.errors import DataSourceError, SourceOfflineError
from tests.data.sources.fakes import ALPACA_KEY, ALPACA_SECRET, NY, daily_series

ENV = {"ALPHALOOP_ALPACA_KEY_ID": ALPACA_KEY, "ALPHALOOP_ALPACA_SECRET_KEY": ALPACA_SECRET}


def _request(*symbols: str, interval: str = "1d", adjusted: bool = True, start: str = "2024-01-01",
             end: str = "2024-06-01", source: str = "alpaca") -> FetchRequest:  # fmt: skip
    return FetchRequest(
        source, symbols, parse_time(start, "start"), parse_time(end, "end"), interval, adjusted
    )


def _source(fake, fetcher, **kw) -> AlpacaSource:
    src = AlpacaSource(fetcher, fake.url, environ=ENV, page_size=20, **kw)
    return src


def test_bar_pages_are_joined_and_daily_bars_keep_their_date(ws, alpaca_data, make_fetcher):
    s = daily_series("2024-01-02", 50, 4, split=(20, 2.0))
    alpaca_data.bars["AAPL"] = s
    out = fetch_dataset(ws.data, _source(alpaca_data, make_fetcher()), _request("AAPL"), "aapl")
    tokens = [r.get("page_token") for r in alpaca_data.requests]
    assert tokens == [None, "20", "40"]
    assert {r["adjustment"] for r in alpaca_data.requests} == {"all"}
    assert {r["timeframe"] for r in alpaca_data.requests} == {"1Day"}
    rows = pd.read_parquet(ws.data.store.version_dir("aapl", 1) / "rows.parquet")
    assert [t.date() for t in rows["timestamp"]] == [t.tz_convert(NY).date() for t in s.times]
    np.testing.assert_allclose(rows["close"], s.split_adjusted()[:, 3], rtol=1e-12)
    assert out.dataset.market.asset_class == "equities"


def test_raw_bars_ask_for_no_adjustment(ws, alpaca_data, make_fetcher):
    s = daily_series("2024-01-02", 30, 4, split=(20, 2.0))
    alpaca_data.bars["AAPL"] = s
    fetch_dataset(
        ws.data, _source(alpaca_data, make_fetcher()), _request("AAPL", adjusted=False), "raw"
    )
    assert {r["adjustment"] for r in alpaca_data.requests} == {"raw"}
    rows = pd.read_parquet(ws.data.store.version_dir("raw", 1) / "rows.parquet")
    np.testing.assert_allclose(rows["close"], s.ohlcv[:, 3], rtol=1e-12)


def test_a_rate_limited_page_is_retried_alone(ws, alpaca_data, make_fetcher):
    alpaca_data.bars["AAPL"] = daily_series("2024-01-02", 50, 4)
    fetcher = make_fetcher()
    src = _source(alpaca_data, fetcher)
    src.fetch_symbol("AAPL", _request("AAPL"))  # warm: the pages are known
    alpaca_data.requests.clear()
    alpaca_data.script.queue.clear()
    # the second page answers 429 once: only that page is asked again
    calls = {"n": 0}
    real = src._get

    def flaky(path, params):
        calls["n"] += 1
        if calls["n"] == 2:
            body = {"code": 42910000, "message": "rate limit exceeded"}
            alpaca_data.script.push(429, headers={"Retry-After": "4"}, body=body)
        return real(path, params)

    src._get = flaky  # type: ignore[method-assign]
    bars = src.fetch_symbol("AAPL", _request("AAPL"))
    assert len(bars.bars) == 50
    assert [r.get("page_token") for r in alpaca_data.requests] == [None, "20", "20", "40"]
    assert fetcher.retrier.waits == [4.0]


def test_trades_become_bars_of_the_interval(ws, alpaca_data, make_fetcher):
    t0 = pd.Timestamp("2024-03-04 14:30", tz="UTC")
    times = [t0 + pd.Timedelta(seconds=s) for s in (0, 10, 299, 300, 301, 900, 901)]
    trades = pd.DataFrame(
        {"price": [10.0, 11.0, 9.0, 12.0, 12.5, 8.0, 8.5], "size": [1, 2, 3, 4, 5, 6, 7]},
        index=pd.DatetimeIndex(times),
    )
    alpaca_data.trades["XYZ"] = trades
    src = _source(alpaca_data, make_fetcher(), trades=True)
    req = _request("XYZ", interval="5m", start="2024-03-04", end="2024-03-05",
                   source="alpaca-trades")  # fmt: skip
    out = fetch_dataset(ws.data, src, req, "xyz")
    rows = pd.read_parquet(ws.data.store.version_dir("xyz", 1) / "rows.parquet")
    # bars open 14:30, 14:35 and 14:45 (no trade 14:40-14:45: no bar); stamped at their close
    assert list(rows["timestamp"]) == [t0 + pd.Timedelta(minutes=m) for m in (5, 10, 20)]
    assert rows[["open", "high", "low", "close", "volume"]].values.tolist() == [
        [10.0, 11.0, 9.0, 9.0, 6.0],
        [12.0, 12.5, 12.0, 12.5, 9.0],
        [8.0, 8.5, 8.0, 8.5, 13.0],
    ]
    assert out.imported == ("XYZ",)
    assert len(alpaca_data.requests) == 1  # 7 trades on one page of 20


def test_daily_bars_from_trades_group_by_new_york_date():
    times = pd.DatetimeIndex(
        [pd.Timestamp("2024-03-04 23:59", tz=NY), pd.Timestamp("2024-03-05 00:01", tz=NY)]
    ).tz_convert("UTC")
    bars = trades_to_bars(
        pd.DataFrame({"price": [1.0, 2.0], "size": [1.0, 1.0]}, index=times), "1d"
    )
    assert [t.tz_convert(NY).date().isoformat() for t in bars.index] == ["2024-03-04", "2024-03-05"]


def test_missing_keys_and_refused_keys_are_clear(alpaca_data, make_fetcher):
    src = AlpacaSource(make_fetcher(), alpaca_data.url, environ={})
    with pytest.raises(DataSourceError, match="needs an API key"):
        src.fetch_symbol("AAPL", _request("AAPL"))
    bad = {"ALPHALOOP_ALPACA_KEY_ID": "wrong", "ALPHALOOP_ALPACA_SECRET_KEY": "x"}
    src = AlpacaSource(make_fetcher(), alpaca_data.url, environ=bad)
    with pytest.raises(DataSourceError, match="HTTP 401"):
        src.fetch_symbol("AAPL", _request("AAPL"))


def test_a_stalled_server_times_out_and_is_retried(alpaca_data, make_fetcher):
    alpaca_data.bars["AAPL"] = daily_series("2024-01-02", 10, 4)
    alpaca_data.stall_s = 1.0
    fetcher = make_fetcher(attempts=2)
    src = AlpacaSource(fetcher, alpaca_data.url, environ=ENV, timeout_s=0.2)
    with pytest.raises(SourceOfflineError, match="failed after 2 attempt"):
        src.fetch_symbol("AAPL", _request("AAPL"))
    assert len(fetcher.retrier.waits) == 1
