"""Reading user files (CSV, Parquet) into an Arrow table with a known layout.

Two layouts are understood:

- **long**: one row per (timestamp, asset) with one column per field, e.g.
  ``timestamp,symbol,open,high,low,close,volume``. A file without an asset
  column whose other columns are all known field names (``Date,Open,High,
  Low,Close,Volume``) is long data for a single asset.
- **wide**: one row per timestamp, one column per asset, one field (named by
  the caller, ``close`` by default).

Column names are matched case-insensitively after trimming; spaces and
dashes become underscores (``Adj Close`` -> ``adj_close``). Reading never
changes values: parsing and checking happen in :mod:`alphaloop.data.normalize`.
"""

from __future__ import annotations

import csv
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from alphaloop.errors import DataFormatError, DataReadError

__all__ = [
    "ASSET_COLUMNS",
    "KNOWN_FIELDS",
    "PRICE_FIELDS",
    "TIMESTAMP_COLUMNS",
    "RawTable",
    "normalize_column_name",
    "read_table",
]

Layout = Literal["auto", "long", "wide"]

TIMESTAMP_COLUMNS = ("timestamp", "datetime", "date", "time", "dt", "ts")
ASSET_COLUMNS = ("asset", "symbol", "ticker", "instrument", "code", "secid", "permno")
MEMBER_COLUMNS = ("member", "in_universe", "is_member")
PRICE_FIELDS = frozenset({"open", "high", "low", "close", "adj_close", "vwap", "price"})
KNOWN_FIELDS = PRICE_FIELDS | frozenset(
    {"volume", "amount", "turnover", "factor", "dividend", "split_ratio", "shares", "market_cap"}
)
_DELIMITERS = (",", ";", "\t", "|")
# a byte that bytes.strip() keeps
_NOT_WHITESPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")
_BOM = b"\xef\xbb\xbf"
_NUL_WINDOW = 1 << 16  # bytes after the BOM looked at for NUL bytes (binary files)
_HEAD_BYTES = 1 << 17  # first read of a CSV file, enough for the header in practice
_COUNT_BLOCK = 1 << 22  # bytes per block when counting line breaks


def normalize_column_name(name: str) -> str:
    """Lower-case, trimmed, with runs of spaces/dashes/dots as one underscore."""
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower()).strip("_")


@dataclass
class RawTable:
    """A file read into Arrow, with its layout resolved.

    Attributes
    ----------
    table : pyarrow.Table
        Columns renamed to their normalized names.
    source : str
        The path, for messages.
    layout : {"long", "wide"}
    timestamp_column, asset_column : str or None
        Normalized names of the key columns (``asset_column`` is None for
        wide and single-asset files).
    field_columns : list of str
        Value columns (fields for long data, assets for wide data).
    member_column : str or None
        Optional boolean membership column of long data.
    single_asset : str or None
        Asset id for a single-asset long file.
    wide_field : str or None
        Field name for wide data.
    notes : list of str
        What the reader inferred (delimiter, layout), shown in reports.
    header_line : int
        1-based line number of the header (data starts on the next line).
    row_lines : ndarray of int64 or None
        1-based file line of each row when rows are not on consecutive lines
        after the header (blank lines in between); None when they are.
    """

    table: pa.Table
    source: str
    layout: Literal["long", "wide"]
    timestamp_column: str
    asset_column: str | None
    field_columns: list[str]
    member_column: str | None = None
    single_asset: str | None = None
    wide_field: str | None = None
    notes: list[str] = field(default_factory=list)
    header_line: int = 1
    original_names: dict[str, str] = field(default_factory=dict)
    row_lines: np.ndarray | None = None


def read_table(
    path: str | Path,
    *,
    layout: Layout = "auto",
    field_name: str = "close",
    asset: str | None = None,
    delimiter: str | None = None,
) -> RawTable:
    """Read a CSV or Parquet file and resolve its layout.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.csv.gz``, ``.txt``, ``.tsv`` or ``.parquet``/``.pq``.
    layout : {"auto", "long", "wide"}, default "auto"
        Force a layout instead of detecting it.
    field_name : str, default "close"
        The field that a wide file holds.
    asset : str, optional
        Asset id for a single-asset file (default: the file name's stem).
    delimiter : str, optional
        CSV delimiter; detected from the header line when omitted.

    Raises
    ------
    DataReadError
        The file is missing, empty, binary, not UTF-8, not valid gzip, or has
        no data rows.
    DataFormatError
        The file was read but has no timestamp column, a ragged row,
        repeated column names or columns of nested values.
    """
    p = Path(path)
    if not p.exists():
        raise DataReadError(f"{p}: no such file")
    if p.is_dir():
        raise DataReadError(f"{p}: is a directory, expected a CSV or Parquet file")
    if delimiter is not None and len(delimiter) > 1:
        raise DataFormatError(
            f"delimiter {delimiter!r} is not a single character",
            hint="pass one character such as ';' or '|' (a tab as $'\\t' in a shell)",
        )
    suffixes = "".join(p.suffixes).lower()
    notes: list[str] = []
    row_lines = None
    if suffixes.endswith((".parquet", ".pq")):
        table = _read_parquet(p)
        header_line = 1
    else:
        table, header_line, used, row_lines = _read_csv(p, delimiter)
        if used != ",":
            notes.append(f"delimiter {used!r} detected")
    raw = _resolve_layout(table, p, layout, field_name, asset, notes, header_line)
    raw.row_lines = row_lines
    return raw


def _read_parquet(p: Path) -> pa.Table:
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataReadError(f"{p}: not a readable Parquet file ({exc})") from exc
    if table.num_columns == 0:
        raise DataReadError(f"{p}: the Parquet file has no columns")
    if table.num_rows == 0:
        raise DataReadError(f"{p}: the Parquet file has a schema but no rows")
    _check_column_types(p, table)
    return table


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


def _read_csv(p: Path, delimiter: str | None) -> tuple[pa.Table, int, str, np.ndarray | None]:
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
        table, header_line, used, row_lines = _parse_csv(text, start, first, delimiter)
    except (DataReadError, DataFormatError, UnicodeDecodeError):
        _check_utf8(p, text.whole(), start)  # text that is not UTF-8 is the first thing to say
        raise
    if any(pa.types.is_binary(t) for t in table.schema.types):
        # the CSV reader reads a column with text that is not UTF-8 as bytes
        _check_utf8(p, text.whole(), start)
    return table, header_line, used, row_lines


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
    text: _CsvText, start: int, first: int, delimiter: str | None
) -> tuple[pa.Table, int, str, np.ndarray | None]:
    """Parse a text whose first non-blank byte is at ``first`` (``start``: after any BOM).

    Arrow checks that text columns are UTF-8 (a column that is not becomes
    binary); the caller turns that into an error with the offending byte.
    """
    p, raw = text.path, text.head
    # blank lines before the header are skipped; line numbers still count them
    header_line = raw.count(b"\n", start, first) + 1
    begin = max(start, raw.rfind(b"\n", start, first) + 1)  # start of the header line
    first_nl = raw.find(b"\n", begin)
    header_end = len(raw) if first_nl < 0 else first_nl
    header = raw[begin:header_end].decode().rstrip("\r")
    used = delimiter or _sniff_delimiter(header)
    if first_nl < 0 or _skip_whitespace(raw, first_nl + 1) == len(raw):
        raise DataReadError(f"{p}: has a header line but no data rows")
    header_fields = [h.strip() for h in header.split(used)]
    if len(header_fields) < 2:
        raise DataFormatError(
            f"{p}: the header line has a single column {header_fields[0][:60]!r}",
            hint="expected a timestamp column and at least one value column separated by "
            "',' (or ';', tab, '|'); pass --delimiter if the file uses another separator",
        )
    _check_header(p, header_fields)
    try:
        table = pacsv.read_csv(
            text.rows(begin),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=used, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=True,
                null_values=["", "NA", "N/A", "NaN", "nan", "null", "NULL", "."],
                quoted_strings_can_be_null=True,
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
    return table, header_line, used, _row_lines(text, begin, header_line, table.num_rows)


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _check_header(p: Path, names: list[str]) -> None:
    if any(not n for n in names):
        pos = [i + 1 for i, n in enumerate(names) if not n]
        raise DataFormatError(f"{p}: header has empty column names at positions {pos}")
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


def _resolve_layout(
    table: pa.Table,
    p: Path,
    layout: Layout,
    field_name: str,
    asset: str | None,
    notes: list[str],
    header_line: int,
) -> RawTable:
    originals = [str(n) for n in table.column_names]
    names = [normalize_column_name(n) for n in originals]
    seen: dict[str, str] = {}
    for orig, norm in zip(originals, names, strict=True):
        if norm in seen:
            raise DataFormatError(
                f"{p}: columns {seen[norm]!r} and {orig!r} both mean {norm!r}",
                hint="rename or remove one of them",
            )
        seen[norm] = orig
    ts_col = next((n for n in TIMESTAMP_COLUMNS if n in names), None)
    if ts_col is None:
        raise DataFormatError(
            f"{p}: no timestamp column; columns are {originals[:8]}",
            hint=f"name it one of {list(TIMESTAMP_COLUMNS)}",
        )
    table = table.rename_columns(names)
    asset_col = next((n for n in ASSET_COLUMNS if n in names), None)
    member_col = next((n for n in MEMBER_COLUMNS if n in names), None)
    others = [n for n in names if n not in (ts_col, asset_col, member_col)]
    if not others:
        raise DataFormatError(f"{p}: no value columns besides {[ts_col, asset_col]}")
    original_names = dict(zip(names, originals, strict=True))
    if layout == "auto":
        if asset_col is not None or all(n in KNOWN_FIELDS for n in others):
            layout = "long"
        else:
            layout = "wide"
        notes.append(f"layout detected: {layout}")
    if layout == "long":
        single = None
        if asset_col is None:
            single = asset or p.name.split(".")[0]
            notes.append(f"single-asset file: asset id {single!r}")
        return RawTable(
            table,
            str(p),
            "long",
            ts_col,
            asset_col,
            others,
            member_col,
            single,
            None,
            notes,
            header_line,
            original_names,
        )
    if asset_col is not None:
        raise DataFormatError(
            f"{p}: wide layout was asked for but the file has an asset column {asset_col!r}"
        )
    # Wide: the value columns are assets; keep their original spelling as ids.
    table = table.rename_columns(
        [original_names[n].strip() if n in others else n for n in table.column_names]
    )
    assets = [original_names[n].strip() for n in others]
    return RawTable(
        table,
        str(p),
        "wide",
        ts_col,
        None,
        assets,
        None,
        None,
        normalize_column_name(field_name),
        notes,
        header_line,
        original_names,
    )
