"""Several UTC offsets in one file: one zone's clock changes are fine, others are reported."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.offsets import zone_for_offsets


def write(path: Path, stamps: list[str], closes: list[float] | None = None) -> Path:
    closes = closes or [10.0 + i / 10 for i in range(len(stamps))]
    rows = [f"{s},AAA,{c}" for s, c in zip(stamps, closes, strict=True)]
    path.write_text("timestamp,symbol,close\n" + "\n".join(rows) + "\n")
    return path


def test_daily_bars_with_an_offset_of_another_clock(ws: Workspace, tmp_path: Path) -> None:
    stamps = [f"2024-01-{d:02d}T00:00:00+00:00" for d in range(2, 9)]
    stamps[3] = "2024-01-05T00:00:00+05:30"  # written on an Indian clock
    report, data = ws.data.check_file(write(tmp_path / "daily.csv", stamps))
    issue = report.issue("mixed_offsets")
    assert issue is not None
    assert issue.severity == "warning"
    assert issue.count == 1
    assert issue.locations == [
        {
            "line": 5,
            "value": "2024-01-05T00:00:00+05:30",
            "column": "timestamp",
            "offset": "+05:30",
            "usual_offset": "+00:00",
        }
    ]
    assert "+00:00 on 6 row(s) from line 2; +05:30 on 1 row(s) from line 5" in issue.message
    assert "moves 1 bar(s) to another calendar date" in issue.message
    assert "'2024-01-05T00:00:00+05:30' is 2024-01-04 18:30 UTC" in issue.message
    # the conversion itself is exact
    assert data.timestamps[3] == pd.Timestamp("2024-01-04 18:30", tz="UTC").value


def test_a_warning_does_not_refuse_the_import(ws: Workspace, tmp_path: Path) -> None:
    stamps = [f"2024-01-{d:02d}T00:00:00+00:00" for d in range(2, 9)]
    stamps[-1] = "2024-01-08T00:00:00+05:30"
    name = f"off-{uuid.uuid4().hex[:6]}"
    result = ws.data.import_file(write(tmp_path / "daily.csv", stamps), name)
    assert result.status == "accepted"
    assert any(c.startswith("mixed_offsets: ") for c in ws.data.info(name).caveats)


def test_offsets_changing_on_days_no_zone_changes_its_clocks(ws: Workspace, tmp_path: Path) -> None:
    days = pd.bdate_range("2024-01-02", periods=8)
    # -04:00 in January: New York's summer offset, but in winter
    stamps = [
        f"{d:%Y-%m-%d}T16:00:00{'-04:00' if i >= 5 else '-05:00'}" for i, d in enumerate(days)
    ]
    report, _ = ws.data.check_file(write(tmp_path / "odd.csv", stamps))
    issue = report.issue("mixed_offsets")
    assert issue is not None
    assert issue.count == 3
    assert "the offset changes 1 time(s): -05:00 to -04:00 at line 7 (2024-01-09)" in issue.message
    assert "calendar date" not in issue.message  # 16:00 in New York is the same UTC date


def test_clock_changes_of_one_zone_are_not_reported(ws: Workspace, tmp_path: Path) -> None:
    index = pd.date_range("2023-10-20 09:30", "2024-04-10 09:30", freq="B", tz="Europe/London")
    stamps = [t.isoformat() for t in index]
    report, data = ws.data.check_file(write(tmp_path / "london.csv", stamps))
    assert report.issue("mixed_offsets") is None
    assert any("+00:00, +01:00 follow the clock changes" in n for n in report.notes), report.notes
    np.testing.assert_array_equal(data.timestamps, index.tz_convert("UTC").as_unit("ns").asi8)


def test_one_instant_written_with_two_offsets(ws: Workspace, tmp_path: Path) -> None:
    stamps = ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]
    path = tmp_path / "two_assets.csv"
    path.write_text(
        "timestamp,symbol,close\n"
        f"{stamps[0]},AAA,1\n{stamps[1]},AAA,2\n"
        "2024-01-02T05:30:00+05:30,BBB,1\n2024-01-03T05:30:00+05:30,BBB,2\n"
    )
    report, data = ws.data.check_file(path)
    issue = report.issue("mixed_offsets")
    assert issue is not None  # same instants, two clocks: no zone writes both
    assert len(np.unique(data.timestamps)) == 2


def test_offsets_in_text_arrow_does_not_parse(ws: Workspace, tmp_path: Path) -> None:
    """Offsets without a colon next to one value pandas must read: the text route."""
    stamps = ["2024-01-02 00:00:00+0000", "2024-01-03 00:00:00+0000", "2024-01-04 00:00:00+0530"]
    report, _ = ws.data.check_file(write(tmp_path / "nocolon.csv", stamps))
    issue = report.issue("mixed_offsets")
    assert issue is not None
    assert issue.locations[0]["offset"] == "+0530"


def test_intraday_bars_say_nothing_of_dates(ws: Workspace, tmp_path: Path) -> None:
    stamps = [f"2024-01-02T{h:02d}:00:00+00:00" for h in range(9, 17)]
    stamps[2] = "2024-01-02T11:00:00+01:00"
    report, _ = ws.data.check_file(write(tmp_path / "intraday.csv", stamps))
    issue = report.issue("mixed_offsets")
    assert issue is not None
    assert "calendar date" not in issue.message


@pytest.mark.parametrize(
    ("zone", "start"),
    [("America/New_York", "2023-01-01"), ("Australia/Sydney", "2023-01-01"), ("UTC", "2024-01-01")],
)
def test_zone_for_offsets_finds_a_zone_with_those_clock_changes(zone: str, start: str) -> None:
    index = pd.date_range(start, periods=400, freq="D", tz=zone)
    ts = index.tz_convert("UTC").as_unit("ns").asi8
    minutes = np.array([t.utcoffset().total_seconds() // 60 for t in index], dtype=float)
    found = zone_for_offsets(ts, minutes)
    assert found is not None
    local = pd.DatetimeIndex(ts, tz="UTC").tz_convert(found)
    back = (local.tz_localize(None).as_unit("ns").asi8 - ts) // 60_000_000_000
    np.testing.assert_array_equal(back, minutes)
    shifted = minutes.copy()
    shifted[200] += 60  # one day off the zone's rules
    assert zone_for_offsets(ts, shifted) is None


def test_offsets_are_checked_when_arrow_converted_them(ws: Workspace, tmp_path: Path) -> None:
    """Two unnamed columns (a pandas index of two levels): Arrow parses the stamps itself."""
    path = tmp_path / "levels.csv"
    path.write_text(
        ",,close\n0,2024-01-02T00:00:00+00:00,1\n1,2024-01-03T00:00:00+00:00,2\n"
        "2,2024-01-04T00:00:00+05:30,3\n3,2024-01-05T00:00:00+00:00,4\n"
    )
    report, data = ws.data.check_file(path)
    issue = report.issue("mixed_offsets")
    assert issue is not None
    assert issue.locations[0]["line"] == 4
    assert issue.locations[0]["value"] == "2024-01-04T00:00:00+05:30"
    assert data.timestamps[2] == pd.Timestamp("2024-01-03 18:30", tz="UTC").value
