"""Numba kernels of :mod:`alphaloop.backtest.composite` (cached on disk).

Rows are bars, columns assets. Windows are summed afresh at every bar (no
running sums), so a value depends on its window's values only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MIN_ASSETS = 3
"""Assets a bar needs for a rank IC or a factor return."""


@njit(cache=True, nogil=True)
def _avg_ranks(values: np.ndarray, n: int, order: np.ndarray, ranks: np.ndarray) -> None:
    """Ranks 1..n of ``values[:n]`` (all finite) into ``ranks``, ties sharing their mean rank.

    ``order`` is scratch space; insertion sort, as rows are short (assets).
    """
    for i in range(n):
        v = values[i]
        pos = i
        while pos > 0 and values[order[pos - 1]] > v:
            order[pos] = order[pos - 1]
            pos -= 1
        order[pos] = i
    first = 0
    while first < n:
        end = first + 1
        while end < n and values[order[end]] == values[order[first]]:
            end += 1
        r = (first + end + 1) / 2.0
        for i in range(first, end):
            ranks[order[i]] = r
        first = end


@njit(cache=True, nogil=True)
def _normalize_into(
    x: np.ndarray, ok: np.ndarray, zscore: bool, shift: float, sign: float, out: np.ndarray
) -> None:
    """Per-row z-score, or rank ``(r - 1) / (n - 1) - shift`` (``0.5 - shift`` for a lone
    value), over the row's finite values where ``ok``, times ``sign``; NaN elsewhere."""
    n_times, n_assets = x.shape
    out[:, :] = np.nan
    idx = np.empty(n_assets, dtype=np.int64)
    vals = np.empty(n_assets)
    order = np.empty(n_assets, dtype=np.int64)
    ranks = np.empty(n_assets)
    for t in range(n_times):
        n = 0
        for j in range(n_assets):
            if ok[t, j] and np.isfinite(x[t, j]):
                idx[n] = j
                vals[n] = x[t, j]
                n += 1
        if n == 0:
            continue
        if zscore:
            mean = 0.0
            for i in range(n):
                mean += vals[i]
            mean /= n
            var = 0.0
            for i in range(n):
                var += (vals[i] - mean) ** 2
            std = np.sqrt(var / n)
            for i in range(n):
                out[t, idx[i]] = sign * ((vals[i] - mean) / std if std > 0 else 0.0)
        else:
            _avg_ranks(vals, n, order, ranks)
            for i in range(n):
                unit = (ranks[i] - 1.0) / (n - 1) if n > 1 else 0.5
                out[t, idx[i]] = sign * (unit - shift)


@njit(cache=True, nogil=True)
def _unit_rank(x: np.ndarray) -> np.ndarray:
    """Per-row rank in [0, 1]: ``(r - 1) / (n - 1)``, 0.5 for a lone value."""
    out = np.empty(x.shape)
    _normalize_into(x, np.ones(x.shape, dtype=np.bool_), False, 0.0, 1.0, out)
    return out


@njit(cache=True, nogil=True)
def _cross_section(z: np.ndarray, fwd: np.ndarray, ic: bool) -> np.ndarray:
    """Per bar: Spearman correlation of ``z`` and ``fwd`` (``ic``), else the factor return.

    The factor return is ``sum c r / sum |c|`` with ``c`` the centred rank of
    ``z``. NaN with fewer than 3 assets having both, or a constant side.
    """
    n_times, n_assets = z.shape
    out = np.full(n_times, np.nan)
    a = np.empty(n_assets)
    b = np.empty(n_assets)
    order = np.empty(n_assets, dtype=np.int64)
    ra = np.empty(n_assets)
    rb = np.empty(n_assets)
    for t in range(n_times):
        n = 0
        for j in range(n_assets):
            if np.isfinite(z[t, j]) and np.isfinite(fwd[t, j]):
                a[n] = z[t, j]
                b[n] = fwd[t, j]
                n += 1
        if n < _MIN_ASSETS:
            continue
        _avg_ranks(a, n, order, ra)
        centre = (n + 1) / 2.0  # the mean of ranks 1..n, ties included
        if ic:
            _avg_ranks(b, n, order, rb)
            sab = 0.0
            saa = 0.0
            sbb = 0.0
            for i in range(n):
                da = ra[i] - centre
                db = rb[i] - centre
                sab += da * db
                saa += da * da
                sbb += db * db
            if saa > 0 and sbb > 0:
                out[t] = sab / np.sqrt(saa * sbb)
        else:
            num = 0.0
            gross = 0.0
            for i in range(n):
                c = ra[i] - centre
                num += c * b[i]
                gross += abs(c)
            if gross > 0:
                out[t] = num / gross
    return out


@njit(cache=True, nogil=True)
def _ic_weights(ic: np.ndarray, window: int, horizon: int, need: int) -> np.ndarray:
    """Mean IC of each component over ``s`` in ``[t - horizon - window + 1, t - horizon]``.

    Each window is summed afresh (no running sums), so the weights at ``t``
    depend on the window's values only.
    """
    n_times, n_comp = ic.shape
    out = np.full((n_times, n_comp), 1.0 / n_comp)
    vals = np.zeros((n_comp, n_times))
    valid = np.zeros((n_comp, n_times))
    for s in range(n_times):
        for k in range(n_comp):
            if np.isfinite(ic[s, k]):
                vals[k, s] = ic[s, k]
                valid[k, s] = 1.0
    mean = np.empty(n_comp)
    for t in range(horizon, n_times):
        last = t - horizon
        first = max(0, last - window + 1)
        enough = True
        gross = 0.0
        for k in range(n_comp):
            acc = 0.0
            cnt = 0.0
            for s in range(first, last + 1):
                acc += vals[k, s]
                cnt += valid[k, s]
            if cnt < need:
                enough = False
                break
            mean[k] = acc / cnt
            gross += abs(mean[k])
        if enough and gross > 0:
            for k in range(n_comp):
                out[t, k] = mean[k] / gross
    return out


@njit(cache=True, nogil=True)
def _mv_weights(rets: np.ndarray, window: int, horizon: int, need: int, ridge: float) -> np.ndarray:
    """``inv(S + ridge * trace(S) / K) m`` over the window bars with every factor return."""
    n_times, n_comp = rets.shape
    out = np.full((n_times, n_comp), 1.0 / n_comp)
    ok = np.zeros(n_times, dtype=np.bool_)
    for s in range(n_times):
        ok[s] = np.isfinite(rets[s]).all()
    total = np.empty(n_comp)
    cross = np.empty((n_comp, n_comp))
    for t in range(horizon, n_times):
        last = t - horizon
        total[:] = 0.0
        cross[:, :] = 0.0
        n = 0
        for s in range(max(0, last - window + 1), last + 1):
            if not ok[s]:
                continue
            n += 1
            for k in range(n_comp):
                rk = rets[s, k]
                total[k] += rk
                for m in range(k + 1):
                    cross[k, m] += rk * rets[s, m]
        if n < need:
            continue
        mean = total / n
        cov = np.empty((n_comp, n_comp))
        for k in range(n_comp):
            for m in range(k + 1):
                c = (cross[k, m] - n * mean[k] * mean[m]) / (n - 1)
                cov[k, m] = c
                cov[m, k] = c
        scale = np.trace(cov) / n_comp
        if not scale > 0:
            continue
        for k in range(n_comp):
            cov[k, k] += ridge * scale
        w = np.linalg.solve(cov, mean)
        gross = np.abs(w).sum()
        if np.isfinite(gross) and gross > 0:
            out[t] = w / gross
    return out


@njit(cache=True, nogil=True)
def _combine(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_k w_k z_k / sum_k |w_k|`` over the components with a value (mean if all w are 0)."""
    n_comp, n_times, n_assets = z.shape
    out = np.full((n_times, n_assets), np.nan)
    for t in range(n_times):
        for j in range(n_assets):
            acc = 0.0
            gross = 0.0
            n = 0
            plain = 0.0
            for k in range(n_comp):
                v = z[k, t, j]
                if np.isfinite(v):
                    acc += w[t, k] * v
                    gross += abs(w[t, k])
                    plain += v
                    n += 1
            if n:
                out[t, j] = acc / gross if gross > 0 else plain / n
    return out
