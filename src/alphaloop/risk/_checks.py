"""Input checks shared by the regime and sizing functions: one typed error naming the field."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from alphaloop.risk.errors import RiskError

__all__ = [
    "check_choice",
    "check_fraction",
    "check_positive",
    "check_window",
    "finite_frame",
    "finite_series",
    "positive_prices",
]


def finite_series(values: object, name: str, *, min_length: int = 2) -> pd.Series:
    """``values`` as a float Series with no NaN or infinity and at least ``min_length`` bars.

    A 1-D array or list gets a ``RangeIndex``; a Series keeps its index, which
    must be strictly increasing.
    """
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise RiskError(
                f"{name}: expected one series, got a frame with {values.shape[1]} columns",
                hint="pass one column, e.g. frame['SPY']",
            )
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        series = values
    else:
        array = np.asarray(values)
        if array.ndim != 1:
            raise RiskError(f"{name}: expected a 1-D series, got shape {array.shape}")
        series = pd.Series(array)
    try:
        series = series.astype(float)
    except (TypeError, ValueError) as exc:
        raise RiskError(f"{name}: values are not numbers ({exc})") from None
    _check_index(series.index, name)
    _check_finite(series.to_numpy(), name, series.index)
    if len(series) < min_length:
        raise RiskError(
            f"{name}: {len(series)} bars is too short; at least {min_length} are needed",
            hint="pass a longer series or a shorter window",
        )
    return series


def finite_frame(values: object, name: str, *, min_length: int = 2) -> pd.DataFrame:
    """``values`` (a DataFrame or 2-D array, time x asset) as floats, no NaN, long enough."""
    if isinstance(values, pd.Series):
        values = values.to_frame()
    if isinstance(values, pd.DataFrame):
        frame = values
    else:
        array = np.asarray(values)
        if array.ndim != 2:
            raise RiskError(f"{name}: expected a 2-D (time x asset) table, got shape {array.shape}")
        frame = pd.DataFrame(array)
    if frame.shape[1] == 0:
        raise RiskError(f"{name}: the table has no columns")
    try:
        frame = frame.astype(float)
    except (TypeError, ValueError) as exc:
        raise RiskError(f"{name}: values are not numbers ({exc})") from None
    _check_index(frame.index, name)
    _check_finite(frame.to_numpy(), name, frame.index, columns=frame.columns)
    if len(frame) < min_length:
        raise RiskError(
            f"{name}: {len(frame)} bars is too short; at least {min_length} are needed",
            hint="pass a longer table or a shorter window",
        )
    return frame


def positive_prices(values: pd.Series | pd.DataFrame, name: str) -> None:
    """Raise unless every price is strictly positive (names the first bad bar)."""
    array = np.asarray(values, dtype=float)
    if (array <= 0.0).any():
        rows = array.reshape(array.shape[0], -1)
        first = int(np.argmax((rows <= 0.0).any(axis=1)))
        raise RiskError(
            f"{name}: prices must be positive; found {rows[first].min()} at {values.index[first]}",
            hint="check the data for zero or negative prices",
        )


def check_window(window: object, name: str, *, minimum: int = 2) -> int:
    """A window length in bars: an integer of at least ``minimum``."""
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < minimum:
        raise RiskError(f"{name}: expected an integer of at least {minimum} bars, got {window!r}")
    return int(window)


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0 with ``allow_zero``)."""
    number = _number(value, name)
    if number < 0.0 or (number == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise RiskError(f"{name}: expected a number {bound}, got {value!r}")
    return number


def check_fraction(value: object, name: str) -> float:
    """A finite number in (0, 1]."""
    number = _number(value, name)
    if not 0.0 < number <= 1.0:
        raise RiskError(f"{name}: expected a number in (0, 1], got {value!r}")
    return number


def check_choice(value: object, name: str, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``; else an error listing them."""
    options = tuple(allowed)
    if value not in options:
        raise RiskError(
            f"{name}: unknown value {value!r}", hint=f"use one of: {', '.join(options)}"
        )
    return str(value)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise RiskError(f"{name}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise RiskError(f"{name}: expected a finite number, got {value!r}")
    return number


def _check_index(index: pd.Index, name: str) -> None:
    if (len(index) > 1 and not index.is_monotonic_increasing) or not index.is_unique:
        raise RiskError(f"{name}: the index must be strictly increasing (sorted, no duplicates)")


def _check_finite(
    array: np.ndarray, name: str, index: pd.Index, columns: pd.Index | None = None
) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        rows = bad.reshape(bad.shape[0], -1).any(axis=1)
        first = int(np.argmax(rows))
        where = f" at {index[first]}"
        if columns is not None:
            where += f" in column {columns[int(np.argmax(bad[first]))]!r}"
        raise RiskError(
            f"{name}: {int(bad.sum())} missing or infinite value(s), the first{where}",
            hint="drop or fill them first (e.g. series.dropna())",
        )
