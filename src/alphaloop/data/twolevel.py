"""Columns of two levels (a field and an asset per column) melted into long rows.

pandas writes a frame with columns of two levels (``yf.download([...])``:
price field and ticker) to Parquet with column names such as
``"('Close', 'AAPL')"``; the CSV reader names the columns of a two-line
header the same way. One level must hold only known fields (aliases such
as ``Adj Close`` accepted); the other is the asset.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from alphaloop.data.names import ASSET_COLUMNS, field_name, normalize_column_name
from alphaloop.errors import DataFormatError

__all__ = ["Melted", "column_pair", "melt_two_levels"]


def column_pair(name: str) -> tuple[str, str] | None:
    """``("Close", "AAPL")`` from the name of a column of two levels, else None."""
    if not (name.startswith("(") and name.endswith(")") and "," in name):
        return None
    try:
        value = ast.literal_eval(name)  # a literal only: never evaluates code
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    return None


@dataclass(frozen=True)
class Melted:
    """Long rows made of columns of two levels.

    Attributes
    ----------
    table : pyarrow.Table
        The other columns (as they were, first), then ``asset``, then one
        column per field (float64, or text where some asset's column is).
    source_rows : ndarray of intp
        Row of the input each row comes from.
    keys : list of int
        Positions in the input of the other columns.
    fields : list of str
    assets : int
        How many assets have at least one value.
    """

    table: pa.Table
    source_rows: np.ndarray
    keys: list[int]
    fields: list[str]
    assets: int


def _as_fields(values: list[str]) -> list[str] | None:
    found = [field_name(v) for v in values]
    if all(f is not None and not f.rest for f in found):
        return [f.field for f in found if f is not None]
    return None


def melt_two_levels(table: pa.Table, p: Path, pairs: dict[int, tuple[str, str]]) -> Melted | None:
    """Each asset's columns as long rows, from its first to its last row with a value.

    Parameters
    ----------
    table : pyarrow.Table
    p : Path
        The file, for messages.
    pairs : dict of int to (str, str)
        Position of each column of two levels -> its two names.

    Returns
    -------
    Melted or None
        None when not exactly one level holds only known fields.

    Raises
    ------
    DataFormatError
        An asset has two columns for one field, the table also has an
        ``asset`` column, or no column holds a value.
    """
    level0 = [a for a, _ in pairs.values()]
    level1 = [b for _, b in pairs.values()]
    fields0, fields1 = _as_fields(level0), _as_fields(level1)
    if (fields0 is None) == (fields1 is None):
        return None
    fields, assets = (fields0, level1) if fields0 is not None else (fields1, level0)
    assert fields is not None
    keys = [i for i in range(table.num_columns) if i not in pairs]
    asset_name = ASSET_COLUMNS[0]
    if asset_name in {normalize_column_name(table.column_names[i]) for i in keys}:
        raise DataFormatError(f"{p}: columns of two levels next to an {asset_name!r} column")
    by_asset: dict[str, dict[str, int]] = {}
    for i, f, a in zip(pairs, fields, assets, strict=True):
        if f in by_asset.setdefault(a, {}):
            raise DataFormatError(f"{p}: asset {a!r} has two columns for field {f!r}")
        by_asset[a][f] = i
    all_fields = list(dict.fromkeys(fields))
    numeric = {
        f: all(_is_numeric(table.column(c[f]).type) for c in by_asset.values() if f in c)
        for f in all_fields
    }
    parts, rows = [], []
    for asset, columns in by_asset.items():
        present = np.zeros(table.num_rows, dtype=bool)
        for i in columns.values():
            present |= np.asarray(table.column(i).is_valid().to_numpy(zero_copy_only=False))
        if not present.any():
            continue
        first = int(np.argmax(present))
        last = len(present) - 1 - int(np.argmax(present[::-1]))
        span = np.arange(first, last + 1)
        taken = pa.array(span)
        arrays = [table.column(i).take(taken) for i in keys]
        arrays.append(pa.array([asset] * len(span), pa.string()))
        for f in all_fields:
            typ = pa.float64() if numeric[f] else pa.string()
            arrays.append(
                table.column(columns[f]).take(taken).cast(typ)
                if f in columns
                else pa.nulls(len(span), typ)
            )
        names = [table.column_names[i] for i in keys] + [asset_name, *all_fields]
        parts.append(pa.table(arrays, names=names))
        rows.append(span)
    if not parts:
        raise DataFormatError(f"{p}: no values in any of the {len(pairs)} columns of two levels")
    return Melted(pa.concat_tables(parts), np.concatenate(rows), keys, all_fields, len(parts))


def _is_numeric(typ: pa.DataType) -> bool:
    return (
        pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_null(typ)
        or pa.types.is_decimal(typ)
    )
