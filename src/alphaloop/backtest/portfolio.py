"""From a signal to target weights: selection, weighting, limits and the rebalance schedule.

Everything here on row ``t`` uses data up to and including bar ``t`` only:
the signal, the membership mask and prices of that bar and before. The
result on a rebalance row is a full row of weights (0 for assets not held);
on other rows it is NaN (no orders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaloop.backtest.composite import cross_sectional_rank
from alphaloop.backtest.spec import Exits, Limits, PortfolioRule, Rebalance
from alphaloop.errors import BacktestError

__all__ = ["rebalance_rows", "target_weights", "trailing_volatility"]


def rebalance_rows(index: pd.DatetimeIndex, rule: Rebalance) -> np.ndarray:
    """Rows (bool, one per bar) on whose close the portfolio is rebalanced.

    Calendar frequencies pick the first bar of each week (ISO), month or
    quarter in UTC, plus the first bar; ``bars`` picks every ``every``-th bar
    counted from the first.
    """
    n = len(index)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if rule.frequency == "daily":
        return np.ones(n, dtype=bool)
    if rule.frequency == "bars":
        return np.arange(n) % rule.every == 0
    if rule.frequency == "weekly":
        iso = index.isocalendar()
        key = iso["year"].to_numpy() * 100 + iso["week"].to_numpy()
    elif rule.frequency == "monthly":
        key = index.year * 100 + index.month
    else:
        key = index.year * 10 + index.quarter
    key = np.asarray(key)
    out = np.ones(n, dtype=bool)
    out[1:] = key[1:] != key[:-1]
    return out


def trailing_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """Sample std of simple returns over the ``window`` returns ending at each bar (NaN before)."""
    t = close.shape[0]
    rets = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets[1:] = close[1:] / close[:-1] - 1.0
    frame = pd.DataFrame(rets)
    vol = frame.rolling(window, min_periods=window).std(ddof=1).to_numpy()
    return vol if t else rets


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


def target_weights(
    signal: np.ndarray,
    close: np.ndarray,
    eligible: np.ndarray,
    rule: PortfolioRule,
    limits: Limits,
    rebalance: np.ndarray,
    *,
    volatility: np.ndarray | None = None,
    exits: Exits | None = None,
) -> np.ndarray:
    """Target weights per (time, asset) for a signal (higher = more attractive).

    Parameters
    ----------
    signal, close : ndarray, shape (time, asset)
    eligible : ndarray of bool, shape (time, asset)
        Assets that may be held at each bar (universe and membership); an
        asset also needs a finite signal and close (and volatility, for
        inverse-volatility weights).
    rule, limits : PortfolioRule, Limits
    rebalance : ndarray of bool, shape (time,)
    volatility : ndarray, optional
        Per-bar return volatility for inverse-volatility weights; by default
        :func:`trailing_volatility` of ``close`` (pass it when ``close`` is a
        slice of a longer history, so the first rows have it too).
    exits : Exits, optional
        Holding rules. ``hold_bars``: at a rebalance, a position entered
        fewer than ``hold_bars`` bars before (at an earlier rebalance row) is
        kept while its asset is still eligible: it is selected first and
        counts toward ``k`` (``top_k``) or its leg's quantile
        (``quantile_long_short``), or keeps its state (``threshold``), and is
        weighted as the rule weights any selected asset. ``exit_on_flip``: on
        the bars between rebalances, a long whose signal's cross-sectional
        percentile rank (:func:`~alphaloop.backtest.composite.cross_sectional_rank`
        over eligible assets with a signal) falls below 0.5 gets target 0 on
        that bar (a short: above 0.5), the rest of the row staying NaN; a
        position on the wrong side at a rebalance is not kept by
        ``hold_bars``.

    Returns
    -------
    ndarray, shape (time, asset)
        Weights of equity on rebalance rows (0 = not held), NaN elsewhere
        (except flip exits: 0 on the exiting asset).
    """
    if signal.shape != close.shape or eligible.shape != close.shape:
        raise BacktestError(
            f"signal {signal.shape}, close {close.shape} and eligibility {eligible.shape} "
            "must have the same (time, asset) shape"
        )
    if rebalance.shape != (close.shape[0],):
        raise BacktestError(f"rebalance mask has shape {rebalance.shape}; expected ({len(close)},)")
    vol = None
    ok = eligible & np.isfinite(signal) & np.isfinite(close) & (close > 0)
    if rule.weighting == "inverse_volatility":
        vol = volatility if volatility is not None else trailing_volatility(close, rule.vol_window)
        ok &= np.isfinite(vol) & (vol > 0)
    hold_bars = exits.hold_bars if exits is not None else 0
    rank = None
    if exits is not None and exits.exit_on_flip:
        ranked = eligible & np.isfinite(signal) & np.isfinite(close) & (close > 0)
        rank = cross_sectional_rank(signal, ranked)
    if (
        hold_bars == 0
        and rank is None
        and rule.weighting != "signal"
        and rule.method in ("top_k", "quantile_long_short")
    ):
        return _ranked_weights(signal, ok, rule, limits, rebalance, vol)
    return _weights_loop(signal, ok, rule, limits, rebalance, vol, hold_bars=hold_bars, rank=rank)


def _weights_loop(
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
    """:func:`target_weights` row by row (every method, weighting and exit rule).

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


def _ranked_weights(
    signal: np.ndarray,
    ok: np.ndarray,
    rule: PortfolioRule,
    limits: Limits,
    rebalance: np.ndarray,
    vol: np.ndarray | None,
) -> np.ndarray:
    """:func:`target_weights` of ``top_k`` and ``quantile_long_short``, equal or
    inverse-volatility weighted, vectorized over the rebalance rows.

    Equal, bit for bit, to the row loop (:func:`_weights_loop`): assets are
    ranked by signal, highest first, ties by column (a stable sort); each leg's
    raw weights (1, or 1 / volatility) are scaled to the leg's total, summed
    over the leg's names in rank order as the loop sums them (rows grouped by
    leg size, so each sum has the same length and order). Rows where a
    weight would exceed ``max_weight`` (the cap redistributes) are handed to
    the loop.
    """
    rows = np.flatnonzero(rebalance)
    n_assets = signal.shape[1]
    out = np.full(signal.shape, np.nan)
    if rows.size == 0:
        return out
    okr = ok[rows]
    order = np.argsort(np.where(okr, -signal[rows], np.inf), axis=1, kind="stable")
    count = okr.sum(axis=1)
    raw_all = np.ones(okr.shape) if vol is None else 1.0 / np.where(okr, vol[rows], 1.0)
    raw_ranked = np.take_along_axis(raw_all, order, axis=1)
    weights = np.zeros((rows.size, n_assets))  # by rank
    capped = np.zeros(rows.size, dtype=bool)
    if rule.method == "top_k":
        assert rule.k is not None
        m = np.minimum(count, rule.k)
        legs = [(m, np.zeros_like(m), rule.gross, 1.0)]
    else:
        m = np.floor(rule.quantile * count).astype(np.int64)
        legs = [
            (m, np.zeros_like(m), rule.gross / 2.0, 1.0),
            (m, count - m, rule.gross / 2.0, -1.0),
        ]
    for size, first, total, sign in legs:
        for width in np.unique(size[size > 0]):
            sel = np.flatnonzero(size == width)
            cols = first[sel, None] + np.arange(width)[None, :]
            raw = np.take_along_axis(raw_ranked[sel], cols, axis=1)
            share = total * raw / raw.sum(axis=1)[:, None]
            capped[sel] |= (share > limits.max_weight).any(axis=1)
            block = weights[sel]
            np.put_along_axis(block, cols, sign * share, axis=1)
            weights[sel] = block
    result = np.zeros((rows.size, n_assets))
    np.put_along_axis(result, order, weights, axis=1)
    out[rows] = result
    if capped.any():
        redo = np.zeros_like(rebalance)
        redo[rows[capped]] = True
        out[redo] = _weights_loop(signal, ok, rule, limits, redo, vol)[redo]
    return out
