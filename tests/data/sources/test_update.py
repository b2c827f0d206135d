"""``update_dataset``: new bars appended, restated history fetched again, nothing new."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.sources import FetchRequest, fetch_dataset, parse_time, update_dataset
from alphaloop.data.sources.ccxt_source import CcxtSource
from alphaloop.data.sources.yahoo import YahooSource
from alphaloop.errors import DataSourceError, SourceOfflineError
from tests.data.sources.fakes import crypto_series, daily_series


def _rows(ws, name: str, version: int) -> pd.DataFrame:
    return pd.read_parquet(ws.data.store.version_dir(name, version) / "rows.parquet")


def _fetch_first_40(ws, yahoo, fetcher, *, adjusted: bool = True):
    s = yahoo.series["AAPL"]
    end = s.times[40].normalize()  # before the 41st bar opens
    req = FetchRequest("yahoo", ("AAPL",), parse_time("2024-01-01", "s"), end, "1d", adjusted)
    return fetch_dataset(ws.data, YahooSource(fetcher, yahoo.url), req, "aapl", base_url=yahoo.url)


def test_update_appends_the_new_bars_then_finds_nothing_new(ws, yahoo, make_fetcher):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1)
    fetcher = make_fetcher()
    first = _fetch_first_40(ws, yahoo, fetcher)
    assert first.dataset.rows == 40
    asked = len(yahoo.requests)
    end = parse_time("2024-06-01", "end")

    def source_for(origin):
        assert origin["base_url"] == yahoo.url
        return YahooSource(fetcher, origin["base_url"])

    out = update_dataset(ws.data, source_for, "aapl", end=end)
    assert out.dataset.version == 2
    assert out.new_bars == 20
    assert out.dataset.rows == 60
    assert len(yahoo.requests) == asked + 1  # one request, from a few bars before the last
    assert int(yahoo.requests[-1]["period1"]) < int(yahoo.series["AAPL"].times[40].timestamp())
    rows = _rows(ws, "aapl", 2)
    np.testing.assert_allclose(rows["close"], yahoo.series["AAPL"].adjclose(), rtol=1e-12)
    origin = ws.data.store.meta("aapl", 2)["origin"]
    assert origin["request"]["start"].startswith("2024-01-01")
    assert origin["updates"][0]["from_version"] == 1
    again = update_dataset(ws.data, source_for, "aapl", end=end)
    assert again.up_to_date
    assert ws.data.versions("aapl") == [1, 2]


def test_a_restated_history_is_fetched_again_whole(ws, yahoo, make_fetcher):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1)
    fetcher = make_fetcher()
    _fetch_first_40(ws, yahoo, fetcher)
    # a dividend goes ex on bar 45: every earlier adjusted price changes
    yahoo.series["AAPL"].dividends.append((yahoo.series["AAPL"].times[45], 2.0))
    out = update_dataset(
        ws.data,
        lambda o: YahooSource(fetcher, yahoo.url),
        "aapl",
        end=parse_time("2024-06-01", "e"),
    )
    assert any("restated" in n for n in out.notes)
    rows = _rows(ws, "aapl", 2)
    np.testing.assert_allclose(rows["close"], yahoo.series["AAPL"].adjclose(), rtol=1e-12)
    assert not np.allclose(_rows(ws, "aapl", 1)["close"], rows["close"][:40])
    kinds = ws.data.store.meta("aapl", 2)["origin"]["events"]
    assert kinds == 1


def test_raw_bars_are_not_restated_by_a_dividend(ws, yahoo, make_fetcher):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1)
    fetcher = make_fetcher()
    _fetch_first_40(ws, yahoo, fetcher, adjusted=False)
    yahoo.series["AAPL"].dividends.append((yahoo.series["AAPL"].times[45], 2.0))
    out = update_dataset(
        ws.data,
        lambda o: YahooSource(fetcher, yahoo.url),
        "aapl",
        end=parse_time("2024-06-01", "e"),
    )
    assert not any("restated" in n for n in out.notes)
    assert out.new_bars == 20
    np.testing.assert_allclose(_rows(ws, "aapl", 2)["close"], yahoo.series["AAPL"].ohlcv[:, 3])


def test_an_update_of_an_imported_file_is_refused(ws, tmp_path):
    path = tmp_path / "x.csv"
    dates = pd.bdate_range("2024-01-01", periods=30)
    pd.DataFrame({"date": dates, "close": np.linspace(10, 20, 30)}).to_csv(path, index=False)
    ws.data.import_file(path, "file", asset="X")
    with pytest.raises(DataSourceError, match="not fetched from an online source"):
        update_dataset(ws.data, lambda o: None, "file")  # type: ignore[arg-type,return-value]


def test_a_failing_symbol_keeps_its_rows_in_an_update(ws, exchange, make_fetcher):
    exchange.series["BTCUSDT"] = crypto_series("2024-01-01", "1h", 72, 5)
    exchange.series["XYZUSDT"] = crypto_series("2024-01-01", "1h", 72, 6)
    fetcher = make_fetcher(attempts=1)
    src = CcxtSource("binance", fetcher, exchange.url, page_limit=100)
    req = FetchRequest(
        "ccxt:binance", ("BTC/USDT", "XYZ/USDT"), parse_time("2024-01-01", "s"),
        parse_time("2024-01-02", "e"), "1h",
    )  # fmt: skip
    fetch_dataset(ws.data, src, req, "pair")
    del exchange.series["XYZUSDT"]  # delisted: the exchange refuses it now
    out = update_dataset(ws.data, lambda o: src, "pair", end=parse_time("2024-01-04", "e"))
    assert [f.symbol for f in out.failures] == ["XYZ/USDT"]
    rows = _rows(ws, "pair", 2)
    counts = rows.groupby(rows["asset"].astype(str)).size().to_dict()
    assert counts == {"BTC/USDT": 72, "XYZ/USDT": 24}


def test_an_update_that_reaches_nothing_says_the_stored_version_is_kept(ws, yahoo, make_fetcher):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1)
    _fetch_first_40(ws, yahoo, make_fetcher())
    offline = make_fetcher(offline=True)
    with pytest.raises(SourceOfflineError, match="no cached answer") as caught:
        update_dataset(
            ws.data,
            lambda o: YahooSource(offline, yahoo.url),
            "aapl",
            end=parse_time("2024-06-01", "e"),
        )
    assert "'aapl' v1 is unchanged and usable" in str(caught.value)
    assert ws.data.versions("aapl") == [1]


def test_the_seal_stays_where_it_was_fixed_across_updates(ws, yahoo, make_fetcher):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1)
    fetcher = make_fetcher()
    _fetch_first_40(ws, yahoo, fetcher)
    boundary = ws.data.configure_holdout("aapl", 0.25).boundary  # sealed now
    assert boundary == yahoo.series["AAPL"].times[30].normalize()
    update_dataset(
        ws.data,
        lambda o: YahooSource(fetcher, yahoo.url),
        "aapl",
        end=parse_time("2024-06-01", "e"),
    )
    assert ws.data.versions("aapl") == [1, 2]
    assert ws.data.holdout_boundary("aapl") == boundary
    panel = ws.data.load("aapl")
    assert panel.index[-1] < boundary


def test_a_fetched_dataset_hashes_like_the_same_rows_imported_from_a_file(
    ws, yahoo, make_fetcher, tmp_path
):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1)
    out = _fetch_first_40(ws, yahoo, make_fetcher())
    rows = _rows(ws, "aapl", 1)[["timestamp", "asset", "open", "high", "low", "close", "volume"]]
    path = tmp_path / "aapl.csv"
    rows.assign(timestamp=rows["timestamp"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    imported = ws.data.import_file(path, "aapl-file")
    assert imported.dataset.content_hash == out.dataset.content_hash
    assert imported.dataset.market == out.dataset.market
