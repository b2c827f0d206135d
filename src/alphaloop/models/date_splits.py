"""Splits over whole decision dates, purged and embargoed by label end times.

Conventions
-----------
Splits
    Folds are blocks of whole decision dates (every asset of a date falls in
    the same fold): the splitter (:class:`~alphaloop.validation.splits.WalkForward`
    or :class:`~alphaloop.validation.splits.PurgedKFold`) runs on the
    calendar of dates, each date's label end being the latest ``t1`` of its
    rows, and purges and embargoes by those times. ``embargo`` is a fraction
    of the dates.
Early stopping
    Each fit holds out the *last* ``valid_fraction`` of its training dates as
    the validation set; training rows whose labels end on or after the first
    validation date are purged. Validation rows are always training rows of
    the split: test rows are never seen before the model predicts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaloop.models.errors import ModelError
from alphaloop.validation import PurgedKFold, SplitError, WalkForward

_EMPTY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class _Rows:
    """Per row: the decision's panel row (date code), decision time and label end (ns, UTC)."""

    date: np.ndarray  # panel row of the decision time (non-decreasing)
    start_ns: np.ndarray
    end_ns: np.ndarray


def _date_splits(
    rows_info: _Rows, rows: np.ndarray, splitter: str, n_splits: int, embargo: float, what: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``rows`` into (train, test) blocks of whole dates, purged by label end times."""
    codes = rows_info.date[rows]
    dates, first = np.unique(codes, return_index=True)
    position = np.searchsorted(dates, codes)
    end = np.full(len(dates), np.iinfo(np.int64).min)
    np.maximum.at(end, position, rows_info.end_ns[rows])
    t1 = pd.Series(
        pd.to_datetime(end, utc=True),
        index=pd.to_datetime(rows_info.start_ns[rows][first], utc=True),
    )
    cv_type = WalkForward if splitter == "walk_forward" else PurgedKFold
    try:
        cv = cv_type(n_splits, t1=t1, embargo=embargo)
        splits = list(cv.split(np.empty((len(dates), 0))))
    except SplitError as exc:
        raise ModelError(
            f"cannot make {n_splits} {what} splits from {len(dates)} dates: {exc.message}",
            hint=exc.hint or "use fewer splits or more data",
        ) from exc
    return [(rows[np.isin(position, tr)], rows[np.isin(position, te)]) for tr, te in splits]


def _tail_validation(
    rows_info: _Rows, rows: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, valid): the last ``fraction`` of the dates of ``rows`` for validation, purged fit."""
    if fraction <= 0:
        return rows, _EMPTY
    start = rows_info.start_ns[rows]
    dates = np.unique(start)
    n_valid = math.floor(len(dates) * fraction)
    if n_valid < 1 or n_valid >= len(dates):
        return rows, _EMPTY
    cutoff = dates[-n_valid]
    valid = rows[start >= cutoff]
    fit = rows[(start < cutoff) & (rows_info.end_ns[rows] < cutoff)]
    if fit.size == 0:
        return rows, _EMPTY
    return fit, valid
