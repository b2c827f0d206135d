"""Synthetic daily OHLC prices shared by the benchmarks (seeded, no network)."""

from __future__ import annotations

import numpy as np


def ohlc_walk(
    rng: np.random.Generator, shape: tuple[int, int], start_low: float, start_high: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Open, high, low and close of ``shape = (days, assets)`` geometric random walks.

    Close starts uniform in ``[start_low, start_high)`` and moves with 1.5% daily
    volatility; open is the previous close times a small gap; high and low
    widen the open-close range, so ``high >= max(open, close)`` and
    ``low <= min(open, close)``. Draws from ``rng`` in a fixed order, so a
    seed gives the same panel every time.
    """
    start = rng.uniform(start_low, start_high, shape[1])
    close = np.exp(np.log(start) + np.cumsum(rng.normal(0.0002, 0.015, shape), axis=0))
    prev = np.vstack([start, close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.005, shape))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.008, shape)))
    low = np.minimum(open_, close) * (1.0 - np.minimum(np.abs(rng.normal(0.0, 0.008, shape)), 0.5))
    return open_, high, low, close


def ohlcv_driftless(
    rng: np.random.Generator,
    shape: tuple[int, int],
    start: float = 100.0,
    volatility: float = 0.01,
) -> dict[str, np.ndarray]:
    """Open, high, low, close and volume of driftless geometric random walks.

    Like :func:`ohlc_walk` but with no drift and ``volatility`` per bar, so
    prices stay in a tradable range over very long series (100,000+ bars);
    volume is lognormal around 1e6 shares. Returns a dict of ``shape = (bars,
    assets)`` arrays keyed by field name.
    """
    close = start * np.exp(np.cumsum(rng.normal(0.0, volatility, shape), axis=0))
    prev = np.vstack([np.full(shape[1], start), close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.003, shape))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.005, shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.005, shape)))
    volume = np.rint(rng.lognormal(np.log(1e6), 0.5, shape))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def sparse_signals(
    rng: np.random.Generator, shape: tuple[int, ...], rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit signals, bool arrays of ``shape``, each true on about ``rate`` of cells."""
    return rng.random(shape) < rate, rng.random(shape) < rate


def moving_average_crossovers(
    close: np.ndarray, fast: np.ndarray, slow: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Entries and exits of every (fast, slow) simple-moving-average pair, shape (P, T).

    An entry on bar ``t`` when the fast average closes above the slow one after
    being at or below it on bar ``t - 1``; an exit on the opposite cross. The
    averages include bar ``t`` (known at its close); nothing before both exist.
    Pairs are ordered fast-major: ``k = i * len(slow) + j``.
    """
    close = np.asarray(close, dtype=np.float64)
    sums = np.concatenate([[0.0], np.cumsum(close)])
    n = len(close)

    def average(window: int) -> np.ndarray:
        out = np.full(n, np.nan)
        out[window - 1 :] = (sums[window:] - sums[:-window]) / window
        return out

    cache = {int(w): average(int(w)) for w in np.union1d(fast, slow)}
    entries = np.zeros((len(fast) * len(slow), n), dtype=bool)
    exits = np.zeros_like(entries)
    for i, f in enumerate(fast):
        for j, s in enumerate(slow):
            with np.errstate(invalid="ignore"):
                above = cache[int(f)] > cache[int(s)]
            known = ~np.isnan(cache[int(s)])
            before = np.concatenate([[False], above[:-1]])
            known_before = np.concatenate([[False], known[:-1]])
            k = i * len(slow) + j
            entries[k] = above & ~before & known & known_before
            exits[k] = ~above & before & known & known_before
    return entries, exits
