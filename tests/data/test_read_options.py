"""Options for real files: time column and format, lines to skip, banner lines, decimal comma.

The CSV files are written by hand as the sources write them.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.cli import main
from alphaloop.data.options import ReadOptions
from alphaloop.data.readers import read_table
from alphaloop.errors import DataFormatError, DataReadError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def ns(*stamps: str) -> list[int]:
    return [pd.Timestamp(s, tz="UTC").value for s in stamps]


# -------------------------------------------------------------- the object
def test_read_options_are_frozen_typed_and_validated() -> None:
    options = ReadOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.layout = "wide"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ReadOptions(colour="red")  # type: ignore[call-arg]
    bad = [
        ({"layout": "tall"}, "layout 'tall' is not one of auto, long, single, wide"),
        ({"decimal": ";"}, "decimal mark ';' is not '.' or ','"),
        ({"delimiter": ";;"}, "not a single character"),
        ({"decimal": ",", "delimiter": ","}, "both ','"),
        ({"skip_rows": -1}, "skip_rows -1 is not a count of lines"),
        ({"skip_rows": True}, "skip_rows True is not a count of lines"),
        ({"time_format": "YYYY-MM-DD"}, "has no % directive"),
        ({"time_column": " "}, "time_column is empty"),
        ({"field": "pe_ratio"}, "unknown field 'pe_ratio'"),
    ]
    for kwargs, says in bad:
        with pytest.raises(DataFormatError, match=says.replace("(", r"\(")):
            ReadOptions(**kwargs)
    assert ReadOptions(field="Adj Close").field == "adj_close"


def test_options_round_trip_through_the_recorded_note() -> None:
    options = ReadOptions(decimal=",", time_format="%d.%m.%Y", skip_rows=2, layout="single")
    note = options.describe()
    assert note is not None
    assert note.startswith("read options: {")
    assert ReadOptions.from_note(["layout detected: long", note]) == options
    assert ReadOptions().describe() is None
    assert ReadOptions.from_note([]) == ReadOptions()
    assert ReadOptions.from_dict(options.to_dict()) == options
    with pytest.raises(DataFormatError, match=r"unknown read option\(s\) \['colour'\]"):
        ReadOptions.from_dict({"colour": "red"})


def test_old_keywords_must_agree_with_the_options(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "date,symbol,close\n2024-01-02,A,1\n")
    with pytest.raises(DataFormatError, match=r"layout=.wide. disagrees with options\.layout"):
        ws.data.check_file(path, options=ReadOptions(layout="long"), layout="wide")
    report, _ = ws.data.check_file(path, options=ReadOptions(layout="long"), layout="long")
    assert report.layout == "long"
    same = ReadOptions(field="adj_close")
    assert ReadOptions.merge(same, field="Adj Close") is same  # one field, two spellings
    assert ReadOptions.merge(None, field="Adj Close", timezone="UTC") == same


# ------------------------------------------------------------ time column
TWO_TIMES = """\
trade_date,settle_time,symbol,close
2024-01-02,2024-01-02T16:00:00,A,1.5
2024-01-03,2024-01-03T16:00:00,A,1.6
"""


def test_time_column_option(tmp_path: Path) -> None:
    path = write(tmp_path / "two.csv", TWO_TIMES)
    with pytest.raises(DataFormatError, match="no timestamp column") as info:
        read_table(path)
    assert "--time-column 'trade_date'" in str(info.value.hint)
    raw = read_table(path, ReadOptions(time_column="settle_time"))
    assert raw.timestamp_column == "settle_time"
    assert "trade_date" not in raw.table.column_names  # the other time column is no value
    assert any("'trade_date' looks like a time column too" in n for n in raw.notes)
    with pytest.raises(DataFormatError, match=r"no column 'when' for the time; columns are"):
        read_table(path, ReadOptions(time_column="when"))


def test_time_column_picks_one_of_several_usual_names(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "both.csv",
        "timestamp,date,symbol,close\n2024-01-02T10:00:00,2024-01-02,A,1\n"
        "2024-01-03T10:00:00,2024-01-03,A,2\n",
    )
    _, by_default = ws.data.check_file(path)
    assert by_default.timestamps.tolist() == ns("2024-01-02 10:00", "2024-01-03 10:00")
    _, by_date = ws.data.check_file(path, options=ReadOptions(time_column="date"))
    assert by_date.timestamps.tolist() == ns("2024-01-02", "2024-01-03")


# ------------------------------------------------------------ time format
def test_time_format_reads_day_first_dates(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "eu.csv", "Date,symbol,close\n02/01/2024,A,1\n03/01/2024,A,2\n")
    report, inferred = ws.data.check_file(path)
    assert inferred.timestamps.tolist() == ns("2024-02-01", "2024-03-01")  # month first
    assert report.issue("ambiguous_dates") is not None  # ... and said so
    report, given = ws.data.check_file(path, options=ReadOptions(time_format="%d/%m/%Y"))
    assert given.timestamps.tolist() == ns("2024-01-02", "2024-01-03")
    assert report.issue("ambiguous_dates") is None


def test_time_format_overrides_what_arrow_would_read_itself(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "ydm.csv", "date,symbol,close\n2024-02-01,A,1\n2024-03-01,A,2\n")
    _, data = ws.data.check_file(path, options=ReadOptions(time_format="%Y-%d-%m"))
    assert data.timestamps.tolist() == ns("2024-01-02", "2024-01-03")


def test_time_format_for_integer_stamps(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "int.csv", "ts,symbol,close\n202401021530,A,1\n202401031530,A,2\n")
    options = ReadOptions(time_format="%Y%m%d%H%M")
    _, data = ws.data.check_file(path, options=options)
    assert data.timestamps.tolist() == ns("2024-01-02 15:30", "2024-01-03 15:30")


def test_values_that_do_not_match_the_format_are_shown_with_their_lines(
    ws: Workspace, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "mixed.csv",
        "Date,symbol,close\n02/01/2024,A,1\n2024-01-03,A,2\n04/01/2024,A,3\n31/02/2024,A,4\n",
    )
    report, _ = ws.data.check_file(path, options=ReadOptions(time_format="%d/%m/%Y"))
    issue = report.issue("unparseable_timestamp")
    assert issue is not None
    assert issue.count == 2
    assert "do not match the format '%d/%m/%Y'" in issue.message
    assert "line 3 '2024-01-03'" in issue.message
    assert "line 5 '31/02/2024'" in issue.message
    assert issue.locations[0] == {"line": 3, "column": "Date", "value": "2024-01-03"}


def test_unreadable_timestamps_are_quoted_without_a_format(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", "date,symbol,close\n2024-01-02,A,1\nsoon,A,2\n,A,3\n")
    report, _ = ws.data.check_file(path)
    issue = report.issue("unparseable_timestamp")
    assert issue is not None
    assert [(x["line"], x["value"]) for x in issue.locations] == [(3, "soon"), (4, "")]
    assert "line 3 'soon'" in issue.message


def test_date_and_time_columns_are_joined(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "mt.csv",
        "Date,Time,Open,High,Low,Close,Volume\n"
        "2024.01.02,09:30,1.10,1.20,1.00,1.15,10\n2024.01.02,09:31,1.15,1.25,1.10,1.20,12\n",
    )
    report, data = ws.data.check_file(path, options=ReadOptions(time_format="%Y.%m.%d %H:%M"))
    assert not report.errors
    assert data.timestamps.tolist() == ns("2024-01-02 09:30", "2024-01-02 09:31")
    assert any("joined into the timestamps" in n for n in report.notes)


# -------------------------------------------------------------- skip rows
CRYPTO = """\
https://www.CryptoDataDownload.com
unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount
1704153600000,2024-01-02 00:00:00,BTC/USDT,42283.58,45879.63,42181.79,44179.55,55.2,2410000.1,1650
1704067200000,2024-01-01 00:00:00,BTC/USDT,42283.58,44184.10,42180.77,44179.55,27.2,1180000.5,1010
"""


@pytest.mark.parametrize("compress", [False, True])
def test_a_banner_line_above_the_header_is_skipped(
    ws: Workspace, tmp_path: Path, compress: bool
) -> None:
    path = tmp_path / ("Binance_BTCUSDT_d.csv" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(CRYPTO.encode()) if compress else CRYPTO.encode())
    report, data = ws.data.check_file(path)
    assert "1 line(s) above the header skipped: 'https://www.CryptoDataDownload.com'" in (
        report.notes
    )
    assert data.assets == ("BTC/USDT",)
    assert data.lines.tolist() == [3, 4]  # lines still count the banner
    assert data.timestamps.tolist() == ns("2024-01-02", "2024-01-01")
    np.testing.assert_allclose(data.fields["close"], [44179.55, 44179.55])
    assert data.fields["trades"].tolist() == [1650.0, 1010.0]
    unsorted = report.issue("unsorted_rows")  # newest first, as these files are
    assert unsorted is not None
    assert unsorted.locations[0]["line"] == 4


def test_a_title_with_commas_and_a_blank_line_above_the_header(tmp_path: Path) -> None:
    path = write(
        tmp_path / "title.csv",
        "Bitcoin, daily prices, USD\n\nDate,Open,High,Low,Close\n"
        "2024-01-02,1,2,0.5,1.5\n2024-01-03,1,2,0.5,1.5\n2024-01-04,1,2,0.5,1.5\n",
    )
    raw = read_table(path)
    assert raw.header_line == 3
    assert raw.field_columns == ["open", "high", "low", "close"]
    assert "1 line(s) above the header skipped: 'Bitcoin, daily prices, USD'" in raw.notes


def test_skip_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "export.csv",
        "Exported 2024-05-01\nsource;broker\nzeit;symbol;schluss\n2024-01-02;A;1\n2024-01-03;A;2\n",
    )
    with pytest.raises(DataFormatError):
        read_table(path, ReadOptions(skip_rows=0))  # no detection: the first line is the header
    raw = read_table(path, ReadOptions(skip_rows=2, time_column="zeit", layout="long"))
    assert raw.header_line == 3
    assert raw.timestamp_column == "zeit"
    assert "2 line(s) skipped before the header (skip_rows)" in raw.notes
    with pytest.raises(DataReadError, match="skipping 9 line"):
        read_table(path, ReadOptions(skip_rows=9))


def test_banner_detection_leaves_ordinary_files_alone(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.csv", "date,symbol,close\n2024-01-02,A,1\n2024-01-03,A,x,9\n")
    with pytest.raises(DataFormatError, match="row on line 3 has 4 values"):
        read_table(path)


# ------------------------------------------------------------ decimal comma
GERMAN = """\
Datum;Symbol;Eröffnung;Schluss;Volume
02.01.2024;SAP;1,5;2,25;1.000
03.01.2024;SAP;1.234,5;1.300;2.500
"""


def test_decimal_comma(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "de.csv", GERMAN)
    plain, _ = ws.data.check_file(
        path, options=ReadOptions(time_column="Datum", time_format="%d.%m.%Y")
    )
    issue = plain.issue("non_numeric")
    assert issue is not None
    assert "look like numbers with a decimal comma: pass --decimal ," in issue.message
    options = ReadOptions(decimal=",", time_column="Datum", time_format="%d.%m.%Y")
    report, data = ws.data.check_file(path, options=options)
    assert report.issue("non_numeric") is None
    assert data.timestamps.tolist() == ns("2024-01-02", "2024-01-03")
    np.testing.assert_allclose(data.fields["eröffnung"], [1.5, 1234.5])
    np.testing.assert_allclose(data.fields["schluss"], [2.25, 1300.0])
    np.testing.assert_allclose(data.fields["volume"], [1000.0, 2500.0])


def test_a_dot_in_a_decimal_comma_file_is_not_a_number(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "odd.csv", "date;symbol;close\n2024-01-02;A;1,5\n2024-01-03;A;1.5\n")
    report, data = ws.data.check_file(path, options=ReadOptions(decimal=","))
    issue = report.issue("non_numeric")
    assert issue is not None
    assert issue.locations[0]["value"] == "1.5"
    assert data.fields["close"][0] == 1.5
    assert np.isnan(data.fields["close"][1])


def test_options_are_recorded_with_the_import(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "de.csv", GERMAN)
    options = ReadOptions(
        decimal=",", time_column="Datum", time_format="%d.%m.%Y", timezone="Europe/Berlin"
    )
    result = ws.data.import_file(path, (n := f"de-{uuid.uuid4().hex[:6]}"), options=options)
    assert result.options == options
    assert result.to_dict()["options"]["decimal"] == ","
    stored = ws.data.info(n).quality["notes"]
    assert ReadOptions.from_note(stored) == options
    assert ws.data.load(n).index[0] == pd.Timestamp("2024-01-01 23:00", tz="UTC")


# --------------------------------------------------------------------- CLI
def test_cli_refuses_an_unknown_wide_field_in_one_line(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "wide.csv", "date,AAPL,MSFT\n2024-01-02,1,2\n")
    code = main(["--workspace", str(ws.root), "data", "check", str(path), "--field", "pe"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert "unknown field 'pe'" in err
    assert "close" in err
    assert "adj_close" in err


def test_commas_between_thousands_when_a_value_shows_they_are(
    ws: Workspace, tmp_path: Path
) -> None:
    """A quoted export: ``"42,283.6"`` can only mean 42283.6, so ``"42,000"`` is 42000."""
    path = write(
        tmp_path / "quoted.csv",
        '"Date","Price","Open","High","Low"\n'
        '"01/03/2024","42,283.6","42,000","42,500.5","41,900.1"\n'
        '"01/02/2024","42,100.0","41,950","42,300.0","41,800.0"\n',
    )
    report, data = ws.data.check_file(path)
    assert report.issue("non_numeric") is None
    assert "commas between thousands in numbers dropped (1,234.5 is 1234.5)" in report.notes
    np.testing.assert_allclose(data.fields["open"], [42000.0, 41950.0])
    np.testing.assert_allclose(data.fields["price"], [42283.6, 42100.0])
    ambiguous = write(tmp_path / "amb.csv", 'date;symbol;close\n2024-01-02;A;"1,234"\n')
    report, data = ws.data.check_file(ambiguous)
    issue = report.issue("non_numeric")
    assert issue is not None
    assert "--decimal ," in issue.message
    assert np.isnan(data.fields["close"][0])


def test_cli_check_takes_every_read_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphaloop.cli import main

    path = tmp_path / "btc.csv"
    path.write_text(
        "https://www.CryptoDataDownload.com\n"
        "Date;Open;High;Low;Close;Volume\n"
        "01.02.2024;1,5;2,0;1,0;1,75;100\n"
        "02.02.2024;1,75;2,1;1,2;2,0;110\n"
    )
    args = ["--workspace", str(tmp_path / "ws"), "data", "check", str(path), "--json"]
    opts = ["--decimal", ",", "--asset", "BTC", "--time-format", "%d.%m.%Y", "--skip-rows", "1"]
    code = main([*args, *opts])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["rows"] == 2
    assert any('"skip_rows": 1' in n and '"decimal": ","' in n for n in doc["notes"])
    code = main([*args, "--layout", "sideways"])
    assert code == 2
