"""The numba kernel of :func:`alphaloop.backtest.portfolio.target_weights`'s row loop.

:func:`weights_rows` walks the rebalance rows as the numpy reference
:func:`alphaloop.backtest._portfolio_reference.weights_loop` does and gives the
same bits: assets are ordered by a stable sort (ties by column), legs are
summed in the reference's order, and every sum is numpy's pairwise sum
(:func:`pairwise_sum`, the order in which ``np.sum`` adds a float64 vector),
so caps and their redistribution round as in the reference. The tests hold
the two to equality on random panels.

numba's on-disk cache does not notice edits to a function called from
another module, so every helper of the kernel lives here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "METHOD_QUANTILE",
    "METHOD_THRESHOLD",
    "METHOD_TOP_K",
    "STACK_DEPTH",
    "WEIGHT_EQUAL",
    "WEIGHT_INVERSE_VOLATILITY",
    "WEIGHT_SIGNAL",
    "pairwise_scratch",
    "pairwise_sum",
    "weights_rows",
]

METHOD_TOP_K = 0
METHOD_QUANTILE = 1
METHOD_THRESHOLD = 2
WEIGHT_EQUAL = 0
WEIGHT_SIGNAL = 1
WEIGHT_INVERSE_VOLATILITY = 2

_RUN = 16  # insertion-sorted run length of the merge sort
_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE
STACK_DEPTH = 64
"""Rows of :func:`pairwise_sum`'s stack: each level at most halves the length (+8)."""


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _block_sum(a, start, n):
    """numpy's sum of at most 128 values (see :func:`pairwise_sum`)."""
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += a[i]
        return res
    r0 = a[start]
    r1 = a[start + 1]
    r2 = a[start + 2]
    r3 = a[start + 3]
    r4 = a[start + 4]
    r5 = a[start + 5]
    r6 = a[start + 6]
    r7 = a[start + 7]
    i = start + 8
    lanes_end = start + n - n % 8
    while i < lanes_end:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + n:
        res += a[i]
        i += 1
    return res


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _split(n):
    """Length of the first half of a pairwise split of ``n`` values (a multiple of 8)."""
    half = n // 2
    return half - half % 8


def pairwise_scratch() -> tuple[np.ndarray, np.ndarray]:
    """Scratch ``(stack, partial)`` for :func:`pairwise_sum`, enough for any length."""
    return np.empty((STACK_DEPTH, 3), dtype=np.int64), np.empty(STACK_DEPTH)


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def pairwise_sum(a, start, n, stack, partial):
    """``np.sum(a[start:start + n])`` of a float64 vector, added in numpy's order.

    Fewer than 8 values: one after the other from 0.0; up to 128: eight
    running sums over the stride-8 lanes, combined as ``((r0 + r1) + (r2 +
    r3)) + ((r4 + r5) + (r6 + r7))``, then the remainder one by one; more:
    the halves (the first rounded down to a multiple of 8) summed apart and
    added. The halving runs on an explicit stack (:func:`pairwise_scratch`:
    rows of start, length and whether the first half is summed, and that
    half's sum), as numba's disk cache does not reload the callers of a
    recursive function safely.
    """
    if n <= _PAIRWISE_BLOCK:
        return _block_sum(a, start, n)
    stack[0, 0] = start
    stack[0, 1] = n
    stack[0, 2] = 0
    depth = 1
    while True:
        top = depth - 1
        if stack[top, 1] > _PAIRWISE_BLOCK:  # descend into the first half
            stack[depth, 0] = stack[top, 0]
            stack[depth, 1] = _split(stack[top, 1])
            stack[depth, 2] = 0
            depth += 1
            continue
        value = _block_sum(a, stack[top, 0], stack[top, 1])
        depth -= 1
        while depth > 0:  # hand the value up: a first half waits for its second
            parent = depth - 1
            if stack[parent, 2] == 0:
                partial[parent] = value
                stack[parent, 2] = 1
                half = _split(stack[parent, 1])
                stack[depth, 0] = stack[parent, 0] + half
                stack[depth, 1] = stack[parent, 1] - half
                stack[depth, 2] = 0
                depth += 1
                break
            value = partial[parent] + value
            depth -= 1
        if depth == 0:
            return value


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _sort_descending(key, t, idx, n, tmp):
    """Stable sort of ``idx[:n]`` by ``key[t, idx]``, highest first (ties keep their order).

    ``key`` must be finite there; ``tmp`` is scratch of at least ``n``.
    Insertion sort on runs of 16, then bottom-up merges.
    """
    for lo in range(0, n, _RUN):
        hi = min(lo + _RUN, n)
        for i in range(lo + 1, hi):
            item = idx[i]
            value = key[t, item]
            pos = i
            while pos > lo and key[t, idx[pos - 1]] < value:
                idx[pos] = idx[pos - 1]
                pos -= 1
            idx[pos] = item
    width = _RUN
    src = idx
    dst = tmp
    in_tmp = False
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a = lo
            b = mid
            o = lo
            while a < mid and b < hi:
                if key[t, src[b]] > key[t, src[a]]:
                    dst[o] = src[b]
                    b += 1
                else:
                    dst[o] = src[a]
                    a += 1
                o += 1
            while a < mid:
                dst[o] = src[a]
                a += 1
                o += 1
            while b < hi:
                dst[o] = src[b]
                b += 1
                o += 1
        src, dst = dst, src
        in_tmp = not in_tmp
        width *= 2
    if in_tmp:
        for i in range(n):
            idx[i] = tmp[i]


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _cap(raw, n, total, max_weight, w, free, buf, stack, partial):
    """``w[:n]``: positive ``raw[:n]`` scaled to sum ``total``, none above ``max_weight``.

    The weight above the cap goes to the uncapped names in proportion; if
    every name is capped the rest stays in cash. ``free``, ``buf``,
    ``stack`` and ``partial`` are scratch.
    """
    for i in range(n):
        w[i] = 0.0
        free[i] = raw[i] > 0
    remaining = total
    while True:
        n_free = 0
        for i in range(n):
            if free[i]:
                buf[n_free] = raw[i]
                n_free += 1
        if n_free == 0 or not remaining > 1e-15:
            return
        denominator = pairwise_sum(buf, 0, n_free, stack, partial)
        over = False
        for i in range(n):
            if free[i] and remaining * raw[i] / denominator > max_weight:
                over = True
                break
        if not over:
            for i in range(n):
                if free[i]:
                    w[i] = remaining * raw[i] / denominator
            return
        for i in range(n):
            if free[i] and remaining * raw[i] / denominator > max_weight:
                w[i] = max_weight
                free[i] = False
        remaining = total - pairwise_sum(w, 0, n, stack, partial)


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _leg(
    assets, n, signal, vol, t, weighting, total, max_weight, short, row, raw, w, free, buf,
    stack, partial,
):  # fmt: skip
    """Weigh the ``n`` assets of a leg on row ``t`` into ``row`` (negated for ``short``)."""
    if n == 0:
        return
    if weighting == WEIGHT_SIGNAL:
        positive = False
        for i in range(n):
            raw[i] = abs(signal[t, assets[i]])
            positive = positive or raw[i] > 0
        if not positive:
            for i in range(n):
                raw[i] = 1.0
    elif weighting == WEIGHT_INVERSE_VOLATILITY:
        for i in range(n):
            raw[i] = 1.0 / vol[t, assets[i]]
    else:
        for i in range(n):
            raw[i] = 1.0
    _cap(raw, n, total, max_weight, w, free, buf, stack, partial)
    for i in range(n):
        row[assets[i]] = -w[i] if short else w[i]


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _ranked(order, n, first, barred, out):
    """``order[:n]`` with the ``first`` assets moved ahead and the ``barred`` ones left
    out, into ``out``; returns its length."""
    m = 0
    for i in range(n):
        if first[order[i]]:
            out[m] = order[i]
            m += 1
    for i in range(n):
        j = order[i]
        if not first[j] and not barred[j]:
            out[m] = j
            m += 1
    return m


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _threshold_step(
    state, signal, ok, t, long_on, entry_long, exit_long, short_on, entry_short, exit_short
):
    """Advance the per-asset long (+1) / flat / short (-1) state on row ``t``."""
    for j in range(state.size):
        s = signal[t, j]
        eligible = ok[t, j]
        if long_on and state[j] > 0 and not s >= exit_long:
            state[j] = 0
        if short_on and state[j] < 0 and not s <= exit_short:
            state[j] = 0
        if not eligible:
            state[j] = 0
        if long_on and state[j] == 0 and eligible and s > entry_long:
            state[j] = 1
        if short_on and state[j] == 0 and eligible and s < entry_short:
            state[j] = -1


@njit(cache=True, nogil=True)
def weights_rows(
    signal, ok, vol, rows, method, weighting, k, quantile, gross, max_weight, long_on,
    entry_long, exit_long, short_on, entry_short, exit_short, hold_bars, flip, rank, out,
):  # fmt: skip
    """Target weights on the rebalance ``rows`` into ``out`` (NaN-filled by the caller).

    ``signal``, ``vol``, ``rank`` float64 and ``ok`` bool, shape (time,
    asset); ``vol`` is read for inverse-volatility weights only and ``rank``
    (the signal's cross-sectional percentile rank) when ``flip``. ``method``
    and ``weighting`` are the ``METHOD_*`` / ``WEIGHT_*`` codes; thresholds
    are read where ``long_on`` / ``short_on``. See
    :func:`alphaloop.backtest.portfolio.target_weights` for the rules.
    """
    n_times, n_assets = signal.shape
    cols = np.empty(n_assets, dtype=np.int64)
    order = np.empty(n_assets, dtype=np.int64)
    longs = np.empty(n_assets, dtype=np.int64)
    shorts = np.empty(n_assets, dtype=np.int64)
    reversed_ = np.empty(n_assets, dtype=np.int64)
    tmp = np.empty(n_assets, dtype=np.int64)
    row = np.empty(n_assets)
    raw = np.empty(n_assets)
    w = np.empty(n_assets)
    buf = np.empty(n_assets)
    free = np.empty(n_assets, dtype=np.bool_)
    keep_long = np.zeros(n_assets, dtype=np.bool_)
    keep_short = np.zeros(n_assets, dtype=np.bool_)
    taken = np.empty(n_assets, dtype=np.bool_)
    no_asset = np.zeros(n_assets, dtype=np.bool_)
    state = np.zeros(n_assets, dtype=np.int8)
    before = np.zeros(n_assets, dtype=np.int8)
    held = np.zeros(n_assets, dtype=np.int8)
    entry = np.full(n_assets, -1, dtype=np.int64)
    stack = np.empty((STACK_DEPTH, 3), dtype=np.int64)
    partial = np.empty(STACK_DEPTH)
    tracked = hold_bars > 0 or flip
    for i in range(rows.size):
        t = rows[i]
        n_cols = 0
        for j in range(n_assets):
            row[j] = 0.0
            if ok[t, j]:
                cols[n_cols] = j
                n_cols += 1
        n_keep_long = 0
        n_keep_short = 0
        if tracked:
            for j in range(n_assets):
                keep = held[j] != 0 and entry[j] >= 0 and t - entry[j] < hold_bars and ok[t, j]
                if keep and flip:
                    r = rank[t, j]
                    keep = not ((held[j] > 0 and r < 0.5) or (held[j] < 0 and r > 0.5))
                keep_long[j] = keep and held[j] > 0
                keep_short[j] = keep and held[j] < 0
                n_keep_long += keep_long[j]
                n_keep_short += keep_short[j]
        kept = n_keep_long + n_keep_short > 0
        if method == METHOD_TOP_K:
            for c in range(n_cols):
                order[c] = cols[c]
            _sort_descending(signal, t, order, n_cols, tmp)
            n_long = n_cols
            if kept:
                n_long = _ranked(order, n_cols, keep_long, no_asset, longs)
            else:
                for c in range(n_cols):
                    longs[c] = order[c]
            n_long = min(n_long, k)
            _leg(longs, n_long, signal, vol, t, weighting, gross, max_weight, False, row, raw, w,
                 free, buf, stack, partial)  # fmt: skip
        elif method == METHOD_QUANTILE:
            m = int(np.floor(quantile * n_cols))
            if m >= 1:
                for c in range(n_cols):
                    order[c] = cols[c]
                _sort_descending(signal, t, order, n_cols, tmp)
                if not kept:
                    n_long = m
                    n_short = m
                    for c in range(m):
                        longs[c] = order[c]
                        shorts[c] = order[n_cols - m + c]
                else:
                    n_long = _ranked(order, n_cols, keep_long, keep_short, longs)
                    n_long = min(n_long, max(m, n_keep_long))
                    for j in range(n_assets):
                        taken[j] = keep_long[j]
                    for c in range(n_long):
                        taken[longs[c]] = True
                    for c in range(n_cols):
                        reversed_[c] = order[n_cols - 1 - c]
                    n_short = _ranked(reversed_, n_cols, keep_short, taken, shorts)
                    n_short = min(n_short, max(m, n_keep_short))
                half = gross / 2.0
                _leg(longs, n_long, signal, vol, t, weighting, half, max_weight, False, row, raw,
                     w, free, buf, stack, partial)  # fmt: skip
                _leg(shorts, n_short, signal, vol, t, weighting, half, max_weight, True, row,
                     raw, w, free, buf, stack, partial)  # fmt: skip
        else:
            for j in range(n_assets):
                before[j] = state[j]
            _threshold_step(state, signal, ok, t, long_on, entry_long, exit_long, short_on,
                            entry_short, exit_short)  # fmt: skip
            n_long = 0
            n_short = 0
            for j in range(n_assets):
                if kept and (keep_long[j] or keep_short[j]):
                    state[j] = before[j]
                if state[j] > 0:
                    longs[n_long] = j
                    n_long += 1
                elif state[j] < 0:
                    shorts[n_short] = j
                    n_short += 1
            n_active = n_long + n_short
            if n_active:
                per_leg = gross / n_active
                _leg(longs, n_long, signal, vol, t, weighting, per_leg * n_long, max_weight,
                     False, row, raw, w, free, buf, stack, partial)  # fmt: skip
                _leg(shorts, n_short, signal, vol, t, weighting, per_leg * n_short, max_weight,
                     True, row, raw, w, free, buf, stack, partial)  # fmt: skip
        for j in range(n_assets):
            out[t, j] = row[j]
        if not tracked:
            continue
        for j in range(n_assets):
            side = 1 if row[j] > 0 else (-1 if row[j] < 0 else 0)
            if side != held[j]:
                entry[j] = t
            if side == 0:
                entry[j] = -1
            held[j] = side
        if flip:
            stop = rows[i + 1] if i + 1 < rows.size else n_times
            for j in range(n_assets):
                if held[j] == 0:
                    continue
                for r_ in range(t + 1, stop):
                    r = rank[r_, j]
                    if (held[j] > 0 and r < 0.5) or (held[j] < 0 and r > 0.5):
                        out[r_, j] = 0.0
                        held[j] = 0
                        entry[j] = -1
                        break
            if method == METHOD_THRESHOLD:
                for j in range(n_assets):
                    if held[j] == 0:
                        state[j] = 0
