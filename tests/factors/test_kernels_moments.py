"""rolling_var/std/skew/kurt/mad: hand-computed cases, exact references, pandas and Qlib parity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import (
    WELL_SCALED,
    assert_close,
    by_window,
    fraction,
    panels,
    window_scale,
    windows,
)

NAN = np.nan


def _exact_moments(values: np.ndarray) -> tuple[int, object, object, object]:
    """Count and exact central moments m2, m3, m4 (divided by n) as Fractions."""
    v = [fraction(a) for a in values]
    n = len(v)
    mean = sum(v) / n
    return n, *(sum((a - mean) ** k for a in v) / n for k in (2, 3, 4))


def exact_var(values: np.ndarray, _rows: np.ndarray, _t: int) -> float:
    n, m2, _, _ = _exact_moments(values)
    return float(m2 * n / (n - 1)) if n >= 2 else NAN  # type: ignore[operator]


def exact_skew(values: np.ndarray, _rows: np.ndarray, _t: int) -> float:
    n, m2, m3, _ = _exact_moments(values)
    if n < 3 or m2 == 0:
        return NAN
    return math.sqrt(n * (n - 1)) / (n - 2) * float(m3) / float(m2) ** 1.5  # type: ignore[arg-type]


def exact_kurt(values: np.ndarray, _rows: np.ndarray, _t: int) -> float:
    n, m2, _, m4 = _exact_moments(values)
    if n < 4 or m2 == 0:
        return NAN
    return float(((n * n - 1) * m4 / m2**2 - 3 * (n - 1) ** 2) / ((n - 2) * (n - 3)))  # type: ignore[operator]


def qlib_mad(a: np.ndarray) -> float:
    """Qlib 0.9.7 ``Mad``, as its ops.py applies it to each raw window."""
    a1 = a[~np.isnan(a)]
    return float(np.mean(np.abs(a1 - a1.mean())))


def test_moments_by_hand() -> None:
    x = np.array([[1.0], [2.0], [3.0], [4.0], [8.0]])
    np.testing.assert_allclose(
        kernels.rolling_var(x, 3, 3)[:, 0], [NAN, NAN, 1, 1, 7], equal_nan=True
    )
    np.testing.assert_allclose(
        kernels.rolling_std(x, 3, 1)[:, 0], [NAN, 0.5**0.5, 1, 1, 7**0.5], equal_nan=True
    )
    # [3, 4, 8]: deviations -2, -1, 3, so m2 = 14/3 and m3 = 6
    skew = math.sqrt(3 * 2) / 1 * 6 / (14 / 3) ** 1.5
    np.testing.assert_allclose(
        kernels.rolling_skew(x, 3, 3)[:, 0], [NAN, NAN, 0, 0, skew], atol=1e-15, equal_nan=True
    )
    np.testing.assert_allclose(kernels.rolling_kurt(x, 4, 4)[3, 0], -1.2)
    np.testing.assert_allclose(
        kernels.rolling_mad(x, 3, 3)[:, 0], [NAN, NAN, 2 / 3, 2 / 3, 2], equal_nan=True
    )


def test_constant_window_has_exactly_zero_variance_and_no_shape() -> None:
    x = np.array([[3.0], [0.1], [0.1], [0.1], [NAN], [0.1]])
    np.testing.assert_array_equal(kernels.rolling_var(x, 3, 2)[3:, 0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(kernels.rolling_skew(x, 4, 3)[3, 0], 2.0)  # [a, b, b, b]
    assert np.isnan(kernels.rolling_skew(x, 4, 3)[4:, 0]).all()
    assert np.isnan(kernels.rolling_kurt(x, 5, 4)[5:, 0]).all()
    assert kernels.rolling_mad(x, 3, 2)[5, 0] == 0.0


def test_variance_recovers_after_a_huge_value_leaves() -> None:
    x = np.array([[1e15], [1.0], [2.0], [3.0], [4.0]])
    np.testing.assert_array_equal(kernels.rolling_var(x, 3, 3)[3:, 0], [1.0, 1.0])


@settings(deadline=None, max_examples=50)
@given(x=panels(), wm=windows())
def test_var_and_std_match_exact_arithmetic(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    expected = by_window(x, window, min_periods, exact_var)
    atol = 1e-14 * window_scale(x, window) ** 2  # rounding of the inputs' squares
    assert_close(kernels.rolling_var(x, window, min_periods), expected, atol=atol)
    assert_close(kernels.rolling_std(x, window, min_periods), np.sqrt(expected), atol=np.sqrt(atol))


@settings(deadline=None, max_examples=40)
@given(x=panels(), wm=windows())
def test_skew_and_kurt_match_exact_arithmetic(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    # skew and kurtosis are dimensionless, so an absolute tolerance is meaningful: near
    # symmetric windows have m3 ~ 0, whose relative error is unbounded at any precision
    assert_close(
        kernels.rolling_skew(x, window, min_periods),
        by_window(x, window, min_periods, exact_skew),
        atol=1e-9,
    )
    assert_close(
        kernels.rolling_kurt(x, window, min_periods),
        by_window(x, window, min_periods, exact_kurt),
        atol=1e-9,
    )


@settings(deadline=None, max_examples=40)
@given(x=panels(kinds=WELL_SCALED), wm=windows())
def test_moments_match_pandas(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    scale = window_scale(x, window)
    assert_close(
        kernels.rolling_var(x, window, min_periods), rolling.var().to_numpy(), atol=1e-12 * scale**2
    )
    # pandas' variance is off by up to ~1e-14 scale**2 after larger values left the window;
    # sqrt turns that into |d std| <= sqrt(|d var|), large next to a tiny std
    assert_close(
        kernels.rolling_std(x, window, min_periods), rolling.std().to_numpy(), atol=1e-6 * scale
    )
    # pandas' skew/kurt sums keep ~1e-12 relative noise on windows where they do not
    # detect exact constancy (e.g. [a, a, a, b]); both sides are checked exactly above
    assert_close(
        kernels.rolling_skew(x, window, min_periods), rolling.skew().to_numpy(), 1e-8, 1e-8
    )
    assert_close(
        kernels.rolling_kurt(x, window, min_periods), rolling.kurt().to_numpy(), 1e-8, 1e-8
    )


@settings(deadline=None, max_examples=40)
@given(x=panels(), wm=windows())
def test_mad_matches_qlib(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    expected = rolling.apply(qlib_mad, raw=True).to_numpy()
    atol = 1e-12 * window * window_scale(x, window)
    assert_close(kernels.rolling_mad(x, window, min_periods), expected, atol=atol)
