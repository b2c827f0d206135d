"""Reading user files (CSV, Parquet) into an Arrow table with a known layout.

The file is read as it is; :mod:`alphaloop.data.layout` then finds its
key columns and layout (long, single asset or wide), and parsing and
checking happen in :mod:`alphaloop.data.normalize`. How to read it is said
by one :class:`~alphaloop.data.options.ReadOptions`.

CSV files are UTF-8 text (a byte order mark is fine), optionally gzip
compressed; where their header is (banner lines above it, lines to skip,
two header lines) is found by :mod:`alphaloop.data.csvheader`, and the
delimiter is taken from the header line unless given.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from alphaloop.data.csvheader import (
    after_skipped_lines,
    looks_numeric,
    skip_banner,
    sniff_delimiter,
    text_columns,
    two_level_header,
)
from alphaloop.data.csvtext import BOM, CsvText, skip_whitespace
from alphaloop.data.layout import LayoutError, RawTable, resolve_layout
from alphaloop.data.names import (
    ASSET_COLUMNS,
    KNOWN_FIELDS,
    MEMBER_COLUMNS,
    PRICE_FIELDS,
    TIMESTAMP_COLUMNS,
    normalize_column_name,
)
from alphaloop.data.options import Layout, ReadOptions
from alphaloop.data.origin import SYNTHETIC_PARQUET_KEY
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

_NUL_WINDOW = 1 << 16  # bytes after the BOM looked at for NUL bytes (binary files)
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
        if raw.source_rows is not None:
            raw.row_lines = raw.source_rows.astype(np.int64) + 2
        return raw
    csv_file = _read_csv(p, options, notes)
    if csv_file.delimiter != ",":
        notes.append(f"delimiter {csv_file.delimiter!r} detected")
    raw = resolve_layout(csv_file.table, p, options, notes, csv_file.header_line)
    raw.row_lines = csv_file.row_lines
    if raw.source_rows is not None:  # rows melted from columns of two levels
        lines = csv_file.row_lines
        if lines is None:
            lines = np.arange(csv_file.table.num_rows, dtype=np.int64) + raw.header_line + 1
        raw.row_lines = lines[raw.source_rows]
    ts_type = raw.table.column(raw.timestamp_column).type
    if pa.types.is_timestamp(ts_type) and ts_type.tz is not None:
        # Arrow converted values with UTC offsets: keep the text to check the offsets
        assert raw.timestamp_position is not None
        pa.default_memory_pool().release_unused()  # the parse's buffers, kept by the allocator
        text = _read_csv_column(csv_file, raw.timestamp_position, options)
        raw.time_text = text if raw.source_rows is None else text.take(raw.source_rows)
    return raw


def _read_parquet(p: Path) -> tuple[pa.Table, tuple[str, ...]]:
    """The table and the columns pandas metadata names as the index (if pandas wrote it)."""
    try:
        table = _read_row_groups(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataReadError(f"{p}: not a readable Parquet file ({exc})") from exc
    if SYNTHETIC_PARQUET_KEY in (table.schema.metadata or {}):
        raise DataReadError(
            f"{p}: the file holds synthetic paths drawn by a generator, not market data",
            hint="synthetic paths are never imported as a dataset; draw them again with "
            "`alphaloop synth sample`",
        )
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


def _read_row_groups(p: Path) -> pa.Table:
    """The whole file, read one row group at a time (one chunk per row group).

    Reading every row group at once decodes them all together: the buffers of
    the decoding then add about half the table again to the peak memory.
    Arrow's allocator keeps freed memory for reuse; it is handed back to the
    system after each row group, so the peak stays near the table's size.
    """
    pf = pq.ParquetFile(p)
    if pf.num_row_groups <= 1:
        return pf.read()
    pool = pa.default_memory_pool()
    parts = []
    for i in range(pf.num_row_groups):
        parts.append(pf.read_row_group(i, use_threads=False))
        pool.release_unused()
    return pa.concat_tables(parts)


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
        text: CsvText,
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
    text = CsvText.read(p)
    raw = text.head  # the whole text, or enough of its beginning for every check up to Arrow's
    # ``start`` skips a byte order mark; offsets (not slices) mark the header and the rows
    start = 3 if raw.startswith(BOM) else 0
    first = skip_whitespace(raw, start)
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
    text: CsvText, start: int, first: int, options: ReadOptions, notes: list[str]
) -> _CsvFile:
    """Parse a text whose first non-blank byte is at ``first`` (``start``: after any BOM).

    Arrow checks that text columns are UTF-8 (a column that is not becomes
    binary); the caller turns that into an error with the offending byte.
    """
    p = text.path
    if options.skip_rows:
        first = after_skipped_lines(text, start, options.skip_rows)
        notes.append(f"{options.skip_rows} line(s) skipped before the header (skip_rows)")
    raw = text.head
    # blank lines before the header are skipped; line numbers still count them
    begin = max(start, raw.rfind(b"\n", start, first) + 1)  # start of the header line
    if options.skip_rows is None:
        begin = skip_banner(text, begin, options, notes)
    header_line = raw.count(b"\n", start, begin) + 1
    first_nl = raw.find(b"\n", begin)
    header_end = len(raw) if first_nl < 0 else first_nl
    header = raw[begin:header_end].decode().rstrip("\r")
    used = options.delimiter or sniff_delimiter(header)
    if first_nl < 0 or skip_whitespace(raw, first_nl + 1) == len(raw):
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
    read_options = pacsv.ReadOptions(block_size=1 << 24)
    levels = two_level_header(text, begin, used)
    if levels is not None:  # pandas columns of two levels: the rows start after them
        names, rows = levels
        for _ in range(rows - 1):
            begin = raw.find(b"\n", begin) + 1
        header_line = raw.count(b"\n", start, begin) + 1
        read_options = pacsv.ReadOptions(block_size=1 << 24, column_names=names, skip_rows=1)
        header_fields = names
        notes.append(f"{rows} header lines: pandas columns of two levels")
    try:
        table = pacsv.read_csv(
            text.rows(begin),
            read_options=read_options,
            parse_options=pacsv.ParseOptions(delimiter=used, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=text_columns(
                    text, begin, [h.strip('"') for h in header_fields], used, options
                ),
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
    # the parse's buffers are free, but Arrow's allocator keeps them for reuse: hand them back
    pa.default_memory_pool().release_unused()
    row_lines = _row_lines(text, begin, header_line, table.num_rows)
    return _CsvFile(text, table, begin, header_line, used, row_lines)


def _check_header(p: Path, names: list[str]) -> None:
    leading = next((i for i, n in enumerate(names) if n), len(names))  # pandas index columns
    if any(not n for n in names[leading:]):
        pos = [i + 1 for i, n in enumerate(names) if not n and i >= leading]
        raise DataFormatError(f"{p}: header has empty column names at positions {pos}")
    if leading == len(names):
        raise DataFormatError(f"{p}: the header line has no column names")
    if leading and all(looks_numeric(n) for n in names[leading:]):
        raise DataFormatError(
            f"{p}: the value columns have no names, only the numbers pandas gives them "
            f"({', '.join(names[leading:][:4])})",
            hint="name them before writing the file, e.g. series.rename('close').to_csv(path) "
            "or df.columns = ['open', 'close']",
        )
    if all(looks_numeric(n) for n in names[1:]):
        raise DataFormatError(
            f"{p}: the first line looks like data, not a header ({', '.join(names[:4])})",
            hint="add a header line such as 'timestamp,symbol,close'",
        )


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


def _row_lines(text: CsvText, begin: int, header_line: int, n_rows: int) -> np.ndarray | None:
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
