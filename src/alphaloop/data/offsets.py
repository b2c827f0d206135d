"""UTC offsets written in timestamps: do they follow one time zone's clock changes?

A file whose timestamps carry several UTC offsets is fine when the offsets
are those of one time zone at each instant (``-05:00`` in winter and
``-04:00`` in summer for New York). Otherwise (``+00:00`` and ``+05:30`` in
one file, or an offset changing on a day no zone changes its clocks) the
conversion to UTC is still exact for each value, but the values were
probably written on different clocks: daily bars can land on another
calendar date than their neighbours. :func:`check_offsets` reports that as
the warning ``mixed_offsets``.

A zone explains the offsets when its UTC offset equals the written one at
every distinct instant; zones are tried from the IANA database (common
market zones first), each first at the instants around the offset changes
and only then at every instant.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alphaloop.data.long import NAT
from alphaloop.data.quality import QualityIssue, make_issue

__all__ = ["OffsetFacts", "check_offsets", "offsets_of", "trim_text", "zone_for_offsets"]

_OFFSET = r"(?P<offset>Z|z|[+-]\d{2}:?\d{2})$"
_NS_PER_MINUTE = 60 * 10**9
_DAY_NS = 86_400 * 10**9
_DAILY_STEP_NS = 20 * 3_600 * 10**9  # a typical step this long or longer: daily (or slower) bars
_SAMPLED_CHANGES = 40  # offset changes looked at before a zone is checked at every instant
_SHOWN = 5
_COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Zurich",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "America/Toronto",
    "Europe/Moscow",
    "Asia/Tokyo",
)


class OffsetFacts:
    """The UTC offset written in each row, as minutes east of UTC.

    Attributes
    ----------
    minutes : ndarray of float64
        Offset of each row in minutes (NaN where the text has none).
    labels : dict of int to str
        Offset in minutes -> as first written (``+05:30``, ``Z``).
    """

    def __init__(self, minutes: np.ndarray, labels: dict[int, str]) -> None:
        self.minutes = minutes
        self.labels = labels

    @property
    def distinct(self) -> list[int]:
        return sorted(self.labels)

    def label(self, minutes: float) -> str:
        m = int(minutes)
        if m in self.labels and self.labels[m] not in ("Z", "z"):
            return self.labels[m]
        sign = "+" if m >= 0 else "-"
        return f"{sign}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


def _minutes(offset: str) -> int:
    if offset in ("Z", "z"):
        return 0
    digits = offset[1:].replace(":", "")
    value = int(digits[:2]) * 60 + int(digits[2:4])
    return -value if offset[0] == "-" else value


def trim_text(text: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """``pc.utf8_trim_whitespace(text)``, without a copy of the chunks that need no trimming.

    Timestamps are rarely written with spaces around them: a chunk whose
    trimmed copy equals it is kept as it is, so a large column is not held
    twice.
    """
    if isinstance(text, pa.Array):
        text = pa.chunked_array([text])
    chunks = []
    for chunk in text.chunks:
        trimmed = pc.utf8_trim_whitespace(chunk)
        chunks.append(chunk if trimmed.equals(chunk) else trimmed)
    return pa.chunked_array(chunks, type=text.type)


def offsets_of(text: pa.ChunkedArray | pa.Array) -> OffsetFacts:
    """The offset at the end of each timestamp text (``Z``, ``+05:30``, ``-0400``)."""
    found = pc.struct_field(pc.extract_regex(trim_text(text), _OFFSET), "offset")
    if isinstance(found, pa.ChunkedArray):
        found = found.combine_chunks()
    encoded = pc.dictionary_encode(found)
    written = [str(v) for v in encoded.dictionary.to_pylist()]
    minutes_of = np.array([_minutes(v) for v in written], dtype=np.float64)
    labels: dict[int, str] = {}
    for v, m in zip(written, minutes_of, strict=True):
        labels.setdefault(int(m), v)
    indices = encoded.indices
    missing = np.asarray(indices.is_null().to_numpy(zero_copy_only=False))
    positions = np.asarray(pc.fill_null(indices, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    minutes = minutes_of[positions] if len(minutes_of) else np.full(len(positions), np.nan)
    minutes = np.where(missing, np.nan, minutes)
    return OffsetFacts(minutes, labels)


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    rest = sorted(z for z in zoneinfo.available_timezones() if z not in _COMMON_ZONES)
    return tuple(z for z in _COMMON_ZONES if z in zoneinfo.available_timezones()) + tuple(rest)


def zone_for_offsets(ts: np.ndarray, minutes: np.ndarray) -> str | None:
    """A time zone whose UTC offset is ``minutes`` at each instant ``ts`` (ns UTC), or None.

    ``ts`` and ``minutes`` are parallel; NAT instants and NaN offsets are ignored.
    """
    ok = (ts != NAT) & ~np.isnan(minutes)
    pairs = np.unique(np.stack([ts[ok], minutes[ok].astype(np.int64)], axis=1), axis=0)
    if not len(pairs):
        return None
    t, m = pairs[:, 0], pairs[:, 1]
    if len(np.unique(t)) != len(t):  # one instant written with two offsets
        return None
    changes = np.flatnonzero(m[1:] != m[:-1])[:_SAMPLED_CHANGES]
    sample = np.unique(np.concatenate(([0, len(t) - 1], changes, changes + 1)))
    moments = [datetime.fromtimestamp(int(t[i]) / 1e9, tz=UTC) for i in sample]
    for name in _zones():
        zone = zoneinfo.ZoneInfo(name)
        if all(
            _offset_minutes(moment, zone) == int(m[i])
            for moment, i in zip(moments, sample, strict=True)
        ):
            local = pd.DatetimeIndex(t.view("datetime64[ns]"), tz="UTC").tz_convert(name)
            offsets = (local.tz_localize(None).asi8 - t) // _NS_PER_MINUTE
            if np.array_equal(offsets, m):
                return name
    return None


def _offset_minutes(moment: datetime, zone: zoneinfo.ZoneInfo) -> int:
    delta = moment.astimezone(zone).utcoffset()
    return 0 if delta is None else int(delta.total_seconds() // 60)


def check_offsets(
    facts: OffsetFacts,
    ts: np.ndarray,
    lines: np.ndarray,
    text: pa.ChunkedArray | pa.Array,
    column: str,
) -> tuple[QualityIssue | None, str | None]:
    """The ``mixed_offsets`` warning, or a note naming the zone the offsets follow.

    Parameters
    ----------
    facts : OffsetFacts
        Offsets of the rows (:func:`offsets_of`).
    ts : ndarray of int64
        The parsed timestamps, ns UTC (NAT where unparsed).
    lines : ndarray of int64
        File line of each row.
    text : pyarrow array
        The timestamps as written, for the locations.
    column : str
        The timestamp column's name as written.

    Returns
    -------
    issue : QualityIssue or None
        None when the rows use one offset or one zone's offsets.
    note : str or None
        Which zone's clock changes the offsets follow, when there are several.
    """
    if len(facts.distinct) < 2:
        return None, None
    minutes = facts.minutes
    zone = zone_for_offsets(ts, minutes)
    if zone is not None:
        shown = ", ".join(facts.label(m) for m in facts.distinct)
        return None, f"UTC offsets {shown} follow the clock changes of a zone such as {zone}"
    has = ~np.isnan(minutes) & (ts != NAT)
    values, counts = np.unique(minutes[has], return_counts=True)
    main = values[int(np.argmax(counts))]
    other = has & (minutes != main)
    per_offset = []
    for v, k in sorted(zip(values, counts, strict=True), key=lambda x: -x[1]):
        first = int(lines[np.flatnonzero(has & (minutes == v))[0]])
        per_offset.append(f"{facts.label(v)} on {int(k)} row(s) from line {first}")
    message = (
        f"timestamps in column {column!r} use {len(values)} UTC offsets that follow no time "
        f"zone's clock changes ({'; '.join(per_offset[:_SHOWN])})"
    )
    message += _changes(ts, minutes, has, lines, facts)
    message += _moved_dates(ts, minutes, has, lines, text)
    message += "; each value was converted to UTC with its own offset"
    rows = np.flatnonzero(other)[:_SHOWN]
    written = pc.take(text, pa.array(rows)).to_pylist() if len(rows) else []
    locations: list[dict[str, Any]] = [
        {
            "line": int(lines[r]),
            "value": str(w)[:40],
            "column": column,
            "offset": facts.label(minutes[r]),
            "usual_offset": facts.label(main),
        }
        for r, w in zip(rows, written, strict=True)
    ]
    return make_issue("mixed_offsets", int(other.sum()), message, locations), None


def _changes(
    ts: np.ndarray, minutes: np.ndarray, has: np.ndarray, lines: np.ndarray, facts: OffsetFacts
) -> str:
    """Where the offset changes, in time order (the first few)."""
    rows = np.flatnonzero(has)
    order = rows[np.argsort(ts[rows], kind="stable")]
    m = minutes[order]
    at = np.flatnonzero(m[1:] != m[:-1])
    if not len(at):
        return ""
    shown = []
    for i in at[:3]:
        r = order[i + 1]
        day = pd.Timestamp(int(ts[r]), tz="UTC").strftime("%Y-%m-%d")
        shown.append(
            f"{facts.label(m[i])} to {facts.label(m[i + 1])} at line {int(lines[r])} ({day})"
        )
    more = f" and {len(at) - 3} more" if len(at) > 3 else ""
    return f"; in time order the offset changes {len(at)} time(s): {', '.join(shown)}{more}"


def _moved_dates(
    ts: np.ndarray,
    minutes: np.ndarray,
    has: np.ndarray,
    lines: np.ndarray,
    text: pa.ChunkedArray | pa.Array,
) -> str:
    """For daily data: the rows whose UTC date differs from the date written."""
    rows = np.flatnonzero(has)
    distinct = np.unique(ts[rows])
    if len(distinct) < 2 or np.median(np.diff(distinct)) < _DAILY_STEP_NS:
        return ""
    local = ts[rows] + (minutes[rows] * _NS_PER_MINUTE).astype(np.int64)
    moved = rows[(local // _DAY_NS) != (ts[rows] // _DAY_NS)]
    if not len(moved):
        return ""
    r = int(moved[0])
    written = str(pc.take(text, pa.array([r])).to_pylist()[0])
    utc = pd.Timestamp(int(ts[r]), tz="UTC").strftime("%Y-%m-%d %H:%M")
    return (
        f"; the data is daily and the conversion moves {len(moved)} bar(s) to another "
        f"calendar date (line {int(lines[r])}: {written!r} is {utc} UTC)"
    )
