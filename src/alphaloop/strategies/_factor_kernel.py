"""Quantile factor books on rebalance rows, group by group, and the kernel's Python twin.

:func:`factor_rows` (numba) and :func:`factor_rows_py` (plain Python) agree
exactly; a test holds them to it. See
:class:`~alphaloop.strategies.factor_portfolio.FactorPortfolio` for the rules.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["NEUTRAL_GROUPS", "NEUTRAL_MARKET", "NEUTRAL_NONE", "factor_rows", "factor_rows_py"]

NEUTRAL_NONE = 0
NEUTRAL_MARKET = 1
NEUTRAL_GROUPS = 2


@njit(cache=True, nogil=True)
def _leg_raw(values: np.ndarray, center: float, by_signal: bool, raw: np.ndarray) -> float:
    """Raw sizes of one leg (1 each, or |signal - center|; equal if all are 0); their sum."""
    total = 0.0
    for i in range(values.shape[0]):
        raw[i] = abs(values[i] - center) if by_signal else 1.0
        total += raw[i]
    if total <= 0.0:
        for i in range(values.shape[0]):
            raw[i] = 1.0
        total = float(values.shape[0])
    return total


def factor_rows_py(
    signal: np.ndarray,
    ok: np.ndarray,
    rows: np.ndarray,
    group_of: np.ndarray,
    n_groups: int,
    quantile: float,
    long_short: bool,
    neutral: int,
    by_signal: bool,
    gross: float,
    max_weight: float,
    out: np.ndarray,
) -> None:
    """Fill rows ``rows`` of ``out`` (time, asset) with the factor book; others are untouched.

    Parameters
    ----------
    signal : ndarray, shape (time, asset)
    ok : ndarray of bool, shape (time, asset)
        Eligible with a finite signal.
    rows : ndarray of int
        Rebalance rows to fill (every asset gets a weight, 0 = not held).
    group_of : ndarray of int, shape (asset,)
        Group of each asset, ``0 .. n_groups - 1``; -1 = in no group (never held).
    quantile : float
        Share of a group's eligible assets in each leg (at least one asset).
    long_short : bool
        Short the bottom leg (else long-only).
    neutral : int
        :data:`NEUTRAL_NONE` (legs share the group's gross by size),
        :data:`NEUTRAL_MARKET` / :data:`NEUTRAL_GROUPS` (each group's long and
        short legs have equal gross).
    by_signal : bool
        Size within a leg by |signal - the group's median| (else equally).
    gross : float
        Sum of |weights| of the row, split over groups by their eligible counts.
    max_weight : float
        Cap on each |weight|; a neutral group's larger leg is then scaled to
        the smaller one.
    out : ndarray, shape (time, asset)
    """
    n_assets = signal.shape[1]
    members = np.empty(n_assets, dtype=np.int64)
    values = np.empty(n_assets)
    raw = np.empty(n_assets)
    counts = np.zeros(n_groups, dtype=np.int64)
    for r in range(rows.shape[0]):
        t = rows[r]
        for j in range(n_assets):
            out[t, j] = 0.0
        for g in range(n_groups):
            counts[g] = 0
        for j in range(n_assets):
            if ok[t, j] and group_of[j] >= 0:
                counts[group_of[j]] += 1
        total = 0
        for g in range(n_groups):
            if counts[g] >= 2:
                total += counts[g]
        if total == 0:
            continue
        for g in range(n_groups):
            n = counts[g]
            if n < 2:
                continue
            k = 0
            for j in range(n_assets):
                if ok[t, j] and group_of[j] == g:
                    members[k] = j
                    values[k] = signal[t, j]
                    k += 1
            order = np.argsort(-values[:n], kind="mergesort")
            m = max(1, int(np.floor(quantile * n)))
            center = float(np.median(values[:n]))
            budget = gross * n / total
            top = values[:n][order[:m]]
            long_sum = _leg_raw(top, center, by_signal, raw)
            if long_short:
                bottom = values[:n][order[n - m :]]
                short_raw = np.empty(m)
                short_sum = _leg_raw(bottom, center, by_signal, short_raw)
                if neutral == NEUTRAL_NONE:
                    long_scale = budget / (long_sum + short_sum)
                    short_scale = long_scale
                else:
                    long_scale = budget / 2.0 / long_sum
                    short_scale = budget / 2.0 / short_sum
                long_gross = 0.0
                short_gross = 0.0
                for i in range(m):
                    w = min(raw[i] * long_scale, max_weight)
                    out[t, members[order[i]]] = w
                    long_gross += w
                    w = min(short_raw[i] * short_scale, max_weight)
                    out[t, members[order[n - m + i]]] = -w
                    short_gross += w
                if neutral != NEUTRAL_NONE and long_gross != short_gross:
                    # caps bit one leg harder: shrink the other to keep the group neutral
                    if long_gross > short_gross:
                        shrink = short_gross / long_gross
                        for i in range(m):
                            out[t, members[order[i]]] *= shrink
                    else:
                        shrink = long_gross / short_gross
                        for i in range(m):
                            out[t, members[order[n - m + i]]] *= shrink
            else:
                for i in range(m):
                    out[t, members[order[i]]] = min(raw[i] * budget / long_sum, max_weight)


factor_rows = njit(cache=True, nogil=True)(factor_rows_py)
