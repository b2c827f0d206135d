"""Cross-sectional neutralization: the residual of x after groups and factors, row by row.

For each row the regression is ``x = group effects + factors @ beta + e``
fitted by OLS on the assets where x, the group and every factor are valid;
without groups an intercept takes the place of the group effects. The
result is ``e`` on those assets and NaN elsewhere.

Computation: demean x and each factor within groups (by Frisch-Waugh-Lovell
this removes the group effects exactly), orthonormalize the demeaned factors
by modified Gram-Schmidt (twice, for stability), and subtract x's projection
on them. A factor that is (numerically) a combination of the groups and the
earlier factors is dropped; the residual is a projection, so it is the same
as with the minimum-norm least-squares solution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

from alphaloop.factors.kernels._common import FloatArray, as_panel, compiled, is_value

__all__ = ["cs_neutralize"]

DEPENDENT_TOLERANCE = 1e-10
"""A demeaned factor whose norm shrinks below this fraction of itself when
projected off the earlier ones is treated as linearly dependent."""


IntArray = npt.NDArray[np.int64]


@register_jitable
def _demean_within(
    values: FloatArray,
    members: IntArray,
    n: int,
    codes: IntArray,
    counts: FloatArray,
    work: FloatArray,
    out: FloatArray,
) -> None:
    """``out[i] = values[members[i]]`` minus its group's mean over the members.

    A second pass subtracts the group means of the result, which removes
    what rounding left of the first mean.
    """
    work[:] = 0.0
    for i in range(n):
        work[codes[members[i]]] += values[members[i]]
    for i in range(n):
        g = codes[members[i]]
        out[i] = values[members[i]] - work[g] / counts[g]
    work[:] = 0.0
    for i in range(n):
        work[codes[members[i]]] += out[i]
    for i in range(n):
        g = codes[members[i]]
        out[i] -= work[g] / counts[g]


@register_jitable
def _norm(vector: FloatArray, n: int) -> float:
    total = 0.0
    for i in range(n):
        total += vector[i] * vector[i]
    return math.sqrt(total)


@register_jitable
def _project_off(vector: FloatArray, basis: FloatArray, kept: int, n: int) -> None:
    """Remove from ``vector[:n]`` its components along ``basis[:kept]`` (MGS, two passes)."""
    for _ in range(2):
        for b in range(kept):
            dot = 0.0
            for i in range(n):
                dot += basis[b, i] * vector[i]
            for i in range(n):
                vector[i] -= dot * basis[b, i]


def _neutralize(x: FloatArray, codes: IntArray, n_groups: int, factors: FloatArray) -> FloatArray:
    rows, cols = x.shape
    k_count = factors.shape[0]
    out = np.full((rows, cols), np.nan)
    members = np.empty(cols, dtype=np.int64)
    counts, work = np.empty(n_groups), np.empty(n_groups)
    resid, column = np.empty(cols), np.empty(cols)
    basis = np.empty((k_count, cols))
    for t in range(rows):
        n = 0
        counts[:] = 0.0
        for j in range(cols):
            ok = is_value(x[t, j]) and codes[t, j] >= 0
            for k in range(k_count):
                ok = ok and is_value(factors[k, t, j])
            if ok:
                members[n] = j
                counts[codes[t, j]] += 1.0
                n += 1
        if n == 0 or n < np.count_nonzero(counts) + k_count:  # fewer assets than parameters
            continue
        _demean_within(x[t], members, n, codes[t], counts, work, resid)
        kept = 0
        for k in range(k_count):
            _demean_within(factors[k, t], members, n, codes[t], counts, work, column)
            before = _norm(column, n)
            _project_off(column, basis, kept, n)
            after = _norm(column, n)
            if after > DEPENDENT_TOLERANCE * before:
                for i in range(n):
                    basis[kept, i] = column[i] / after
                kept += 1
        _project_off(resid, basis, kept, n)
        for i in range(n):
            out[t, members[i]] = resid[i]
    return out


_neutralize_jit = compiled(_neutralize)


def _group_codes(
    groups: npt.ArrayLike | None, shape: tuple[int, int]
) -> tuple[npt.NDArray[np.int64], int]:
    """Dense group codes 0..G-1 per cell, -1 where the group is unknown."""
    if groups is None:
        return np.zeros(shape, dtype=np.int64), 1
    ids = np.asarray(groups)
    if ids.ndim == 1 and ids.shape[0] == shape[1]:
        ids = np.broadcast_to(ids, shape)
    if ids.shape != shape:
        raise ValueError(f"groups must have shape {shape} or ({shape[1]},), got {ids.shape}")
    if ids.dtype.kind == "f":
        known = np.isfinite(ids)
        if np.any(ids[known] != np.round(ids[known])):
            raise ValueError("group ids must be whole numbers (NaN marks an unknown group)")
    elif ids.dtype.kind in "iub":
        known = ids >= 0
    else:
        raise TypeError(f"group ids must be integers or floats, got dtype {ids.dtype}")
    codes = np.full(shape, -1, dtype=np.int64)
    labels, inverse = np.unique(ids[known], return_inverse=True)
    codes[known] = inverse
    return codes, max(len(labels), 1)


def _factor_stack(
    factors: npt.ArrayLike | Sequence[npt.ArrayLike] | None, shape: tuple[int, int]
) -> FloatArray:
    if factors is None:
        return np.empty((0, *shape))
    stack = np.asarray(factors, dtype=np.float64)
    if stack.ndim == 2:  # a single factor
        stack = stack[np.newaxis]
    if stack.ndim != 3 or stack.shape[1:] != shape:
        raise ValueError(
            f"factors must be one {shape} array, a sequence of them or a (K, {shape[0]}, "
            f"{shape[1]}) array, got shape {stack.shape}"
        )
    return np.ascontiguousarray(stack)


def cs_neutralize(
    x: npt.ArrayLike,
    groups: npt.ArrayLike | None = None,
    factors: npt.ArrayLike | Sequence[npt.ArrayLike] | None = None,
) -> FloatArray:
    """Residual of ``x`` after group means and/or an OLS on factors, per row.

    Parameters
    ----------
    x : (T, N) float array
    groups : (T, N) or (N,) array of group ids, optional
        Integer ids (a negative id marks an unknown group) or floats with
        whole-number ids (NaN marks an unknown group). Without groups the
        regression has an intercept.
    factors : (T, N) array, a sequence of them, or a (K, T, N) array, optional
        Regressors, e.g. log market cap.

    Returns
    -------
    (T, N) float array
        The residual where x, the group and all factors are valid, else NaN.
        A row is all NaN when it has fewer such assets than parameters
        (groups present + factors, or 1 + factors without groups). With
        groups only this is ``x`` minus its group mean (0 for a group of one).
    """
    x = as_panel(x)
    codes, n_groups = _group_codes(groups, x.shape)
    return _neutralize_jit(x, codes, n_groups, _factor_stack(factors, x.shape))
