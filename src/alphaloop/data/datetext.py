"""Dates written as text: ISO 8601, a given format, or a format inferred without guessing.

Without a format, ISO 8601 is tried first, then the format pandas infers
from the first value, once reading day and month in the usual order
(month first) and once day first. Numeric dates with the year last
(``01.02.2024``, ``1/4/1999``, ``02-01-2024``) can be read both ways:

- when one reading fails on some value (a 13 where the month would be)
  and the other reads every value, the data has decided;
- otherwise the reading of the separator's convention is taken (day first
  for ``dd.mm.yyyy``, month first for ``/`` and ``-``) and the values whose
  two readings differ are reported (``ambiguous_dates``, a warning) with
  the format that gives the other reading.

Values are never read with a format of their own (pandas' ``"mixed"``)
when day and month could be swapped: a file would then hold dates read
day first next to dates read month first. ISO 8601 values among them are
read as such; text with month names (``Jan 2, 2024``, ``January 3, 2024``)
may mix spellings.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

__all__ = ["DayMonthAmbiguity", "parse_datetime_text"]

_YEAR_LAST = r"^\s*\d{1,2}([./-])\d{1,2}\1\d{2}(\d{2})?(\D|$)"


@dataclass(frozen=True)
class DayMonthAmbiguity:
    """Dates that read differently with day and month swapped.

    Attributes
    ----------
    rows : ndarray of intp
        Positions of the values whose two readings differ.
    day_first : bool
        Whether the reading taken is day first.
    other : pandas.Series
        The other reading of every value.
    format : str or None
        The strptime format of the reading taken (for ``--time-format``).
    other_format : str or None
        The strptime format of the other reading.
    """

    rows: np.ndarray
    day_first: bool
    other: pd.Series
    format: str | None
    other_format: str | None


def _parse(values: pd.Series, fmt: str | None, utc: bool, *, dayfirst: bool = False) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(values, format=fmt, errors="coerce", utc=utc, dayfirst=dayfirst)
        except (ValueError, TypeError):
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")


def parse_datetime_text(
    values: pd.Series, utc: bool, time_format: str | None = None
) -> tuple[pd.Series, DayMonthAmbiguity | None]:
    """Parse text dates (NaT where a value cannot be read).

    Parameters
    ----------
    values : pandas.Series of str
        The text, trimmed; nulls stay NaT.
    utc : bool
        The values carry UTC offsets: parse them to UTC.
    time_format : str, optional
        strptime format; the only one tried when given.

    Returns
    -------
    parsed : pandas.Series of datetime64
    ambiguity : DayMonthAmbiguity or None
        Set when day-and-month-swapped readings of the values differ and the
        data does not tell which one is right.
    """
    if time_format is not None:
        return _parse(values, time_format, utc), None
    want = int(values.notna().sum())
    iso = _parse(values, "ISO8601", utc)
    if int(iso.notna().sum()) == want:
        return iso, None
    year_last = values.str.match(_YEAR_LAST).fillna(False).astype(bool).to_numpy()
    if not year_last.any():  # day and month cannot be swapped
        best = iso
        for fmt in (None, "mixed"):
            parsed = _parse(values, fmt, utc)
            if int(parsed.notna().sum()) > int(best.notna().sum()):
                best = parsed
            if int(best.notna().sum()) == want:
                break
        return best, None
    month_first = _parse(values, None, utc)
    day_first = _parse(values, None, utc, dayfirst=True)
    sample = str(values[year_last].iloc[0])
    prefer_day = re.match(_YEAR_LAST, sample).group(1) == "."  # type: ignore[union-attr]
    taken, other = (day_first, month_first) if prefer_day else (month_first, day_first)
    if int(other.notna().sum()) > int(taken.notna().sum()):
        taken, other = other, taken
        prefer_day = not prefer_day
    if int(iso.notna().sum()) > int(taken.notna().sum()):
        return iso, None
    # values in ISO 8601 next to the others are unambiguous: read them so
    taken, other = taken.fillna(iso), other.fillna(iso)
    if int(other.notna().sum()) < int(taken.notna().sum()):
        return taken, None  # a value only one reading can read: the data has decided
    differ = (taken.notna() & other.notna() & (taken != other)).to_numpy()
    if not differ.any():
        return taken, None
    ambiguity = DayMonthAmbiguity(
        np.flatnonzero(differ),
        prefer_day,
        other,
        guess_datetime_format(sample, dayfirst=prefer_day),
        guess_datetime_format(sample, dayfirst=not prefer_day),
    )
    return taken, ambiguity
