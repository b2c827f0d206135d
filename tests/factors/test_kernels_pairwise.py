"""rolling_cov and rolling_corr: hand-computed cases, exact arithmetic, pandas and Qlib parity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import (
    ALL_KINDS,
    WELL_SCALED,
    assert_close,
    fraction,
    panels,
    window_scale,
    windows,
)

NAN = np.nan


@st.composite
def pairs(draw: st.DrawFn, kinds: tuple[str, ...] = ALL_KINDS) -> tuple[np.ndarray, np.ndarray]:
    x = draw(panels(kinds=kinds))
    y = draw(panels(kinds=kinds, max_rows=len(x), max_cols=x.shape[1]))
    return x[: len(y), : y.shape[1]], y


def exact_pairwise(
    x: np.ndarray, y: np.ndarray, window: int, min_periods: int, corr: bool
) -> np.ndarray:
    out = np.full(x.shape, NAN)
    for j in range(x.shape[1]):
        for t in range(x.shape[0]):
            rows = np.arange(max(0, t - window + 1), t + 1)
            ok = np.isfinite(x[rows, j]) & np.isfinite(y[rows, j])
            n = int(ok.sum())
            if n < max(min_periods, 2):
                continue
            a = [fraction(v) for v in x[rows[ok], j]]
            b = [fraction(v) for v in y[rows[ok], j]]
            ma, mb = sum(a) / n, sum(b) / n
            sab = sum((p - ma) * (q - mb) for p, q in zip(a, b, strict=True))
            if not corr:
                out[t, j] = float(sab / (n - 1))
                continue
            saa, sbb = sum((p - ma) ** 2 for p in a), sum((q - mb) ** 2 for q in b)
            if saa and sbb:
                out[t, j] = float(sab) / math.sqrt(float(saa) * float(sbb))
    return out


def test_pairwise_by_hand() -> None:
    x = np.array([[1.0], [2.0], [3.0], [NAN], [5.0]])
    y = np.array([[2.0], [4.0], [7.0], [1.0], [1.0]])
    np.testing.assert_allclose(
        kernels.rolling_cov(x, y, 3, 2)[:, 0], [NAN, 1, 2.5, 1.5, -6], equal_nan=True
    )
    np.testing.assert_allclose(
        kernels.rolling_corr(x, y, 3, 3)[:, 0],
        [NAN, NAN, 7.5 / math.sqrt(57), NAN, NAN],
        equal_nan=True,
    )
    flat = np.ones((5, 1))
    assert np.isnan(kernels.rolling_corr(flat, y, 3, 2)).all()
    np.testing.assert_array_equal(kernels.rolling_cov(flat, y, 3, 2)[1:, 0], 0.0)


@settings(deadline=None, max_examples=50)
@given(xy=pairs(), wm=windows())
def test_cov_corr_match_exact_arithmetic(
    xy: tuple[np.ndarray, np.ndarray], wm: tuple[int, int]
) -> None:
    (x, y), (window, min_periods) = xy, wm
    scale = window_scale(x, window) * window_scale(y, window)
    assert_close(
        kernels.rolling_cov(x, y, window, min_periods),
        exact_pairwise(x, y, window, min_periods, corr=False),
        atol=1e-14 * scale,
    )
    assert_close(
        kernels.rolling_corr(x, y, window, min_periods),
        exact_pairwise(x, y, window, min_periods, corr=True),
        atol=1e-9,  # dimensionless
    )


@settings(deadline=None, max_examples=40)
@given(xy=pairs(kinds=WELL_SCALED), wm=windows())
def test_cov_corr_match_pandas(xy: tuple[np.ndarray, np.ndarray], wm: tuple[int, int]) -> None:
    (x, y), (window, min_periods) = xy, wm
    # pandas computes mean(xy) - mean(x) mean(y): fine on these columns, not on large offsets.
    # Columns of few distinct values ("ties") hit its cancellation too, hence atol 1e-9.
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    scale = window_scale(x, window) * window_scale(y, window)
    expected = rolling.cov(pd.DataFrame(y)).to_numpy()
    assert_close(kernels.rolling_cov(x, y, window, min_periods), expected, atol=1e-12 * scale)
    expected = rolling.corr(pd.DataFrame(y)).to_numpy()
    ours = kernels.rolling_corr(x, y, window, min_periods)
    both = ~np.isnan(ours) & ~np.isnan(expected)  # pandas misses some constant windows
    np.testing.assert_allclose(ours[both], expected[both], rtol=1e-9, atol=1e-9)
    assert np.all(np.isnan(ours) | ~np.isnan(expected))


@settings(deadline=None, max_examples=30)
@given(xy=pairs(), window=st.integers(1, 20))
def test_qlib_corr_masks_flat_series(xy: tuple[np.ndarray, np.ndarray], window: int) -> None:
    x, y = xy
    expected = exact_pairwise(x, y, window, 1, corr=True)
    # Qlib 0.9.7 Corr: each series' own rolling std, literally
    for z in (x, y):
        std = pd.DataFrame(z).rolling(window, min_periods=1).std().to_numpy()
        expected[np.isclose(std, 0, atol=2e-05)] = NAN
    assert_close(kernels.rolling_corr(x, y, window, 1, qlib=True), expected, atol=1e-9)
