"""rolling_wma and ewm_mean: hand-computed cases, references, pandas parity, Qlib WMA/EMA."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import (
    assert_close,
    by_window,
    no_inf,
    panels,
    window_scale,
    windows,
)

NAN = np.nan
COLUMN = np.array([[1.0], [2.0], [3.0], [4.0]])


def qlib_wma(x: np.ndarray) -> float:
    """Qlib 0.9.7 ``WMA``'s function, as its ops.py applies it to each raw window."""
    w = np.arange(len(x)) + 1
    w = w / w.sum()
    return float(np.nanmean(w * x))


def test_wma_by_hand() -> None:
    np.testing.assert_allclose(
        kernels.rolling_wma(COLUMN, 3, 3)[:, 0], [NAN, NAN, 14 / 6, 20 / 6], equal_nan=True
    )
    # partial window at the start: row 0 weighs 2 (window 3, one bar back), row 1 weighs 3
    np.testing.assert_allclose(kernels.rolling_wma(COLUMN, 3, 1)[:2, 0], [1, 8 / 5])
    holes = np.array([[1.0], [NAN], [4.0]])
    np.testing.assert_allclose(kernels.rolling_wma(holes, 3, 2)[2, 0], (1 * 1 + 3 * 4) / 4)
    constant = np.full((5, 1), 0.1)
    np.testing.assert_array_equal(kernels.rolling_wma(constant, 3, 1)[:, 0], [0.1] * 5)


def test_qlib_wma_is_not_a_weighted_mean() -> None:
    # Qlib: nanmean(w * x) with w normalized over all rows: the weighted mean / row count
    np.testing.assert_allclose(
        kernels.rolling_wma(COLUMN, 3, 3, qlib=True)[2:, 0], [14 / 18, 20 / 18]
    )
    np.testing.assert_allclose(
        kernels.rolling_wma(np.ones((3, 1)), 3, 1, qlib=True)[:, 0], [1, 1 / 2, 1 / 3]
    )


def test_ewm_by_hand() -> None:
    np.testing.assert_array_equal(kernels.ewm_mean(COLUMN, 3, 1)[:, 0], [1, 1.5, 2.25, 3.125])
    np.testing.assert_allclose(
        kernels.ewm_mean(COLUMN, 3, 2, adjust=True)[:2, 0], [NAN, 5 / 3], equal_nan=True
    )
    np.testing.assert_array_equal(kernels.ewm_mean(COLUMN, alpha=0.25)[:2, 0], [1, 1.25])
    # a missing bar ages the past: weights (1 - a)**2 = 1/4 and a = 1/2 (pandas says 3.25 here)
    gap = np.array([[1.0], [NAN], [4.0]])
    np.testing.assert_array_equal(kernels.ewm_mean(gap, 3, 1)[:, 0], [1, 1, 3.0])
    np.testing.assert_array_equal(kernels.ewm_mean(np.full((4, 1), 0.1), 7, 1, adjust=True), 0.1)


@settings(deadline=None, max_examples=50)
@given(x=panels(), wm=windows())
def test_wma_matches_reference(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm

    def weighted_mean(values: np.ndarray, rows: np.ndarray, t: int) -> float:
        weights = window - (t - rows)
        return float(np.sum(weights * values) / np.sum(weights))

    expected = by_window(x, window, min_periods, weighted_mean)
    atol = 1e-12 * window * window_scale(x, window)
    assert_close(kernels.rolling_wma(x, window, min_periods), expected, atol=atol)


@settings(deadline=None, max_examples=50)
@given(x=panels(), wm=windows())
def test_qlib_wma_matches_the_pandas_apply(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    expected = rolling.apply(qlib_wma, raw=True).to_numpy()
    atol = 1e-12 * window * window_scale(x, window)
    assert_close(kernels.rolling_wma(x, window, min_periods, qlib=True), expected, atol=atol)


@settings(deadline=None, max_examples=60)
@given(
    x=panels(),
    span=st.floats(1.0, 60.0).filter(lambda s: s != 3.0),
    min_periods=st.integers(1, 10),
    adjust=st.booleans(),
)
def test_ewm_matches_pandas(x: np.ndarray, span: float, min_periods: int, adjust: bool) -> None:
    # span 3 (alpha 1/2) with adjust=False hits pandas' special case; see test_ewm_by_hand
    frame = pd.DataFrame(no_inf(x))
    expected = frame.ewm(span=span, min_periods=min_periods, adjust=adjust).mean().to_numpy()
    assert_close(kernels.ewm_mean(x, span, min_periods, adjust), expected, 1e-12, 0)


@settings(deadline=None, max_examples=40)
@given(x=panels(), alpha=st.floats(0.01, 1.0).filter(lambda a: a != 0.5))
def test_ewm_alpha_matches_pandas(x: np.ndarray, alpha: float) -> None:
    frame = pd.DataFrame(no_inf(x))
    for adjust in (False, True):
        expected = frame.ewm(alpha=alpha, adjust=adjust).mean().to_numpy()
        assert_close(kernels.ewm_mean(x, None, 1, adjust, alpha=alpha), expected, 1e-12, 0)


@settings(deadline=None, max_examples=30)
@given(x=panels(), n=st.one_of(st.integers(1, 40), st.floats(0.01, 0.99)))
def test_qlib_ema(x: np.ndarray, n: float) -> None:
    series = pd.DataFrame(x)
    # Qlib 0.9.7 EMA(x, N), literally
    if 0 < n < 1:
        expected = series.ewm(alpha=n, min_periods=1).mean().to_numpy()
        ours = kernels.ewm_mean(x, None, 1, adjust=True, alpha=n)
    else:
        expected = series.ewm(span=n, min_periods=1).mean().to_numpy()
        ours = kernels.ewm_mean(x, n, 1, adjust=True)
    assert_close(ours, expected, 1e-12, 0)
