"""Where the header of a CSV file is: banner lines above it, lines to skip, two header lines.

- **Banner lines** (``https://www.CryptoDataDownload.com``, a title): the
  header is the first of the first ten lines that has at least two
  columns, as many as each of the next five lines, and names that look like
  a header (no number or date, one of them a known timestamp, asset or
  field name). The first line is the header unless it fails this and a
  later line passes it.
- **Lines to skip** (``skip_rows``): that many lines, blank lines included.
- **Two header lines**: pandas columns of two levels (see
  :func:`two_level_header`).
"""

from __future__ import annotations

import csv
import re

import pyarrow as pa

from alphaloop.data.csvtext import CsvText, skip_whitespace
from alphaloop.data.names import (
    ASSET_COLUMNS,
    TIMESTAMP_COLUMNS,
    field_name,
    normalize_column_name,
)
from alphaloop.data.options import ReadOptions
from alphaloop.errors import DataReadError

__all__ = [
    "after_skipped_lines",
    "looks_numeric",
    "skip_banner",
    "sniff_delimiter",
    "text_columns",
    "two_level_header",
]

_DELIMITERS = (",", ";", "\t", "|")
_BANNER_LINES = 10  # lines looked at for the header when banner lines may sit above it
_AGREEING_LINES = 5  # lines after a header candidate that must have as many columns
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_OFFSET = re.compile(r"\d(Z|z|[+-]\d{2}:?\d{2})$")


def two_level_header(text: CsvText, begin: int, delimiter: str) -> tuple[list[str], int] | None:
    """Column names and header line count of a header written for pandas columns of two levels.

    ``df.to_csv()`` writes such columns (``yf.download(...)``: price field
    and ticker) as two header lines, each led by the level's name, then a
    line with the index's name alone when it has one::

        Price,Close,Close,...
        Ticker,AAPL,MSFT,...
        Date,,,...

    Recognised when the two lines have as many cells, one level repeats
    its values, every pair of values is distinct, one level holds only
    known fields, and the line after them is the index name's line or a
    data line (a date or number first). Columns are then named as pandas
    names them in Parquet: ``"('Close', 'AAPL')"``.
    """
    lines = _first_lines(text, begin, 4)
    if len(lines) < 3:
        return None
    top, second, third = (_split(line, delimiter) for _, line in lines[:3])
    n = len(top)
    if n < 3 or len(second) != n:
        return None
    level0, level1 = [c.strip() for c in top[1:]], [c.strip() for c in second[1:]]
    pairs = list(zip(level0, level1, strict=True))
    if not all(level0) or not all(level1) or len(set(pairs)) != len(pairs):
        return None
    if len(set(level0)) == len(level0) and len(set(level1)) == len(level1):
        return None  # no level repeats: not a grid of two levels
    if _DATE_LIKE.match(second[0].strip()) or looks_numeric(second[0].strip()):
        return None  # the second line is data

    def all_fields(values: list[str]) -> bool:
        return all((f := field_name(v)) is not None and not f.rest for v in values)

    if not (all_fields(level0) or all_fields(level1)):
        return None
    index_name = ""
    rows = 2
    if len(third) == n and third[0].strip() and not any(c.strip() for c in third[1:]):
        index_name, rows = third[0].strip(), 3
    elif not (_DATE_LIKE.match(third[0].strip()) or looks_numeric(third[0].strip())):
        return None
    return [index_name] + [str(pair) for pair in pairs], rows


def after_skipped_lines(text: CsvText, start: int, n: int) -> int:
    """Offset of the first non-blank byte after the first ``n`` lines (from ``start``)."""
    for raw in (text.head, text.whole()):
        pos = start
        for _ in range(n):
            nl = raw.find(b"\n", pos)
            if nl < 0:
                break
            pos = nl + 1
        else:
            first = skip_whitespace(raw, pos)
            if first < len(raw):
                return first
        if text.complete:
            break
    lines = text.whole().count(b"\n", start) + 1
    raise DataReadError(
        f"{text.path}: skipping {n} line(s) leaves nothing to read (the file has {lines} line(s))",
        hint="pass a smaller --skip-rows",
    )


def text_columns(
    text: CsvText, begin: int, header: list[str], delimiter: str, options: ReadOptions
) -> dict[str, pa.DataType]:
    """Columns Arrow must keep as text.

    - The time column(s) when a time format is given: Arrow would parse
      ``2024-01-02`` as a date on its own, which a format such as
      ``%Y-%d-%m`` must be allowed to read otherwise. (A pandas index column
      is left to Arrow: pandas writes ISO 8601.)
    - Columns whose first value is a date with a UTC offset: Arrow would
      convert them to UTC and drop the offsets, which are checked
      (:mod:`alphaloop.data.offsets`).
    """
    if options.time_format is None:
        return {h: pa.string() for h in _offset_columns(text, begin, header, delimiter)}
    norms = [normalize_column_name(h) for h in header]
    if options.time_column is not None:
        want = options.time_column.strip()
        wanted = [h for h in header if h == want]
        wanted = wanted or [
            h for h, n in zip(header, norms, strict=True) if n == normalize_column_name(want)
        ]
    else:
        wanted = [header[norms.index(n)] for n in TIMESTAMP_COLUMNS if n in norms]
    wanted = wanted[:1]
    if wanted and normalize_column_name(wanted[0]) == "date" and "time" in norms:
        wanted.append(header[norms.index("time")])  # a date and a time column are joined
    return {h: pa.string() for h in wanted}


def _offset_columns(text: CsvText, begin: int, header: list[str], delimiter: str) -> list[str]:
    """Names of the columns whose value on the first data line is a date with a UTC offset."""
    lines = _first_lines(text, begin, 2)
    if len(lines) < 2:
        return []
    values = [v.strip() for v in _split(lines[1][1], delimiter)]
    if len(values) != len(header):
        return []
    return [
        h
        for h, v in zip(header, values, strict=True)
        if _DATE_LIKE.match(v) and _OFFSET.search(v) and len(set(header)) == len(header)
    ]


def skip_banner(text: CsvText, begin: int, options: ReadOptions, notes: list[str]) -> int:
    """Offset of the header line: ``begin``, or the line after banner lines above the header.

    The header is the first of the first lines with at least two columns,
    as many as each of the next lines (up to five), that looks like a header
    (see :func:`_looks_like_header`). The first line is the header unless
    it fails this and a later line passes it.
    """
    lines = _first_lines(text, begin, _BANNER_LINES + _AGREEING_LINES)
    for i in range(min(len(lines) - 1, _BANNER_LINES)):
        offset, line = lines[i]
        delimiter = options.delimiter or sniff_delimiter(line)
        n = _count_fields(line, delimiter)
        if n < 2:
            continue
        after = lines[i + 1 : i + 1 + _AGREEING_LINES]
        if not all(_count_fields(other, delimiter) == n for _, other in after):
            continue
        if i == 0:
            return begin
        if not _looks_like_header(_split(line, delimiter), options):
            continue
        shown = "; ".join(repr(line[:60]) for _, line in lines[:i][:3])
        notes.append(f"{i} line(s) above the header skipped: {shown}")
        return offset
    return begin


def _first_lines(text: CsvText, begin: int, limit: int) -> list[tuple[int, str]]:
    """Offset and text of the first ``limit`` complete non-blank lines from ``begin``."""
    raw = text.head
    out: list[tuple[int, str]] = []
    pos = begin
    while len(out) < limit and pos < len(raw):
        nl = raw.find(b"\n", pos)
        if nl < 0 and not text.complete:
            break  # a line cut by the end of what was read
        end = len(raw) if nl < 0 else nl
        line = raw[pos:end].decode("utf-8", "replace").rstrip("\r")
        if line.strip():
            out.append((pos, line))
        pos = end + 1
    return out


def _split(line: str, delimiter: str) -> list[str]:
    if '"' in line:
        try:
            return next(csv.reader([line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            return [line]
    return line.split(delimiter)


def _count_fields(line: str, delimiter: str) -> int:
    return len(_split(line, delimiter))


def _looks_like_header(names: list[str], options: ReadOptions) -> bool:
    """True when ``names`` read like column names and one of them is a known one.

    No name may be a number or a date or be empty (but the first: a pandas
    index); one must be a timestamp, asset or field name or the time column
    of the options.
    """
    names = [n.strip() for n in names]
    if any(not n for n in names[1:]):
        return False
    if any(looks_numeric(n) or _DATE_LIKE.match(n) for n in names if n):
        return False
    known = set(TIMESTAMP_COLUMNS) | set(ASSET_COLUMNS)
    if options.time_column is not None:
        known.add(normalize_column_name(options.time_column))
    return any(normalize_column_name(n) in known or field_name(n) is not None for n in names)


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
