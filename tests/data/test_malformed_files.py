"""Malformed data files get a typed error or a quality report, never a traceback.

Every file is written by the test into ``tmp_path``. Each case is checked
through the Python API (``check_file``), the CLI in-process (``data check``,
``data import``), the import path (a refused import leaves the store as it
was; a repairable file imports with ``repair=True`` and counts its repairs),
and, for two cases, a real subprocess.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alphaloop.app import Workspace
from alphaloop.cli import main
from alphaloop.errors import (
    AlphaloopError,
    ConfigError,
    DataFormatError,
    DataQualityError,
    DataReadError,
    DatasetNotFoundError,
)

HEADER = "timestamp,symbol,open,high,low,close,volume"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def bar(day: int, close: str = "", *, high: str = "11", low: str = "9", volume: str = "100") -> str:
    """One OHLCV row of asset AAA on 2024-01-<day>; the close varies with the day."""
    return f"2024-01-{day:02d},AAA,10,{high},{low},{close or f'10.{day}'},{volume}"


def text(*lines: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *lines, ""]).encode()


def closes(*lines: str) -> bytes:
    return text(*lines, header="timestamp,symbol,close")


GOOD = text(*(bar(d) for d in range(2, 8)))


def _parquet(table: pa.Table) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        pq.write_table(table, path)

    return write


@dataclass(frozen=True)
class Case:
    """A file and what must happen to it.

    ``error`` and ``says``: the typed error and a fragment of its message.
    ``check``, ``count``, ``line``: the quality issue, its count and the file
    line of its first location; ``absent``: checks that must not be reported.
    ``repairs``: check -> count of the repairs an import with ``repair=True``
    applies (None: the file cannot be repaired).
    """

    id: str
    filename: str
    content: bytes | Callable[[Path], None] | None  # None: nothing is written
    error: type[AlphaloopError] | None = None
    says: str = ""
    check: str | None = None
    count: int = 0
    line: int = 0
    absent: tuple[str, ...] = ()
    repairs: dict[str, int] | None = None

    def write(self, directory: Path) -> Path:
        path = directory / self.filename
        if isinstance(self.content, bytes):
            path.write_bytes(self.content)
        elif self.content is not None:
            self.content(path)
        return path


UNREADABLE = [
    Case("empty", "prices.csv", b"", DataReadError, "the file is empty"),
    Case("whitespace_only", "prices.csv", b"   \n\t\n  \r\n", DataReadError, "only whitespace"),
    Case("header_only", "prices.csv", text(), DataReadError, "header line but no data rows"),
    Case(
        "no_delimiter_in_header",
        "prices.csv",
        b"timestamp close\n2024-01-02 10\n2024-01-03 11\n",
        DataFormatError,
        "the header line has a single column 'timestamp close'",
    ),
    Case(
        "ragged_extra_field",
        "prices.csv",
        text(bar(2), bar(3), bar(4), bar(5) + ",extra", bar(6)),
        DataFormatError,
        "row on line 5 has 8 values but the header has 7 columns",
    ),
    Case(
        "ragged_missing_field",
        "prices.csv",
        closes("2024-01-02,AAA,10", "2024-01-03,AAA"),
        DataFormatError,
        "row on line 3 has 2 values but the header has 3 columns",
    ),
    Case(
        "latin1_symbol",
        "prices.csv",
        text(bar(2), bar(3)) + "2024-01-04,CAF\xe9,10,11,9,10.4,100\n".encode("latin-1"),
        DataReadError,
        "not UTF-8 text (byte 0xe9 at offset 122, line 4)",
    ),
    Case(
        "nul_bytes",
        "prices.csv",
        b"timestamp,close\n\x00\x01\x02\xff\xfe\x00garbage\x00\n",
        DataReadError,
        "binary file (NUL bytes)",
    ),
    Case("utf16", "prices.csv", GOOD.decode().encode("utf-16"), DataReadError, "UTF-16 text"),
    Case(
        "no_timestamp_column",
        "prices.csv",
        b"symbol,close\nAAA,10\nAAA,11\n",
        DataFormatError,
        "no timestamp column; columns are ['symbol', 'close']",
    ),
    Case(
        "repeated_column_names",
        "prices.csv",
        text("2024-01-02,AAA,10,10", header="timestamp,symbol,close,Close"),
        DataFormatError,
        "columns 'close' and 'Close' both mean 'close'",
    ),
    Case(
        "parquet_that_is_text",
        "prices.parquet",
        GOOD,
        DataReadError,
        "not a readable Parquet file",
    ),
    Case("gzip_that_is_not_gzip", "prices.csv.gz", GOOD, DataReadError, "not a valid gzip file"),
    Case(
        "truncated_gzip",
        "prices.csv.gz",
        gzip.compress(GOOD)[:-12],
        DataReadError,
        "not a valid gzip file",
    ),
    Case("directory", "prices.csv", Path.mkdir, DataReadError, "is a directory"),
    Case("nonexistent", "missing.csv", None, DataReadError, "no such file"),
    Case(
        "timestamp_column_only",
        "prices.csv",
        b"timestamp\n2024-01-02\n2024-01-03\n",
        DataFormatError,
        "the header line has a single column 'timestamp'",
    ),
    Case(
        "no_value_columns",
        "prices.csv",
        b"timestamp,symbol\n2024-01-02,AAA\n",
        DataFormatError,
        "no value columns",
    ),
    Case(
        "empty_column_name",
        "prices.csv",
        b"timestamp,close,\n2024-01-02,10,\n",
        DataFormatError,
        "empty column names at positions [3]",
    ),
    Case(
        "no_header",
        "prices.csv",
        b"2024-01-02,10,11\n2024-01-03,10,11\n",
        DataFormatError,
        "looks like data, not a header",
    ),
    Case(
        "semicolon_header_comma_rows",
        "prices.csv",
        b"timestamp;symbol;close\n2024-01-02,AAA,10\n",
        DataFormatError,
        "row on line 2 has 1 values but the header has 3 columns",
    ),
    Case(
        "unbalanced_quote",
        "prices.csv",
        b'timestamp,close\n2024-01-02,10\n"2024-01-03,11\n',
        DataFormatError,
        "row on line 3 has 1 values",
    ),
    Case(
        "blank_but_not_empty_line",
        "prices.csv",
        closes("2024-01-02,AAA,10", "   ", "2024-01-03,AAA,11"),
        DataFormatError,
        "row on line 3 has 1 values",
    ),
    Case(
        "parquet_nested_column",
        "prices.parquet",
        _parquet(
            pa.table(
                {
                    "timestamp": pa.array([1, 2], pa.timestamp("s")),
                    "close": pa.array([[1.0], [2.0]], pa.list_(pa.float64())),
                }
            )
        ),
        DataFormatError,
        "column 'close' holds nested values",
    ),
    Case(
        "parquet_binary_column",
        "prices.parquet",
        _parquet(
            pa.table(
                {
                    "timestamp": pa.array([1, 2], pa.timestamp("s")),
                    "close": pa.array([b"1", b"\xff"], pa.binary()),
                }
            )
        ),
        DataFormatError,
        "column 'close' holds bytes that are not UTF-8 text",
    ),
    Case(
        "parquet_without_rows",
        "prices.parquet",
        _parquet(pa.table({"timestamp": pa.array([], pa.timestamp("s")), "close": []})),
        DataReadError,
        "the Parquet file has a schema but no rows",
    ),
    Case(
        "time_of_day_without_date",
        "prices.csv",
        b"time,close\n09:30:00,10\n09:31:00,10.1\n",
        DataFormatError,
        "column 'time' holds times of day without a date",
    ),
    Case(
        "wide_without_values",
        "prices.csv",
        b"date,AAA,BBB\n2024-01-02,,\n2024-01-03,,\n",
        DataReadError,
        "no values",
    ),
]

QUALITY = [
    Case(
        "text_in_numeric_column",
        "prices.csv",
        text(bar(2), bar(3), bar(4, "abc"), bar(5), bar(6)),
        check="non_numeric",
        count=1,
        line=4,
        repairs={"non_numeric": 1},
    ),
    Case(
        "semicolons_with_decimal_commas",
        "prices.csv",
        # a third, well-formed price: with every price blanked by the repair the
        # import would be refused (no usable prices)
        b"timestamp;symbol;close\n2024-01-02;AAA;10,5\n2024-01-03;AAA;11,5\n2024-01-04;AAA;12\n",
        check="non_numeric",
        count=2,
        line=2,
        repairs={"non_numeric": 2},
    ),
    Case(
        "duplicate_rows",
        "prices.csv",
        text(bar(2), bar(3), bar(4), bar(4), bar(5)),
        check="duplicate_rows",
        count=1,
        line=5,
        repairs={"duplicate_rows": 1},
    ),
    Case(
        "duplicate_timestamps",
        "prices.csv",
        text(bar(2), bar(3), bar(4), bar(4, "10.9")),
        check="duplicate_timestamps",
        count=1,
        line=5,
    ),
    Case(
        "unsorted_rows",
        "prices.csv",
        text(bar(3), bar(2), bar(4)),
        check="unsorted_rows",
        count=1,
        line=3,
        repairs={"unsorted_rows": 1},
    ),
    Case(
        "mixed_time_zones",
        "prices.csv",
        closes(
            "2024-01-02T00:00:00+00:00,AAA,10.1",
            "2024-01-03T00:00:00+00:00,AAA,10.2",
            "2024-01-04T00:00:00,AAA,10.3",
        ),
        check="mixed_timezones",
        count=1,
        line=4,
        absent=("unparseable_timestamp",),
    ),
    Case(
        "mixed_time_zones_mostly_naive",
        "prices.csv",
        closes(
            "2024-01-02T00:00:00+00:00,AAA,10.1",
            "2024-01-03T00:00:00,AAA,10.2",
            "2024-01-04T00:00:00,AAA,10.3",
        ),
        check="mixed_timezones",
        count=1,
        line=2,
        absent=("unparseable_timestamp",),
    ),
    Case(
        "offsets_and_garbage",
        "prices.csv",
        closes(
            "2024-01-02T00:00:00+01:00,AAA,10.1",
            "garbage,AAA,10.2",
            "2024-01-04T00:00:00Z,AAA,10.3",
        ),
        check="unparseable_timestamp",
        count=1,
        line=3,
        absent=("mixed_timezones",),
    ),
    Case(
        "unparseable_timestamp",
        "prices.csv",
        closes("2024-01-02,AAA,10.1", "2024-01-03,AAA,10.2", "not-a-date,AAA,10.3"),
        check="unparseable_timestamp",
        count=1,
        line=4,
    ),
    Case(
        "timestamp_beyond_2262",
        "prices.csv",
        closes("2024-01-02,AAA,10.1", "2500-01-03,AAA,10.2"),
        check="unparseable_timestamp",
        count=1,
        line=3,
    ),
    Case(
        "parquet_timestamp_beyond_2262",
        "prices.parquet",
        _parquet(
            pa.table(
                {
                    "timestamp": pa.array([1_704_153_600, 32_503_680_000], pa.timestamp("s")),
                    "close": [10.1, 10.2],
                }
            )
        ),
        check="unparseable_timestamp",
        count=1,
        line=3,
    ),
    Case(
        "huge_price",
        "prices.csv",
        text(bar(2), bar(3), bar(4, "1e300")),
        check="implausible_value",
        count=1,
        line=4,
        repairs={"implausible_value": 1},
    ),
    Case(
        "infinite_price",
        "prices.csv",
        text(bar(2), bar(3), bar(4, "inf")),
        check="non_finite",
        count=1,
        line=4,
        repairs={"non_finite": 1},
    ),
    Case(
        "negative_price",
        "prices.csv",
        closes("2024-01-02,AAA,10.1", "2024-01-03,AAA,-10.2", "2024-01-04,AAA,10.3"),
        check="non_positive_price",
        count=1,
        line=3,
        repairs={"non_positive_price": 1},
    ),
    Case(
        "zero_price",
        "prices.csv",
        closes("2024-01-02,AAA,10.1", "2024-01-03,AAA,10.2", "2024-01-04,AAA,0"),
        check="non_positive_price",
        count=1,
        line=4,
        repairs={"non_positive_price": 1},
    ),
    Case(
        "high_below_low",
        "prices.csv",
        text(bar(2), bar(3), bar(4, high="9", low="11")),
        check="high_below_low",
        count=1,
        line=4,
        repairs={"high_below_low": 2},
    ),
    Case(
        "close_outside_range",
        "prices.csv",
        text(bar(2), bar(3), bar(4, "12")),
        check="open_close_outside_range",
        count=1,
        line=4,
        repairs={"open_close_outside_range": 1},
    ),
    Case(
        "negative_volume",
        "prices.csv",
        text(bar(2), bar(3), bar(4, volume="-100")),
        check="negative_volume",
        count=1,
        line=4,
        repairs={"negative_volume": 1},
    ),
    Case(
        "empty_symbol",
        "prices.csv",
        closes("2024-01-02,AAA,10.1", "2024-01-03,AAA,10.2", "2024-01-04,,10.3"),
        check="missing_asset",
        count=1,
        line=4,
    ),
    Case(
        "wide_with_text_cells",
        "prices.csv",
        b"date,AAA,BBB\n2024-01-02,10.1,20.1\n2024-01-03,n/a?,20.2\n2024-01-04,10.3,20.3\n",
        check="non_numeric",
        count=1,
        line=3,
        repairs={"non_numeric": 1},
    ),
    Case(
        "blank_line_inside",
        "prices.csv",
        closes("2024-01-02,AAA,10.1", "", "2024-01-03,AAA,abc", "2024-01-04,AAA,10.3"),
        check="non_numeric",
        count=1,
        line=4,
        repairs={"non_numeric": 1},
    ),
    Case(
        "crlf_with_blank_line_inside",
        "prices.csv",
        b"timestamp,symbol,close\r\n2024-01-02,AAA,10.1\r\n\r\n2024-01-03,AAA,abc\r\n",
        check="non_numeric",
        count=1,
        line=4,
        repairs={"non_numeric": 1},
    ),
    Case(
        "blank_lines_before_header",
        "prices.csv",
        b"\n\n" + closes("2024-01-02,AAA,10.1", "2024-01-03,AAA,abc"),
        check="non_numeric",
        count=1,
        line=5,
        repairs={"non_numeric": 1},
    ),
]

CLEAN = [
    Case("control", "prices.csv", GOOD),
    Case("semicolon_delimited", "prices.csv", GOOD.replace(b",", b";")),
]

MALFORMED = UNREADABLE + QUALITY
BY_ID = {c.id: c for c in MALFORMED + CLEAN}
REPAIRABLE = [c for c in QUALITY if c.repairs is not None]
UNREPAIRABLE = [c for c in QUALITY if c.repairs is None]


def ids(case: Case) -> str:
    return case.id


def test_the_corpus_is_large_and_distinct() -> None:
    assert len(MALFORMED) >= 25
    assert len({c.id for c in MALFORMED + CLEAN}) == len(MALFORMED + CLEAN)


# ------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ws_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def ws(ws_dir: Path) -> Iterator[Workspace]:
    """One workspace per module: registering the bundled datasets takes a while."""
    with Workspace(ws_dir) as workspace:
        workspace.data.list()
        yield workspace


def snapshot(ws: Workspace) -> tuple[list[tuple[str, int, str]], dict[str, tuple[int, int]]]:
    """Datasets (name, version, content hash) and every path under the data directory."""
    datasets = sorted((i.name, i.version, i.content_hash) for i in ws.data.list())
    files = {
        str(p.relative_to(ws.data_dir)): (
            p.stat().st_size if p.is_file() else -1,
            p.stat().st_mtime_ns,
        )
        for p in ws.data_dir.rglob("*")
    }
    return datasets, files


def flat(output: str) -> str:
    """Terminal output without colour codes, with runs of whitespace (wrapping) as one space."""
    return " ".join(ANSI.sub("", output).split())


def assert_one_error_line(err: str, *fragments: str) -> None:
    """stderr is one ``error:`` line holding every fragment, plus at most a hint line."""
    lines = ANSI.sub("", err).splitlines()
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)
    if len(lines) == 2:
        assert lines[1].startswith("  hint: "), err


# ------------------------------------------------------------------------ API
@pytest.mark.parametrize("case", UNREADABLE, ids=ids)
def test_check_file_raises_a_typed_error(ws: Workspace, tmp_path: Path, case: Case) -> None:
    path = case.write(tmp_path)
    assert case.error is not None
    with pytest.raises(case.error) as info:
        ws.data.check_file(path)
    assert type(info.value) is case.error
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert case.says in message
    assert "\n" not in info.value.message


@pytest.mark.parametrize("case", QUALITY, ids=ids)
def test_check_file_reports_the_problem(ws: Workspace, tmp_path: Path, case: Case) -> None:
    path = case.write(tmp_path)
    report, data = ws.data.check_file(path)
    assert case.check is not None
    issue = report.issue(case.check)
    assert issue is not None, [i.check for i in report.issues]
    assert issue.severity == "error"
    assert issue.count == case.count
    assert issue.locations[0]["line"] == case.line
    for check in case.absent:
        assert report.issue(check) is None, report.issue(check)
    assert report.source == str(path)
    assert not report.clean
    assert (issue.repair is not None) == (case.repairs is not None)
    if report.layout == "long":
        assert len(data) == report.rows


@pytest.mark.parametrize("case", CLEAN, ids=ids)
def test_clean_files_give_a_clean_report(ws: Workspace, tmp_path: Path, case: Case) -> None:
    report, data = ws.data.check_file(case.write(tmp_path))
    assert report.clean, [i.check for i in report.issues]
    assert report.rows == len(data) == 6
    np.testing.assert_allclose(data.fields["close"], [10.2, 10.3, 10.4, 10.5, 10.6, 10.7])


def test_semicolons_are_detected_and_said(ws: Workspace, tmp_path: Path) -> None:
    path = BY_ID["semicolon_delimited"].write(tmp_path)
    report, data = ws.data.check_file(path)
    assert "delimiter ';' detected" in report.notes
    assert report.layout == "long"
    assert data.assets == ("AAA",)
    assert sorted(data.fields) == ["close", "high", "low", "open", "volume"]


# ------------------------------------------------------------------------ CLI
@pytest.mark.parametrize("case", UNREADABLE + QUALITY + CLEAN, ids=ids)
def test_cli_check_exit_code_and_message(
    ws: Workspace, ws_dir: Path, tmp_path: Path, case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case.write(tmp_path)
    code = main(["--workspace", str(ws_dir), "data", "check", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if case.error is not None:
        assert code == 2
        assert out == ""
        assert_one_error_line(err, str(path), case.says)
    elif case.check is not None:
        assert code == 1
        assert err == ""
        text_out = flat(out)
        assert text_out.startswith(f"{path}: "), text_out
        assert "error(s)" in text_out
        issues = re.split(r" - (?=(?:error|warning): )", text_out)[1:]
        mine = [i for i in issues if i.startswith(f"error: {case.check}: ")]
        assert len(mine) == 1, issues
        assert f"at line {case.line}" in mine[0]  # where: the first location of the issue
    else:
        assert code == 0
        assert err == ""
        assert f"{path}: 6 rows (long): clean" in flat(out)


def test_cli_check_says_which_delimiter_it_used(
    ws: Workspace, ws_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = BY_ID["semicolon_delimited"].write(tmp_path)
    assert main(["--workspace", str(ws_dir), "data", "check", str(path)]) == 0
    assert "note: delimiter ';' detected" in flat(capsys.readouterr().out)


@pytest.mark.parametrize("case", MALFORMED, ids=ids)
def test_cli_import_is_refused_in_one_line(
    ws: Workspace, ws_dir: Path, tmp_path: Path, case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case.write(tmp_path)
    before = snapshot(ws)
    name = f"bad-cli-{case.id}"
    code = main(["--workspace", str(ws_dir), "data", "import", str(path), "--name", name])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if case.error is not None:
        assert code == 2
        assert_one_error_line(err, str(path), case.says)
    else:
        assert code == 1
        assert_one_error_line(err, f"import of {path} refused", str(case.check))
        assert f"error: {case.check}: " in flat(out)
    assert snapshot(ws) == before
    with pytest.raises(DatasetNotFoundError):
        ws.data.info(name)


# --------------------------------------------------------------------- import
@pytest.mark.parametrize("case", MALFORMED, ids=ids)
def test_refused_import_leaves_the_store_unchanged(
    ws: Workspace, tmp_path: Path, case: Case
) -> None:
    path = case.write(tmp_path)
    name = f"bad-{case.id}"  # one name per case: a wrongly accepted file cannot mask another
    before = snapshot(ws)
    with pytest.raises(case.error or DataQualityError) as info:
        ws.data.import_file(path, name)
    if case.check is not None:
        report: Any = info.value.report  # type: ignore[attr-defined]
        issue = report.issue(case.check)
        assert issue is not None
        assert issue.count == case.count
        assert str(info.value).startswith(f"import of {path} refused")
        assert case.check in str(info.value)
        assert ws.data.imports(name)[0]["status"] == "refused"
    else:
        assert case.says in str(info.value)
    assert snapshot(ws) == before
    with pytest.raises(DatasetNotFoundError):
        ws.data.info(name)


@pytest.mark.parametrize("case", UNREPAIRABLE, ids=ids)
def test_unrepairable_problems_are_refused_even_with_repair(
    ws: Workspace, tmp_path: Path, case: Case
) -> None:
    path = case.write(tmp_path)
    name = f"bad-repair-{case.id}"
    before = snapshot(ws)
    with pytest.raises(DataQualityError) as info:
        ws.data.import_file(path, name, repair=True)
    assert info.value.hint is not None
    assert "no automatic repair" in info.value.hint
    assert str(case.check) in info.value.hint
    assert snapshot(ws) == before
    with pytest.raises(DatasetNotFoundError):
        ws.data.info(name)


@pytest.mark.parametrize("case", REPAIRABLE, ids=ids)
def test_repair_imports_and_counts_every_change(ws: Workspace, tmp_path: Path, case: Case) -> None:
    path = case.write(tmp_path)
    _, parsed = ws.data.check_file(path)
    name = f"repaired-{case.id}-{uuid.uuid4().hex[:8]}"
    result = ws.data.import_file(path, name, repair=True)
    assert result.status == "repaired"
    counts = {r.check: r.count for r in result.repairs}
    assert counts == case.repairs
    assert result.final_report is not None
    assert result.final_report.errors == ()
    # rows are only ever removed as duplicates, and each removal is counted
    removed = counts.get("duplicate_rows", 0)
    assert result.dataset.rows + removed == len(parsed)
    if result.report.layout == "long":
        assert len(parsed) == result.report.rows
        record = ws.data.imports(name)[0]
        assert record["rows_out"] + removed == record["rows_in"]
    # the repaired cells are missing now, and nothing else is
    blanked = sum(
        n for check, n in counts.items() if check not in ("duplicate_rows", "unsorted_rows")
    )
    missing = result.final_report.issue("missing_values")
    assert (missing.count if missing is not None else 0) == blanked
    assert ws.data.info(name).version == 1


def test_semicolon_file_imports_with_its_values(ws: Workspace, tmp_path: Path) -> None:
    path = BY_ID["semicolon_delimited"].write(tmp_path)
    name = f"semicolons-{uuid.uuid4().hex[:8]}"
    result = ws.data.import_file(path, name)
    assert result.status == "accepted"
    panel = ws.data.load(name)
    assert panel.assets == ("AAA",)
    np.testing.assert_allclose(panel["close"][:, 0], [10.2, 10.3, 10.4, 10.5, 10.6, 10.7])
    np.testing.assert_allclose(panel["volume"][:, 0], 100.0)


# ------------------------------------------------------------- other inputs
@pytest.mark.parametrize("zone", ["Mars/Phobos", ""])
def test_unknown_time_zone_is_a_config_error(
    ws: Workspace, ws_dir: Path, tmp_path: Path, zone: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = BY_ID["control"].write(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(f"unknown time zone {zone!r}")):
        ws.data.check_file(path, timezone=zone)
    argv = ["--workspace", str(ws_dir), "data", "check", str(path), "--timezone", zone]
    assert main(argv) == 2  # a bad option value: bad input
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert_one_error_line(err, f"unknown time zone {zone!r}")


def test_multi_character_delimiter_is_refused(ws: Workspace, tmp_path: Path) -> None:
    path = BY_ID["control"].write(tmp_path)
    with pytest.raises(DataFormatError, match="not a single character"):
        ws.data.check_file(path, delimiter=";;")


# ----------------------------------------------------------------- subprocess
@pytest.mark.parametrize(
    ("case", "expected"),
    [(BY_ID["truncated_gzip"], 2), (BY_ID["text_in_numeric_column"], 1)],
    ids=["truncated_gzip", "text_in_numeric_column"],
)
def test_subprocess_prints_no_traceback(
    ws: Workspace, ws_dir: Path, tmp_path: Path, case: Case, expected: int
) -> None:
    path = case.write(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "alphaloop.cli",
            "--workspace",
            str(ws_dir),
            "data",
            "check",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == expected, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    if expected == 2:
        assert_one_error_line(proc.stderr, str(path), case.says)
    else:
        assert f"error: {case.check}: " in flat(proc.stdout)
