"""Rolling maximum and minimum, and where in the window they occurred.

Window, NaN and ``min_periods`` conventions: see :mod:`.sums`. A monotone
deque of row indices keeps the candidates for the extreme, so each cell
costs O(1) amortized. (The deque lives in an array of one slot per row, so
it never wraps around.)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alphaloop.factors.kernels._common import FloatArray, as_panel, check_window, compiled, is_value

__all__ = ["rolling_argmax", "rolling_argmin", "rolling_max", "rolling_min"]

VALUE, BARS_SINCE, QLIB_POSITION = 0, 1, 2


def _extreme(x: FloatArray, window: int, min_periods: int, sign: float, mode: int) -> FloatArray:
    """``sign`` = 1 for the maximum, -1 for the minimum (the maximum of ``-x``).

    The deque holds rows whose values strictly decrease (in ``sign * x``)
    from front to back. For ``VALUE`` and ``BARS_SINCE`` an equal newcomer
    evicts older equals, so the front is the most recent extreme; for
    ``QLIB_POSITION`` equals are kept, so the front is the oldest (numpy's
    argmax rule), and a second ring buffer remembers missing rows because
    numpy's argmax returns the first NaN of the window.
    """
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    deque = np.empty(rows, dtype=np.int64)  # candidates are deque[head:tail]
    keys = np.empty(rows)  # their values times sign
    missing = np.empty(rows, dtype=np.int64)  # missing rows are missing[m_head:m_tail]
    for j in range(cols):
        head = tail = m_head = m_tail = n = 0
        for t in range(rows):
            first = t - window + 1
            if head < tail and deque[head] < first:
                head += 1
            if m_head < m_tail and missing[m_head] < first:
                m_head += 1
            if t >= window and is_value(x[t - window, j]):
                n -= 1
            v = x[t, j]
            if is_value(v):
                n += 1
                key = sign * v
                while head < tail:
                    back = keys[tail - 1]
                    if back < key or (back == key and mode != QLIB_POSITION):
                        tail -= 1
                    else:
                        break
                deque[tail] = t
                keys[tail] = key
                tail += 1
            else:
                missing[m_tail] = t
                m_tail += 1
            if n < min_periods:
                out[t, j] = np.nan
            elif mode == VALUE:
                out[t, j] = sign * keys[head]
            elif mode == BARS_SINCE:
                out[t, j] = t - deque[head]
            else:
                at = missing[m_head] if m_head < m_tail else deque[head]
                out[t, j] = at - max(first, 0) + 1
    return out


_extreme_jit = compiled(_extreme)


def rolling_max(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Largest valid value in the window."""
    window, min_periods = check_window(window, min_periods)
    return _extreme_jit(as_panel(x), window, min_periods, 1.0, VALUE)


def rolling_min(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Smallest valid value in the window."""
    window, min_periods = check_window(window, min_periods)
    return _extreme_jit(as_panel(x), window, min_periods, -1.0, VALUE)


def _locate(x: npt.ArrayLike, window: int, min_periods: int, sign: float, qlib: bool) -> FloatArray:
    window, min_periods = check_window(window, min_periods)
    mode = QLIB_POSITION if qlib else BARS_SINCE
    return _extreme_jit(as_panel(x), window, min_periods, sign, mode)


def rolling_argmax(
    x: npt.ArrayLike, window: int, min_periods: int, qlib: bool = False
) -> FloatArray:
    """Where the window's maximum is.

    Default: the number of bars since the maximum, 0 when the current bar
    holds it, at most ``window - 1``. Missing values are skipped; when the
    maximum occurs several times the most recent occurrence counts (the
    smallest result).

    ``qlib=True`` reproduces Qlib 0.9.7 ``IdxMax``, i.e. pandas
    ``rolling(window, min_periods).apply(lambda a: a.argmax() + 1, raw=True)``:
    the 1-based position counted from the *oldest* row of the window (which
    has ``min(t + 1, window)`` rows), ties resolved to the oldest occurrence,
    and, because numpy's argmax treats NaN as the maximum, the position of the
    first missing value whenever the window holds one (pandas turns +-inf into
    NaN before applying). NaN while fewer than ``min_periods`` valid values.
    """
    return _locate(x, window, min_periods, 1.0, qlib)


def rolling_argmin(
    x: npt.ArrayLike, window: int, min_periods: int, qlib: bool = False
) -> FloatArray:
    """Where the window's minimum is; the conventions of :func:`rolling_argmax`.

    With ``qlib=True`` (Qlib ``IdxMin``) a window holding a missing value
    also returns the position of the first missing value: numpy's argmin,
    like its argmax, stops at the first NaN.
    """
    return _locate(x, window, min_periods, -1.0, qlib)
