"""Timestamp columns parsed to UTC nanoseconds, and the issues of that parse.

See :mod:`alphaloop.data.normalize` for the rules; text dates go through
:mod:`alphaloop.data.datetext`, UTC offsets are checked by
:mod:`alphaloop.data.offsets`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alphaloop.data.datetext import DayMonthAmbiguity, parse_datetime_text
from alphaloop.data.long import NAT, LongData
from alphaloop.data.offsets import trim_text
from alphaloop.data.quality import QualityIssue, make_issue
from alphaloop.errors import ConfigError

__all__ = ["check_timezone", "parse_timestamps", "timestamp_issues", "utc_ns"]

_OFFSET = r"(Z|z|[+-]\d{2}:?\d{2})$"
_SHOWN = 5  # values quoted in a message
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_MIN_NS = pd.Timestamp.min.value
_MAX_NS = pd.Timestamp.max.value


def check_timezone(timezone: str) -> None:
    try:
        pd.Timestamp(0).tz_localize(timezone)
    except Exception as exc:  # pandas raises KeyError, ValueError, IndexError, ... by zone kind
        raise ConfigError(
            f"unknown time zone {timezone!r}",
            hint="use an IANA name such as 'UTC' or 'America/New_York'",
        ) from exc


def utc_ns(s: pd.Series, timezone: str) -> pd.Series:
    """Datetimes as UTC nanoseconds; naive ones are taken in ``timezone``.

    Values outside the nanosecond range (years 1677 to 2262) become NaT.
    """
    if s.dt.tz is None:
        s = s.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    s = s.dt.tz_convert("UTC")
    lo = pd.Timestamp(_MIN_NS, tz="UTC")
    hi = pd.Timestamp(_MAX_NS, tz="UTC")
    return s.where((s >= lo) & (s <= hi)).dt.as_unit("ns")


def parse_timestamps(
    col: pa.ChunkedArray,
    timezone: str,
    time_format: str | None = None,
    notes: list[str] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Timestamps as int64 ns UTC (NAT where unparseable) plus raw facts for issues.

    ``info["text"]`` holds the trimmed text when the column was parsed from
    text, ``info["has_offset"]`` whether any of it carries a UTC offset.
    """
    typ = col.type
    info: dict[str, Any] = {"mixed": None, "unparseable": None}
    is_time = pa.types.is_timestamp(typ) or pa.types.is_date(typ)
    if time_format is not None and is_time:
        if notes is not None:
            notes.append(
                f"time format {time_format!r} not used: the column was read as {typ} "
                "(ISO 8601 text or typed timestamps)"
            )
        time_format = None
    if is_time:
        if pa.types.is_date(typ):
            col = pc.cast(col, pa.timestamp("s"))
        if col.type.tz is not None or timezone == "UTC":  # already UTC: no time zone rules
            return _utc_timestamps(col, info)
        ts = utc_ns(col.to_pandas(), timezone)
        out = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)
        info["unparseable"] = np.asarray(pd.isna(ts))
        return out, info
    if pa.types.is_integer(typ) and time_format is None:
        return _parse_int_timestamps(col, timezone, info)
    text = trim_text(pc.cast(col, pa.string()))
    info["text"] = text
    has_offset = np.asarray(
        pc.fill_null(pc.match_substring_regex(text, _OFFSET), False).to_numpy(zero_copy_only=False)
    )
    present = np.asarray(pc.is_valid(text).to_numpy(zero_copy_only=False))
    nonempty = pc.fill_null(pc.not_equal(text, ""), False)
    present &= np.asarray(nonempty.to_numpy(zero_copy_only=False))
    aware = has_offset & present
    naive = ~has_offset & present
    info["has_offset"] = bool(aware.any())
    if time_format is None and aware.any() and not naive.any():
        fast = _arrow_utc(text, present, info)
        if fast is not None:
            return fast, info
    values = text.to_pandas()
    if aware.any() and naive.any():
        # text that is no date at all is unparseable, not a naive timestamp
        readable = np.asarray(pd.notna(_to_datetime(values, True, "UTC", time_format)))
        aware &= readable
        naive &= readable
    all_aware = bool(aware.any()) and not naive.any()
    if aware.any() and naive.any():
        minority = naive if naive.sum() <= aware.sum() else aware
        info["mixed"] = (int(aware.sum()), int(naive.sum()), minority)
        # parse the majority kind only; the minority is reported as mixed_timezones
        values = values.where(~minority)
        all_aware = bool(naive.sum() <= aware.sum())
    parsed = _to_datetime(values, all_aware, timezone, time_format, info)
    out = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
    unparseable = np.asarray(pd.isna(parsed)) & present
    out[~present] = NAT
    info["unparseable"] = unparseable | ~present
    info["empty"] = ~present
    info["parsed"] = out
    if info["mixed"] is not None:
        out[info["mixed"][2]] = NAT
    return out, info


def _arrow_utc(
    text: pa.ChunkedArray, present: np.ndarray, info: dict[str, Any]
) -> np.ndarray | None:
    """ISO 8601 text that all carries UTC offsets, parsed by Arrow (None: Arrow cannot).

    The same instants as the pandas route, much faster; any value Arrow
    cannot read (not ISO 8601, beyond 2262) sends the column to pandas.
    """
    given = text if present.all() else pc.if_else(present, text, None)
    try:
        parsed = pc.cast(given, pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = pc.fill_null(pc.cast(parsed, pa.int64()), NAT).to_numpy(zero_copy_only=False)
    out = np.array(out, dtype=np.int64)  # writable
    info["unparseable"] = ~present
    info["empty"] = ~present
    info["parsed"] = out
    return out


def _utc_timestamps(
    col: pa.ChunkedArray, info: dict[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    """Arrow timestamps of UTC instants as int64 ns, through numpy rather than pandas.

    Nulls and values outside the nanosecond range become NAT and unparseable.
    """
    per = _NS_PER_UNIT[col.type.unit]
    bad = None
    if col.null_count:
        bad = ~np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False))
        col = pc.fill_null(col, 0)
    out = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
    if not out.flags.writeable:  # a single chunk is not copied
        out = out.copy()
    lo, hi = -(-_MIN_NS // per), _MAX_NS // per
    if len(out) and (out.min() < lo or out.max() > hi):
        outside = (out < lo) | (out > hi)
        bad = outside if bad is None else bad | outside
    if bad is not None:
        out[bad] = 0
    if per != 1:
        np.multiply(out, per, out=out)
    if bad is not None:
        out[bad] = NAT
    info["unparseable"] = np.zeros(len(out), dtype=bool) if bad is None else bad
    return out, info


def _to_datetime(
    values: pd.Series,
    all_aware: bool,
    timezone: str,
    time_format: str | None = None,
    info: dict[str, Any] | None = None,
) -> pd.Series:
    """Parse text to UTC: ``time_format``, else ISO 8601, else a format inferred from the data.

    See :mod:`alphaloop.data.datetext`; a day/month ambiguity goes to
    ``info["ambiguous"]``.
    """
    parsed, ambiguity = parse_datetime_text(values, all_aware, time_format)
    if info is not None and ambiguity is not None:
        info["ambiguous"] = ambiguity
    if parsed.dtype == object:  # nothing could be read
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    return utc_ns(parsed, timezone)


def _parse_int_timestamps(
    col: pa.ChunkedArray, timezone: str, info: dict[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    present = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False))
    if pa.types.is_unsigned_integer(col.type):  # above the int64 range: not a timestamp
        big = pc.greater(col, np.iinfo(np.int64).max).to_numpy(zero_copy_only=False)
        present &= ~np.asarray(pc.fill_null(big, False).to_numpy(zero_copy_only=False))
    # int64 throughout: float64 would round epoch nanoseconds
    raw = pc.cast(pc.fill_null(col, 0), pa.int64(), safe=False).to_numpy(zero_copy_only=False)
    raw = np.where(present, raw, 0)
    vals = raw[present]
    if len(vals) and vals.min() >= 1_000_01_01 and vals.max() <= 3_000_12_31:
        text = pd.Series(raw.astype(str))
        parsed = utc_ns(pd.to_datetime(text, format="%Y%m%d", errors="coerce"), timezone)
        out = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
        bad = np.asarray(pd.isna(parsed)) | ~present
    else:
        mag = float(np.abs(vals.astype(np.float64)).max()) if len(vals) else 0.0
        unit = "s" if mag < 1e11 else "ms" if mag < 1e14 else "us" if mag < 1e17 else "ns"
        per = _NS_PER_UNIT[unit]
        in_range = (raw >= -(-_MIN_NS // per)) & (raw <= _MAX_NS // per)
        bad = ~present | ~in_range
        out = np.where(bad, 0, raw) * per
    out[bad] = NAT
    info["unparseable"] = bad
    return out, info


def timestamp_issues(data: LongData, info: dict[str, Any]) -> list[QualityIssue]:
    """``mixed_timezones``, ``unparseable_timestamp`` and ``mixed_offsets`` of the parse.

    Locations and messages quote the values as written.
    """
    issues = []
    column = info.get("column", "timestamp")
    written = info.get("written")
    if info.get("mixed") is not None:
        n_aware, n_naive, minority = info["mixed"]
        locations = _written_at(data.lines, minority, written, column)
        issues.append(
            make_issue(
                "mixed_timezones",
                int(minority.sum()),
                f"timestamps in column {column!r} mix values with a UTC offset ({n_aware}) and "
                f"without one ({n_naive}); the ones without are ambiguous: " + _quoted(locations),
                locations,
            )
        )
    bad = info.get("unparseable")
    if bad is not None:
        if info.get("mixed") is not None:
            bad = bad & ~info["mixed"][2]
        if bad.any():
            k = int(bad.sum())
            fmt = info.get("format")
            how = f"do not match the format {fmt!r}" if fmt else "cannot be read as a date/time"
            locations = _written_at(data.lines, bad, written, column)
            issues.append(
                make_issue(
                    "unparseable_timestamp",
                    k,
                    f"{k} timestamp(s) in column {column!r} are empty, {how}, or lie outside "
                    f"1677-09-21 .. 2262-04-11: {_quoted(locations)}",
                    locations,
                )
            )
    if info.get("ambiguous") is not None:
        issues.append(
            _ambiguity_issue(data.lines, info["ambiguous"], info["parsed"], written, column)
        )
    if info.get("offsets") is not None:
        issues.append(info["offsets"])
    return issues


def _ambiguity_issue(
    lines: np.ndarray,
    ambiguity: DayMonthAmbiguity,
    parsed: np.ndarray,
    written: pa.ChunkedArray | None,
    column: str,
) -> QualityIssue:
    """The ``ambiguous_dates`` warning: which reading was taken, and how to get the other."""
    rows = ambiguity.rows
    mask = np.zeros(len(lines), dtype=bool)
    mask[rows] = True
    locations = _written_at(lines, mask, written, column)
    taken = "day first" if ambiguity.day_first else "month first"
    other = "month first" if ambiguity.day_first else "day first"
    for loc, r in zip(locations, rows, strict=False):
        loc["read_as"] = _day(int(parsed[r]))
        loc["otherwise"] = _day(pd.Timestamp(ambiguity.other.iloc[int(r)]).value)
    first = locations[0]
    fmt = f" '{ambiguity.other_format}'" if ambiguity.other_format else ""
    keep = f" ('{ambiguity.format}' keeps this reading)" if ambiguity.format else ""
    return make_issue(
        "ambiguous_dates",
        len(rows),
        f"{len(rows)} date(s) in column {column!r} can be read with day and month either way "
        f"and were read {taken}: line {first['line']} {first['value']!r} is {first['read_as']}, "
        f"{other} it would be {first['otherwise']}; pass --time-format{fmt} if they are "
        f"written {other}{keep}",
        locations,
    )


def _day(ns: int) -> str:
    ts = pd.Timestamp(ns, tz="UTC")
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"


def _written_at(
    lines: np.ndarray, mask: np.ndarray, written: pa.ChunkedArray | None, column: str
) -> list[dict[str, Any]]:
    """Line, column and value as written of the first rows in ``mask``."""
    rows = np.flatnonzero(mask)[:_SHOWN]
    values: list[Any] = [None] * len(rows)
    if written is not None and len(rows):
        try:
            values = pc.take(written, pa.array(rows)).to_pylist()
        except (pa.ArrowInvalid, ValueError, OverflowError):  # a date Python cannot hold
            values = [written[int(r)] for r in rows]
    return [
        {"line": int(lines[r]), "column": column, "value": "" if v is None else str(v)[:40]}
        for r, v in zip(rows, values, strict=True)
    ]


def _quoted(locations: list[dict[str, Any]]) -> str:
    return ", ".join(f"line {loc['line']} {loc['value']!r}" for loc in locations)
