"""The parts: backoff, stamps, events, cache keys, requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from alphaloop.data.sources import FetchRequest, ResponseCache, Retrier, RetryPolicy, stamp_bars
from alphaloop.data.sources.events import check_events, load_events, save_events
from alphaloop.data.sources.fetch import default_end
from alphaloop.data.sources.retry import RetriesExhaustedError, Transient, parse_retry_after
from alphaloop.errors import DataSourceError


def _failing(n: int, retry_after: float | None = None):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= n:
            raise Transient("HTTP 503", retry_after)
        return "ok"

    return fn, calls


def test_backoff_is_exponential_with_seeded_jitter():
    policy = RetryPolicy(attempts=5, initial_s=1.0, factor=2.0, max_s=5.0, jitter=0.5, seed=3)
    a, b, c = (Retrier(p, sleep=lambda s: None) for p in (policy, policy, RetryPolicy(
        attempts=5, initial_s=1.0, factor=2.0, max_s=5.0, jitter=0.5, seed=4)))  # fmt: skip
    for r in (a, b, c):
        fn, calls = _failing(4)
        assert r.call(fn, "x") == "ok"
        assert calls["n"] == 5
    assert a.waits == b.waits != c.waits
    for k, (wait, base) in enumerate(zip(a.waits, (1.0, 2.0, 4.0, 5.0), strict=True)):
        assert base <= wait < base * 1.5, k


def test_retry_after_replaces_the_backoff_and_a_long_one_fails():
    r = Retrier(RetryPolicy(max_retry_after_s=10), sleep=lambda s: None)
    fn, _ = _failing(1, retry_after=2.5)
    assert r.call(fn, "x") == "ok"
    assert r.waits == [2.5]
    fn, _ = _failing(1, retry_after=60)
    with pytest.raises(DataSourceError, match="asks to wait 60 s"):
        r.call(fn, "x")
    assert parse_retry_after("3") == 3.0
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None


def test_out_of_attempts_is_a_typed_error():
    r = Retrier(RetryPolicy(attempts=2), sleep=lambda s: None)
    fn, calls = _failing(5)
    with pytest.raises(RetriesExhaustedError, match="failed after 2 attempt"):
        r.call(fn, "yahoo AAPL")
    assert calls["n"] == 2


def test_daily_stamps_take_the_exchange_date_and_intraday_the_close():
    opens = pd.DatetimeIndex(["2024-03-04 14:30", "2024-03-05 00:00"], tz="UTC")
    daily = stamp_bars(opens, "1d", "America/New_York")
    assert list(daily) == [
        pd.Timestamp("2024-03-04", tz="UTC"),
        pd.Timestamp("2024-03-04", tz="UTC"),
    ]
    tokyo = stamp_bars(pd.DatetimeIndex(["2024-03-04 00:00"], tz="UTC"), "1d", "Asia/Tokyo")
    assert tokyo[0] == pd.Timestamp("2024-03-04", tz="UTC")
    hourly = stamp_bars(opens, "1h", "America/New_York")
    assert list(hourly) == list(opens + pd.Timedelta(hours=1))


def test_default_end_excludes_the_bar_still_open():
    now = pd.Timestamp("2024-03-04 14:37:12", tz="UTC").to_pydatetime()
    assert default_end("5m", now) == pd.Timestamp("2024-03-04 14:35", tz="UTC")
    assert default_end("1d", now) == pd.Timestamp("2024-03-04", tz="UTC")


def test_events_are_checked_saved_and_loaded(tmp_path):
    events = pd.DataFrame(
        {
            "date": ["2024-02-01", "2024-01-02"],
            "symbol": ["A", "A"],
            "kind": ["dividend", "split"],
            "value": [0.25, 4.0],
        }
    )
    assert save_events(tmp_path, events.iloc[:0]) is None
    assert len(load_events(tmp_path)) == 0
    save_events(tmp_path, events)
    back = load_events(tmp_path)
    assert list(back["kind"]) == ["split", "dividend"]  # sorted by date
    assert str(back["date"].dt.tz) == "UTC"
    for bad, match in (({"kind": ["merger"] * 2}, "unknown event kind"),
                       ({"value": [0.25, 0.0]}, "ratio above 0")):  # fmt: skip
        with pytest.raises(DataSourceError, match=match):
            check_events(events.assign(**bad))


def test_cache_keys_follow_the_request(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("ccxt:binance", {"symbol": "BTC/USDT", "since": 1}, [[1, 2]])
    assert cache.get("ccxt:binance", {"since": 1, "symbol": "BTC/USDT"}).body == [[1, 2]]
    assert cache.get("ccxt:binance", {"since": 2, "symbol": "BTC/USDT"}) is None
    assert cache.path("ccxt:binance", {"a": 1}).parent.name == "ccxt_binance"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"interval": "2h"}, "unknown interval"),
        ({"symbols": ()}, "no symbols"),
        ({"symbols": ("A", "A")}, "repeated"),
        ({"end": pd.Timestamp("2023-01-01", tz="UTC")}, "span is empty"),
    ],
)
def test_bad_requests_are_refused(kw, match):
    base = {"source": "yahoo", "symbols": ("A",), "start": pd.Timestamp("2024-01-01", tz="UTC"),
            "end": pd.Timestamp("2024-02-01", tz="UTC")}  # fmt: skip
    with pytest.raises(DataSourceError, match=match):
        FetchRequest(**(base | kw))
