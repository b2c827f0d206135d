"""Cross-sectional transforms: each row (one time) across assets, on its own.

NaN and +-inf are missing: they stay NaN and are left out of the row's
statistics. (pandas ``DataFrame.rank`` would rank +-inf as values.)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from alphaloop.factors.kernels._common import FloatArray, as_panel, compiled, is_value

__all__ = ["cs_demean", "cs_rank", "cs_zscore"]


def _rank(x: FloatArray) -> FloatArray:
    rows, cols = x.shape
    out = np.full((rows, cols), np.nan)
    where = np.empty(cols, dtype=np.int64)
    values = np.empty(cols)
    for t in range(rows):
        n = 0
        for j in range(cols):
            if is_value(x[t, j]):
                where[n] = j
                values[n] = x[t, j]
                n += 1
        order = np.argsort(values[:n])  # ties are grouped below, so any order will do
        first = 0
        while first < n:  # ties share the mean of ranks first+1 .. end
            end = first + 1
            while end < n and values[order[end]] == values[order[first]]:
                end += 1
            rank = (first + end + 1) / 2.0 / n
            for k in range(first, end):
                out[t, where[order[k]]] = rank
            first = end
    return out


_rank_jit = compiled(_rank)


def cs_rank(x: npt.ArrayLike) -> FloatArray:
    """Percentile rank of each asset within its row, in (0, 1].

    ``rank / n`` with ``n`` valid values in the row and tied values sharing
    the mean of their ranks (pandas ``rank(axis=1, pct=True)``); a unique
    largest value gets 1.
    """
    return _rank_jit(as_panel(x))


def _center(x: FloatArray, scale: bool) -> FloatArray:
    rows, cols = x.shape
    out = np.full((rows, cols), np.nan)
    for t in range(rows):
        n, ref, acc = 0, 0.0, 0.0
        for j in range(cols):
            if is_value(x[t, j]):
                if n == 0:
                    ref = x[t, j]
                acc += x[t, j] - ref
                n += 1
        if n == 0:
            continue
        mean = ref + acc / n  # exactly ref when the row is constant
        std = 1.0
        if scale:
            squares = 0.0
            for j in range(cols):
                if is_value(x[t, j]):
                    squares += (x[t, j] - mean) * (x[t, j] - mean)
            std = math.sqrt(squares / n)
            if std == 0.0:
                continue
        for j in range(cols):
            if is_value(x[t, j]):
                out[t, j] = (x[t, j] - mean) / std
    return out


_center_jit = compiled(_center)


def cs_zscore(x: npt.ArrayLike) -> FloatArray:
    """``(x - mean) / std`` per row, std with ddof=0 (the population std of the row).

    A row with fewer than 2 distinct valid values (std 0) is all NaN.
    """
    return _center_jit(as_panel(x), True)


def cs_demean(x: npt.ArrayLike) -> FloatArray:
    """``x - mean`` per row, the mean over the row's valid values."""
    return _center_jit(as_panel(x), False)
