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
