"""What the import stores does not depend on how little memory it uses doing so.

The import frees the file's table as it parses it, sorts the rows without
keeping both orders and checks synthetic opens in blocks. These tests pin
the stored result: the content hash of minute files against a plain pandas
reference (pivot, membership, SHA-256 written out here) and against hashes
recorded before those changes, and each lean step against its plain twin.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alphaloop.app import Workspace
from alphaloop.data import price_checks
from alphaloop.data.calendars import TradingCalendar
from alphaloop.data.long import LongData, sort_rows
from alphaloop.data.normalize import normalize
from alphaloop.data.options import ReadOptions
from alphaloop.data.quality import check_rows
from alphaloop.data.readers import read_table

FIELDS = ("open", "high", "low", "close", "volume")
#: content hashes of the files below as stored before the import was made leaner
RECORDED = {
    ("parquet", 1): "ddbf6b41036179e1",
    ("csv", 1): "ddbf6b41036179e1",
    ("parquet", 2): "167ed0d06da684cd",
}


def minute_frame(seed: int, symbols: int = 5, sessions_end: str = "2024-01-05") -> pd.DataFrame:
    """Minute bars of ``symbols`` assets by minute then symbol, as a vendor writes them.

    One asset starts a session late, one has a missing minute, a few prices
    are NaN, and one asset's opens copy the previous close (synthetic opens).
    """
    rng = np.random.default_rng(seed)
    stamps = TradingCalendar("XNYS").bar_stamps("2024-01-02", sessions_end, "1min")
    names = np.array([f"S{i:02d}" for i in range(symbols)])
    shape = (len(stamps), symbols)
    close = rng.uniform(20, 200, symbols) * np.exp(np.cumsum(rng.normal(0, 1e-3, shape), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0, 2e-4, shape))
    open_[1:, 0] = close[:-1, 0]  # asset S00: every open is the previous close
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 5e-4, shape)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 5e-4, shape)))
    volume = np.maximum(np.rint(rng.lognormal(6, 1, shape)), 1)
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(np.repeat(stamps, symbols), utc=True),
            "symbol": np.tile(names, len(stamps)),
            "open": np.round(open_, 4).ravel(),
            "high": np.round(high, 4).ravel(),
            "low": np.round(low, 4).ravel(),
            "close": np.round(close, 4).ravel(),
            "volume": volume.ravel(),
        }
    )
    late = (frame["symbol"] == names[-1]) & (
        frame["timestamp"] < frame["timestamp"].iloc[0] + pd.Timedelta(hours=26)
    )
    missing = (frame["symbol"] == names[1]) & (frame.index // symbols == 100)
    frame = frame[~(late | missing)].reset_index(drop=True)
    frame.loc[frame.index[7::997], "high"] = np.nan
    return frame


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        # several row groups, so every column is read back in several chunks
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=997)
    else:
        out = frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.to_csv(path, index=False)
    return path


def reference_hash(frame: pd.DataFrame) -> str:
    """The content hash of the Panel the rows make, computed the plain pandas way.

    Calendar: every distinct timestamp; assets sorted; membership where a
    row exists; fields in name order as (time, asset) float64 with NaN where
    no row is (see ``alphaloop.data.panel.hash_content``).
    """
    ts = frame["timestamp"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    frame = frame.assign(timestamp=ts)
    index = pd.DatetimeIndex(np.sort(ts.unique()))
    assets = sorted(frame["symbol"].unique())
    present = frame.assign(one=True).pivot(index="timestamp", columns="symbol", values="one")
    membership = present.reindex(index=index, columns=assets).notna().to_numpy()
    h = hashlib.sha256()
    h.update(b"alphaloop-panel-v1")
    h.update(index.asi8.astype(np.int64).tobytes())
    h.update("\x1f".join(assets).encode())
    h.update(np.packbits(membership).tobytes())
    for name in sorted(FIELDS):
        wide = frame.pivot(index="timestamp", columns="symbol", values=name)
        values = wide.reindex(index=index, columns=assets).to_numpy(dtype=np.float64)
        h.update(name.encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.data._bundled_ready = True
    yield ws
    ws.close()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("seed", [1, 2])
def test_import_stores_the_pandas_reference_content(
    workspace: Workspace, tmp_path: Path, suffix: str, seed: int
) -> None:
    frame = minute_frame(seed)
    path = write(frame, tmp_path / f"minutes{suffix}")
    result = workspace.data.import_file(path, "minutes")
    expected = reference_hash(frame)
    assert result.dataset.content_hash == expected
    # the stored rows say the same: the hash is computed again from what was written
    assert workspace.data.store.load("minutes", 1).content_hash() == expected
    assert result.dataset.rows == len(frame)
    assert "synthetic_open" in {i.check for i in result.report.issues}


@pytest.mark.parametrize(("suffix", "seed"), [(".parquet", 1), (".csv", 1), (".parquet", 2)])
def test_import_hash_is_the_one_recorded_before(
    workspace: Workspace, tmp_path: Path, suffix: str, seed: int
) -> None:
    path = write(minute_frame(seed), tmp_path / f"minutes{suffix}")
    digest = workspace.data.import_file(path, "minutes").dataset.content_hash
    assert digest[:16] == RECORDED[suffix.lstrip("."), seed]


def test_import_of_rows_in_time_order_with_a_repeated_row(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A repaired import (duplicate dropped) stores the same as the file without it."""
    frame = minute_frame(3, symbols=3, sessions_end="2024-01-03")
    clean = write(frame, tmp_path / "clean.parquet")
    doubled = write(
        pd.concat([frame, frame.iloc[[40]]]).reset_index(drop=True), tmp_path / "doubled.parquet"
    )
    a = workspace.data.import_file(clean, "clean").dataset.content_hash
    b = workspace.data.import_file(doubled, "doubled", repair=True).dataset.content_hash
    assert a == b == reference_hash(frame)


# ------------------------------------------------------- lean steps, plain twins
def _raw_rows(tmp_path: Path, release: bool) -> LongData:
    path = write(minute_frame(4, symbols=4, sessions_end="2024-01-03"), tmp_path / "m.parquet")
    raw = read_table(path, ReadOptions())
    n_columns = raw.table.num_columns
    data, _ = normalize(raw, release_columns=release)
    # released: nothing is left of the file's table (every column parsed cleanly)
    assert raw.table.num_columns == (0 if release else n_columns)
    return data


def test_normalize_releasing_columns_parses_the_same(tmp_path: Path) -> None:
    kept, released = _raw_rows(tmp_path, False), _raw_rows(tmp_path, True)
    assert np.array_equal(kept.timestamps, released.timestamps)
    assert np.array_equal(kept.asset_codes, released.asset_codes)
    assert np.array_equal(kept.lines, released.lines)
    assert kept.assets == released.assets
    assert list(kept.fields) == list(released.fields)
    for name in kept.fields:
        assert np.array_equal(kept.fields[name], released.fields[name], equal_nan=True)


def _copy(data: LongData) -> LongData:
    return LongData(
        data.timestamps.copy(),
        data.asset_codes.copy(),
        data.assets,
        {k: v.copy() for k, v in data.fields.items()},
        data.lines.copy(),
        None if data.member is None else data.member.copy(),
    )


@pytest.mark.parametrize("member", [False, True])
@pytest.mark.parametrize("blank_lines", [False, True])
def test_consuming_sort_gives_the_plain_sort(
    tmp_path: Path, member: bool, blank_lines: bool
) -> None:
    data = _raw_rows(tmp_path, False)
    rng = np.random.default_rng(5)
    lines = data.lines + np.cumsum(rng.integers(0, 2, len(data))) if blank_lines else data.lines
    data = LongData(
        data.timestamps,
        data.asset_codes,
        data.assets,
        data.fields,
        lines,
        rng.random(len(data)) < 0.9 if member else None,
    )
    plain, back = sort_rows(_copy(data))
    given = _copy(data)
    lean, lean_back = sort_rows(given, consume=True)
    assert given.fields == {}  # consumed: the file-order fields are gone
    assert np.array_equal(back, lean_back)
    for attr in ("timestamps", "asset_codes", "lines"):
        assert np.array_equal(getattr(plain, attr), getattr(lean, attr)), attr
    assert list(plain.fields) == list(lean.fields)
    for name in plain.fields:
        assert np.array_equal(plain.fields[name], lean.fields[name], equal_nan=True)
    if member:
        assert np.array_equal(plain.member, lean.member)


def test_consuming_checks_report_the_same(tmp_path: Path) -> None:
    data = _raw_rows(tmp_path, False)
    plain_issues, plain = check_rows(_copy(data))
    lean_issues, lean = check_rows(_copy(data), consume=True)
    assert [i.to_dict() for i in plain_issues] == [i.to_dict() for i in lean_issues]
    assert plain.content_hash() == lean.content_hash()


def _flagged_plain(
    equal: np.ndarray, valid: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Windows of synthetic opens over every row at once (the rule, written plainly)."""
    n = len(equal)
    ce = np.concatenate(([0], np.cumsum(equal)))
    cv = np.concatenate(([0], np.cumsum(valid)))
    block_start = np.repeat(starts, ends - starts)
    block_len = np.repeat(ends - starts, ends - starts)
    width = np.minimum(price_checks.OPEN_WINDOW, block_len)
    i = np.arange(n)
    lo = i - width + 1
    full = (lo >= block_start) & (block_len >= price_checks.OPEN_MIN_BARS)
    lo_c = np.maximum(lo, 0)
    n_equal = ce[i + 1] - ce[lo_c]
    n_valid = cv[i + 1] - cv[lo_c]
    hot = (
        full
        & (n_valid >= price_checks.OPEN_MIN_VALID)
        & (n_equal >= price_checks.OPEN_MIN_SHARE * n_valid)
    )
    out = np.zeros(n, dtype=bool)
    for e in np.flatnonzero(hot):
        out[lo[e] : e + 1] = True
    return out


@pytest.mark.parametrize("block_rows", [1, 50, 64, 257, 1 << 18])
def test_synthetic_open_windows_in_blocks_match_the_plain_rule(
    monkeypatch: pytest.MonkeyPatch, block_rows: int
) -> None:
    rng = np.random.default_rng(11)
    lengths = rng.integers(1, 400, 12)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    n = int(ends[-1])
    # runs where most opens copy the close, and stretches where few do
    density = np.repeat(rng.choice([0.02, 0.4, 0.6, 0.95], size=n // 40 + 1), 40)[:n]
    equal = rng.random(n) < density
    valid = rng.random(n) < 0.97
    expected = _flagged_plain(equal, valid, starts, ends)
    assert expected.any()
    assert not expected.all()
    monkeypatch.setattr(price_checks, "_BLOCK_ROWS", block_rows)
    assert np.array_equal(price_checks._flagged_bars(equal, valid, starts, ends), expected)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_import_reports_what_check_file_reports(
    workspace: Workspace, tmp_path: Path, suffix: str
) -> None:
    """The lean import path (sorted early, file order freed) finds the same issues."""
    frame = minute_frame(6, symbols=4, sessions_end="2024-01-03")
    rng = np.random.default_rng(6)
    order = np.arange(len(frame))
    for k in rng.choice(len(frame) - 4, 25, replace=False):  # an asset's next minute first
        order[[k, k + 4]] = order[[k + 4, k]]
    frame = frame.iloc[order].reset_index(drop=True)
    path = write(frame, tmp_path / f"shuffled{suffix}")
    checked, _ = workspace.data.check_file(path)
    result = workspace.data.import_file(path, "shuffled", repair=True)
    assert "unsorted_rows" in {i.check for i in checked.issues}
    assert [i.to_dict() for i in result.report.issues] == [i.to_dict() for i in checked.issues]
    assert result.dataset.content_hash == reference_hash(frame)
