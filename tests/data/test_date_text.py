"""Text dates: day and month are never read two ways in one file, nor swapped silently."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.datetext import parse_datetime_text
from alphaloop.data.options import ReadOptions


def days(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s) for s in stamps]


def parse(*values: str | None) -> tuple[list[pd.Timestamp], object]:
    parsed, ambiguity = parse_datetime_text(pd.Series(list(values), dtype=object), utc=False)
    return list(parsed), ambiguity


def test_a_day_above_twelve_decides_for_the_whole_column() -> None:
    # pandas' per-value parsing would read the first two month first and the third day first
    parsed, ambiguity = parse("02.01.2024", "03.01.2024", "13.01.2024")
    assert parsed == days("2024-01-02", "2024-01-03", "2024-01-13")
    assert ambiguity is None
    parsed, ambiguity = parse("1/4/1999", "1/13/1999")
    assert parsed == days("1999-01-04", "1999-01-13")
    assert ambiguity is None


@pytest.mark.parametrize(
    ("values", "expected", "day_first", "other_format"),
    [
        (("01.02.2024", "01.03.2024"), ("2024-02-01", "2024-03-01"), True, "%m.%d.%Y"),
        (("1/4/1999", "1/5/1999"), ("1999-01-04", "1999-01-05"), False, "%d/%m/%Y"),
        (
            ("02-01-2024 09:30", "03-01-2024 09:30"),
            ("2024-02-01 09:30", "2024-03-01 09:30"),
            False,
            "%d-%m-%Y %H:%M",
        ),
    ],
)
def test_undecided_dates_follow_the_separator_and_are_reported(
    values: tuple[str, str], expected: tuple[str, str], day_first: bool, other_format: str
) -> None:
    parsed, ambiguity = parse(*values)
    assert parsed == days(*expected)
    assert ambiguity is not None
    assert ambiguity.day_first is day_first
    assert ambiguity.other_format == other_format
    assert list(ambiguity.rows) == [0, 1]


def test_text_that_cannot_be_swapped_is_read_as_written() -> None:
    assert parse("2024.01.02", "2024.01.03") == (days("2024-01-02", "2024-01-03"), None)
    assert parse("Jan 2 2024", "January 3 2024", None) == (
        [*days("2024-01-02", "2024-01-03"), pd.NaT],
        None,
    )
    parsed, _ = parse("02/01/2024", "2024-01-03")  # ISO values among them are read as such
    assert parsed[1] == pd.Timestamp("2024-01-03")


def test_the_warning_names_both_readings_and_the_format(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "monthly.csv"
    path.write_text("Date;symbol;close\n01.02.2024;A;1\n01.03.2024;A;2\n01.04.2024;A;3\n")
    report, data = ws.data.check_file(path)
    issue = report.issue("ambiguous_dates")
    assert issue is not None
    assert issue.severity == "warning"
    assert issue.count == 3
    assert issue.locations[0] == {
        "line": 2,
        "column": "Date",
        "value": "01.02.2024",
        "read_as": "2024-02-01",
        "otherwise": "2024-01-02",
    }
    assert "pass --time-format '%m.%d.%Y' if they are written month first" in issue.message
    assert data.timestamps[0] == pd.Timestamp("2024-02-01", tz="UTC").value
    told, _ = ws.data.check_file(path, options=ReadOptions(time_format="%d.%m.%Y"))
    assert told.issue("ambiguous_dates") is None
