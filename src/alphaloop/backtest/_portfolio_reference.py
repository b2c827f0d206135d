"""The row-by-row reference of :func:`alphaloop.backtest.portfolio.target_weights`.

Plain numpy, one rebalance row at a time: the twin that the numba kernel of
:mod:`alphaloop.backtest._portfolio_kernel` is held to, bit for bit, by the
tests. :func:`~alphaloop.backtest.portfolio.target_weights` runs this loop
itself only for inputs the kernel is not compiled for (a signal or a
volatility that is not float64: numpy then computes in that dtype).
"""

from __future__ import annotations

import numpy as np

from alphaloop.backtest.spec import Limits, PortfolioRule

__all__ = ["weights_loop"]


def _cap(raw: np.ndarray, total: float, max_weight: float) -> np.ndarray:
    """Scale positive ``raw`` to sum ``total`` with no element above ``max_weight``.

    Weight above the cap is handed to the uncapped names in proportion; if
    every name is capped the rest stays in cash.
    """
    w = np.zeros_like(raw)
    free = raw > 0
    remaining = total
    while free.any() and remaining > 1e-15:
        share = remaining * raw[free] / raw[free].sum()
        over = share > max_weight
        if not over.any():
            w[free] = share
            break
        idx = np.flatnonzero(free)[over]
        w[idx] = max_weight
        remaining = total - w.sum()
        free[idx] = False
    return w


def _leg(
    cols: np.ndarray,
    signal_row: np.ndarray,
    vol_row: np.ndarray | None,
    rule: PortfolioRule,
    total: float,
    max_weight: float,
) -> np.ndarray:
    """Positive weights over ``cols`` summing to ``total`` (before caps)."""
    if cols.size == 0:
        return np.zeros(0)
    if rule.weighting == "equal":
        raw = np.ones(cols.size)
    elif rule.weighting == "signal":
        raw = np.abs(signal_row[cols])
        if not (raw > 0).any():
            raw = np.ones(cols.size)
    else:
        assert vol_row is not None
        raw = 1.0 / vol_row[cols]
    return _cap(raw, total, max_weight)


def weights_loop(
    signal: np.ndarray,
    ok: np.ndarray,
    rule: PortfolioRule,
    limits: Limits,
    rebalance: np.ndarray,
    vol: np.ndarray | None,
    *,
    hold_bars: int = 0,
    rank: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`~alphaloop.backtest.portfolio.target_weights` row by row (every
    method, weighting and exit rule) from the tradable mask ``ok``.

    ``rank``: the signal's cross-sectional percentile rank, given when
    positions exit on a signal flip.
    """
    out = np.full(signal.shape, np.nan)
    state = np.zeros(signal.shape[1], dtype=np.int8)  # threshold: +1 long, -1 short
    tracked = hold_bars > 0 or rank is not None  # positions and their entry rows are followed
    held = np.zeros(signal.shape[1], dtype=np.int8)  # side of the last target: +1, -1, 0
    entry = np.full(signal.shape[1], -1, dtype=np.int64)  # row the position was entered
    rows = np.flatnonzero(rebalance)
    for i, t in enumerate(rows):
        row = np.zeros(signal.shape[1])
        cols = np.flatnonzero(ok[t])
        s = signal[t]
        v = None if vol is None else vol[t]
        keep = None
        if tracked:
            keep = _kept(held, entry, t, hold_bars, ok[t], None if rank is None else rank[t])
            if not keep.any():
                keep = None
        if rule.method == "top_k":
            assert rule.k is not None
            order = cols[np.argsort(-s[cols], kind="stable")]
            if keep is not None:
                order = _ranked(order, keep & (held > 0), np.zeros_like(keep))
            order = order[: rule.k]
            row[order] = _leg(order, s, v, rule, rule.gross, limits.max_weight)
        elif rule.method == "quantile_long_short":
            m = int(np.floor(rule.quantile * cols.size))
            if m >= 1:
                order = cols[np.argsort(-s[cols], kind="stable")]
                if keep is None:
                    longs, shorts = order[:m], order[-m:]
                else:
                    longs, shorts = _legs_kept(order, m, keep & (held > 0), keep & (held < 0))
                half = rule.gross / 2.0
                row[longs] = _leg(longs, s, v, rule, half, limits.max_weight)
                row[shorts] = -_leg(shorts, s, v, rule, half, limits.max_weight)
        else:
            before = state.copy()
            _threshold_step(state, s, ok[t], rule)
            if keep is not None:
                state[keep] = before[keep]
            longs = np.flatnonzero(state > 0)
            shorts = np.flatnonzero(state < 0)
            n_active = longs.size + shorts.size
            if n_active:
                per_leg = rule.gross / n_active
                row[longs] = _leg(longs, s, v, rule, per_leg * longs.size, limits.max_weight)
                row[shorts] = -_leg(shorts, s, v, rule, per_leg * shorts.size, limits.max_weight)
        out[t] = row
        if not tracked:
            continue
        side = np.sign(row).astype(np.int8)
        entry[side != held] = t
        entry[side == 0] = -1
        held = side
        if rank is not None:
            stop = rows[i + 1] if i + 1 < rows.size else signal.shape[0]
            _flip_exits(out, rank, held, entry, t + 1, stop)
            if rule.method == "threshold":
                state[held == 0] = 0
    return out


def _kept(
    held: np.ndarray,
    entry: np.ndarray,
    t: int,
    hold_bars: int,
    ok: np.ndarray,
    rank: np.ndarray | None,
) -> np.ndarray:
    """Held positions younger than ``hold_bars`` at row ``t``, eligible, on the right side."""
    keep = (held != 0) & (entry >= 0) & (t - entry < hold_bars) & ok
    if rank is not None:
        with np.errstate(invalid="ignore"):
            wrong = ((held > 0) & (rank < 0.5)) | ((held < 0) & (rank > 0.5))
        keep &= ~wrong
    return keep


def _ranked(order: np.ndarray, first: np.ndarray, barred: np.ndarray) -> np.ndarray:
    """``order`` with the assets flagged ``first`` moved ahead and the ``barred`` ones left out."""
    head = order[first[order]]
    rest = order[~first[order] & ~barred[order]]
    return np.concatenate([head, rest])


def _legs_kept(
    order: np.ndarray, m: int, keep_long: np.ndarray, keep_short: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Long and short legs of ``m`` assets each (more if more are kept), kept positions first."""
    longs = _ranked(order, keep_long, keep_short)[: max(m, int(keep_long.sum()))]
    taken = keep_long.copy()
    taken[longs] = True
    shorts = _ranked(order[::-1], keep_short, taken)[: max(m, int(keep_short.sum()))]
    return longs, shorts


def _flip_exits(
    out: np.ndarray, rank: np.ndarray, held: np.ndarray, entry: np.ndarray, start: int, stop: int
) -> None:
    """Target 0 on the first row of ``start:stop`` where a held position's rank is wrong-side."""
    if start >= stop or not held.any():
        return
    seg = rank[start:stop]
    with np.errstate(invalid="ignore"):
        wrong = ((held > 0) & (seg < 0.5)) | ((held < 0) & (seg > 0.5))
    hit = wrong.any(axis=0)
    for j in np.flatnonzero(hit):
        out[start + int(np.argmax(wrong[:, j])), j] = 0.0
    held[hit] = 0
    entry[hit] = -1


def _threshold_step(state: np.ndarray, s: np.ndarray, ok: np.ndarray, rule: PortfolioRule) -> None:
    """Advance the per-asset long/flat/short state with entry and exit thresholds."""
    exit_long = rule.exit_long if rule.exit_long is not None else rule.entry_long
    exit_short = rule.exit_short if rule.exit_short is not None else rule.entry_short
    with np.errstate(invalid="ignore"):
        if rule.entry_long is not None:
            state[(state > 0) & ~(s >= exit_long)] = 0
        if rule.entry_short is not None:
            state[(state < 0) & ~(s <= exit_short)] = 0
        state[~ok] = 0
        if rule.entry_long is not None:
            state[(state == 0) & ok & (s > rule.entry_long)] = 1
        if rule.entry_short is not None:
            state[(state == 0) & ok & (s < rule.entry_short)] = -1
