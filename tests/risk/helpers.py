"""Synthetic series with known properties, and the truncation check every causal function passes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.linalg import toeplitz


def dates(n: int) -> pd.DatetimeIndex:
    """Business days from 2001-01-02."""
    return pd.bdate_range("2001-01-02", periods=n)


def planted_volatility_regimes(
    n: int = 3000, *, seed: int = 7, stay: float = 0.99, vols: tuple[float, float] = (0.01, 0.03)
) -> tuple[pd.Series, np.ndarray]:
    """Returns from a two-state Markov chain (state 0 calm, 1 turbulent) and the true states."""
    rng = np.random.default_rng(seed)
    states = np.empty(n, dtype=np.int64)
    states[0] = 0
    for t in range(1, n):
        states[t] = states[t - 1] if rng.random() < stay else 1 - states[t - 1]
    returns = rng.normal(0.0003, np.asarray(vols)[states])
    return pd.Series(returns, index=dates(n), name="returns"), states


@functools.cache
def _fgn_factor(n: int, hurst: float) -> np.ndarray:
    k = np.arange(n, dtype=float)
    h2 = 2.0 * hurst
    gamma = 0.5 * (np.abs(k + 1) ** h2 - 2.0 * np.abs(k) ** h2 + np.abs(k - 1) ** h2)
    return np.linalg.cholesky(toeplitz(gamma))


def fractional_gaussian_noise(n: int, hurst: float, seed: int) -> np.ndarray:
    """Exact fractional Gaussian noise (Cholesky of its autocovariance) with Hurst exponent H."""
    return _fgn_factor(n, hurst) @ np.random.default_rng(seed).normal(size=n)


def assert_causal(
    compute: Callable[[pd.Series | pd.DataFrame], pd.Series | pd.DataFrame],
    data: pd.Series | pd.DataFrame,
    cuts: Sequence[int],
) -> None:
    """``compute`` on the first ``cut`` bars equals ``compute`` on all bars, cut afterwards."""
    full = compute(data)
    for cut in cuts:
        head = compute(data.iloc[:cut])
        expected = full.iloc[:cut]
        if isinstance(expected, pd.DataFrame):
            pd.testing.assert_frame_equal(head, expected, check_exact=True)
        else:
            pd.testing.assert_series_equal(head, expected, check_exact=True)
