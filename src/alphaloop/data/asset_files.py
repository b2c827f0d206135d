"""Reading the small tables of asset metadata: instruments, corporate actions, memberships.

Each is a CSV (optionally gzipped) or Parquet file with a header. Column names
are matched case-insensitively after trimming; unknown columns are refused so
a typo never passes silently. Rows are numbered as the file's lines (the
header is line 1) in every error, so a bad value can be found in an editor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from alphaloop.errors import AssetDataError

__all__ = ["line_of", "parse_dates", "read_table"]


def read_table(
    path: str | Path, *, required: Sequence[str], optional: Sequence[str] = (), what: str
) -> pd.DataFrame:
    """The file's rows as strings (CSV) or native values (Parquet), columns lower-cased.

    Raises
    ------
    AssetDataError
        A missing file, an unreadable file, a missing required column or an
        unknown column, naming the file and what is allowed.
    """
    p = Path(path)
    if not p.is_file():
        raise AssetDataError(f"{what} file not found: {p}")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # pandas raises many kinds for a malformed file
        raise AssetDataError(f"cannot read {what} file {p}: {exc}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise AssetDataError(
            f"{p}: {what} file lacks column(s) {', '.join(missing)}",
            hint=f"columns: {', '.join(required)} (optional: {', '.join(optional) or 'none'})",
        )
    unknown = [c for c in frame.columns if c not in (*required, *optional)]
    if unknown:
        raise AssetDataError(
            f"{p}: unknown column(s) {', '.join(unknown)} in the {what} file",
            hint=f"allowed: {', '.join((*required, *optional))}",
        )
    if frame.empty:
        raise AssetDataError(f"{p}: the {what} file has no rows")
    return frame.reset_index(drop=True)


def line_of(row: int) -> int:
    """The file line of data row ``row`` (0-based) under a one-line header."""
    return row + 2


def parse_dates(
    values: pd.Series, *, column: str, path: str | Path, allow_blank: bool
) -> pd.Series:
    """ISO dates (``YYYY-MM-DD``; a time of day is refused) as ``datetime.date`` or None.

    Raises :class:`AssetDataError` naming the first bad lines.
    """
    text = values.astype(str).str.strip()
    blank = text.isin(("", "nan", "NaT", "None"))
    parsed = pd.to_datetime(text.where(~blank), format="%Y-%m-%d", errors="coerce")
    bad = (~blank & parsed.isna()) | (blank & (not allow_blank))
    if bad.any():
        rows = [line_of(int(i)) for i in bad.to_numpy().nonzero()[0][:5]]
        raise AssetDataError(
            f"{path}: column {column!r} has missing or non-ISO dates on line(s) "
            f"{', '.join(map(str, rows))}",
            hint="write dates as YYYY-MM-DD" + ("" if not allow_blank else "; blank = open"),
        )
    return pd.Series(
        [None if b else d.date() for b, d in zip(blank, parsed, strict=True)],
        index=values.index,
        dtype=object,
    )
