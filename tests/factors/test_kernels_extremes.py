"""rolling_max/min/argmax/argmin: hand-computed cases, pandas parity, Qlib IdxMax/IdxMin."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import assert_close, by_window, panels, windows

NAN = np.nan


def bars_since_max(values: np.ndarray, rows: np.ndarray, t: int) -> float:
    """Reference for the default argmax: bars since the most recent occurrence of the max."""
    return float(t - rows[np.flatnonzero(values == values.max())[-1]])


def bars_since_min(values: np.ndarray, rows: np.ndarray, t: int) -> float:
    return float(t - rows[np.flatnonzero(values == values.min())[-1]])


def test_extremes_by_hand() -> None:
    x = np.array([[1.0], [3.0], [NAN], [3.0], [2.0], [0.0]])
    np.testing.assert_array_equal(kernels.rolling_max(x, 3, 1)[:, 0], [1, 3, 3, 3, 3, 3])
    np.testing.assert_array_equal(kernels.rolling_min(x, 3, 2)[:, 0], [NAN, 1, 1, 3, 2, 0])
    # the tie between rows 1 and 3 goes to the more recent one
    np.testing.assert_array_equal(kernels.rolling_argmax(x, 3, 1)[:, 0], [0, 0, 1, 0, 1, 2])
    np.testing.assert_array_equal(kernels.rolling_argmin(x, 3, 1)[:, 0], [0, 1, 2, 0, 0, 0])


def test_qlib_positions_by_hand() -> None:
    # pandas' windows: [1], [1,3], [1,3,nan], [3,nan,3], [nan,3,2], [3,2,0]
    x = np.array([[1.0], [3.0], [NAN], [3.0], [2.0], [0.0]])
    np.testing.assert_array_equal(
        kernels.rolling_argmax(x, 3, 1, qlib=True)[:, 0], [1, 2, 3, 2, 1, 1]
    )
    np.testing.assert_array_equal(
        kernels.rolling_argmin(x, 3, 1, qlib=True)[:, 0], [1, 1, 3, 2, 1, 3]
    )


@settings(deadline=None, max_examples=60)
@given(x=panels(), wm=windows())
def test_max_min_match_pandas(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    assert_close(kernels.rolling_max(x, window, min_periods), rolling.max().to_numpy(), 0, 0)
    assert_close(kernels.rolling_min(x, window, min_periods), rolling.min().to_numpy(), 0, 0)


@settings(deadline=None, max_examples=60)
@given(x=panels(), wm=windows())
def test_bars_since_extreme_matches_reference(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    expected = by_window(x, window, min_periods, bars_since_max)
    assert_close(kernels.rolling_argmax(x, window, min_periods), expected, 0, 0)
    expected = by_window(x, window, min_periods, bars_since_min)
    assert_close(kernels.rolling_argmin(x, window, min_periods), expected, 0, 0)


@settings(deadline=None, max_examples=60)
@given(x=panels(), wm=windows())
def test_qlib_idxmax_idxmin_match_the_pandas_apply(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    # Qlib 0.9.7 IdxMax / IdxMin, literally
    idxmax = rolling.apply(lambda a: a.argmax() + 1, raw=True).to_numpy()
    idxmin = rolling.apply(lambda a: a.argmin() + 1, raw=True).to_numpy()
    assert_close(kernels.rolling_argmax(x, window, min_periods, qlib=True), idxmax, 0, 0)
    assert_close(kernels.rolling_argmin(x, window, min_periods, qlib=True), idxmin, 0, 0)
