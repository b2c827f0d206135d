"""Yahoo's chart API against a local server: adjustments, events, stamps, failures, cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.sources import FetchRequest, fetch_dataset, load_events, parse_time
from alphaloop.data.sources.yahoo import YahooSource
from alphaloop.errors import DataQualityError, DataSourceError, SourceOfflineError
from tests.data.sources.fakes import NY, daily_series, intraday_series


def _request(*symbols: str, adjusted: bool = True, interval: str = "1d",
             start: str = "2024-01-01", end: str = "2024-06-01") -> FetchRequest:  # fmt: skip
    return FetchRequest(
        "yahoo", symbols, parse_time(start, "start"), parse_time(end, "end"), interval, adjusted
    )


@pytest.fixture
def aapl(yahoo):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1, split=(30, 4.0), dividend=(40, 0.5))
    return yahoo.series["AAPL"]


def test_raw_bars_are_the_prices_as_traded_and_events_are_kept(ws, yahoo, aapl, make_fetcher):
    src = YahooSource(make_fetcher(), yahoo.url)
    out = fetch_dataset(ws.data, src, _request("AAPL", adjusted=False), "aapl")
    rows = pd.read_parquet(ws.data.store.version_dir("aapl", 1) / "rows.parquet")
    np.testing.assert_allclose(rows["close"], aapl.ohlcv[:, 3], rtol=1e-12)
    np.testing.assert_allclose(rows["volume"], aapl.ohlcv[:, 4], rtol=1e-12)
    # daily bars are stamped at 00:00 UTC of their New York date
    days = [t.tz_convert(NY).date() for t in aapl.times]
    assert [t.date() for t in rows["timestamp"]] == days
    assert (rows["timestamp"].dt.hour == 0).all()
    # the split shows in the raw prices: the quality checks warn of it
    assert "split_like_jump" in {i.check for i in out.result.final_report.warnings}
    events = load_events(ws.data.store.version_dir("aapl", 1))
    assert list(events["kind"]) == ["split", "dividend"]
    assert events["value"].tolist() == [4.0, 0.5]
    assert events["date"].iloc[0] == pd.Timestamp(days[30], tz="UTC")
    assert out.events == 2


def test_adjusted_bars_scale_prices_by_the_adjusted_close(ws, yahoo, aapl, make_fetcher):
    src = YahooSource(make_fetcher(), yahoo.url)
    out = fetch_dataset(ws.data, src, _request("AAPL"), "aapl")
    rows = pd.read_parquet(ws.data.store.version_dir("aapl", 1) / "rows.parquet")
    np.testing.assert_allclose(rows["close"], aapl.adjclose(), rtol=1e-12)
    factor = aapl.adjclose() / aapl.split_adjusted()[:, 3]
    np.testing.assert_allclose(rows["open"], aapl.split_adjusted()[:, 0] * factor, rtol=1e-12)
    assert "split_like_jump" not in {i.check for i in out.result.final_report.warnings}
    assert ws.data.info("aapl").source == "fetch:yahoo:1d:AAPL"


def test_intraday_bars_are_stamped_at_their_close(ws, yahoo, make_fetcher):
    yahoo.series["SPY"] = intraday_series("2024-03-04", 5, 40, 3)
    src = YahooSource(make_fetcher(), yahoo.url)
    out = fetch_dataset(
        ws.data, src, _request("SPY", interval="5m", start="2024-03-04", end="2024-03-05"), "spy"
    )
    rows = pd.read_parquet(ws.data.store.version_dir("spy", 1) / "rows.parquet")
    opened = yahoo.series["SPY"].times
    assert list(rows["timestamp"]) == list(opened + pd.Timedelta(minutes=5))
    assert str(rows["timestamp"].dt.tz) == "UTC"
    assert any("not dividend-adjusted" in n for n in out.notes)


def test_long_intraday_spans_are_asked_window_by_window(yahoo, make_fetcher):
    src = YahooSource(make_fetcher(), yahoo.url)
    windows = src.windows(_request("SPY", interval="1m", start="2024-03-01", end="2024-03-20"))
    assert len(windows) == 3
    assert windows[0][1] == windows[1][0]
    assert windows[-1][1] == int(pd.Timestamp("2024-03-20", tz="UTC").timestamp())


def test_a_failing_symbol_is_left_out_whole_and_reported(ws, yahoo, aapl, make_fetcher):
    yahoo.series["MSFT"] = daily_series("2024-01-02", 60, 2)
    yahoo.garbage["MSFT"] = {"chart": {"result": [{"timestamp": [1, 2], "indicators": {
        "quote": [{"open": [1.0, "x"], "high": [1, 1], "low": [1, 1], "close": [1, 1],
                   "volume": [1, 1]}]}}], "error": None}}  # fmt: skip
    yahoo.garbage["HTML"] = "<html>consent</html>"
    src = YahooSource(make_fetcher(), yahoo.url)
    out = fetch_dataset(ws.data, src, _request("AAPL", "MSFT", "HTML", "NOPE"), "mixed")
    assert out.imported == ("AAPL",)
    reasons = {f.symbol: f.reason for f in out.failures}
    assert "not a number" in reasons["MSFT"]
    assert "not JSON" in reasons["HTML"]
    assert "delisted" in reasons["NOPE"]
    assert ws.data.info("mixed").asset_ids == ("AAPL",)
    origin = ws.data.store.meta("mixed", 1)["origin"]
    assert [f["symbol"] for f in origin["failures"]] == ["MSFT", "HTML", "NOPE"]


def test_every_symbol_failing_imports_nothing(ws, yahoo, make_fetcher):
    src = YahooSource(make_fetcher(), yahoo.url)
    with pytest.raises(DataSourceError, match="nothing fetched"):
        fetch_dataset(ws.data, src, _request("NOPE"), "none")
    assert not _has(ws, "none")


def _has(ws, name: str) -> bool:
    return any(i.name == name for i in ws.data.list())


def test_rate_limit_honours_retry_after_then_succeeds(ws, yahoo, aapl, make_fetcher):
    yahoo.script.push(429, headers={"Retry-After": "7"})
    yahoo.script.push(503)
    fetcher = make_fetcher()
    out = fetch_dataset(ws.data, YahooSource(fetcher, yahoo.url), _request("AAPL"), "aapl")
    assert out.imported == ("AAPL",)
    assert fetcher.retrier.waits[0] == 7.0  # the server's wait, not the backoff
    assert 0.5 * 2 <= fetcher.retrier.waits[1] <= 0.5 * 2 * 1.5  # backoff of retry 1
    assert len(yahoo.requests) == 3


def test_offline_reads_the_cache_and_gives_the_same_dataset(ws, yahoo, aapl, make_fetcher):
    first = fetch_dataset(ws.data, YahooSource(make_fetcher(), yahoo.url), _request("AAPL"), "a")
    served = len(yahoo.requests)
    yahoo.close()  # nothing answers any more
    src = YahooSource(make_fetcher(offline=True), yahoo.url)
    again = fetch_dataset(ws.data, src, _request("AAPL"), "a")
    assert len(yahoo.requests) == served
    assert again.dataset.content_hash == first.dataset.content_hash
    assert again.dataset.version == 2
    assert any("offline: cached answer" in n for n in again.notes)
    with pytest.raises(SourceOfflineError, match="no cached answer"):
        fetch_dataset(ws.data, src, _request("AAPL", end="2024-05-01"), "a")


def test_unreachable_source_falls_back_on_the_cache_and_says_so(ws, yahoo, aapl, make_fetcher):
    fetch_dataset(ws.data, YahooSource(make_fetcher(), yahoo.url), _request("AAPL"), "a")
    url = yahoo.url
    yahoo.close()
    fetcher = make_fetcher(attempts=2)
    out = fetch_dataset(ws.data, YahooSource(fetcher, url), _request("AAPL"), "a")
    assert out.imported == ("AAPL",)
    assert any("cannot reach" in n and "used the cached answer" in n for n in out.notes)
    assert ws.data.store.meta("a", 2)["origin"]["cached"] == ["AAPL"]
    # a request never cached: offline error, nothing imported
    with pytest.raises(SourceOfflineError, match="cannot reach"):
        fetch_dataset(ws.data, YahooSource(fetcher, url), _request("MSFT"), "m")


def test_index_symbols_are_quoted_in_the_path(ws, yahoo, make_fetcher):
    yahoo.series["^GSPC"] = daily_series("2024-01-02", 20, 12)
    out = fetch_dataset(ws.data, YahooSource(make_fetcher(), yahoo.url), _request("^GSPC"), "spx")
    assert out.imported == ("^GSPC",)
    assert yahoo.requests[-1]["symbol"] == "^GSPC"


def test_bad_prices_refuse_the_fetch_unless_repaired(ws, yahoo, make_fetcher):
    s = daily_series("2024-01-02", 40, 13)
    s.ohlcv[10, :4] = -1.0  # a negative price: an error of the quality checks
    yahoo.series["BAD"] = s
    src = YahooSource(make_fetcher(), yahoo.url)
    with pytest.raises(DataQualityError, match=r"fetch of .bad. from yahoo:1d:BAD refused"):
        fetch_dataset(ws.data, src, _request("BAD", adjusted=False), "bad")
    assert not _has(ws, "bad")
    out = fetch_dataset(ws.data, src, _request("BAD", adjusted=False), "bad", repair=True)
    assert out.result.status == "repaired"
    assert ws.data.info("bad").quality_report.source == "fetch:yahoo:1d:BAD"
    assert sorted(i["status"] for i in ws.data.imports("bad")) == ["refused", "repaired"]


@pytest.mark.parametrize("bad", ["1.5", True, [1.0]])
def test_a_value_that_is_not_a_json_number_is_refused(bad):
    from alphaloop.data.sources.yahoo import parse_chart

    quote = {f: [1.0, 2.0] for f in ("open", "high", "low", "close", "volume")}
    quote["high"] = [2.0, bad]
    body = {"chart": {"error": None, "result": [{"timestamp": [1704205800, 1704292200],
                                                 "indicators": {"quote": [quote]}}]}}  # fmt: skip
    with pytest.raises(DataSourceError, match=r"yahoo X high: value 1 is .*not a number"):
        parse_chart(body, "X", adjusted=False)
