"""The layout of a table read from a file: which column is time, asset, field or asset values.

Three layouts are understood:

- **long**: one row per (timestamp, asset), one column per field
  (``timestamp,symbol,open,high,low,close,volume``);
- **single**: long data of one asset without an asset column
  (``Date,Open,High,Low,Close,Adj Close,Volume``); the field columns may
  carry the asset's name (``BTC:open,BTC:close``);
- **wide**: one row per timestamp, one column per asset, one field.

Columns of two levels (field and asset, as pandas names them in Parquet:
``('Close', 'AAPL')``; the CSV reader names the columns of a two-line
header so) are melted into long rows first.

Detection (``layout="auto"``) is certain or refuses: a file with an asset
column is long; a file whose value columns are all known fields (one asset's
fields) is single-asset; a file whose value columns all look unlike fields
is wide; anything else raises :class:`LayoutError`, which names the
columns that looked like fields and those that did not.

Columns written by pandas for its index are recognised: an unnamed first
CSV column (``df.to_csv(path)``: header ``,open,...``, or ``Unnamed: 0`` once
read back and written again), a column ``index`` or ``level_0`` (left by
``reset_index()``) and the index columns of a Parquet file written by pandas
(``__index_level_0__`` or a named index). A datetime index becomes the time column when no other
column is one; an integer index (row numbers) is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alphaloop.data.names import (
    ASSET_COLUMNS,
    MEMBER_COLUMNS,
    TIMESTAMP_COLUMNS,
    field_name,
    looks_like_field,
    looks_like_time,
    normalize_column_name,
)
from alphaloop.data.options import ReadOptions
from alphaloop.data.twolevel import column_pair, melt_two_levels
from alphaloop.errors import DataFormatError

__all__ = ["LayoutError", "RawTable", "resolve_layout"]

# names pandas gives an index it writes: none, ``Unnamed: 0`` when read back, ``index`` or
# ``level_0`` after ``reset_index()``, ``__index_level_0__`` in Parquet
_UNNAMED = re.compile(r"^(|__index_level_\d+__|[Uu]nnamed:\s*\d+(_level_\d+)?|index|level_\d+)$")
_TIME_OF_DAY = r"^\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*$"
_SHOWN = 8  # column names shown in a message


class LayoutError(DataFormatError):
    """The layout of a file cannot be told for certain; ``--layout`` must say it.

    Attributes
    ----------
    field_like : tuple of str
        Value columns whose names look like fields (``open``, ``adjClose``).
    other : tuple of str
        Value columns whose names do not.
    """

    def __init__(
        self,
        message: str,
        field_like: tuple[str, ...],
        other: tuple[str, ...],
        *,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.field_like = field_like
        self.other = other


@dataclass
class RawTable:
    """A file read into Arrow, with its layout resolved.

    Attributes
    ----------
    table : pyarrow.Table
        Columns renamed to their normalized names (known fields to their
        canonical names; wide files keep asset ids as written).
    source : str
        The path, for messages.
    layout : {"long", "wide"}
        Single-asset files are long with ``single_asset`` set.
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
        What the reader inferred (delimiter, layout, skipped lines, dropped
        columns), shown in reports.
    header_line : int
        1-based line number of the header (data starts on the next line).
    original_names : dict of str to str
        Column name in ``table`` -> name as written in the file.
    row_lines : ndarray of int64 or None
        1-based file line of each row when rows are not on consecutive lines
        after the header (blank lines in between); None when they are.
    options : ReadOptions
        The options the file was read with.
    time_text : pyarrow.ChunkedArray or None
        The timestamp column as written, when the reader parsed it to
        timestamps with UTC offsets (the offsets are checked on it).
    timestamp_position : int or None
        0-based position of the timestamp column in the file.
    source_rows : ndarray of intp or None
        Row of the file each row of ``table`` comes from, when they differ
        (columns of two levels melted into long rows).
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
    options: ReadOptions = field(default_factory=ReadOptions)
    time_text: pa.ChunkedArray | None = None
    timestamp_position: int | None = None
    source_rows: np.ndarray | None = None


def resolve_layout(
    table: pa.Table,
    p: Path,
    options: ReadOptions,
    notes: list[str],
    header_line: int,
    *,
    pandas_index: tuple[str, ...] = (),
) -> RawTable:
    """Find the key columns and the layout of ``table`` (read from ``p``).

    Parameters
    ----------
    pandas_index : tuple of str
        Columns a Parquet file's pandas metadata names as the index.

    Raises
    ------
    DataFormatError
        No timestamp column, two columns with the same normalized name, an
        unnamed column that is neither row numbers nor the time column, or a
        layout that contradicts the file.
    LayoutError
        ``options.layout`` is ``"auto"`` and the layout cannot be told.
    """
    originals = [str(n) for n in table.column_names]
    pairs = {i: pair for i, n in enumerate(originals) if (pair := column_pair(n)) is not None}
    if pairs:
        return _resolve_pairs(table, p, options, notes, header_line, pandas_index, pairs)
    unnamed = [i for i, n in enumerate(originals) if _UNNAMED.match(n.strip())]
    names = [normalize_column_name(n) for n in originals]
    _check_distinct(p, originals, names, unnamed)
    ts_i = _time_column(table, p, options, originals, names, unnamed, pandas_index)
    drop = set(_unnamed_to_drop(table, p, originals, unnamed, ts_i, notes))
    table, ts_i, combined = _combine_date_and_time(table, ts_i, originals, names, notes)
    drop |= combined
    # other columns that hold times are not values
    for i, n in enumerate(originals):
        if i == ts_i or i in drop or i in unnamed:
            continue
        if names[i] in TIMESTAMP_COLUMNS or looks_like_time(n):
            drop.add(i)
            notes.append(
                f"column {n!r} looks like a time column too and is not imported "
                f"(the time column is {originals[ts_i]!r}; choose another with --time-column)"
            )
    keep = [i for i in range(len(originals)) if i not in drop]
    if ts_i in unnamed:  # the pandas index: give it a name
        names[ts_i] = "timestamp" if "timestamp" not in {names[i] for i in keep} else "__index__"
    ts_col = names[ts_i]
    table = table.select(keep).rename_columns([names[i] for i in keep])
    original_names = {names[i]: originals[i] or "(index)" for i in keep}
    kept = [names[i] for i in keep]
    asset_col = next((n for n in ASSET_COLUMNS if n in kept and n != ts_col), None)
    member_col = next((n for n in MEMBER_COLUMNS if n in kept and n != ts_col), None)
    others = [n for n in kept if n not in (ts_col, asset_col, member_col)]
    if not others:
        raise DataFormatError(f"{p}: no value columns besides {[ts_col, asset_col]}")
    layout = options.layout
    single_fields = _single_asset_fields([original_names[n] for n in others])
    if layout == "auto":
        layout = _detect(p, asset_col, others, original_names, single_fields)
        notes.append(f"layout detected: {'single asset' if layout == 'single' else layout}")
    if layout == "wide":
        if asset_col is not None:
            raise DataFormatError(
                f"{p}: wide layout was asked for but the file has an asset column {asset_col!r}",
                hint="pass --layout long",
            )
        # the value columns are assets: keep their original spelling as ids
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
            wide_field=options.field,
            notes=notes,
            header_line=header_line,
            original_names=original_names,
            options=options,
            timestamp_position=ts_i,
        )
    if layout == "single" and asset_col is not None:
        raise DataFormatError(
            f"{p}: single-asset layout was asked for but the file has an asset column "
            f"{original_names[asset_col]!r}",
            hint="pass --layout long",
        )
    single = None
    prefix = ""
    if asset_col is None:
        if single_fields is not None:
            fields, prefix = single_fields
        else:
            fields = [_alias(original_names[n], n) for n in others]
        single = options.asset or prefix or p.name.split(".")[0]
        notes.append(f"single-asset file: asset id {single!r}")
    else:
        fields = [_alias(original_names[n], n) for n in others]
    renamed = dict(zip(others, fields, strict=True))
    if len(set(fields)) != len(fields):  # two spellings of one field: keep the names as read
        renamed = {n: n for n in others}
    moved = [f"{original_names[n]!r} -> {renamed[n]}" for n in others if renamed[n] != n]
    if moved:
        notes.append("columns read as known fields: " + ", ".join(moved[:_SHOWN]))
    table = table.rename_columns([renamed.get(n, n) for n in table.column_names])
    original_names = {renamed.get(n, n): o for n, o in original_names.items()}
    return RawTable(
        table,
        str(p),
        "long",
        ts_col,
        asset_col,
        [renamed[n] for n in others],
        member_col,
        single,
        None,
        notes,
        header_line,
        original_names,
        options=options,
        timestamp_position=ts_i,
    )


# ------------------------------------------------------ columns of two levels
def _resolve_pairs(
    table: pa.Table,
    p: Path,
    options: ReadOptions,
    notes: list[str],
    header_line: int,
    pandas_index: tuple[str, ...],
    pairs: dict[int, tuple[str, str]],
) -> RawTable:
    """Melt columns of two levels (field and asset) into long rows, then resolve those."""
    if options.layout in ("single", "wide"):
        raise DataFormatError(
            f"{p}: the columns have two levels (field and asset); layout "
            f"{options.layout!r} does not apply",
            hint="pass --layout long or auto",
        )
    melted = melt_two_levels(table, p, pairs)
    if melted is None:
        level0 = tuple(a for a, _ in pairs.values())
        level1 = tuple(b for _, b in pairs.values())
        raise LayoutError(
            f"{p}: the columns have two levels ({sorted(set(level0))[:_SHOWN]} and "
            f"{sorted(set(level1))[:_SHOWN]}) and not exactly one of them is made of known "
            "fields",
            level0,
            level1,
            hint="write the file in long format: timestamp, asset, one column per field",
        )
    notes.append(
        f"columns of two levels read as {melted.assets} asset(s) x {len(melted.fields)} "
        f"field(s) ({', '.join(melted.fields[:_SHOWN])})"
    )
    raw = resolve_layout(
        melted.table,
        p,
        options.replace(layout="long"),
        notes,
        header_line,
        pandas_index=pandas_index,
    )
    raw.options = options
    raw.source_rows = melted.source_rows
    if raw.timestamp_position is not None:
        raw.timestamp_position = melted.keys[raw.timestamp_position]
    return raw


# ---------------------------------------------------------------- key columns
def _check_distinct(p: Path, originals: list[str], names: list[str], unnamed: list[int]) -> None:
    seen: dict[str, str] = {}
    for i, (orig, norm) in enumerate(zip(originals, names, strict=True)):
        if i in unnamed:
            continue
        if norm in seen:
            raise DataFormatError(
                f"{p}: columns {seen[norm]!r} and {orig!r} both mean {norm!r}",
                hint="rename or remove one of them",
            )
        seen[norm] = orig


def _time_column(
    table: pa.Table,
    p: Path,
    options: ReadOptions,
    originals: list[str],
    names: list[str],
    unnamed: list[int],
    pandas_index: tuple[str, ...],
) -> int:
    """Position of the timestamp column."""
    if options.time_column is not None:
        want = options.time_column.strip()
        for candidates in (
            [i for i, n in enumerate(originals) if n.strip() == want],
            [i for i, n in enumerate(names) if n == normalize_column_name(want)],
        ):
            if candidates:
                return candidates[0]
        raise DataFormatError(
            f"{p}: no column {want!r} for the time; columns are {originals[:_SHOWN]}",
            hint="pass --time-column with a column name as written in the header",
        )
    regular = [i for i in range(len(names)) if i not in unnamed]
    for name in TIMESTAMP_COLUMNS:
        for i in regular:
            if names[i] == name:
                return i
    # a pandas index: unnamed (or named but not a timestamp name) and holding times
    index = unnamed + [i for i in regular if originals[i] in pandas_index]
    row_numbers = []
    for i in index:
        col = table.column(i)
        typ = col.type
        if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
            return i
        if i in unnamed and (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            return i
        if i in unnamed and pa.types.is_integer(typ):
            if _is_row_numbers(col):
                row_numbers.append(i)
            else:
                return i
    time_like = [n for n in originals if looks_like_time(n)]
    hint = f"name it one of {list(TIMESTAMP_COLUMNS[:6])}, or pass --time-column"
    if time_like:
        hint = f"pass --time-column {time_like[0]!r} if that column holds the time"
    extra = ""
    if row_numbers:
        extra = (
            f" (column {row_numbers[0] + 1} has no name and holds row numbers 0, 1, 2, ...: "
            "a pandas index written without the dates)"
        )
    raise DataFormatError(
        f"{p}: no timestamp column{extra}; columns are {originals[:_SHOWN]}", hint=hint
    )


def _is_row_numbers(col: pa.ChunkedArray) -> bool:
    """True when an integer column counts 0, 1, 2, ... (or from 1): a pandas RangeIndex."""
    if col.null_count or not len(col):
        return False
    values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)
    return int(values[0]) in (0, 1) and bool(np.all(np.diff(values) == 1))


def _unnamed_to_drop(
    table: pa.Table,
    p: Path,
    originals: list[str],
    unnamed: list[int],
    ts_i: int,
    notes: list[str],
) -> list[int]:
    """Unnamed (pandas index) columns other than the time column: numbers and times are dropped."""
    drop = []
    for i in unnamed:
        if i == ts_i:
            notes.append(
                f"column {i + 1} ({_label(originals[i])}) is a pandas index holding the time: "
                "read as the timestamp column"
            )
            continue
        col = table.column(i)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            drop.append(i)
            notes.append(
                f"column {i + 1} ({_label(originals[i])}) is a pandas index of row numbers: "
                "not imported"
            )
            continue
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            drop.append(i)
            notes.append(
                f"column {i + 1} ({_label(originals[i])}) is a pandas index of times and is not "
                f"imported (the time column is {originals[ts_i]!r}; choose with --time-column)"
            )
            continue
        sample = [str(v) for v in col.drop_null().slice(0, 3).to_pylist()]
        raise DataFormatError(
            f"{p}: column {i + 1} has no name ({originals[i]!r}) and holds {sample}, "
            "neither row numbers nor the time",
            hint="give the column a name in the header (e.g. 'symbol'), or remove it",
        )
    return drop


def _label(name: str) -> str:
    return repr(name) if name else "no name"


def _combine_date_and_time(
    table: pa.Table, ts_i: int, originals: list[str], names: list[str], notes: list[str]
) -> tuple[pa.Table, int, set[int]]:
    """Join a ``date`` column and a ``time`` column of times of day into one timestamp column.

    Returns the table (the date column replaced by ``"<date> <time>"`` text),
    the position of the time column and the positions to drop.
    """
    if names[ts_i] != "date" or "time" not in names:
        return table, ts_i, set()
    t_i = names.index("time")
    time_col = table.column(t_i)
    if pa.types.is_time(time_col.type):
        time_text = pc.cast(time_col, pa.string())
    elif pa.types.is_string(time_col.type) or pa.types.is_large_string(time_col.type):
        present = time_col.drop_null()
        if not len(present) or not pc.all(pc.match_substring_regex(present, _TIME_OF_DAY)).as_py():
            return table, ts_i, set()
        time_text = pc.utf8_trim_whitespace(time_col)
    else:
        return table, ts_i, set()
    date_col = table.column(ts_i)
    if not (pa.types.is_date(date_col.type) or pa.types.is_string(date_col.type)):
        return table, ts_i, set()
    date_text = pc.utf8_trim_whitespace(pc.cast(date_col, pa.string()))
    joined = pc.binary_join_element_wise(date_text, time_text, " ")
    table = table.set_column(ts_i, table.field(ts_i).with_type(pa.string()), joined)
    notes.append(
        f"columns {originals[ts_i]!r} and {originals[t_i]!r} joined into the timestamps "
        "('<date> <time>')"
    )
    return table, ts_i, {t_i}


# --------------------------------------------------------------------- layout
def _alias(original: str, norm: str) -> str:
    """The canonical name of a field column written another way (``adjClose``), else ``norm``."""
    found = field_name(original)
    return found.field if found is not None and not found.rest else norm


def _single_asset_fields(columns: list[str]) -> tuple[list[str], str] | None:
    """The fields of one asset that the value columns name, and the asset's name in them.

    Every column must be a known field, alone or with the same other words
    (``BTC:open``, ``BTC:close`` -> ``open``, ``close`` and ``BTC``), each
    field once. None when they are not.
    """
    found = [field_name(c) for c in columns]
    if any(f is None for f in found):
        return None
    fields = [f.field for f in found if f is not None]
    rests = {f.rest.lower() for f in found if f is not None and f.rest}
    if len(rests) > 1 or len(set(fields)) != len(fields):
        return None
    prefix = next((f.rest for f in found if f is not None and f.rest), "")
    return fields, prefix


def _detect(
    p: Path,
    asset_col: str | None,
    others: list[str],
    original_names: dict[str, str],
    single_fields: tuple[list[str], str] | None,
) -> Literal["long", "single", "wide"]:
    if asset_col is not None:
        return "long"
    if single_fields is not None:
        return "single"
    written = [original_names[n] for n in others]
    field_like = tuple(c for c in written if looks_like_field(c, written))
    other = tuple(c for c in written if c not in field_like)
    if not field_like:
        return "wide"
    hint = (
        "say the layout: --layout single if the file holds one asset (every value column is "
        "one of its fields), --layout wide if every value column is an asset, "
        "--layout long if it has an asset column"
    )
    if other:
        raise LayoutError(
            f"{p}: cannot tell the layout: columns {_names(field_like)} look like fields but "
            f"{_names(other)} do not, so this is neither clearly one asset's fields nor "
            "clearly one column per asset",
            field_like,
            other,
            hint=hint,
        )
    found = [field_name(c) for c in written]
    unknown = [c for c, f in zip(written, found, strict=True) if f is None]
    named = [(c, f) for c, f in zip(written, found, strict=True) if f is not None]
    rests = sorted({f.rest.lower(): f.rest for _, f in named if f.rest}.values())
    bare = [c for c, f in named if not f.rest]
    if unknown:
        why = f"{_names(tuple(unknown))} are not known field names"
    elif len(rests) > 1:
        why = (
            f"the words besides the field names differ ({', '.join(map(repr, rests[:_SHOWN]))}),"
            " as in columns of several assets"
        )
        hint += (
            "; one column per asset and field is not read directly: convert such a file to "
            "long format (timestamp, asset, one column per field)"
        )
    elif rests and bare:
        extra = tuple(c for c, f in named if f.rest)
        why = (
            f"{_names(extra)} add words ({rests[0]!r}) to a field name that "
            f"{_names(tuple(bare))} do not"
        )
    else:
        fields = [f.field for _, f in named]
        twice = sorted({x for x in fields if fields.count(x) > 1})
        why = f"the field(s) {twice} appear more than once"
    raise LayoutError(
        f"{p}: cannot tell the layout: every value column looks like a field "
        f"({_names(field_like)}) but {why}",
        field_like,
        (),
        hint=hint,
    )


def _names(columns: tuple[str, ...]) -> str:
    shown = ", ".join(repr(c) for c in columns[:_SHOWN])
    return f"[{shown}{', ...' if len(columns) > _SHOWN else ''}]"
