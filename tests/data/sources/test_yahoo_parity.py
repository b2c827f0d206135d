"""Our reading of Yahoo's chart JSON agrees with yfinance's own parsers on the same answer."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.sources.yahoo import parse_chart
from tests.data.sources.fakes import daily_series

yf_utils = pytest.importorskip("yfinance.utils")
# the peer's own pandas deprecations, not ours
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")


@pytest.fixture
def answer(yahoo):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 80, 21, split=(25, 4.0), dividend=(50, 0.3))
    url = f"{yahoo.url}/v8/finance/chart/AAPL?period1=1704067200&period2=1719792000&interval=1d"
    with urllib.request.urlopen(url) as resp:
        return json.load(resp)


def test_adjusted_bars_match_yfinance_auto_adjust(answer):
    ours, events, tz, _ = parse_chart(answer, "AAPL", adjusted=True)
    result = answer["chart"]["result"][0]
    theirs = yf_utils.auto_adjust(yf_utils.parse_quotes(result))
    assert list(theirs.index.tz_localize("UTC")) == list(ours.index)
    for ours_col, their_col in (("open", "Open"), ("high", "High"), ("low", "Low"),
                                ("close", "Close"), ("volume", "Volume")):  # fmt: skip
        np.testing.assert_allclose(ours[ours_col], theirs[their_col].astype(float), rtol=1e-12)
    dividends, splits, _ = yf_utils.parse_actions(result)
    ours_splits = events[events["kind"] == "split"]
    assert ours_splits["value"].tolist() == splits["Stock Splits"].tolist()
    ours_divs = events[events["kind"] == "dividend"]
    np.testing.assert_allclose(ours_divs["value"], dividends["Dividends"], rtol=1e-12)
    # the same days: ours at 00:00 UTC of the New York date, theirs at the open
    their_days = [t.tz_localize("UTC").tz_convert(tz).date() for t in splits.index]
    assert [d.date() for d in ours_splits["date"]] == their_days


def test_raw_bars_undo_what_yfinance_back_adjust_keeps(answer):
    ours, _, _, _ = parse_chart(answer, "AAPL", adjusted=False)
    theirs = yf_utils.parse_quotes(answer["chart"]["result"][0])
    # yfinance's Close is split-adjusted; ours raw: the split's ratio before it, 1 after
    ratio = ours["close"].to_numpy() / theirs["Close"].to_numpy()
    split_day = pd.Timestamp(answer["chart"]["result"][0]["timestamp"][25], unit="s", tz="UTC")
    np.testing.assert_allclose(ratio[ours.index < split_day], 4.0, rtol=1e-12)
    np.testing.assert_allclose(ratio[ours.index >= split_day], 1.0, rtol=1e-12)
