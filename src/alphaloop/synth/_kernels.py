"""Numba kernels of the generators (compiled on first use, cached on disk)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["garch_paths", "gather_rows", "stationary_indices"]


@njit(cache=True, nogil=True)
def gather_rows(src, idx, out):
    """``out[p, k] = src[idx[p, k]]`` for every path and bar (rows of ``src``)."""
    n, t = idx.shape
    d = src.shape[1]
    for p in range(n):
        for k in range(t):
            row = idx[p, k]
            for j in range(d):
                out[p, k, j] = src[row, j]


@njit(cache=True, nogil=True)
def stationary_indices(first: np.ndarray, starts: np.ndarray, fresh: np.ndarray, n_obs: int):
    """Row indices of the stationary bootstrap, ``(n_paths, length)``.

    Bar ``k > 0`` of a path opens a new block at ``starts[p, k]`` when
    ``fresh[p, k]``, else continues the previous block (wrapping at the end).
    """
    n, t = starts.shape
    idx = np.empty((n, t), dtype=np.int64)
    for p in range(n):
        cur = first[p]
        idx[p, 0] = cur
        for k in range(1, t):
            if fresh[p, k]:
                cur = starts[p, k]
            else:
                cur += 1
                if cur >= n_obs:
                    cur = 0
            idx[p, k] = cur
    return idx


@njit(cache=True, nogil=True)
def garch_paths(z, chol, scale, x0, dx, table, kind, mu, omega, alpha, gamma, beta, h0, burn):
    """Returns of GARCH-family processes driven by copula draws.

    Parameters
    ----------
    z : ndarray, shape (n_paths, burn + length, assets)
        Independent standard normal draws.
    chol : ndarray, shape (assets, assets)
        Upper Cholesky factor of the copula correlation: the copula's draw
        of a bar is ``z[p, k] @ chol / scale[p, k]``.
    scale : ndarray, shape (n_paths, burn + length)
        1 for a Gaussian copula; ``sqrt(chi2_nu / nu)`` for a Student-t one.
    x0, dx : float
        The uniform grid of ``table``: ``x0 + i * dx``.
    table : ndarray, shape (assets, grid)
        Each asset's unit-variance innovation at each grid point (its
        marginal quantile at the copula margin's probability); draws are
        interpolated linearly and clamped at the grid's ends.
    kind : ndarray of int, shape (assets,)
        0 GARCH / GJR (``gamma`` 0 for GARCH), 1 EGARCH.
    mu, omega, alpha, gamma, beta : ndarray, shape (assets,)
        The ``arch`` parameterisation (returns in the fitted scale).
    h0 : ndarray, shape (assets,)
        Starting variance.
    burn : int
        Leading bars dropped.

    Returns
    -------
    ndarray, shape (n_paths, length, assets)
    """
    n, total, d = z.shape
    m = table.shape[1]
    out = np.empty((n, total - burn, d))
    sqrt_2_pi = np.sqrt(2.0 / np.pi)
    h = np.empty(d)
    lnh = np.empty(d)
    prev_e = np.empty(d)
    prev_z = np.empty(d)
    x = np.empty(d)
    for p in range(n):
        for j in range(d):
            h[j] = h0[j]
            lnh[j] = np.log(h0[j])
            prev_e[j] = 0.0
            prev_z[j] = 0.0
        for k in range(total):
            inv = 1.0 / scale[p, k]
            for j in range(d):
                acc = 0.0
                for i in range(j + 1):
                    acc += z[p, k, i] * chol[i, j]
                x[j] = acc * inv
            for j in range(d):
                if k > 0:
                    if kind[j] == 1:
                        lnh[j] = (
                            omega[j]
                            + alpha[j] * (abs(prev_z[j]) - sqrt_2_pi)
                            + gamma[j] * prev_z[j]
                            + beta[j] * lnh[j]
                        )
                        h[j] = np.exp(lnh[j])
                    else:
                        e2 = prev_e[j] * prev_e[j]
                        hj = omega[j] + alpha[j] * e2 + beta[j] * h[j]
                        if prev_e[j] < 0.0:
                            hj += gamma[j] * e2
                        h[j] = hj
                pos = (x[j] - x0) / dx
                if pos <= 0.0:
                    zz = table[j, 0]
                elif pos >= m - 1:
                    zz = table[j, m - 1]
                else:
                    i0 = int(pos)
                    w = pos - i0
                    zz = table[j, i0] * (1.0 - w) + table[j, i0 + 1] * w
                e = np.sqrt(h[j]) * zz
                if k >= burn:
                    out[p, k - burn, j] = mu[j] + e
                prev_e[j] = e
                prev_z[j] = zz
    return out
