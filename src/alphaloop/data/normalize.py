"""Parse a :class:`RawTable` into :class:`LongData`, reporting what cannot be parsed.

Timestamps: ISO 8601 text (with or without an offset), other date text
whose format pandas can infer from the first value (``1/4/1999``), Arrow
timestamps and dates, integers ``YYYYMMDD``, or epoch seconds /
milliseconds / microseconds / nanoseconds (told apart by magnitude); with
``time_format`` in the read options, text (or integers read as text) in
that strptime format only. Timestamps without an offset are taken in
``timezone`` (default UTC); values with an offset are converted to UTC. A
file mixing values with and without an offset is refused
(``mixed_timezones``): the naive ones are ambiguous. Several offsets that
are not one zone's clock changes are a warning (``mixed_offsets``, see
:mod:`alphaloop.data.offsets`). Timestamps outside the range of nanosecond
timestamps (1677-09-21 .. 2262-04-11) are reported as
``unparseable_timestamp`` with the values as written; a column of times of
day without a date is refused.

Numbers: numeric columns are read as float64; text that is not a number in
a value column is reported (``non_numeric``) and stored as NaN, which the
import only accepts with ``--repair``. With ``decimal=","`` text numbers
use a decimal comma (``1,5``) and dots only to group thousands
(``1.234,5``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alphaloop.data.layout import RawTable
from alphaloop.data.long import LongData
from alphaloop.data.names import KNOWN_FIELDS
from alphaloop.data.offsets import check_offsets, offsets_of
from alphaloop.data.quality import QualityIssue, make_issue
from alphaloop.data.timestamps import (
    check_timezone,
    parse_timestamps,
    timestamp_issues,
)
from alphaloop.errors import DataFormatError, DataReadError

__all__ = ["normalize"]

_THOUSANDS_DOTS = r"^[+-]?\d{1,3}(\.\d{3})+(,\d*)?$"
_DECIMAL_COMMA = r"^[+-]?(\d{1,3}(\.\d{3})+|\d*),\d+$"
_THOUSANDS_COMMAS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"
# commas that can only group thousands: with a decimal point after them, or two or more
_CLEARLY_THOUSANDS = r"^[+-]?\d{1,3}((,\d{3})+\.\d+|(,\d{3}){2,}(\.\d*)?)$"


def normalize(
    raw: RawTable, *, timezone: str | None = None, release_columns: bool = False
) -> tuple[LongData, list[QualityIssue]]:
    """Turn a raw table into rows of parsed arrays.

    Timestamps and numbers are read as ``raw.options`` say (time format,
    decimal mark, time zone; ``timezone`` overrides the latter). Notes on
    what was inferred are appended to ``raw.notes``.

    With ``release_columns`` (long layout), the timestamp and asset columns
    and each value column that parsed cleanly are dropped from ``raw.table``
    once parsed, so that the file's table and the parsed arrays do not both
    sit in memory whole (only columns with unparseable text stay, for the
    report to quote; ``raw.table`` may have no column left).

    Returns
    -------
    data : LongData
        In file order. Rows whose timestamp cannot be parsed carry ``NAT``.
    issues : list of QualityIssue
        Parse problems: ``unparseable_timestamp``, ``mixed_timezones``,
        ``missing_asset``, ``non_numeric`` (plus ``mixed_offsets`` and, for
        long data, ``unknown_columns``, as warnings).

    Raises
    ------
    ConfigError
        ``timezone`` is not a known time zone.
    DataFormatError
        The timestamp column holds times of day without a date.
    DataReadError
        A wide file has no value in any asset column.
    """
    table = raw.table
    n = table.num_rows
    if raw.row_lines is not None:
        lines = raw.row_lines
    else:
        lines = np.arange(raw.header_line + 1, raw.header_line + 1 + n, dtype=np.int64)
    issues: list[QualityIssue] = []
    options = raw.options
    timezone = timezone or options.timezone
    check_timezone(timezone)
    ts_col = table.column(raw.timestamp_column)
    name = raw.original_names.get(raw.timestamp_column, raw.timestamp_column)
    if pa.types.is_time(ts_col.type):
        sample = ts_col.drop_null()
        example = f" (e.g. {sample[0].as_py()})" if len(sample) else ""
        raise DataFormatError(
            f"{raw.source}: column {name!r} holds times of day without a date{example}",
            hint="give every row a full date and time such as '2024-01-02 09:30:00'",
        )
    ts, ts_info = parse_timestamps(ts_col, timezone, options.time_format, raw.notes)
    ts_info["column"] = name
    ts_info["written"] = ts_col
    ts_info["format"] = options.time_format
    text = ts_info.get("text") if raw.time_text is None else raw.time_text
    if text is not None and ts_info.get("has_offset", True):
        facts = offsets_of(text)
        offset_issue, note = check_offsets(facts, ts, lines, text, name)
        ts_info["offsets"] = offset_issue
        if note:
            raw.notes.append(note)
    thousands = _commas_group_thousands(table, raw.field_columns, options.decimal)
    if thousands:
        raw.notes.append("commas between thousands in numbers dropped (1,234.5 is 1234.5)")
    if raw.layout == "wide":
        return _normalize_wide(raw, ts, ts_info, lines, thousands)
    # the timestamp issues quote the column as written: find them now, then free the text
    stamp_only = LongData(ts, np.zeros(n, dtype=np.int32), ("",), {}, lines)
    ts_issues = timestamp_issues(stamp_only, ts_info)
    del stamp_only, ts_info, ts_col, text

    def release(column: str) -> None:
        nonlocal table
        if release_columns:
            table = table.drop_columns([column])
            raw.table = table
            # Arrow's allocator keeps freed memory for reuse: hand it back to the system
            pa.default_memory_pool().release_unused()

    release(raw.timestamp_column)
    if release_columns:
        raw.time_text = None
    fields: dict[str, np.ndarray] = {}
    bad_cells: dict[str, np.ndarray] = {}
    for col in raw.field_columns:
        values, bad = _parse_numbers(table.column(col), options.decimal, thousands)
        fields[col] = values
        if bad.any():
            bad_cells[col] = bad
        else:
            release(col)
    member = None
    if raw.member_column is not None:
        mvals, mbad = _parse_numbers(table.column(raw.member_column), options.decimal)
        member = np.nan_to_num(mvals, nan=0.0) != 0
        if mbad.any():
            bad_cells[raw.member_column] = mbad
        else:
            release(raw.member_column)
    # the asset ids last: by then the value columns are parsed and (when released) freed
    codes, assets, missing_asset = _asset_codes(raw, n)
    if raw.asset_column is not None:
        release(raw.asset_column)
    data = LongData(ts, codes, assets, fields, lines, member)
    issues.extend(ts_issues)
    if missing_asset.any():
        k = int(missing_asset.sum())
        issues.append(
            make_issue(
                "missing_asset",
                k,
                f"{k} row(s) have an empty {raw.asset_column!r}",
                [{"line": int(line)} for line in lines[missing_asset][:5]],
            )
        )
    issues.extend(_non_numeric_issue(data, bad_cells, table, options.decimal))
    unknown = [c for c in raw.field_columns if c not in KNOWN_FIELDS]
    if unknown:
        issues.append(
            make_issue(
                "unknown_columns",
                len(unknown),
                f"{len(unknown)} column(s) are not known field names and are kept as they are: "
                f"{unknown[:10]} (known: {sorted(KNOWN_FIELDS)})",
                [{"column": c} for c in unknown[:5]],
            )
        )
    return data, issues


def _asset_codes(raw: RawTable, n: int) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Asset code of each row (codes in sorted asset order), the assets, and empty rows.

    Asset ids are trimmed of surrounding whitespace. Rows without an id get
    the code of the first id in the file (they are reported as missing).
    """
    if raw.asset_column is None:
        return np.zeros(n, dtype=np.int32), (str(raw.single_asset),), np.zeros(n, dtype=bool)
    col = raw.table.column(raw.asset_column)
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        else:
            col = pc.cast(col, pa.string())
    # encode the ids as they are, then trim the few distinct ones (not every row)
    encoded = pc.dictionary_encode(col).combine_chunks()
    trimmed = [str(v) for v in pc.utf8_trim_whitespace(encoded.dictionary).to_pylist()]
    first_seen: dict[str, int] = {}  # trimmed ids in order of first appearance
    to_trimmed = np.array([first_seen.setdefault(t, len(first_seen)) for t in trimmed], np.int64)
    dictionary = list(first_seen)
    indices = encoded.indices
    null = None
    if indices.null_count:
        null = np.asarray(indices.is_null().to_numpy(zero_copy_only=False))
        indices = pc.fill_null(indices, 0)
    positions = np.asarray(indices.to_numpy(zero_copy_only=False))
    # codes in sorted asset order, so storage order is alphabetical
    order = np.argsort(np.asarray(dictionary, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    if dictionary:
        code_of = rank[to_trimmed]  # per distinct id as written
        codes = code_of[positions]
        empty = np.array([not dictionary[i] for i in to_trimmed], dtype=bool)
        missing = empty[positions] if empty.any() else np.zeros(n, dtype=bool)
        if null is not None:
            missing |= null
    else:  # every id is missing
        codes = np.zeros(n, dtype=np.int32)
        missing = np.ones(n, dtype=bool)
    assets = tuple(dictionary[i] for i in order)
    return codes.astype(np.int32, copy=False), assets, missing


def _parse_numbers(
    col: pa.ChunkedArray, decimal: str = ".", thousands: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Values as float64 (NaN for nulls) and a mask of text that is not a number.

    With ``decimal=","`` text is read with a decimal comma; a dot is allowed
    only between groups of three digits before it (``1.234,5``). With
    ``decimal="."`` and ``thousands`` (see :func:`_commas_group_thousands`),
    commas between groups of three digits are dropped; without, ``1,234`` is
    no number (it could be 1.234 written with a decimal comma).
    """
    typ = col.type
    numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
    if numeric or pa.types.is_boolean(typ) or pa.types.is_decimal(typ):
        return _float64(col), np.zeros(len(col), dtype=bool)
    text = pc.cast(col, pa.string()).to_pandas()
    stripped = text.str.strip()
    if decimal == ",":
        grouped = stripped.str.match(_THOUSANDS_DOTS).fillna(False).astype(bool)
        stripped = stripped.where(~grouped, stripped.str.replace(".", "", regex=False))
        dotted = stripped.str.contains(".", regex=False).fillna(False).astype(bool)
        stripped = stripped.str.replace(",", ".", regex=False).where(~dotted, "x")
    elif thousands:
        grouped = stripped.str.match(_THOUSANDS_COMMAS).fillna(False).astype(bool)
        stripped = stripped.where(~grouped, stripped.str.replace(",", "", regex=False))
    parsed = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64)
    bad = text.notna().to_numpy() & np.isnan(parsed)
    return parsed, bad


def _commas_group_thousands(table: pa.Table, columns: list[str], decimal: str) -> bool:
    """True when some text value of ``columns`` shows that its commas can only group thousands.

    ``42,283.6`` (commas, then a decimal point) or ``1,234,567``: the file
    writes numbers so, and its ``42,000`` is 42000.
    """
    if decimal != ".":
        return False
    for name in columns:
        col = table.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            found = pc.match_substring_regex(pc.utf8_trim_whitespace(col), _CLEARLY_THOUSANDS)
            if pc.any(found).as_py():
                return True
    return False


def _float64(col: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as one float64 array (NaN for nulls), cast by Arrow.

    Chunk by chunk into one array: a cast of the whole column and then its
    concatenation would each make a full-size copy. A single float64 chunk
    without nulls is returned without a copy (read-only).
    """
    # safe=False: integers beyond 2**53 (huge volumes) round to the nearest float64
    if col.num_chunks == 1:
        return np.asarray(
            pc.cast(col.chunk(0), pa.float64(), safe=False).to_numpy(zero_copy_only=False),
            dtype=np.float64,
        )
    out = np.empty(len(col), dtype=np.float64)
    pos = 0
    for chunk in col.chunks:
        k = len(chunk)
        if k:
            cast = pc.cast(chunk, pa.float64(), safe=False)
            out[pos : pos + k] = cast.to_numpy(zero_copy_only=False)
        pos += k
    return out


def _decimal_hint(values: list[str], decimal: str) -> str:
    """Advice when text that is not a number looks like numbers with a decimal comma."""
    if decimal == "." and any(re.match(_DECIMAL_COMMA, v.strip()) for v in values):
        return (
            " (they look like numbers with a decimal comma: pass --decimal , if they are;"
            " commas between thousands are dropped only where a value shows they group"
            " thousands, e.g. 1,234.5)"
        )
    return ""


def _non_numeric_issue(
    data: LongData, bad_cells: dict[str, np.ndarray], table: pa.Table, decimal: str = "."
) -> list[QualityIssue]:
    if not bad_cells:
        return []
    n = sum(int(b.sum()) for b in bad_cells.values())
    locs = []
    for col, mask in bad_cells.items():
        rows = np.flatnonzero(mask)[:5]
        raw_col = table.column(col) if col in table.column_names else None
        for r in rows:
            loc: dict[str, Any] = {"line": int(data.lines[r]), "column": col}
            if raw_col is not None:
                loc["value"] = str(raw_col[int(r)].as_py())[:40]
            locs.append(loc)
    hint = _decimal_hint([str(loc.get("value", "")) for loc in locs], decimal)
    return [
        make_issue(
            "non_numeric",
            n,
            f"{n} value(s) are text where numbers were expected, in {list(bad_cells)}{hint}",
            locs[:5],
        )
    ]


def _normalize_wide(
    raw: RawTable,
    ts: np.ndarray,
    ts_info: dict[str, Any],
    lines: np.ndarray,
    thousands: bool = False,
) -> tuple[LongData, list[QualityIssue]]:
    """Melt a wide table: each asset's cells from its first to its last value become rows."""
    table = raw.table
    field = raw.wide_field or "close"
    all_ts, all_codes, all_vals, all_lines = [], [], [], []
    bad_cells: dict[str, np.ndarray] = {}
    bad_rows: list[tuple[int, str, str]] = []
    for j, asset in enumerate(raw.field_columns):
        values, bad = _parse_numbers(table.column(asset), raw.options.decimal, thousands)
        present = ~np.isnan(values) | bad
        if bad.any():
            bad_cells[asset] = bad
            for r in np.flatnonzero(bad)[:5]:
                bad_rows.append((int(r), asset, str(table.column(asset)[int(r)].as_py())[:40]))
        if not present.any():
            continue
        first = int(np.argmax(present))
        last = len(present) - 1 - int(np.argmax(present[::-1]))
        sl = slice(first, last + 1)
        all_ts.append(ts[sl])
        all_codes.append(np.full(last + 1 - first, j, dtype=np.int32))
        all_vals.append(values[sl])
        all_lines.append(lines[sl])
    if all_ts:
        data = LongData(
            np.concatenate(all_ts),
            np.concatenate(all_codes),
            tuple(raw.field_columns),
            {field: np.concatenate(all_vals)},
            np.concatenate(all_lines),
        )
    else:
        raise DataReadError(
            f"{raw.source}: no values: every cell of the asset column(s) "
            f"{list(raw.field_columns)[:5]} is empty",
            hint="a wide file needs a timestamp column and one column of values per asset",
        )
    stamp_only = LongData(ts, np.zeros(len(ts), dtype=np.int32), ("",), {}, lines)
    issues = timestamp_issues(stamp_only, ts_info)
    if bad_cells:
        n = sum(int(b.sum()) for b in bad_cells.values())
        hint = _decimal_hint([v for _, _, v in bad_rows], raw.options.decimal)
        issues.append(
            make_issue(
                "non_numeric",
                n,
                f"{n} value(s) are text where numbers were expected, in "
                f"{list(bad_cells)[:10]}{hint}",
                [
                    {"line": int(lines[r]), "asset": a, "column": field, "value": v}
                    for r, a, v in sorted(bad_rows)[:5]
                ],
            )
        )
    return data, issues
