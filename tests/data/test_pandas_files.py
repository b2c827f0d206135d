"""Files written by pandas (``to_csv`` with its index, ``to_parquet`` with a DatetimeIndex) import.

Every fixture file is written here by pandas itself, the way users write them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from alphaloop.app import Workspace
from alphaloop.data.options import ReadOptions
from alphaloop.data.readers import read_table
from alphaloop.errors import DataFormatError

DAYS = pd.date_range("2024-01-01", periods=6, freq="D")


def ohlcv(index: pd.Index = DAYS, seed: int = 0) -> pd.DataFrame:
    """A small OHLCV frame with consistent bars (low <= open, close <= high)."""
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, len(index)))
    open_ = close + rng.normal(0, 0.3, len(index))
    return pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close) + 0.5,
            "Low": np.minimum(open_, close) - 0.5,
            "Close": close,
            "Volume": rng.integers(100, 1000, len(index)),
        },
        index=index,
    )


def long_frame() -> pd.DataFrame:
    rows = []
    for j, symbol in enumerate(["AAA", "BBB"]):
        frame = ohlcv(seed=j).reset_index(names="timestamp")
        frame.insert(1, "symbol", symbol)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def name() -> str:
    return f"pd-{uuid.uuid4().hex[:8]}"


def check_same_bars(ws: Workspace, dataset: str, frame: pd.DataFrame, asset: str) -> None:
    """The stored panel of ``dataset`` holds ``frame``'s bars for ``asset``."""
    panel = ws.data.load(dataset)
    j = panel.assets.index(asset)
    for col in ("Open", "High", "Low", "Close", "Volume"):
        np.testing.assert_allclose(panel[col.lower()][:, j], frame[col].to_numpy(dtype=float))


# ------------------------------------------------------------------- to_csv
def test_to_csv_with_a_datetime_index(ws: Workspace, tmp_path: Path) -> None:
    frame = ohlcv()
    path = tmp_path / "spy.csv"
    frame.to_csv(path)
    assert path.read_text().startswith(",Open,High,Low,Close,Volume\n")
    result = ws.data.import_file(path, (n := name()))
    assert result.dataset.asset_ids == ("spy",)
    notes = " ".join(result.report.notes)
    assert "pandas index holding the time" in notes
    panel = ws.data.load(n)
    assert list(panel.index) == list(DAYS.tz_localize("UTC"))
    check_same_bars(ws, n, frame, "spy")


def test_to_csv_with_a_tz_aware_index_across_a_clock_change(ws: Workspace, tmp_path: Path) -> None:
    index = pd.date_range("2024-03-05 09:30", periods=10, freq="D", tz="America/New_York")
    frame = ohlcv(index)
    path = tmp_path / "ny.csv"
    frame.to_csv(path)
    text = path.read_text()
    assert "-05:00" in text
    assert "-04:00" in text
    report, data = ws.data.check_file(path)
    assert report.issue("mixed_offsets") is None  # New York's own clock change
    assert any("America/New_York" in note for note in report.notes), report.notes
    expected = index.tz_convert("UTC").as_unit("ns").asi8
    np.testing.assert_array_equal(data.timestamps, expected)


def test_to_csv_of_long_data_with_a_range_index(ws: Workspace, tmp_path: Path) -> None:
    frame = long_frame()
    path = tmp_path / "long.csv"
    frame.to_csv(path)
    assert path.read_text().startswith(",timestamp,symbol,Open")
    result = ws.data.import_file(path, (n := name()))
    assert result.status == "accepted"
    assert result.dataset.fields == ("open", "high", "low", "close", "volume")
    assert any("row numbers: not imported" in note for note in result.report.notes)
    for symbol in ("AAA", "BBB"):
        check_same_bars(ws, n, frame[frame.symbol == symbol].set_index("timestamp"), symbol)


def test_to_csv_read_back_and_written_again(ws: Workspace, tmp_path: Path) -> None:
    """``pd.read_csv(p).to_csv(q)`` turns the unnamed index into ``Unnamed: 0``."""
    first = tmp_path / "first.csv"
    long_frame().to_csv(first)
    again = tmp_path / "again.csv"
    pd.read_csv(first).to_csv(again, index=False)
    assert again.read_text().startswith("Unnamed: 0,timestamp,symbol")
    raw = read_table(again)
    assert raw.layout == "long"
    assert raw.asset_column == "symbol"
    assert "unnamed:_0" not in raw.table.column_names
    assert raw.field_columns == ["open", "high", "low", "close", "volume"]


def test_reset_index_then_to_csv(ws: Workspace, tmp_path: Path) -> None:
    """``reset_index()`` names an unnamed index ``index``; to_csv adds its own row numbers."""
    frame = ohlcv()
    path = tmp_path / "btc.csv"
    frame.reset_index().to_csv(path)
    assert path.read_text().startswith(",index,Open")
    report, data = ws.data.check_file(path)
    assert report.clean, [i.message for i in report.issues]
    np.testing.assert_array_equal(data.timestamps, DAYS.as_unit("ns").asi8)
    np.testing.assert_allclose(data.fields["close"], frame["Close"])


def test_a_range_index_without_dates_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "nodates.csv"
    ohlcv().reset_index(drop=True).to_csv(path)
    with pytest.raises(DataFormatError, match="no timestamp column") as info:
        read_table(path)
    assert "column 1 has no name and holds row numbers" in str(info.value)


def test_an_unnamed_column_of_text_is_refused(tmp_path: Path) -> None:
    frame = long_frame().set_index("symbol")
    frame.index.name = None
    path = tmp_path / "by_symbol.csv"
    frame.to_csv(path)
    with pytest.raises(DataFormatError, match="column 1 has no name") as info:
        read_table(path)
    assert "'AAA'" in str(info.value)
    assert info.value.hint is not None
    assert "give the column a name" in info.value.hint


def test_wide_frame_to_csv(ws: Workspace, tmp_path: Path) -> None:
    wide = pd.DataFrame({"AAPL": [1.0, 1.1, 1.2], "MSFT": [2.0, 2.1, np.nan]}, index=DAYS[:3])
    path = tmp_path / "wide.csv"
    wide.to_csv(path)
    report, data = ws.data.check_file(path)
    assert report.layout == "wide"
    assert data.assets == ("AAPL", "MSFT")
    assert sorted(data.fields) == ["close"]


# --------------------------------------------------------------- to_parquet
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Tokyo"])
def test_to_parquet_with_an_unnamed_datetime_index(ws: Workspace, tmp_path: Path, tz) -> None:
    index = DAYS if tz is None else DAYS.tz_localize(tz)
    frame = ohlcv(index)
    path = tmp_path / "btc.parquet"
    frame.to_parquet(path)
    assert "__index_level_0__" in pq.read_schema(path).names
    ws.data.import_file(path, (n := name()))
    expected = index.tz_localize("UTC") if tz is None else index.tz_convert("UTC")
    assert list(ws.data.load(n).index) == list(expected)
    check_same_bars(ws, n, frame, "btc")


def test_to_parquet_with_a_named_index_of_another_name(ws: Workspace, tmp_path: Path) -> None:
    frame = ohlcv(DAYS.tz_localize("Europe/London")).rename_axis("open_time")
    path = tmp_path / "eth.parquet"
    frame.to_parquet(path)
    raw = read_table(path)
    assert raw.timestamp_column == "open_time"
    report, data = ws.data.check_file(path)
    assert report.clean
    np.testing.assert_array_equal(data.timestamps, DAYS.as_unit("ns").asi8)


def test_to_parquet_with_an_integer_index(ws: Workspace, tmp_path: Path) -> None:
    """A filtered frame keeps an integer index (not a RangeIndex): pandas stores it."""
    frame = long_frame().iloc[[0, 1, 3, 6, 7, 10]]
    path = tmp_path / "every_other.parquet"
    frame.to_parquet(path)
    assert "__index_level_0__" in pq.read_schema(path).names
    report, data = ws.data.check_file(path)
    assert not report.errors, [i.message for i in report.issues]
    assert len(data) == len(frame)
    assert "__index_level_0__" not in data.fields
    assert any("row numbers: not imported" in note for note in report.notes)


def test_to_parquet_with_a_range_index(ws: Workspace, tmp_path: Path) -> None:
    frame = long_frame()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
    path = tmp_path / "plain.parquet"
    frame.to_parquet(path)
    result = ws.data.import_file(path, (n := name()))
    assert result.dataset.rows == len(frame)
    check_same_bars(ws, n, frame[frame.symbol == "BBB"].set_index("timestamp"), "BBB")


def test_to_parquet_with_a_multi_index(ws: Workspace, tmp_path: Path) -> None:
    frame = long_frame().set_index(["timestamp", "symbol"])
    path = tmp_path / "multi.parquet"
    frame.to_parquet(path)
    report, data = ws.data.check_file(path)
    assert report.layout == "long"
    assert data.assets == ("AAA", "BBB")
    assert report.clean


def test_options_do_not_hide_the_pandas_index(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    ohlcv().to_csv(path)
    raw = read_table(path, ReadOptions(asset="X", layout="single"))
    assert raw.single_asset == "X"
    assert raw.timestamp_column == "timestamp"


# ------------------------------------------------- columns of two levels
def two_level_frame() -> pd.DataFrame:
    """What ``yf.download(["AAPL", "MSFT"])`` returns: (price field, ticker) columns."""
    fields = {t: ohlcv(seed=k) for k, t in enumerate(["AAPL", "MSFT"])}
    fields["MSFT"].iloc[:2] = np.nan  # listed two days later
    frame = pd.concat(fields, axis=1).swaplevel(axis=1).sort_index(axis=1)
    frame.columns.names = ["Price", "Ticker"]
    frame.index.name = "Date"
    return frame


@pytest.mark.parametrize(
    ("write", "suffix", "header_lines"),
    [
        (lambda f, p: f.to_csv(p), ".csv", 3),
        (lambda f, p: f.rename_axis(index=None, columns=[None, None]).to_csv(p), ".csv", 2),
        (lambda f, p: f.swaplevel(axis=1).to_csv(p), ".csv", 3),
        (lambda f, p: f.to_parquet(p), ".parquet", 0),
    ],
    ids=["csv", "csv_without_names", "csv_ticker_first", "parquet"],
)
def test_columns_of_two_levels_become_long_rows(
    ws: Workspace, tmp_path: Path, write, suffix: str, header_lines: int
) -> None:
    frame = two_level_frame()
    path = tmp_path / f"prices{suffix}"
    write(frame, path)
    if suffix == ".csv":
        assert len(path.read_text().splitlines()) == len(frame) + header_lines
    result = ws.data.import_file(path, (n := name()))
    assert result.status == "accepted"
    assert result.dataset.asset_ids == ("AAPL", "MSFT")
    assert result.dataset.rows == 6 + 4  # MSFT's rows start on its first value
    panel = ws.data.load(n)
    assert not panel.membership[:2, 1].any()
    for ticker in ("AAPL", "MSFT"):
        j = panel.assets.index(ticker)
        for f in ("Open", "High", "Low", "Close", "Volume"):
            np.testing.assert_allclose(panel[f.lower()][:, j], frame[(f, ticker)].to_numpy())


def test_lines_of_melted_rows_point_into_the_file(ws: Workspace, tmp_path: Path) -> None:
    frame = two_level_frame()
    frame.loc[frame.index[3], ("Close", "MSFT")] = -1.0  # a bad price on file line 3 + 4
    path = tmp_path / "bad.csv"
    frame.to_csv(path)
    report, _ = ws.data.check_file(path)
    issue = report.issue("non_positive_price")
    assert issue is not None
    assert issue.locations[0]["line"] == 7
    assert issue.locations[0]["asset"] == "MSFT"
    assert path.read_text().splitlines()[6].startswith(f"{frame.index[3]:%Y-%m-%d},")


def test_a_series_without_a_name_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    pd.Series([1.0, 2.0, 3.0], index=DAYS[:3]).to_csv(path)
    assert path.read_text().startswith(",0\n")
    with pytest.raises(DataFormatError, match="value columns have no names") as info:
        read_table(path)
    assert "rename" in str(info.value.hint)
    named = tmp_path / "named.csv"
    pd.Series([1.0, 2.0, 3.0], index=DAYS[:3], name="close").to_csv(named)
    assert read_table(named).field_columns == ["close"]


def test_a_datetime_index_next_to_a_time_column(ws: Workspace, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"date": DAYS[:3] + pd.Timedelta(hours=16), "close": [1.0, 2.0, 3.0]}, index=DAYS[:3]
    )
    path = tmp_path / "both.parquet"
    frame.to_parquet(path)
    report, data = ws.data.check_file(path)
    assert (
        data.timestamps.tolist() == (DAYS[:3] + pd.Timedelta(hours=16)).as_unit("ns").asi8.tolist()
    )
    assert any("pandas index of times and is not imported" in n for n in report.notes)
