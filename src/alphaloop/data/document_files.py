"""Reading document files (CSV, JSON Lines, Parquet) into columns with row locators.

A document file has one row per document with the columns ``asset``,
``published_at`` (also spelled ``time``, ``timestamp`` or ``published``) and
``text``, and optionally ``source`` and ``kind``. Column names are compared
in the normalized spelling of :func:`alphaloop.data.names.normalize_column_name`
(``Published At`` is ``published_at``); other columns are ignored and named in
the notes.

Every row keeps a locator for messages: its 1-based file line in CSV and JSON
Lines files (a CSV row whose quoted text spans several lines is located at
its first line), its 1-based row number in Parquet files.

CSV and JSON Lines files are UTF-8 text (a byte order mark is fine),
optionally gzip compressed (``.gz``); the CSV delimiter is taken from the
header line. The values are not checked here: see
:mod:`alphaloop.data.documents`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from alphaloop.data.csvheader import sniff_delimiter
from alphaloop.data.csvtext import BOM, CsvText
from alphaloop.data.names import normalize_column_name
from alphaloop.errors import AlphaloopError, DocumentError

__all__ = ["COLUMN_ALIASES", "DocumentTable", "RowLocator", "read_documents"]

#: canonical column -> accepted spellings (normalized), in the order of preference
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "asset": ("asset", "symbol", "ticker"),
    "published_at": ("published_at", "time", "timestamp", "published"),
    "text": ("text",),
    "source": ("source",),
    "kind": ("kind",),
}
REQUIRED = ("asset", "published_at", "text")
_SHOWN_COLUMNS = 8
_SHOWN_ROWS = 5  # rows a message names
_MAX_FIELD_CHARS = 1 << 30


@dataclass(frozen=True)
class DocumentTable:
    """The document columns of a file, as read.

    Attributes
    ----------
    path : Path
    columns : dict of str to pyarrow.ChunkedArray
        Canonical name -> column; ``source`` and ``kind`` only when the file
        has them. ``published_at`` keeps the file's type (text, integers,
        timestamps); the others are text.
    locators : ndarray of int64
        Per row, its 1-based file line (CSV, JSON Lines) or row number (Parquet).
    unit : {"line", "row"}
        What a locator counts.
    notes : tuple of str
        What the reader did that the user may want to know (ignored columns).
    """

    path: Path
    columns: dict[str, pa.ChunkedArray]
    locators: np.ndarray
    unit: Literal["line", "row"]
    notes: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        return len(self.locators)


class RowLocator:
    """Names the first rows of a mask for a message: ``2 row(s): lines 3 'x', 7 'y'``.

    Parameters
    ----------
    table : DocumentTable
        Whose locators (file lines or row numbers) the rows are named by.
    """

    def __init__(self, table: DocumentTable) -> None:
        self.locators = table.locators
        self.unit = table.unit

    def __call__(self, mask: np.ndarray, written: list[str | None] | None = None) -> str:
        """The count and first rows of ``mask``, each with its value in ``written`` if given."""
        rows = np.flatnonzero(mask)
        parts = []
        for r in rows[:_SHOWN_ROWS]:
            part = str(int(self.locators[r]))
            if written is not None and written[r] is not None:
                part += f" {str(written[r])[:40]!r}"
            parts.append(part)
        more = f" and {len(rows) - _SHOWN_ROWS} more" if len(rows) > _SHOWN_ROWS else ""
        unit = self.unit if len(rows) == 1 else f"{self.unit}s"
        return f"{len(rows)} row(s): {unit} {', '.join(parts)}{more}"


def read_documents(path: str | Path) -> DocumentTable:
    """Read a document file: ``.csv``/``.tsv``/``.txt``, ``.jsonl``/``.ndjson``
    (each optionally ``.gz``) or ``.parquet``/``.pq``.

    Raises
    ------
    DocumentError
        The file is missing, unreadable, not UTF-8, malformed (a ragged CSV
        row, a JSON line that is not an object), has no rows, or lacks a
        required column.
    """
    p = Path(path)
    if not p.exists():
        raise DocumentError(f"{p}: no such file")
    if p.is_dir():
        raise DocumentError(f"{p}: is a directory, expected a CSV, JSON Lines or Parquet file")
    suffixes = "".join(p.suffixes).lower().removesuffix(".gz")
    if suffixes.endswith((".parquet", ".pq")):
        return _read_parquet(p)
    if suffixes.endswith((".jsonl", ".ndjson", ".json")):
        return _read_jsonl(p)
    if suffixes.endswith((".csv", ".tsv", ".txt")):
        return _read_csv(p)
    raise DocumentError(
        f"{p}: unknown file type {''.join(p.suffixes) or '(none)'}",
        hint="use .csv, .jsonl or .parquet (CSV and JSON Lines may be gzip compressed: .gz)",
    )


def _text_of(p: Path) -> str:
    """The file's text (gzip decompressed), without a byte order mark."""
    try:
        raw = CsvText.read(p).whole()
    except AlphaloopError as exc:  # unreadable, bad gzip
        raise DocumentError(exc.message, hint=exc.hint) from exc
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{p}: UTF-16 text, expected UTF-8", hint="re-save the file as UTF-8")
    if b"\x00" in raw[: 1 << 16]:
        raise DocumentError(f"{p}: looks like a binary file (NUL bytes), expected text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DocumentError(
            f"{p}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line})",
            hint="re-save the file as UTF-8",
        ) from exc


def _mapping(p: Path, names: list[str]) -> tuple[dict[str, int], list[str]]:
    """Canonical column -> position in ``names`` (normalized), and the ignored names."""
    normalized = [normalize_column_name(n) for n in names]
    found: dict[str, int] = {}
    for canonical, aliases in COLUMN_ALIASES.items():
        present = [a for a in aliases if a in normalized]
        if len(present) > 1:
            raise DocumentError(
                f"{p}: columns {', '.join(repr(a) for a in present)} all name the {canonical} "
                "of a document",
                hint="keep one of them (or rename the others)",
            )
        if present:
            found[canonical] = normalized.index(present[0])
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        shown = ", ".join(repr(n) for n in names[:_SHOWN_COLUMNS])
        more = " ..." if len(names) > _SHOWN_COLUMNS else ""
        raise DocumentError(
            f"{p}: no {' and no '.join(repr(m) for m in missing)} column (columns: {shown}{more})",
            hint="a document file needs the columns asset, published_at (or time, timestamp, "
            "published) and text; source and kind are optional",
        )
    used = set(found.values())
    return found, [n for i, n in enumerate(names) if i not in used]


def _notes(ignored: list[str]) -> tuple[str, ...]:
    if not ignored:
        return ()
    return (f"columns not used: {', '.join(ignored)}",)


# -------------------------------------------------------------------------- CSV
def _read_csv(p: Path) -> DocumentTable:
    text = _text_of(p)
    first = text.lstrip("\r\n")
    if not first.strip():
        raise DocumentError(f"{p}: the file is empty")
    header_line = text[: len(text) - len(first)].count("\n") + 1
    delimiter = "\t" if p.name.lower().endswith((".tsv", ".tsv.gz")) else None
    delimiter = delimiter or sniff_delimiter(first.split("\n", 1)[0])
    # filings and transcripts run past the csv module's default field limit (128 KiB)
    csv.field_size_limit(max(csv.field_size_limit(), _MAX_FIELD_CHARS))
    reader = csv.reader(io.StringIO(first, newline=""), delimiter=delimiter, strict=True)
    offset = header_line - 1  # lines before the header
    try:
        header = next(reader)
        found, ignored = _mapping(p, [h.strip() for h in header])
        values: dict[str, list[str | None]] = {c: [] for c in found}
        lines: list[int] = []
        previous = reader.line_num
        for record in reader:
            start = previous + 1 + offset
            previous = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            if len(record) != len(header):
                raise DocumentError(
                    f"{p}: line {start} has {len(record)} values but the header has "
                    f"{len(header)} columns",
                    hint="check the delimiter and the quoting of that line "
                    "(text with the delimiter or line breaks must be quoted)",
                )
            lines.append(start)
            for canonical, position in found.items():
                value = record[position]
                values[canonical].append(value if value != "" else None)
    except csv.Error as exc:
        raise DocumentError(
            f"{p}: cannot parse as CSV near line {reader.line_num + offset} ({exc})",
            hint="check the quoting of that line",
        ) from exc
    if not lines:
        raise DocumentError(f"{p}: has a header line but no data rows")
    columns = {c: pa.chunked_array([pa.array(v, pa.string())]) for c, v in values.items()}
    return DocumentTable(p, columns, np.asarray(lines, dtype=np.int64), "line", _notes(ignored))


# ------------------------------------------------------------------- JSON Lines
def _read_jsonl(p: Path) -> DocumentTable:
    text = _text_of(p)
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DocumentError(
                f"{p}: line {number} is not valid JSON ({exc.msg} at column {exc.colno})",
                hint="a JSON Lines file holds one JSON object per line",
            ) from exc
        if not isinstance(record, dict):
            raise DocumentError(
                f"{p}: line {number} holds a JSON {type(record).__name__}, expected an object",
                hint='one object per line, e.g. {"asset": "AAPL", "published_at": '
                '"2024-01-02T14:30:00Z", "text": "..."}',
            )
        records.append(record)
        lines.append(number)
    if not records:
        raise DocumentError(f"{p}: the file holds no JSON objects")
    names = list(dict.fromkeys(k for r in records for k in r))
    found, ignored = _mapping(p, names)
    columns = {}
    for canonical, position in found.items():
        key = names[position]
        raw = [r.get(key) for r in records]
        columns[canonical] = _json_column(p, canonical, raw, lines)
    return DocumentTable(p, columns, np.asarray(lines, dtype=np.int64), "line", _notes(ignored))


def _json_column(p: Path, name: str, raw: list[Any], lines: list[int]) -> pa.ChunkedArray:
    """Text (numbers written as text); a time column of integers stays integers (epochs)."""
    present = [v for v in raw if v is not None]
    if name == "published_at" and present and all(_is_int(v) for v in present):
        return pa.chunked_array([pa.array(raw, pa.int64())])
    out: list[str | None] = []
    for value, line in zip(raw, lines, strict=True):
        if value is None or isinstance(value, str):
            out.append(value if value != "" else None)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append(str(value))
        else:
            raise DocumentError(
                f"{p}: line {line}: {name!r} holds a JSON {type(value).__name__}, "
                "expected text (or a number)"
            )
    return pa.chunked_array([pa.array(out, pa.string())])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------- Parquet
def _read_parquet(p: Path) -> DocumentTable:
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DocumentError(f"{p}: not a readable Parquet file ({exc})") from exc
    if table.num_rows == 0:
        raise DocumentError(f"{p}: the Parquet file has no rows")
    found, ignored = _mapping(p, table.column_names)
    columns = {}
    for canonical, position in found.items():
        col = table.column(position)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if canonical != "published_at":
            try:
                col = pc.cast(col, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DocumentError(
                    f"{p}: column {table.column_names[position]!r} holds {col.type}, expected text"
                ) from exc
            col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
        columns[canonical] = col
    locators = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return DocumentTable(p, columns, locators, "row", _notes(ignored))
