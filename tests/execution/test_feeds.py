"""Replay feeds: order, resumption, pacing, names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import Feed, ReplayFeed, parse_feed


def _panel(n: int = 6) -> Panel:
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    close = np.arange(1.0, n + 1.0).reshape(n, 1)
    return Panel(index, ["A"], {"close": close})


def test_a_replay_delivers_every_bar_in_order_and_resumes_from_a_position() -> None:
    panel = _panel()
    feed = ReplayFeed(panel, name="replay:x")
    assert isinstance(feed, Feed)
    rows = [b.row for b in feed.bars()]
    assert rows == list(range(6))
    assert [b.time for b in feed.bars(4)] == list(panel.index[4:])
    assert list(feed.bars(6)) == []
    with pytest.raises(BacktestError, match="outside the feed"):
        list(feed.bars(7))


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_paced_replay_waits_one_period_between_bars() -> None:
    clock = _Clock()
    feed = ReplayFeed(_panel(), speed=4.0, clock=clock, sleep=clock.sleep)
    rows = [b.row for b in feed.bars(2)]
    assert rows == [2, 3, 4, 5]
    # the first bar at once, then one every 0.25 s of the (fake) wall clock
    assert clock.slept == pytest.approx([0.25, 0.25, 0.25])
    assert clock.now == pytest.approx(100.75)


def test_as_fast_as_possible_never_sleeps() -> None:
    clock = _Clock()
    feed = ReplayFeed(_panel(), speed=0, clock=clock, sleep=clock.sleep)
    assert feed.speed is None
    assert len(list(feed.bars())) == 6
    assert clock.slept == []


def test_a_negative_speed_is_refused() -> None:
    with pytest.raises(BacktestError, match="speed"):
        ReplayFeed(_panel(), speed=-1.0)


def test_feed_names_parse_and_bad_ones_say_what_is_wrong() -> None:
    assert str(parse_feed("replay:sp500-stocks")) == "replay:sp500-stocks"
    assert parse_feed("replay:x").is_replay
    assert parse_feed("alpaca").kind == "alpaca"
    assert parse_feed("CCXT:binance").target == "binance"
    with pytest.raises(BacktestError, match="unknown feed"):
        parse_feed("kafka:x")
    with pytest.raises(BacktestError, match="needs a dataset"):
        parse_feed("replay")
    with pytest.raises(BacktestError, match="needs an exchange"):
        parse_feed("ccxt")
    with pytest.raises(BacktestError, match="takes no argument"):
        parse_feed("alpaca:live")
