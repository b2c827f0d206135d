"""The import's fast paths against plain reference implementations of the same rule.

Each reference below is the straightforward version of a step (as the
importer first did it); the fast version must give exactly the same result,
on inputs drawn to hit the edges the fast version treats specially.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.app import Workspace
from alphaloop.data import long, quality
from alphaloop.data.csvtext import CsvText as _CsvText
from alphaloop.data.csvtext import count_newlines as _count_newlines
from alphaloop.data.long import NAT, LongData, sort_rows
from alphaloop.data.normalize import _asset_codes, _float64
from alphaloop.data.quality import (
    SPLIT_RATIOS,
    SPLIT_TOLERANCE,
    check_long,
    check_rows,
)
from alphaloop.data.readers import RawTable, _row_lines
from alphaloop.data.timestamps import _utc_timestamps
from alphaloop.data.timestamps import utc_ns as _as_utc_ns
from alphaloop.errors import DataFormatError, DataReadError

FAST = settings(max_examples=60, deadline=None)


# ------------------------------------------------------------------ sorting
@st.composite
def long_rows(draw: st.DrawFn, *, unique: bool = False) -> LongData:
    """Rows of a few assets in one of several orders, with repeated timestamps unless unique."""
    n_assets = draw(st.integers(1, 6))
    n = draw(st.integers(0, 60))
    codes = np.array(draw(st.lists(st.integers(0, n_assets - 1), min_size=n, max_size=n)))
    days = np.array(draw(st.lists(st.integers(0, 15), min_size=n, max_size=n)))
    if unique and n:
        key = np.unique(codes.astype(np.int64) * 100 + days)
        codes, days = (key // 100), key % 100
        n = len(key)
    order = draw(st.sampled_from(["file", "time", "asset", "reversed"]))
    if order == "time":
        perm = np.argsort(days, kind="stable")
    elif order == "asset":
        perm = np.lexsort((days, codes))
    elif order == "reversed":
        perm = np.lexsort((days, codes))[::-1]
    else:
        perm = np.arange(n)
    codes, days = codes[perm], days[perm]
    gaps = draw(st.booleans())  # blank lines in the file: lines are not consecutive
    first_line = draw(st.integers(2, 9))  # blank lines before the header move it
    lines = np.arange(n, dtype=np.int64) * (3 if gaps else 1) + first_line
    values = np.array(draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n)), dtype=float)
    member = draw(st.one_of(st.none(), st.just(days % 2 == 0)))
    return LongData(
        (days * 86_400 * 10**9).astype(np.int64),
        codes.astype(np.int32),
        tuple(f"A{j}" for j in range(n_assets)),
        {"close": values, "volume": values * 2},
        lines,
        member,
    )


def reference_backward(data: LongData) -> np.ndarray:
    codes, ts = data.asset_codes, data.timestamps
    if len(codes) < 2:
        return np.zeros(0, dtype=np.intp)
    order = np.argsort(codes, kind="stable")
    same = codes[order][1:] == codes[order][:-1]
    back = same & (ts[order][1:] < ts[order][:-1])
    return order[1:][back]


@FAST
@given(data=long_rows())
def test_sort_matches_lexsort_and_finds_the_same_backward_rows(data: LongData) -> None:
    expected = np.lexsort((data.timestamps, data.asset_codes))
    np.testing.assert_array_equal(data.sort_order(), expected)
    s, backward = sort_rows(data)
    np.testing.assert_array_equal(backward, reference_backward(data))
    np.testing.assert_array_equal(s.timestamps, data.timestamps[expected])
    np.testing.assert_array_equal(s.asset_codes, data.asset_codes[expected])
    np.testing.assert_array_equal(s.lines, data.lines[expected])
    np.testing.assert_array_equal(s.fields["close"], data.fields["close"][expected])
    if data.member is not None:
        assert s.member is not None
        np.testing.assert_array_equal(s.member, data.member[expected])
    assert (s is data) == bool(np.array_equal(expected, np.arange(len(data))))


def test_sort_of_many_assets_does_not_use_16_bit_codes() -> None:
    n_assets = 70_000  # more than a 16-bit radix key can hold
    rng = np.random.default_rng(0)
    codes = rng.integers(0, n_assets, 5_000).astype(np.int32)
    ts = rng.integers(0, 50, 5_000).astype(np.int64)
    data = LongData(ts, codes, tuple(map(str, range(n_assets))), {}, np.arange(5_000) + 2)
    np.testing.assert_array_equal(data.sort_order(), np.lexsort((ts, codes)))


@pytest.mark.parametrize("parallel_rows", [1, 1 << 20])
def test_sorted_rows_gathered_on_threads_are_the_same(
    monkeypatch: pytest.MonkeyPatch, parallel_rows: int
) -> None:
    monkeypatch.setattr(long, "_PARALLEL_ROWS", parallel_rows)
    rng = np.random.default_rng(1)
    n = 2_000
    codes = rng.integers(0, 30, n).astype(np.int32)
    ts = rng.integers(0, 400, n).astype(np.int64) * 10**9
    fields = {f: rng.normal(size=n) for f in ("open", "close", "volume")}
    data = LongData(ts, codes, tuple(map(str, range(30))), fields, np.arange(n) * 2 + 5, ts > 0)
    expected = data.take(np.lexsort((ts, codes)))
    s = data.sorted()
    for name in ("timestamps", "asset_codes", "lines", "member"):
        np.testing.assert_array_equal(getattr(s, name), getattr(expected, name))
    for f in fields:
        np.testing.assert_array_equal(s.fields[f], expected.fields[f])


def test_take_of_every_row_in_order_is_the_same_object() -> None:
    data = LongData(
        np.array([3, 1, 2], dtype=np.int64),
        np.zeros(3, dtype=np.int32),
        ("A",),
        {"close": np.array([1.0, 2.0, 3.0])},
        np.array([2, 3, 4]),
    )
    assert data.take(np.arange(3)) is data
    assert data.take(np.ones(3, dtype=bool)) is data
    swapped = data.take(np.array([0, 2, 1]))
    assert swapped is not data
    np.testing.assert_array_equal(swapped.timestamps, [3, 2, 1])
    np.testing.assert_array_equal(swapped.lines, [2, 4, 3])
    np.testing.assert_array_equal(data.take(np.array([True, False, True])).fields["close"], [1, 3])
    np.testing.assert_array_equal(data.take(np.array([0, 1])).timestamps, [3, 1])


@FAST
@given(data=long_rows(unique=True))
def test_content_hash_without_a_panel_is_the_panels(data: LongData) -> None:
    if not len(data):
        return
    assert data.content_hash() == data.to_panel().content_hash()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # extreme ratios
@FAST
@given(data=long_rows())
def test_check_rows_returns_the_sorted_rows_and_the_same_issues(data: LongData) -> None:
    issues, s = check_rows(data)
    assert issues == check_long(data)
    order = np.lexsort((data.timestamps, data.asset_codes))
    np.testing.assert_array_equal(s.timestamps, data.timestamps[order])
    np.testing.assert_array_equal(s.asset_codes, data.asset_codes[order])
    np.testing.assert_array_equal(s.lines, data.lines[order])


# --------------------------------------------------------------- the checks
def reference_jumps(p: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows (of sorted data) whose ratio to the previous price is near a split ratio."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = p[1:] / p[:-1]
    hit = np.zeros(len(ratio), dtype=bool)
    for r in SPLIT_RATIOS:
        for target in (r, 1.0 / r):
            hit |= np.abs(ratio / target - 1.0) < SPLIT_TOLERANCE
    hit &= codes[1:] == codes[:-1]
    return np.flatnonzero(hit) + 1


@pytest.mark.parametrize("block", [1, 2, 5, 1 << 20])
def test_split_like_jumps_near_the_tolerance_edges_match_the_reference(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(quality, "_BLOCK_ROWS", block)  # ratios are computed in blocks
    # ratios just inside and just outside the tolerance of every split ratio
    eps = np.array([-2e-16, -1e-12, 0.0, 1e-12, 2e-16])
    ratios = [1.0, 0.0, -2.0, np.inf, np.nan, 1.94, 0.515]
    for r in SPLIT_RATIOS:
        for target in (r, 1.0 / r):
            for edge in (1 - SPLIT_TOLERANCE, 1 + SPLIT_TOLERANCE):
                ratios.extend(target * edge * (1 + eps))
    # one asset per ratio: a price of 1, then the ratio (the boundary between
    # assets is no jump, whatever the two prices)
    k = len(ratios)
    prices = np.column_stack((np.ones(k), ratios)).ravel()
    n = len(prices)
    data = LongData(
        np.tile([0, 86_400 * 10**9], k).astype(np.int64),
        np.repeat(np.arange(k), 2).astype(np.int32),
        tuple(f"A{j:03d}" for j in range(k)),
        {"close": prices},
        np.arange(n, dtype=np.int64) + 2,
    )
    expected = reference_jumps(prices, data.asset_codes)
    issue = next((i for i in check_long(data) if i.check == "split_like_jump"), None)
    assert issue is not None
    assert issue.count == len(expected)
    assert [loc["line"] for loc in issue.locations] == [int(r) + 2 for r in expected[:5]]
    # the same ratios one after another in one asset's prices
    steps = np.array([r for r in ratios if np.isfinite(r) and r > 0])
    series = np.cumprod(np.concatenate(([1.0], steps)))
    one = LongData(
        np.arange(len(series), dtype=np.int64) * 86_400 * 10**9,
        np.zeros(len(series), dtype=np.int32),
        ("A",),
        {"close": series},
        np.arange(len(series), dtype=np.int64) + 2,
    )
    expected = reference_jumps(series, one.asset_codes)
    issue = next((i for i in check_long(one) if i.check == "split_like_jump"), None)
    assert issue is not None
    assert issue.count == len(expected)


@pytest.mark.parametrize("block", [1, 3, 1 << 20])
def test_time_positions_in_blocks(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(long, "_BLOCK_ROWS", block)
    ts = np.array([5, 3, 3, 9, 1, 5, 9], dtype=np.int64)
    data = LongData(ts, np.zeros(7, dtype=np.int32), ("A",), {}, np.arange(7) + 2)
    np.testing.assert_array_equal(data.calendar, [1, 3, 5, 9])
    np.testing.assert_array_equal(data.time_positions, np.searchsorted([1, 3, 5, 9], ts))
    assert data.time_positions.dtype == np.int32


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # extreme ratios
@FAST
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([1e10, -1e10, 1e18, 1.0000001e18, -1e19, 0.0, -0.0]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_value_checks_match_the_reference(values: list[float]) -> None:
    v = np.array(values, dtype=float)
    n = len(v)
    data = LongData(
        np.arange(n, dtype=np.int64) * 86_400 * 10**9,
        np.zeros(n, dtype=np.int32),
        ("A",),
        {"close": v, "volume": v, "other": v},
        np.arange(n, dtype=np.int64) + 2,
    )
    found = {i.check: i.count for i in check_long(data)}
    finite = np.isfinite(v)
    expected = {
        "non_finite": 3 * int(np.isinf(v).sum()),
        "implausible_value": int((finite & (np.abs(v) > 1e10)).sum())
        + int((finite & (np.abs(v) > 1e18)).sum()),
        "non_positive_price": int((v <= 0).sum()),
    }
    for check, count in expected.items():
        assert found.get(check, 0) == count, check


# ------------------------------------------------------------------ reading
def reference_row_lines(raw: bytes, header_line: int, n_rows: int) -> np.ndarray | None:
    if b"\n\n" not in raw and b"\n\r\n" not in raw:
        return None
    buf = np.frombuffer(raw, dtype=np.uint8)
    breaks = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], breaks + 1))
    lengths = np.concatenate((breaks, [len(buf)])) - starts
    is_cr = buf[np.minimum(starts, len(buf) - 1)] == ord("\r")
    blank = (lengths == 0) | ((lengths == 1) & is_cr)
    blank[0] = True
    lines = np.flatnonzero(~blank).astype(np.int64) + header_line
    return lines if len(lines) == n_rows else None


@FAST
@given(
    lines=st.lists(st.sampled_from(["x,1", "", "\r", "y,2\r", "  "]), max_size=12),
    end=st.sampled_from(["", "\n", "\n\n", "\r\n", "\n\r"]),
    prefix=st.sampled_from([b"", b"junk\n"]),
    n_delta=st.integers(-1, 1),
)
def test_row_lines_match_the_reference(
    lines: list[str], end: str, prefix: bytes, n_delta: int
) -> None:
    text = ("h,v\n" + "\n".join(lines) + end).encode()
    raw = prefix + text
    rows = sum(1 for line in text.split(b"\n")[1:] if line.strip(b"\r")) + n_delta
    got = _row_lines(_CsvText(Path("f.csv"), raw, True), len(prefix), 3, rows)
    expected = reference_row_lines(text, 3, rows)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("block", [1, 3, 4, 1 << 22])
def test_newline_count_over_blocks(block: int) -> None:
    raw = b"ab\n\ncd\r\n\nef\n" * 3
    for begin in (0, 1, 4, len(raw)):
        assert _count_newlines(raw, begin, block) == raw.count(b"\n", begin)


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "prices.csv"
    path.write_bytes(content)
    return path


def test_line_numbers_after_blank_lines_in_a_file_without_a_final_newline(
    shared_workspace: Workspace, tmp_path: Path
) -> None:
    # as many line breaks as rows: only the blank line tells they are not consecutive
    content = b"timestamp,symbol,close\n2024-01-02,A,1\n\n2024-01-03,A,-1"
    report, data = shared_workspace.data.check_file(write(tmp_path, content))
    issue = report.issue("non_positive_price")
    assert issue is not None
    assert issue.locations[0]["line"] == 4
    np.testing.assert_array_equal(data.lines, [2, 4])


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"timestamp,symbol,close\n2024-01-02,A,1\n2024-01-03,A,1\xff5\n", "offset 52, line 3"),
        (b"timestamp,sym\xe9bol,close\n2024-01-02,A,1\n", "offset 13, line 1"),
        (b"\xef\xbb\xbftimestamp,symbol,close\n2024-01-02,\xff,1\n", "offset 34, line 2"),
        # other problems of the file come after the encoding
        (b"timestamp,symbol,close\n2024-01-02,A,1,9\n2024-01-03,\xff,1\n", "line 3"),
        (b"timestamp,,close\n2024-01-02,A,1\n2024-01-03,\xff,1\n", "line 3"),
        (b"time,symbol,close\n09:30:00,A,1\n09:31:00,\xff,1\n", "line 3"),
    ],
)
def test_text_that_is_not_utf8_is_located(
    shared_workspace: Workspace, tmp_path: Path, content: bytes, where: str
) -> None:
    with pytest.raises(DataReadError, match="not UTF-8 text") as info:
        shared_workspace.data.check_file(write(tmp_path, content))
    assert where in str(info.value)


@pytest.mark.parametrize(
    ("content", "error", "says"),
    [
        (b"\xef\xbb\xbf", DataReadError, "the file is empty ("),
        (b"\xef\xbb\xbf \n\t", DataReadError, "only whitespace"),
        (b"\xef\xbb\xbf\n\ntimestamp,close\n  \n", DataReadError, "no data rows"),
        (b"\xef\xbb\xbftimestamp close\n1 2\n", DataFormatError, "single column"),
    ],
)
def test_files_with_a_byte_order_mark(
    shared_workspace: Workspace, tmp_path: Path, content: bytes, error: type, says: str
) -> None:
    with pytest.raises(error) as info:
        shared_workspace.data.check_file(write(tmp_path, content))
    if says.endswith("("):
        assert "only whitespace" not in str(info.value)
        says = says[:-2]
    assert says in str(info.value)


# -------------------------------------------------------------- normalizing
def raw_table(column: pa.ChunkedArray, name: str = "symbol") -> RawTable:
    return RawTable(pa.table({name: column}), "f.csv", "long", "timestamp", name, ["close"])


def reference_asset_codes(raw: RawTable, n: int) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    col = pc.utf8_trim_whitespace(raw.table.column(raw.asset_column))
    missing = np.asarray(pc.fill_null(pc.equal(col, ""), True).to_numpy(zero_copy_only=False))
    encoded = pc.dictionary_encode(col).combine_chunks()
    dictionary = [str(v) for v in encoded.dictionary.to_pylist()]
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    indices = np.where(np.isnan(indices.astype(float)), 0, indices) if missing.any() else indices
    order = np.argsort(np.asarray(dictionary, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    codes = rank[indices.astype(np.int64)] if dictionary else np.zeros(n, dtype=np.int32)
    return codes.astype(np.int32), tuple(dictionary[i] for i in order), missing


@FAST
@given(
    chunks=st.lists(
        st.lists(st.one_of(st.none(), st.sampled_from(["B", " B", "B ", "A", "", "  ", "é"]))),
        min_size=1,
        max_size=4,
    )
)
def test_asset_codes_match_the_reference(chunks: list[list[str | None]]) -> None:
    column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    raw = raw_table(column)
    n = len(column)
    codes, assets, missing = _asset_codes(raw, n)
    ref_codes, ref_assets, ref_missing = reference_asset_codes(raw, n)
    assert assets == ref_assets
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(missing, ref_missing)
    assert codes.dtype == np.int32


@FAST
@given(
    unit=st.sampled_from(["s", "ms", "us", "ns"]),
    tz=st.sampled_from([None, "UTC", "America/New_York"]),
    chunks=st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.integers(-(2**62), 2**62),
                st.sampled_from([0, -(2**63) + 1, 2**63 - 1, 9_223_372_036, -9_223_372_036]),
            ),
            max_size=8,
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_arrow_timestamps_match_the_pandas_route(
    unit: str, tz: str | None, chunks: list[list[int | None]]
) -> None:
    typ = pa.timestamp(unit, tz=tz)
    col = pa.chunked_array([pa.array(c, pa.int64()).cast(typ) for c in chunks], typ)
    out, info = _utc_timestamps(col, {})
    expected = _as_utc_ns(col.to_pandas(), "UTC")
    np.testing.assert_array_equal(out, expected.to_numpy(dtype="datetime64[ns]").view(np.int64))
    np.testing.assert_array_equal(info["unparseable"], np.asarray(pd.isna(expected)))
    assert (out[info["unparseable"]] == NAT).all()


def test_dates_far_from_today_are_unparseable_not_wrapped(
    shared_workspace: Workspace, tmp_path: Path
) -> None:
    dates = pa.array([0, 200_000, -200_000, None, 19_000], pa.int32()).cast(pa.date32())
    path = tmp_path / "dates.parquet"
    pa.parquet.write_table(pa.table({"date": dates, "close": [1.0, 2.0, 3.0, 4.0, 5.0]}), path)
    report, data = shared_workspace.data.check_file(path, asset="A")
    issue = report.issue("unparseable_timestamp")
    assert issue is not None
    assert issue.count == 3
    assert data.timestamps[0] == 0
    assert data.timestamps[4] == 19_000 * 86_400 * 10**9


@FAST
@given(
    typ=st.sampled_from([pa.int64(), pa.int32(), pa.float64(), pa.float32(), pa.uint8()]),
    chunks=st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 200)), max_size=6), min_size=1, max_size=4
    ),
)
def test_numbers_are_cast_chunk_by_chunk_as_arrow_casts_the_column(
    typ: pa.DataType, chunks: list[list[int | None]]
) -> None:
    col = pa.chunked_array([pa.array(c, pa.int64()).cast(typ) for c in chunks], typ)
    expected = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(_float64(col), expected)


def test_integers_beyond_float_precision_round_to_the_nearest_float() -> None:
    col = pa.chunked_array([pa.array([1, 2]), pa.array([2**53 + 1])])
    np.testing.assert_array_equal(_float64(col), [1.0, 2.0, float(2**53)])
    single = pa.chunked_array([pa.array([2**60 + 1, 3])])
    np.testing.assert_array_equal(_float64(single), [float(2**60), 3.0])


# A large file is read by Arrow from disk, its beginning only by Python; a gzip
# file is read whole into memory. Both must say the same about the same text.
ROWS = b"".join(
    b"2024-01-%02d,S%03d,%d.5\n" % (1 + (i // 200) % 28, i % 200, i % 97 + 1) for i in range(20_000)
)
HEADER = b"timestamp,symbol,close\n"
LARGE = {
    "clean": HEADER + ROWS,
    "no_final_newline": HEADER + ROWS[:-1],
    "blank_line_late": HEADER + ROWS + b"\n\n" + ROWS[:21],
    "blank_crlf_line_late": HEADER + ROWS + b"\r\n" + ROWS[:21],
    "blank_lines_at_the_end": HEADER + ROWS + b"\n\n\n",
    "not_utf8_late": HEADER + ROWS + b"2024-02-01,S\xff,1\n",
    "ragged_late": HEADER + ROWS + b"2024-02-01,S1,1,5\n",
    "ragged_then_not_utf8": HEADER + ROWS + b"2024-02-01,S1,1,5\n2024-02-02,S\xff,1\n",
    "text_in_numbers_late": HEADER + ROWS + b"2024-02-01,S1,abc\n",
    "nul_byte_after_64k": HEADER + ROWS[:70_000] + b"\x00" + ROWS[70_000:],
    "blank_lines_before_the_header": b"\xef\xbb\xbf" + b" \r\n" * 100_000 + HEADER + ROWS,
    "blank_lines_after_the_header": HEADER + b"\n" * 200_000 + ROWS,
    "only_blanks_after_the_header": HEADER + b"  \n" * 100_000,
    "only_blanks": b"  \n\t" * 100_000,
    "long_header": b"timestamp,symbol,"
    + b",".join(b"c%d" % i for i in range(40_000))
    + b"\n2024-01-01,A,"
    + b",".join(b"1" for _ in range(40_000))
    + b"\n",
}


def outcome(ws: Workspace, path: Path) -> object:
    try:
        report, data = ws.data.check_file(path)
    except (DataReadError, DataFormatError) as exc:
        return type(exc).__name__, str(exc).replace(str(path), "<file>")
    summary = report.to_dict()
    summary.pop("source")
    arrays = {k: v.tobytes() for k, v in data.fields.items()}
    return summary, data.lines.tolist(), data.timestamps.tolist(), arrays


@pytest.mark.parametrize("name", list(LARGE))
def test_a_large_file_reads_as_the_same_text_in_memory(
    shared_workspace: Workspace, tmp_path: Path, name: str
) -> None:
    import gzip

    content = LARGE[name]
    assert len(content) > 1 << 17  # beyond what is read before Arrow parses
    plain = tmp_path / "prices.csv"
    plain.write_bytes(content)
    packed = tmp_path / "prices.csv.gz"
    packed.write_bytes(gzip.compress(content, compresslevel=1))
    assert outcome(shared_workspace, plain) == outcome(shared_workspace, packed)
