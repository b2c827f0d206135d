"""Corporate actions: event files, adjusted/unadjusted/total-return views, as-of, storage."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.data.corporate_actions import (
    CorporateActionStore,
    adjustment_factors,
    parse_actions,
    price_view,
)
from alphaloop.errors import AssetDataError
from tests.conftest import write_csv

INDEX = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
CLOSE = np.array(
    [[100.0, 10.0], [102.0, 10.5], [51.0, 11.0], [52.0, 11.0], [50.0, 11.2], [51.0, 11.1]]
)


def _panel() -> Panel:
    volume = np.full(CLOSE.shape, 1000.0)
    return Panel(INDEX, ["AAA", "BBB"], {"close": CLOSE, "open": CLOSE * 0.99, "volume": volume})


def _events() -> pd.DataFrame:
    # AAA: a 2-for-1 split on 2024-01-03 and a dividend of 1.0 on 2024-01-05
    return pd.DataFrame(
        {
            "date": [date(2024, 1, 3), date(2024, 1, 5)],
            "symbol": ["AAA", "AAA"],
            "kind": ["split", "dividend"],
            "value": [2.0, 1.0],
        }
    )


def test_adjusted_view_by_hand() -> None:
    view = price_view(_panel(), _events(), "adjusted")
    d = 1 - 1.0 / 52.0  # the dividend factor from the close before the ex-date
    expected = [100 * d / 2, 102 * d / 2, 51 * d, 52 * d, 50.0, 51.0]
    np.testing.assert_allclose(view["close"][:, 0], expected)
    np.testing.assert_allclose(view["open"][:, 0], np.array(expected) * 0.99)
    np.testing.assert_allclose(view["close"][:, 1], CLOSE[:, 1])  # no events for BBB
    np.testing.assert_allclose(view["volume"][:, 0], [2000, 2000, 1000, 1000, 1000, 1000])
    # no jump at the split: the adjusted return over it is the economic one (0%)
    assert view["close"][2, 0] / view["close"][1, 0] == pytest.approx(1.0)


def test_total_return_view_by_hand() -> None:
    tr = price_view(_panel(), _events(), "total_return")["close"][:, 0]
    growth = [1, 102 / 100, 51 * 2 / 102, 52 / 51, (50 + 1) / 52, 51 / 50]
    np.testing.assert_allclose(tr, 100 * np.cumprod(growth))
    unadj = price_view(_panel(), _events(), "unadjusted")
    np.testing.assert_allclose(unadj["close"], CLOSE)


def test_as_of_uses_events_up_to_the_date_only() -> None:
    before = price_view(_panel(), _events(), "adjusted", as_of=date(2024, 1, 4))
    np.testing.assert_allclose(before["close"][:, 0], [50, 51, 51, 52, 50, 51])
    f_full, _ = adjustment_factors(_panel(), _events())
    f_asof, _ = adjustment_factors(_panel(), _events(), as_of=date(2024, 1, 5))
    np.testing.assert_allclose(f_full, f_asof)


def test_stored_adjusted_prices_give_back_the_traded_ones() -> None:
    adjusted = price_view(_panel(), _events(), "adjusted")
    back = price_view(adjusted, _events(), "unadjusted", stored="adjusted")
    np.testing.assert_allclose(back["close"], CLOSE, rtol=1e-12)
    np.testing.assert_allclose(back["volume"], _panel()["volume"])
    again = price_view(adjusted, _events(), "adjusted", stored="adjusted")
    np.testing.assert_allclose(again["close"], adjusted["close"], rtol=1e-12)


def test_bad_events_are_refused(tmp_path: Path) -> None:
    bad = _events().assign(value=[2.0, 60.0])
    with pytest.raises(AssetDataError, match="not below the close"):
        adjustment_factors(_panel(), bad)
    with pytest.raises(AssetDataError, match="first bar"):
        adjustment_factors(_panel(), _events().assign(date=[date(2023, 12, 1), date(2024, 1, 5)]))
    with pytest.raises(AssetDataError, match="unknown view"):
        price_view(_panel(), _events(), "split_only")  # type: ignore[arg-type]
    cases = {
        "kind other than split": "2024-01-03,AAA,merger,1",
        "not positive": "2024-01-03,AAA,split,0",
        "negative dividend": "2024-01-03,AAA,dividend,-1",
        "non-ISO dates": "03/01/2024,AAA,split,2",
        "not in the dataset": "2024-01-03,ZZZ,split,2",
    }
    for match, row in cases.items():
        path = write_csv(tmp_path / "ev.csv", f"date,symbol,kind,value\n{row}")
        with pytest.raises(AssetDataError, match=match) as info:
            parse_actions(path, known={"AAA", "BBB"})
        assert "line" in str(info.value)
    path = write_csv(
        tmp_path / "dup.csv",
        "date,symbol,kind,value\n2024-01-03,AAA,split,2\n2024-01-03,AAA,split,2",
    )
    with pytest.raises(AssetDataError, match="repeated"):
        parse_actions(path)


def test_events_are_stored_with_their_dataset(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = CorporateActionStore(workspace.db)
    path = write_csv(
        tmp_path / "ev.csv",
        "date,symbol,kind,value\n2024-01-05,AAA,dividend,1.0\n2024-01-03,AAA,split,2",
    )
    store.import_file("prices", path, known=("AAA", "BBB"))
    loaded = store.load("prices")
    pd.testing.assert_frame_equal(loaded, _events())
    assert store.load("other").empty
    assert len(store.load("prices", as_of=date(2024, 1, 4))) == 1
    # a second import replaces the dataset's events
    store.import_file(
        "prices",
        write_csv(tmp_path / "one.csv", "date,symbol,kind,value\n2024-01-04,BBB,dividend,0.5"),
    )
    assert list(store.load("prices")["symbol"]) == ["BBB"]
