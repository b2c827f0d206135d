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
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataReadError(f"{p}: cannot be read ({exc.strerror or exc})") from exc
    if p.suffix.lower() == ".gz":
        import gzip

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataReadError(f"{p}: not a valid gzip file ({exc})") from exc
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        only = " (it holds only whitespace)" if raw else ""
        raise DataReadError(f"{p}: the file is empty{only}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataReadError(f"{p}: UTF-16 text, expected UTF-8", hint="re-save the file as UTF-8")
    if b"\x00" in raw[:65536]:
        raise DataReadError(f"{p}: looks like a binary file (NUL bytes), expected CSV text")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataReadError(
            f"{p}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}, line {line})",
            hint="re-save the file as UTF-8",
        ) from exc
    # blank lines before the header are skipped; line numbers still count them
    body = raw.lstrip()
    header_line = raw.count(b"\n", 0, len(raw) - len(body)) + 1
    raw = raw[raw.rfind(b"\n", 0, len(raw) - len(body)) + 1 :]
    first_nl = raw.find(b"\n")
    header = (raw if first_nl < 0 else raw[:first_nl]).decode().rstrip("\r")
    used = delimiter or _sniff_delimiter(header)
    rest = b"" if first_nl < 0 else raw[first_nl + 1 :]
    if not rest.strip():
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
            pa.BufferReader(raw),
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
            line = _find_ragged_line(raw, used, int(m.group(1)), header_line)
            where = f" on line {line}" if line else ""
            raise DataFormatError(
                f"{p}: row{where} has {m.group(2)} values but the header has {m.group(1)} columns",
                hint="check the delimiter and quoting of that line",
            ) from exc
        raise DataFormatError(f"{p}: cannot parse as CSV ({msg.splitlines()[0]})") from exc
    return table, header_line, used, _row_lines(raw, header_line, table.num_rows)


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


def _row_lines(raw: bytes, header_line: int, n_rows: int) -> np.ndarray | None:
    """File line of each data row when blank lines sit between rows, else None."""
    if b"\n\n" not in raw and b"\n\r\n" not in raw:
        return None
    buf = np.frombuffer(raw, dtype=np.uint8)
    breaks = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], breaks + 1))
    lengths = np.concatenate((breaks, [len(buf)])) - starts
    is_cr = buf[np.minimum(starts, len(buf) - 1)] == ord("\r")
    blank = (lengths == 0) | ((lengths == 1) & is_cr)
    blank[0] = True  # the header
    lines = np.flatnonzero(~blank).astype(np.int64) + header_line
    return lines if len(lines) == n_rows else None


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
