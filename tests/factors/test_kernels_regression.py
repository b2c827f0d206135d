"""rolling_slope/rsquare/resi: hand-computed cases, exact arithmetic, Qlib's numbers and mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import (
    assert_close,
    by_window,
    fraction,
    panels,
    window_scale,
    windows,
)

NAN = np.nan


def _exact_fit(values: np.ndarray, rows: np.ndarray) -> tuple[object, object, object, object]:
    """Exact OLS of the values on their row numbers: slope, R^2 (None when flat), means."""
    p = [fraction(r) for r in rows]
    y = [fraction(v) for v in values]
    mean_p, mean_y = sum(p) / len(p), sum(y) / len(y)
    sxx = sum((a - mean_p) ** 2 for a in p)
    sxy = sum((a - mean_p) * (b - mean_y) for a, b in zip(p, y, strict=True))
    syy = sum((b - mean_y) ** 2 for b in y)
    return sxy / sxx, (sxy * sxy / (sxx * syy) if syy else None), mean_p, mean_y


def exact_slope(values: np.ndarray, rows: np.ndarray, _t: int) -> float:
    return float(_exact_fit(values, rows)[0])  # type: ignore[arg-type]


def exact_rsquare(values: np.ndarray, rows: np.ndarray, _t: int) -> float:
    r2 = _exact_fit(values, rows)[1]
    return NAN if r2 is None else float(r2)  # type: ignore[arg-type]


def exact_resi(values: np.ndarray, rows: np.ndarray, t: int) -> float:
    if rows[-1] != t:  # the current value is missing
        return NAN
    slope, _, mean_p, mean_y = _exact_fit(values, rows)
    return float(fraction(values[-1]) - (mean_y + slope * (t - mean_p)))  # type: ignore[operator]


def test_trend_by_hand() -> None:
    x = np.array([[1.0], [2.0], [3.0], [5.0]])
    np.testing.assert_allclose(
        kernels.rolling_slope(x, 3, 3)[:, 0], [NAN, NAN, 1, 1.5], equal_nan=True
    )
    np.testing.assert_allclose(kernels.rolling_rsquare(x, 3, 3)[2:, 0], [1, 27 / 28])
    # [2, 3, 5] on times 0, 1, 2: line 11/6 + 1.5 t, so the last point is 5 - 29/6 above it
    np.testing.assert_allclose(kernels.rolling_resi(x, 3, 3)[2:, 0], [0, 1 / 6], atol=1e-15)


def test_qlib_flag_changes_nothing_for_slope_and_resi() -> None:
    x = np.array([[1.0], [NAN], [4.0], [2.0], [NAN], [7.0]])
    for kernel in (kernels.rolling_slope, kernels.rolling_resi):
        np.testing.assert_array_equal(kernel(x, 4, 1, qlib=True), kernel(x, 4, 1))


def test_flat_window() -> None:
    x = np.array([[4.0], [4.0], [4.0], [NAN]])
    np.testing.assert_array_equal(kernels.rolling_slope(x, 3, 2)[:, 0], [NAN, 0, 0, 0])
    np.testing.assert_array_equal(kernels.rolling_resi(x, 3, 2)[:, 0], [NAN, 0, 0, NAN])
    assert np.isnan(kernels.rolling_rsquare(x, 3, 2)).all()


def test_gaps_keep_their_place_on_the_time_axis_like_qlib() -> None:
    # values from Qlib 0.9.7's compiled rolling_slope / rolling_resi on this series, window 4
    x = np.array([[1.0], [NAN], [NAN], [3.0], [7.0], [NAN], [2.0]])
    np.testing.assert_allclose(
        kernels.rolling_slope(x, 4, 1)[:, 0], [NAN, NAN, NAN, 2 / 3, 4, 4, -27 / 42], equal_nan=True
    )
    np.testing.assert_allclose(
        kernels.rolling_resi(x, 4, 1)[:, 0],
        [NAN, NAN, NAN, 0, 0, NAN, -0.9285714285714286],
        atol=1e-14,
        equal_nan=True,
    )


@settings(deadline=None, max_examples=50)
@given(x=panels(), wm=windows())
def test_slope_rsquare_resi_match_exact_arithmetic(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    least = max(min_periods, 2)
    scale = window_scale(x, window)
    assert_close(
        kernels.rolling_slope(x, window, min_periods),
        by_window(x, window, least, exact_slope),
        atol=1e-13 * scale,
    )
    assert_close(
        kernels.rolling_resi(x, window, min_periods),
        by_window(x, window, least, exact_resi),
        atol=1e-12 * scale,
    )
    assert_close(
        kernels.rolling_rsquare(x, window, min_periods),
        by_window(x, window, least, exact_rsquare),
        atol=1e-9,
    )


@settings(deadline=None, max_examples=30)
@given(x=panels(), window=windows().map(lambda wm: wm[0]))
def test_qlib_rsquare_masks_near_flat_windows(x: np.ndarray, window: int) -> None:
    expected = by_window(x, window, 2, exact_rsquare)
    std = pd.DataFrame(x).rolling(window, min_periods=1).std().to_numpy()
    expected[np.isclose(std, 0, atol=2e-05)] = NAN  # Qlib 0.9.7 Rsquare, literally
    assert_close(kernels.rolling_rsquare(x, window, 1, qlib=True), expected, atol=1e-9)
