"""What every kernel shares: input checks, the compile step, compensated sums.

Kernels come in twins: a plain-Python function ``_foo`` that states the
algorithm, and ``_foo_jit = compiled(_foo)``, the same code compiled by
numba. Tests run both on small inputs and require them to agree, so the
readable version is the one that runs.

Helpers called from inside kernels are ``register_jitable``: plain Python
when called from Python, inlined when called from compiled code. numba's
on-disk cache does not notice edits to a helper that lives in another file;
after changing one here, delete the ``__pycache__/*.nbi`` / ``*.nbc`` files
of this package.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

__all__ = [
    "CENTERING_RATIO",
    "QLIB_FLAT_STD",
    "FloatArray",
    "as_panel",
    "check_window",
    "compiled",
    "is_value",
    "two_sum",
]

FloatArray = npt.NDArray[np.float64]
"""A float64 array; time-series panels have shape (time, asset)."""

F = TypeVar("F", bound=Callable[..., Any])

CENTERING_RATIO = 64.0
"""Running sums of deviations from a reference value are rebuilt around the
window mean when the window mean lies more than sqrt(64) = 8 standard
deviations from the reference: beyond that, subtracting the squared mean
from the mean square would cancel too many digits."""

QLIB_FLAT_STD = 2e-5
"""Qlib's Rsquare and Corr are NaN where the rolling std is within 2e-5 of 0
(``np.isclose(std, 0, atol=2e-05)``)."""


def compiled(func: F) -> F:
    """The numba twin of a plain-Python kernel: nopython, cached on disk, no GIL."""
    return numba.njit(cache=True, nogil=True)(func)  # type: ignore[no-any-return]


def as_panel(x: npt.ArrayLike, name: str = "x") -> FloatArray:
    """``x`` as a contiguous float64 (time, asset) array; the caller's array is never written.

    C-ordered (time-major) and Fortran-ordered (asset-major) arrays are used
    as they are; time-series kernels walk one asset at a time and run about
    twice as fast on Fortran order, which is what the evaluator hands them.
    Other layouts are copied once to C order.
    """
    array = np.asarray(x, dtype=np.float64)
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (time, asset) array, got shape {array.shape}; "
            "reshape a single series with x.reshape(-1, 1)"
        )
    return array


def check_window(window: int, min_periods: int) -> tuple[int, int]:
    """Validate a rolling window and its minimum count of valid values.

    ``window`` must be an integer >= 1 and ``min_periods`` an integer in
    ``[1, window]``.
    """
    for name, value in (("window", window), ("min_periods", min_periods)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not 1 <= min_periods <= window:
        raise ValueError(f"min_periods must be between 1 and window ({window}), got {min_periods}")
    return int(window), int(min_periods)


@register_jitable
def is_value(v: float) -> bool:
    """True for a usable observation: NaN and +-inf count as missing (as in pandas rolling)."""
    return math.isfinite(v)


@register_jitable
def two_sum(s: float, c: float, v: float) -> tuple[float, float]:
    """Add ``v`` to the compensated sum ``s + c``; return the new ``(s, c)``.

    Knuth's TwoSum recovers the rounding error of ``s + v`` exactly and
    carries it in ``c``, so adding and later removing a large value leaves
    the small ones intact (error ~eps**2 of the magnitudes seen, not eps).
    """
    t = s + v
    bp = t - s
    return t, c + ((s - (t - bp)) + (v - bp))
