"""Quality checks on hand-built rows, with counts and locations computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.long import NAT, LongData
from alphaloop.data.quality import CHECKS, apply_repairs, check_long


def rows(records: list[tuple], fields: tuple[str, ...] = ("close",)) -> LongData:
    """Build LongData from (date, asset, *values) tuples; line numbers start at 2."""
    assets = tuple(sorted({r[1] for r in records}))
    ts = np.array(
        [pd.Timestamp(r[0], tz="UTC").value if r[0] else NAT for r in records], dtype=np.int64
    )
    codes = np.array([assets.index(r[1]) for r in records], dtype=np.int32)
    values = {f: np.array([r[2 + k] for r in records], dtype=float) for k, f in enumerate(fields)}
    return LongData(ts, codes, assets, values, np.arange(len(records), dtype=np.int64) + 2)


def checks(data: LongData, **kw) -> dict:
    return {i.check: i for i in check_long(data, **kw)}


def daily(asset: str, prices: list[float], start: str = "2024-01-01") -> list[tuple]:
    dates = pd.bdate_range(start, periods=len(prices))
    return [(d, asset, p) for d, p in zip(dates, prices, strict=True)]


def test_clean_data_has_no_issues() -> None:
    data = rows(daily("A", [10, 10.5, 10.2, 10.8, 11]) + daily("B", [5, 5.1, 5.2, 5.0, 4.9]))
    assert check_long(data) == []


def test_every_check_is_registered_with_a_severity() -> None:
    for name, (severity, repair) in CHECKS.items():
        assert severity in ("error", "warning"), name
        if severity == "warning":
            assert repair is None, name


def test_unsorted_rows_point_at_the_line() -> None:
    recs = daily("A", [1, 2, 3, 4])
    recs[1], recs[2] = recs[2], recs[1]
    issue = checks(rows(recs))["unsorted_rows"]
    assert issue.count == 1
    assert issue.locations[0]["line"] == 4
    assert issue.severity == "error"
    assert issue.repair


def test_rows_sorted_by_date_then_asset_are_not_unsorted() -> None:
    a, b = daily("A", [1, 2, 3]), daily("B", [4, 5, 6])
    interleaved = [r for pair in zip(a, b, strict=True) for r in pair]
    assert "unsorted_rows" not in checks(rows(interleaved))


def test_exact_and_conflicting_duplicates_are_told_apart() -> None:
    recs = daily("A", [1, 2, 3, 4])
    recs.insert(2, recs[1])  # exact copy of line 3 at line 4
    recs.append((recs[-1][0], "A", 99.0))  # same timestamp as the last row, other value
    found = checks(rows(recs))
    assert found["duplicate_rows"].count == 1
    assert found["duplicate_rows"].locations[0]["line"] == 4
    assert found["duplicate_timestamps"].count == 1
    assert found["duplicate_timestamps"].repair is None


def test_price_checks() -> None:
    recs = daily("A", [10, -1, 0, 1e300, np.inf, 12])
    found = checks(rows(recs))
    assert found["non_positive_price"].count == 2
    assert [loc["line"] for loc in found["non_positive_price"].locations] == [3, 4]
    assert found["implausible_value"].count == 1
    assert found["implausible_value"].locations[0]["value"] == 1e300
    assert found["non_finite"].count == 1


def test_ohlc_consistency() -> None:
    recs = [
        ("2024-01-01", "A", 10, 11, 9, 10.5, 100),
        ("2024-01-02", "A", 10, 9, 11, 10.0, 100),  # high < low
        ("2024-01-03", "A", 12, 11, 9, 10.0, 100),  # open above high
        ("2024-01-04", "A", 10, 11, 9, 8.0, 0),  # close below low, zero volume
        ("2024-01-05", "A", 10, 11, 9, 10.0, -5),  # negative volume
    ]
    found = checks(rows(recs, ("open", "high", "low", "close", "volume")))
    assert found["high_below_low"].count == 1
    assert found["high_below_low"].locations[0]["line"] == 3
    # row 3 (high<low) also has open/close outside the inverted range
    assert found["open_close_outside_range"].count == 3
    assert found["zero_volume"].count == 1
    assert found["zero_volume"].severity == "warning"
    assert found["negative_volume"].count == 1


def test_stale_runs_count_bars_not_steps() -> None:
    prices = [1, 2, 3, 3, 3, 3, 3, 4, 5, 5, 5, 5, 6]
    found = checks(rows(daily("A", prices)), stale_min_run=5)
    stale = found["stale_prices"]
    assert stale.count == 1  # one run of five 3s; the four 5s are too short
    assert stale.locations[0]["bars"] == 5
    assert stale.locations[0]["line"] == 4
    assert checks(rows(daily("A", prices)), stale_min_run=4)["stale_prices"].count == 2


def test_stale_runs_do_not_cross_assets() -> None:
    data = rows(daily("A", [1, 2, 3, 7, 7]) + daily("B", [7, 7, 7, 8, 9]))
    assert "stale_prices" not in checks(data, stale_min_run=5)


def test_split_like_jumps() -> None:
    found = checks(rows(daily("A", [100, 101, 50.4, 51, 49, 150.2, 151])))
    jump = found["split_like_jump"]
    assert jump.count == 2
    assert jump.locations[0]["ratio"] == pytest.approx(50.4 / 101, abs=1e-4)
    assert "split_like_jump" not in checks(rows(daily("A", [100, 140, 95, 60])))


def test_missing_values_are_a_warning_with_counts() -> None:
    found = checks(rows(daily("A", [1, np.nan, 3, np.nan])))
    assert found["missing_values"].count == 2
    assert found["missing_values"].severity == "warning"


def test_calendar_gaps_inside_an_asset_span() -> None:
    a = daily("A", [1, 2, 3, 4, 5, 6])
    b = daily("B", [1, 2, 3, 4, 5, 6])
    del b[2:4]  # B misses two calendar days inside its span
    gaps = checks(rows(a + b))["calendar_gaps"]
    assert gaps.count == 2
    assert gaps.locations[0]["asset"] == "B"
    assert gaps.locations[0]["timestamp"].startswith("2024-01-03")


def test_late_listing_is_not_a_gap() -> None:
    a = daily("A", [1, 2, 3, 4, 5, 6])
    b = daily("B", [1, 2, 3], start="2024-01-04")
    assert "calendar_gaps" not in checks(rows(a + b))


def test_long_step_in_a_daily_calendar() -> None:
    recs = daily("A", [1, 2, 3]) + daily("A", [4, 5, 6], start="2024-01-15")
    gaps = checks(rows(recs))["calendar_gaps"]
    assert gaps.count == 1
    assert gaps.locations[0]["days"] == pytest.approx(12.0)


def test_repairs_blank_bad_values_and_keep_every_row() -> None:
    recs = [
        ("2024-01-02", "A", 10, 11, 9, 10.5, 100),
        ("2024-01-01", "A", 10, 9, 11, 10.0, 100),
        ("2024-01-03", "A", 12, 11, 9, -10.0, -5),
        ("2024-01-03", "A", 12, 11, 9, -10.0, -5),
    ]
    data = rows(recs, ("open", "high", "low", "close", "volume"))
    issues = check_long(data)
    fixed, repairs = apply_repairs(data, issues)
    done = {r.check: r.count for r in repairs}
    assert done["unsorted_rows"] == 1
    assert done["duplicate_rows"] == 1
    assert done["high_below_low"] == 2  # high and low of one row
    assert done["non_positive_price"] == 1
    assert done["negative_volume"] == 1
    assert len(fixed) == len(data) - done["duplicate_rows"]
    assert fixed.is_sorted()
    assert not [i for i in check_long(fixed) if i.severity == "error"]
    assert np.isnan(fixed.fields["high"][0])
    assert np.isnan(fixed.fields["low"][0])
    assert fixed.fields["close"][1] == 10.5  # untouched values stay as they were


def test_unparseable_timestamps_are_skipped_by_row_checks() -> None:
    recs = [*daily("A", [10, 11, 12]), (None, "A", 13.0)]
    assert check_long(rows(recs)) == []
