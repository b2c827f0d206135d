"""shift, rolling_count, rolling_sum, rolling_mean: hand-computed cases and pandas parity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import (
    ALL_KINDS,
    assert_close,
    no_inf,
    panels,
    window_scale,
    windows,
)

NAN = np.nan
COLUMN = np.array([[1.0], [2.0], [3.0], [4.0]])


def test_shift_by_hand() -> None:
    x = np.array([[1.0, 10.0], [2.0, np.inf], [3.0, 30.0]])
    np.testing.assert_array_equal(kernels.shift(x, 1), [[NAN, NAN], [1, 10], [2, np.inf]])
    np.testing.assert_array_equal(kernels.shift(x, -2), [[3, 30], [NAN, NAN], [NAN, NAN]])
    np.testing.assert_array_equal(kernels.shift(x, 0), x)
    assert np.isnan(kernels.shift(x, 3)).all()
    assert np.isnan(kernels.shift(x, -7)).all()


def test_sums_by_hand() -> None:
    np.testing.assert_array_equal(kernels.rolling_sum(COLUMN, 3, 3)[:, 0], [NAN, NAN, 6, 9])
    np.testing.assert_array_equal(kernels.rolling_mean(COLUMN, 3, 3)[:, 0], [NAN, NAN, 2, 3])
    np.testing.assert_array_equal(kernels.rolling_mean(COLUMN, 3, 1)[:, 0], [1, 1.5, 2, 3])
    holes = np.array([[1.0], [NAN], [np.inf], [4.0], [NAN]])
    np.testing.assert_array_equal(kernels.rolling_sum(holes, 3, 1)[:, 0], [1, 1, 1, 4, 4])
    np.testing.assert_array_equal(kernels.rolling_sum(holes, 3, 2)[:, 0], [NAN] * 5)


def test_count_follows_pandas_min_periods_on_rows() -> None:
    holes = np.array([[1.0], [NAN], [NAN], [NAN], [5.0]])
    np.testing.assert_array_equal(kernels.rolling_count(holes, 3, 1)[:, 0], [1, 1, 1, 0, 1])
    np.testing.assert_array_equal(kernels.rolling_count(holes, 3, 3)[:, 0], [NAN, NAN, 1, 0, 1])


def test_constant_window_is_exact() -> None:
    x = np.array([[5.0], [0.1], [0.1], [0.1], [0.1]])
    np.testing.assert_array_equal(kernels.rolling_mean(x, 3, 3)[3:, 0], [0.1, 0.1])
    np.testing.assert_array_equal(kernels.rolling_sum(x, 3, 3)[3:, 0], [0.1 * 3, 0.1 * 3])


@settings(deadline=None, max_examples=60)
@given(x=panels(), wm=windows())
def test_sum_mean_count_match_pandas(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    # compensated sums: error ~eps of the largest value in the window, also after it left
    atol = 1e-12 * window * window_scale(x, window)
    assert_close(kernels.rolling_sum(x, window, min_periods), rolling.sum().to_numpy(), atol=atol)
    assert_close(kernels.rolling_mean(x, window, min_periods), rolling.mean().to_numpy(), atol=atol)
    # pandas counts +-inf in count() only; we treat it as missing everywhere
    counted = pd.DataFrame(no_inf(x)).rolling(window, min_periods=min_periods).count()
    assert_close(kernels.rolling_count(x, window, min_periods), counted.to_numpy(), rtol=0, atol=0)


@settings(deadline=None, max_examples=30)
@given(x=panels(kinds=ALL_KINDS), n=st.integers(-45, 45))
def test_shift_matches_pandas(x: np.ndarray, n: int) -> None:
    np.testing.assert_array_equal(kernels.shift(x, n), pd.DataFrame(x).shift(n).to_numpy())
