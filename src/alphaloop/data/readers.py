"""Reading user files (CSV, Parquet) into an Arrow table with a known layout.

The file is read as it is; :mod:`alphaloop.data.layout` then finds its
key columns and layout (long, single asset or wide), and parsing and
checking happen in :mod:`alphaloop.data.normalize`. How to read it is said
by one :class:`~alphaloop.data.options.ReadOptions`.

CSV specifics: a UTF-8 text (a byte order mark is fine), optionally gzip
compressed. The delimiter is taken from the header line unless given.
Banner lines above the header (a download site's URL, a title) are found
and skipped, with a note: the header is the first of the first lines that
has at least two columns, as many as the lines after it, and names that
look like a header (not numbers or dates, one of them a known column
name); ``skip_rows`` skips a given number of lines instead. A leading
column without a name is a pandas index (see :mod:`alphaloop.data.layout`).
"""

from __future__ import annotations

import csv
import re
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from alphaloop.data.layout import LayoutError, RawTable, resolve_layout
from alphaloop.data.names import (
    ASSET_COLUMNS,
    KNOWN_FIELDS,
    MEMBER_COLUMNS,
    PRICE_FIELDS,
    TIMESTAMP_COLUMNS,
    field_name,
    normalize_column_name,
)
from alphaloop.data.options import Layout, ReadOptions
from alphaloop.errors import DataFormatError, DataReadError

__all__ = [
    "ASSET_COLUMNS",
    "KNOWN_FIELDS",
    "MEMBER_COLUMNS",
    "PRICE_FIELDS",
    "TIMESTAMP_COLUMNS",
    "Layout",
    "LayoutError",
    "RawTable",
    "ReadOptions",
    "normalize_column_name",
    "read_table",
]

_DELIMITERS = (",", ";", "\t", "|")
# a byte that bytes.strip() keeps
_NOT_WHITESPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")
_BOM = b"\xef\xbb\xbf"
_NUL_WINDOW = 1 << 16  # bytes after the BOM looked at for NUL bytes (binary files)
_HEAD_BYTES = 1 << 17  # first read of a CSV file, enough for the header in practice
_COUNT_BLOCK = 1 << 22  # bytes per block when counting line breaks
_BANNER_LINES = 10  # lines looked at for the header when banner lines may sit above it
_AGREEING_LINES = 5  # lines after a header candidate that must have as many columns
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_NULL_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "."]


def read_table(path: str | Path, options: ReadOptions | None = None) -> RawTable:
    """Read a CSV or Parquet file and resolve its layout.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.csv.gz``, ``.txt``, ``.tsv`` or ``.parquet``/``.pq``.
    options : ReadOptions, optional
        How to read it (layout, field, delimiter, decimal mark, time column
        and format, lines to skip); the defaults detect what they can.

    Raises
    ------
    DataReadError
        The file is missing, empty, binary, not UTF-8, not valid gzip, or has
        no data rows.
    DataFormatError
        The file was read but has no timestamp column, a ragged row,
        repeated column names or columns of nested values.
    LayoutError
        The layout was left to detection and cannot be told for certain.
    """
    options = options or ReadOptions()
    p = Path(path)
    if not p.exists():
        raise DataReadError(f"{p}: no such file")
    if p.is_dir():
        raise DataReadError(f"{p}: is a directory, expected a CSV or Parquet file")
    suffixes = "".join(p.suffixes).lower()
    notes: list[str] = []
    if suffixes.endswith((".parquet", ".pq")):
        table, pandas_index = _read_parquet(p)
        unused = [k for k in ("delimiter", "skip_rows") if getattr(options, k) is not None]
        if unused:
            notes.append(f"options {unused} do not apply to Parquet files and were not used")
        raw = resolve_layout(table, p, options, notes, 1, pandas_index=pandas_index)
        return raw
    csv_file = _read_csv(p, options, notes)
    if csv_file.delimiter != ",":
        notes.append(f"delimiter {csv_file.delimiter!r} detected")
    raw = resolve_layout(csv_file.table, p, options, notes, csv_file.header_line)
    raw.row_lines = csv_file.row_lines
    ts_type = raw.table.column(raw.timestamp_column).type
    if pa.types.is_timestamp(ts_type) and ts_type.tz is not None:
        # Arrow converted values with UTC offsets: keep the text to check the offsets
        assert raw.timestamp_position is not None
        raw.time_text = _read_csv_column(csv_file, raw.timestamp_position, options)
    return raw


def _read_parquet(p: Path) -> tuple[pa.Table, tuple[str, ...]]:
    """The table and the columns pandas metadata names as the index (if pandas wrote it)."""
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataReadError(f"{p}: not a readable Parquet file ({exc})") from exc
    if table.num_columns == 0:
        raise DataReadError(f"{p}: the Parquet file has no columns")
    if table.num_rows == 0:
        raise DataReadError(f"{p}: the Parquet file has a schema but no rows")
    _check_column_types(p, table)
    try:
        meta = table.schema.pandas_metadata or {}
    except ValueError:  # metadata that is not JSON: not written by pandas
        meta = {}
    index = tuple(c for c in meta.get("index_columns", []) if isinstance(c, str))
    return table, index


def _check_column_types(p: Path, table: pa.Table) -> None:
    """Refuse columns that hold neither numbers, text nor timestamps."""
    for name, col in zip(table.column_names, table.columns, strict=True):
        typ = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        if pa.types.is_nested(typ):
            raise DataFormatError(
                f"{p}: column {name!r} holds nested values ({typ}), "
                "expected numbers, text or timestamps",
                hint="flatten the column into one column per value before importing",
            )
        if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
            try:
                pc.cast(col, pa.string())
            except pa.ArrowInvalid as exc:
                raise DataFormatError(
                    f"{p}: column {name!r} holds bytes that are not UTF-8 text",
                    hint="store the column as numbers or UTF-8 strings",
                ) from exc


class _CsvFile:
    """A CSV file parsed by Arrow, with what is needed to read one column again."""

    def __init__(
        self,
        text: _CsvText,
        table: pa.Table,
        begin: int,
        header_line: int,
        delimiter: str,
        row_lines: np.ndarray | None,
    ) -> None:
        self.text = text
        self.table = table
        self.begin = begin  # offset of the header line
        self.header_line = header_line
        self.delimiter = delimiter
        self.row_lines = row_lines


def _read_csv(p: Path, options: ReadOptions, notes: list[str]) -> _CsvFile:
    text = _CsvText.read(p)
    raw = text.head  # the whole text, or enough of its beginning for every check up to Arrow's
    # ``start`` skips a byte order mark; offsets (not slices) mark the header and the rows
    start = 3 if raw.startswith(_BOM) else 0
    first = _skip_whitespace(raw, start)
    if first == len(raw):
        only = " (it holds only whitespace)" if len(raw) > start else ""
        raise DataReadError(f"{p}: the file is empty{only}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff"), start):
        raise DataReadError(f"{p}: UTF-16 text, expected UTF-8", hint="re-save the file as UTF-8")
    if raw.find(b"\x00", start, start + _NUL_WINDOW) >= 0:
        raise DataReadError(f"{p}: looks like a binary file (NUL bytes), expected CSV text")
    try:
        parsed = _parse_csv(text, start, first, options, notes)
    except (DataReadError, DataFormatError, UnicodeDecodeError):
        _check_utf8(p, text.whole(), start)  # text that is not UTF-8 is the first thing to say
        raise
    if any(pa.types.is_binary(t) for t in parsed.table.schema.types):
        # the CSV reader reads a column with text that is not UTF-8 as bytes
        _check_utf8(p, text.whole(), start)
    return parsed


def _read_csv_column(csv_file: _CsvFile, position: int, options: ReadOptions) -> pa.ChunkedArray:
    """Column ``position`` of a parsed CSV file again, as text (the rows Arrow read)."""
    n = csv_file.table.num_columns
    names = [f"c{i}" for i in range(n)]
    table = pacsv.read_csv(
        csv_file.text.rows(csv_file.begin),
        read_options=pacsv.ReadOptions(block_size=1 << 24, column_names=names, skip_rows=1),
        parse_options=pacsv.ParseOptions(delimiter=csv_file.delimiter, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            include_columns=[names[position]],
            column_types={names[position]: pa.string()},
            strings_can_be_null=True,
            null_values=_NULL_VALUES,
            quoted_strings_can_be_null=True,
        ),
    )
    return table.column(0)


class _CsvText:
    """The bytes of a CSV file: its beginning in memory, the rest read when needed.

    Arrow reads the rows from the file itself, block by block, so a large
    file is not held in memory whole (reading it into one ``bytes`` costs as
    much as parsing it) except to locate an error. A gzip file is
    decompressed in memory.

    Attributes
    ----------
    path : Path
    head : bytes
        The first bytes of the text: all of them when ``complete``, else at
        least the byte order mark and 64 KiB, the header line and the first
        byte after it that is not whitespace.
    complete : bool
    """

    def __init__(self, path: Path, head: bytes, complete: bool) -> None:
        self.path = path
        self.head = head
        self.complete = complete

    @classmethod
    def read(cls, p: Path) -> _CsvText:
        try:
            if p.suffix.lower() == ".gz":
                return cls(p, _gunzip(p, p.read_bytes()), True)
            with p.open("rb") as fh:
                head = fh.read(_HEAD_BYTES)
                more = len(head) == _HEAD_BYTES
                while more and not _head_is_enough(head):
                    chunk = fh.read(max(len(head), _HEAD_BYTES))
                    head += chunk
                    more = bool(chunk)
                complete = not more or not fh.peek(1)
        except OSError as exc:
            raise DataReadError(f"{p}: cannot be read ({exc.strerror or exc})") from exc
        return cls(p, head, complete)

    def whole(self) -> bytes:
        """The whole text (read now if only its beginning was)."""
        if not self.complete:
            try:
                self.head = self.path.read_bytes()
            except OSError as exc:
                raise DataReadError(f"{self.path}: cannot be read ({exc.strerror or exc})") from exc
            self.complete = True
        return self.head

    def rows(self, begin: int) -> pa.NativeFile:
        """The text from offset ``begin`` on, for Arrow's CSV reader."""
        if self.complete:
            return pa.BufferReader(pa.py_buffer(self.head).slice(begin))
        try:
            stream = pa.OSFile(str(self.path))
        except OSError as exc:
            raise DataReadError(f"{self.path}: cannot be read ({exc})") from exc
        stream.seek(begin)
        return stream

    def count_newlines(self, begin: int) -> int:
        """Line breaks from offset ``begin`` to the end."""
        if self.complete:
            return _count_newlines(self.head, begin)
        buf = np.empty(_COUNT_BLOCK, dtype=np.uint8)
        n = 0
        with self.path.open("rb", buffering=0) as fh:
            fh.seek(begin)
            while k := fh.readinto(buf):  # type: ignore[attr-defined]
                n += int(np.count_nonzero(buf[:k] == ord("\n")))
        return n

    def ends_with_newline(self) -> bool:
        if self.complete:
            return self.head.endswith(b"\n")
        with self.path.open("rb") as fh:
            fh.seek(0, 2)
            if not fh.tell():
                return False
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"


def _gunzip(p: Path, data: bytes) -> bytes:
    import gzip

    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataReadError(f"{p}: not a valid gzip file ({exc})") from exc


def _head_is_enough(head: bytes) -> bool:
    """True when ``head`` holds everything the checks before parsing look at."""
    start = 3 if head.startswith(_BOM) else 0
    if len(head) < start + _NUL_WINDOW:
        return False
    first = _skip_whitespace(head, start)
    newline = head.find(b"\n", first)
    if first == len(head) or newline < 0:
        return False
    return _skip_whitespace(head, newline + 1) < len(head)


def _skip_whitespace(raw: bytes, pos: int) -> int:
    """Offset of the first byte at or after ``pos`` that is not whitespace (or ``len(raw)``)."""
    m = _NOT_WHITESPACE.search(raw, pos)
    return len(raw) if m is None else m.start()


def _check_utf8(p: Path, raw: bytes, start: int) -> None:
    """Raise :class:`DataReadError` at the first byte of ``raw[start:]`` that is not UTF-8.

    Offsets and lines count from ``start`` (after a byte order mark).
    """
    text = raw[start:]
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = text.count(b"\n", 0, exc.start) + 1
        raise DataReadError(
            f"{p}: not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start}, "
            f"line {line})",
            hint="re-save the file as UTF-8",
        ) from exc


def _parse_csv(
    text: _CsvText, start: int, first: int, options: ReadOptions, notes: list[str]
) -> _CsvFile:
    """Parse a text whose first non-blank byte is at ``first`` (``start``: after any BOM).

    Arrow checks that text columns are UTF-8 (a column that is not becomes
    binary); the caller turns that into an error with the offending byte.
    """
    p = text.path
    if options.skip_rows:
        first = _after_skipped_lines(text, start, options.skip_rows)
        notes.append(f"{options.skip_rows} line(s) skipped before the header (skip_rows)")
    raw = text.head
    # blank lines before the header are skipped; line numbers still count them
    begin = max(start, raw.rfind(b"\n", start, first) + 1)  # start of the header line
    if options.skip_rows is None:
        begin = _skip_banner(text, begin, options, notes)
    header_line = raw.count(b"\n", start, begin) + 1
    first_nl = raw.find(b"\n", begin)
    header_end = len(raw) if first_nl < 0 else first_nl
    header = raw[begin:header_end].decode().rstrip("\r")
    used = options.delimiter or _sniff_delimiter(header)
    if first_nl < 0 or _skip_whitespace(raw, first_nl + 1) == len(raw):
        raise DataReadError(f"{p}: has a header line but no data rows")
    header_fields = [h.strip() for h in header.split(used)]
    if len(header_fields) < 2:
        raise DataFormatError(
            f"{p}: the header line has a single column {header_fields[0][:60]!r}",
            hint="expected a timestamp column and at least one value column separated by "
            "',' (or ';', tab, '|'); pass --delimiter if the file uses another separator, "
            "or --skip-rows if lines above the header hold a title",
        )
    _check_header(p, header_fields)
    try:
        table = pacsv.read_csv(
            text.rows(begin),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=used, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=_text_columns([h.strip('"') for h in header_fields], options),
                strings_can_be_null=True,
                null_values=_NULL_VALUES,
                quoted_strings_can_be_null=True,
                decimal_point=options.decimal,
            ),
        )
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        m = re.search(r"Expected (\d+) columns, got (\d+)", msg)
        if m:
            line = _find_ragged_line(text.whole()[begin:], used, int(m.group(1)), header_line)
            where = f" on line {line}" if line else ""
            raise DataFormatError(
                f"{p}: row{where} has {m.group(2)} values but the header has {m.group(1)} columns",
                hint="check the delimiter and quoting of that line",
            ) from exc
        raise DataFormatError(f"{p}: cannot parse as CSV ({msg.splitlines()[0]})") from exc
    row_lines = _row_lines(text, begin, header_line, table.num_rows)
    return _CsvFile(text, table, begin, header_line, used, row_lines)


def _after_skipped_lines(text: _CsvText, start: int, n: int) -> int:
    """Offset of the first non-blank byte after the first ``n`` lines (from ``start``)."""
    for raw in (text.head, text.whole()):
        pos = start
        for _ in range(n):
            nl = raw.find(b"\n", pos)
            if nl < 0:
                break
            pos = nl + 1
        else:
            first = _skip_whitespace(raw, pos)
            if first < len(raw):
                return first
        if text.complete:
            break
    lines = text.whole().count(b"\n", start) + 1
    raise DataReadError(
        f"{text.path}: skipping {n} line(s) leaves nothing to read (the file has {lines} line(s))",
        hint="pass a smaller --skip-rows",
    )


def _text_columns(header: list[str], options: ReadOptions) -> dict[str, pa.DataType]:
    """Columns Arrow must keep as text: the time column(s) when a time format is given.

    Arrow would parse ``2024-01-02`` as a date on its own, which a format
    such as ``%Y-%d-%m`` must be allowed to read otherwise. (A pandas index
    column is left to Arrow: pandas writes ISO 8601.)
    """
    if options.time_format is None:
        return {}
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


def _skip_banner(text: _CsvText, begin: int, options: ReadOptions, notes: list[str]) -> int:
    """Offset of the header line: ``begin``, or the line after banner lines above the header.

    The header is the first of the first lines with at least two columns,
    as many as each of the next lines (up to five), that looks like a header
    (see :func:`_looks_like_header`). The first line is the header unless
    it fails this and a later line passes it.
    """
    lines = _first_lines(text, begin, _BANNER_LINES + _AGREEING_LINES)
    for i in range(min(len(lines) - 1, _BANNER_LINES)):
        offset, line = lines[i]
        delimiter = options.delimiter or _sniff_delimiter(line)
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


def _first_lines(text: _CsvText, begin: int, limit: int) -> list[tuple[int, str]]:
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
    if any(_looks_numeric(n) or _DATE_LIKE.match(n) for n in names if n):
        return False
    known = set(TIMESTAMP_COLUMNS) | set(ASSET_COLUMNS)
    if options.time_column is not None:
        known.add(normalize_column_name(options.time_column))
    return any(normalize_column_name(n) in known or field_name(n) is not None for n in names)


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _check_header(p: Path, names: list[str]) -> None:
    leading = next((i for i, n in enumerate(names) if n), len(names))  # pandas index columns
    if any(not n for n in names[leading:]):
        pos = [i + 1 for i, n in enumerate(names) if not n and i >= leading]
        raise DataFormatError(f"{p}: header has empty column names at positions {pos}")
    if leading == len(names):
        raise DataFormatError(f"{p}: the header line has no column names")
    if all(_looks_numeric(n) for n in names[1:]):
        raise DataFormatError(
            f"{p}: the first line looks like data, not a header ({', '.join(names[:4])})",
            hint="add a header line such as 'timestamp,symbol,close'",
        )


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _find_ragged_line(raw: bytes, delimiter: str, expected: int, first: int) -> int | None:
    """File line of the first row whose field count differs (``first``: line of ``raw[0]``)."""
    sep = delimiter.encode()
    for number, raw_line in enumerate(raw.split(b"\n"), start=first):
        line = raw_line.rstrip(b"\r")
        if not line:  # the CSV parser skips empty lines
            continue
        if b'"' in line:
            try:
                fields = next(csv.reader([line.decode()], delimiter=delimiter))
            except csv.Error:
                return number
            if len(fields) != expected:
                return number
        elif line.count(sep) + 1 != expected:
            return number
    return None


def _row_lines(text: _CsvText, begin: int, header_line: int, n_rows: int) -> np.ndarray | None:
    """File line of each data row when blank lines sit between rows, else None.

    ``begin``: offset of the header line in the text.
    """
    # Without blank lines there is one line break after the header and after
    # each row but perhaps the last; counting them is much cheaper than looking
    # for blank lines, so look only when the count says there may be some.
    if text.count_newlines(begin) == n_rows + text.ends_with_newline():
        return None
    raw = text.whole()
    if raw.find(b"\n\n", begin) < 0 and raw.find(b"\n\r\n", begin) < 0:
        return None
    buf = np.frombuffer(raw, dtype=np.uint8, offset=begin)
    breaks = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], breaks + 1))
    lengths = np.concatenate((breaks, [len(buf)])) - starts
    is_cr = buf[np.minimum(starts, len(buf) - 1)] == ord("\r")
    blank = (lengths == 0) | ((lengths == 1) & is_cr)
    blank[0] = True  # the header
    lines = np.flatnonzero(~blank).astype(np.int64) + header_line
    return lines if len(lines) == n_rows else None


def _count_newlines(raw: bytes, begin: int, block: int = _COUNT_BLOCK) -> int:
    """``raw.count(b"\\n", begin)``, faster: numpy over blocks of ``block`` bytes."""
    buf = np.frombuffer(raw, dtype=np.uint8, offset=begin)
    return sum(
        int(np.count_nonzero(buf[i : i + block] == ord("\n"))) for i in range(0, len(buf), block)
    )
