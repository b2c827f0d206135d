"""Publication times of document files, parsed to UTC without guessing a time zone.

Text with a UTC offset (``2024-01-02T14:30:00Z``, ``...-05:00``) is read at
its offset; text without one only in a time zone given by the importer (the
rows are flagged ``naive`` otherwise). Epoch integers (one unit per column,
told by magnitude) and zoned Parquet timestamps carry their instant;
``YYYYMMDD`` integers, dates and naive Parquet timestamps need the zone.
Parsing itself is :func:`alphaloop.data.timestamps.parse_timestamps` (the
price import's), applied separately to the rows with and without offsets.
Times are rounded *up* to the microsecond (the databases' precision), so a
document never becomes available earlier than written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alphaloop.data.document_files import RowLocator
from alphaloop.data.long import NAT
from alphaloop.data.timestamps import parse_timestamps

__all__ = ["PublicationTimes", "iso_us", "parse_publication_times"]

_OFFSET = r"(Z|z|[+-]\d{2}:?\d{2})$"
_TIME_OF_DAY = r"\d:\d"
_US = 1_000  # nanoseconds per microsecond
_YYYYMMDD = (1_000_01_01, 3_000_12_31)  # integers read as dates (as the price import does)


@dataclass
class PublicationTimes:
    """Publication times parsed to UTC nanoseconds (rounded up to microseconds), per row.

    Attributes
    ----------
    ns : ndarray of int64
        UTC nanoseconds; NAT where missing or unparseable.
    missing, unparseable : ndarray of bool
    naive : ndarray of bool
        Read, but written without a UTC offset while no time zone was given.
    date_only : ndarray of bool
        Written without a time of day (taken as midnight at the start of the day).
    text : list of str or None
        As written, for messages.
    ambiguous : list of (ndarray, bool)
        Per parsed part: rows whose day and month read either way, and
        whether they were read day first.
    """

    ns: np.ndarray  # int64, NAT where missing or unparseable
    missing: np.ndarray
    unparseable: np.ndarray
    naive: np.ndarray  # read, but without a UTC offset and no time zone was given
    date_only: np.ndarray
    text: list[str | None]  # as written, for messages
    ambiguous: list[tuple[np.ndarray, bool]]  # (rows, read day first) per parsed part

    def warnings(self, where: RowLocator) -> Iterator[str]:
        date_only = self.date_only & (self.ns != NAT)
        if date_only.any():
            yield (
                f"dates without a time of day, taken as midnight at the start of the day, in "
                f"{where(date_only, self.text)}: a document published later that day would "
                "count early; give times of day, or a latency of at least one day"
            )
        for rows, day_first in self.ambiguous:
            mask = np.zeros(len(self.ns), dtype=bool)
            mask[rows] = True
            taken = "day first" if day_first else "month first"
            yield (
                f"dates whose day and month could be read either way were read {taken} in "
                f"{where(mask, self.text)}; write them as ISO 8601 (2024-01-02) to be sure"
            )


def parse_publication_times(col: pa.ChunkedArray, timezone: str | None) -> PublicationTimes:
    """Parse a publication-time column; rows without an offset need ``timezone``."""
    n = len(col)
    written = [None if v is None else str(v) for v in col.to_pylist()]
    col = _integers_if_all(col)
    typ = col.type
    present = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)
    ns = np.full(n, NAT, dtype=np.int64)
    unparseable = np.zeros(n, dtype=bool)
    naive = np.zeros(n, dtype=bool)
    date_only = np.zeros(n, dtype=bool)
    ambiguous: list[tuple[np.ndarray, bool]] = []
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ) or pa.types.is_integer(typ):
        values, info = parse_timestamps(col, "UTC" if _aware(col) else (timezone or "UTC"))
        ns[:] = values
        unparseable = np.asarray(info["unparseable"], dtype=bool) & present
        if not _aware(col):
            naive = present & ~unparseable & (timezone is None)
            if not pa.types.is_timestamp(typ):  # dates, and integers written as YYYYMMDD
                date_only = present.copy()
    else:
        text = pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
        nonempty = pc.fill_null(pc.not_equal(text, ""), False)
        present &= np.asarray(nonempty.to_numpy(zero_copy_only=False), dtype=bool)
        offset = np.asarray(
            pc.fill_null(pc.match_substring_regex(text, _OFFSET), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        clock = np.asarray(
            pc.fill_null(pc.match_substring_regex(text, _TIME_OF_DAY), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        for part, zone in ((present & offset, "UTC"), (present & ~offset, timezone or "UTC")):
            rows = np.flatnonzero(part)
            if not len(rows):
                continue
            values, info = parse_timestamps(text.take(pa.array(rows)), zone)
            ns[rows] = values
            unparseable[rows] = np.asarray(info["unparseable"], dtype=bool)
            if info.get("ambiguous") is not None:
                ambiguity = info["ambiguous"]
                ambiguous.append((rows[ambiguity.rows], ambiguity.day_first))
        naive = present & ~offset & ~unparseable & (timezone is None)
        date_only = present & ~clock
    ns[unparseable | ~present] = NAT
    ns = _ceil_us(ns)
    return PublicationTimes(ns, ~present, unparseable, naive, date_only, written, ambiguous)


def _integers_if_all(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column of whole numbers only (epochs, YYYYMMDD dates in CSV) as int64."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col
    text = pc.utf8_trim_whitespace(col)
    digits = pc.match_substring_regex(text, r"^-?\d{1,19}$")
    if pc.all(pc.fill_null(digits, True)).as_py() and pc.any(pc.is_valid(text)).as_py():
        try:
            return pc.cast(text, pa.int64())
        except (pa.ArrowInvalid, OverflowError):
            return col
    return col


def _aware(col: pa.ChunkedArray) -> bool:
    """Typed times that carry their instant: zoned timestamps, epoch integers."""
    typ = col.type
    if pa.types.is_timestamp(typ):
        return typ.tz is not None
    if pa.types.is_integer(typ):
        values = pc.drop_null(col).to_numpy(zero_copy_only=False)
        lo, hi = _YYYYMMDD
        return not (len(values) and values.min() >= lo and values.max() <= hi)
    return False


def iso_us(ns: np.ndarray) -> np.ndarray:
    """UTC nanoseconds as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (truncated to microseconds)."""
    return np.char.add(np.datetime_as_string(ns.astype("datetime64[ns]"), unit="us"), "Z")


def _ceil_us(ns: np.ndarray) -> np.ndarray:
    """Nanoseconds rounded up to whole microseconds (NAT kept)."""
    valid = ns != NAT
    out = ns.copy()
    out[valid] = -((-ns[valid]) // _US) * _US
    return out
