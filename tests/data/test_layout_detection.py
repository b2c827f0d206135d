"""Layout detection is certain or refuses, and says why; wide fields must be known fields."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphaloop.app import Workspace
from alphaloop.data.layout import LayoutError
from alphaloop.data.names import field_name, looks_like_field
from alphaloop.data.options import ReadOptions
from alphaloop.data.readers import read_table
from alphaloop.errors import DataFormatError

ROWS = ["2024-01-02", "2024-01-03", "2024-01-04"]


def write(tmp_path: Path, header: list[str], name: str = "f.csv") -> Path:
    """A CSV file with ``header`` and plausible OHLC-like numbers (every bar 10..11)."""
    lines = [",".join(header)]
    for day in ROWS:
        lines.append(",".join([day] + ["10.5"] * (len(header) - 1)))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("header", "field_like", "other"),
    [
        (["Date", "Open", "High", "Low", "Close", "Volume", "Capital Gains"], 5, 1),
        (["date", "open", "high", "low", "close", "tradecount2"], 4, 1),
        (["Date", "AAPL", "MSFT", "LOW"], 1, 2),  # LOW: Lowe's or a low price?
        (["Date", "O", "H", "L", "C"], 4, 0),
        (["Date", "Open", "High", "Low", "Close", "Close Bid"], 5, 0),
        (["Date", "Open", "Close", "Volume BTC", "Volume USDT"], 4, 0),
        (["Date", "BTC:open", "BTC:close", "ETH:open", "ETH:close"], 4, 0),
    ],
)
def test_an_uncertain_layout_is_refused_with_the_reason(
    tmp_path: Path, header: list[str], field_like: int, other: int
) -> None:
    path = write(tmp_path, header)
    with pytest.raises(LayoutError) as info:
        read_table(path)
    err = info.value
    assert isinstance(err, DataFormatError)  # exit code 2, like every unreadable file
    assert len(err.field_like) == field_like
    assert len(err.other) == other
    assert str(err).startswith(f"{path}: cannot tell the layout")
    for column in err.field_like + err.other:
        assert repr(column) in err.message
    assert err.hint is not None
    assert "--layout" in err.hint


def test_an_ohlcv_file_with_an_extra_column_imports_as_one_asset_when_told(
    ws: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, ["Date", "Open", "High", "Low", "Close", "Volume", "Capital Gains"])
    report, data = ws.data.check_file(path, options=ReadOptions(layout="single", asset="VTI"))
    assert data.assets == ("VTI",)
    assert sorted(data.fields) == ["capital_gains", "close", "high", "low", "open", "volume"]
    assert report.issue("unknown_columns") is not None


def test_a_wide_file_with_a_field_like_ticker_imports_when_told(
    ws: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, ["Date", "AAPL", "MSFT", "LOW"])
    report, data = ws.data.check_file(path, options=ReadOptions(layout="wide"))
    assert report.layout == "wide"
    assert data.assets == ("AAPL", "MSFT", "LOW")


@pytest.mark.parametrize(
    ("header", "asset", "fields"),
    [
        (["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"], "f", None),
        (["Date", "Open", "High", "Low", "Close", "Volume", "OpenInt"], "f", ["open_interest"]),
        (["<DATE>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>", "<VOL>"], "f", ["open", "close"]),
        (["Date", "open", "high", "low", "adjClose", "volume"], "f", ["adj_close"]),
        (["Date", "BTC:open", "BTC:high", "BTC:low", "BTC:close"], "BTC", ["open", "close"]),
        (["Date", "close_ETH", "volume_ETH"], "ETH", ["close", "volume"]),
        (
            ["date", "Open", "High", "Low", "Close", "Volume", "Dividends", "Stock Splits"],
            "f",
            None,
        ),
    ],
)
def test_one_assets_fields_are_read_as_such(
    tmp_path: Path, header: list[str], asset: str, fields: list[str] | None
) -> None:
    raw = read_table(write(tmp_path, header))
    assert raw.layout == "long"
    assert raw.single_asset == asset
    assert "layout detected: single asset" in raw.notes
    for f in fields or []:
        assert f in raw.field_columns


def test_asset_names_that_look_like_nothing_else_are_wide(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path, ["Date", "AAPL", "BRK-B", "^GSPC", "BTC-USD", "C", "V"]))
    assert raw.layout == "wide"
    assert raw.field_columns == ["AAPL", "BRK-B", "^GSPC", "BTC-USD", "C", "V"]


def test_single_layout_with_an_asset_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("date,symbol,close\n2024-01-02,A,1\n")
    with pytest.raises(DataFormatError, match="single-asset layout was asked for"):
        read_table(path, ReadOptions(layout="single"))


FIELDS = ["Open", "High", "Low", "Close", "Volume", "Adj Close", "VWAP"]
NOT_FIELDS = ["Capital Gains", "tradecount2", "Signal", "Comment", "Exchange", "Ratio"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6, unique=True),
    extra=st.lists(st.sampled_from(NOT_FIELDS), max_size=2, unique=True),
    data=st.data(),
)
def test_fields_and_other_columns_are_never_read_as_assets(
    tmp_path_factory: pytest.TempPathFactory,
    fields: list[str],
    extra: list[str],
    data: st.DataObject,
) -> None:
    columns = data.draw(st.permutations(fields + extra))
    path = write(tmp_path_factory.mktemp("prop"), ["Date", *columns])
    if extra:
        with pytest.raises(LayoutError) as info:
            read_table(path)
        assert set(info.value.other) == set(extra)
        assert set(info.value.field_like) == set(fields)
    else:
        raw = read_table(path)
        assert raw.layout == "long"
        assert raw.single_asset == "f"


# ------------------------------------------------------------------ fields
def test_an_unknown_wide_field_is_refused_with_the_known_ones(
    ws: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, ["Date", "AAPL", "MSFT"])
    with pytest.raises(DataFormatError, match="unknown field 'closing'") as info:
        ws.data.check_file(path, field_name="closing")
    assert info.value.hint is not None
    for known in ("open", "close", "adj_close", "volume", "vwap"):
        assert known in info.value.hint
    _, data = ws.data.check_file(path, field_name="Adj Close")
    assert list(data.fields) == ["adj_close"]


def test_field_names_and_field_words() -> None:
    assert field_name("Adj Close") == field_name("adjClose")
    found = field_name("BTC:adjClose")
    assert found is not None
    assert (found.field, found.rest) == ("adj_close", "BTC")
    assert field_name("AAPL") is None
    assert looks_like_field("Volume USDT")
    assert not looks_like_field("C", ["V", "AAPL"])
    assert looks_like_field("C", ["O", "H", "L"])
