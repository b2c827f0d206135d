"""cs_rank, cs_zscore, cs_demean, cs_neutralize: hand-computed cases and references."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import WELL_SCALED, assert_close, no_inf, panels

NAN = np.nan


def _row_scale(x: np.ndarray) -> np.ndarray:
    finite = np.where(np.isfinite(x), np.abs(x), 0.0)
    return np.maximum(finite.max(axis=1, initial=0.0), 1e-300)[:, None]


def lstsq_residual(
    x: np.ndarray, codes: np.ndarray | None, factors: list[np.ndarray]
) -> np.ndarray:
    """Reference: per row, OLS on group dummies (or an intercept) and the factors."""
    out = np.full(x.shape, NAN)
    for t in range(len(x)):
        ok = np.isfinite(x[t]) & np.all([np.isfinite(f[t]) for f in factors], axis=0)
        if codes is not None:
            ok &= codes[t] >= 0
        labels = np.unique(codes[t][ok]) if codes is not None else np.array([0])
        n = int(ok.sum())
        if n == 0 or n < len(labels) + len(factors):
            continue
        dummies = (
            [(codes[t][ok] == g).astype(float) for g in labels]
            if codes is not None
            else [np.ones(n)]
        )
        design = np.column_stack([*dummies, *(f[t][ok] for f in factors)])
        beta = np.linalg.lstsq(design, x[t][ok], rcond=None)[0]
        out[t, ok] = x[t][ok] - design @ beta
    return out


def test_cross_section_by_hand() -> None:
    x = np.array([[3.0, 1.0, 2.0, NAN], [1.0, 1.0, 2.0, np.inf], [5.0, NAN, NAN, NAN]])
    np.testing.assert_array_equal(
        kernels.cs_rank(x), [[1, 1 / 3, 2 / 3, NAN], [0.5, 0.5, 1, NAN], [1, NAN, NAN, NAN]]
    )
    np.testing.assert_allclose(
        kernels.cs_demean(x)[:2], [[1, -1, 0, NAN], [-1 / 3, -1 / 3, 2 / 3, NAN]]
    )
    z = 1.5**0.5
    np.testing.assert_allclose(kernels.cs_zscore(x)[0], [z, -z, 0, NAN])
    assert np.isnan(kernels.cs_zscore(x)[2]).all()  # one value: std 0
    assert np.isnan(kernels.cs_zscore(np.full((1, 3), 0.1))).all()


def test_neutralize_by_hand() -> None:
    x = np.array([[1.0, 3.0, 5.0, 9.0]])
    np.testing.assert_allclose(
        kernels.cs_neutralize(x, groups=np.array([0, 0, 1, 1])), [[-1, 1, -2, 2]]
    )
    np.testing.assert_allclose(
        kernels.cs_neutralize([[1.0, 2.0, 4.0]], factors=[[0.0, 1.0, 2.0]]),
        [[1 / 6, -1 / 3, 1 / 6]],
    )
    # unknown groups (NaN, or a negative integer id) leave the asset out
    groups = np.array([[0.0, NAN, 0.0, 1.0]])
    np.testing.assert_allclose(kernels.cs_neutralize(x, groups=groups), [[-2, NAN, 2, 0]])
    np.testing.assert_allclose(
        kernels.cs_neutralize(x, groups=[[-1, 2, 2, 2]]), [[NAN, -8 / 3, -2 / 3, 10 / 3]]
    )
    # two assets, two groups and a factor: three parameters, too few assets
    assert np.isnan(kernels.cs_neutralize([[1.0, 2.0]], groups=[0, 1], factors=[[3.0, 1.0]])).all()
    # a factor that is constant within groups is dropped: the result is the group demeaning
    factor = np.array([[7.0, 7.0, -1.0, -1.0]])
    np.testing.assert_allclose(
        kernels.cs_neutralize(x, [0, 0, 1, 1], factor), [[-1, 1, -2, 2]], atol=1e-14
    )


def test_neutralize_arguments_are_checked() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="groups must have shape"):
        kernels.cs_neutralize(x, groups=[0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        kernels.cs_neutralize(x, groups=[0.5, 1.0, 1.0])
    with pytest.raises(ValueError, match="factors must be"):
        kernels.cs_neutralize(x, factors=np.ones((3, 3)))


@settings(deadline=None, max_examples=50)
@given(x=panels(max_cols=12))
def test_rank_matches_pandas(x: np.ndarray) -> None:
    expected = pd.DataFrame(no_inf(x)).rank(axis=1, pct=True).to_numpy()
    assert_close(kernels.cs_rank(x), expected, 0, 0)


@settings(deadline=None, max_examples=50)
@given(x=panels(max_cols=12))
def test_zscore_and_demean_match_reference(x: np.ndarray) -> None:
    clean = no_inf(x)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        mean = np.nanmean(clean, axis=1, keepdims=True)
        std = np.nanstd(clean, axis=1, keepdims=True)
        flat = np.nanmax(clean, axis=1, keepdims=True) == np.nanmin(clean, axis=1, keepdims=True)
        expected = np.where(flat, NAN, (clean - mean) / std)
    scale = _row_scale(x)
    assert_close(kernels.cs_demean(x), clean - mean, atol=1e-12 * scale)
    assert_close(kernels.cs_zscore(x), expected, atol=1e-12 * scale / np.where(std > 0, std, 1))


@settings(deadline=None, max_examples=40)
@given(
    x=panels(max_rows=10, max_cols=12),
    n_factors=st.integers(0, 2),
    n_groups=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_neutralize_matches_least_squares(
    x: np.ndarray, n_factors: int, n_groups: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal(x.shape) for _ in range(n_factors)]
    for f in factors:
        f[rng.random(x.shape) < 0.1] = NAN
    codes = rng.integers(-1, n_groups, x.shape) if n_groups else None
    expected = lstsq_residual(x, codes, factors)
    ours = kernels.cs_neutralize(x, groups=codes, factors=factors or None)
    assert_close(ours, expected, 0, atol=1e-8 * _row_scale(x))


@settings(deadline=None, max_examples=20)
@given(x=panels(kinds=WELL_SCALED, max_cols=12))
def test_neutralize_without_factors_is_group_demeaning(x: np.ndarray) -> None:
    groups = np.arange(x.shape[1]) % 3
    clean = no_inf(x)
    frame = pd.DataFrame(clean.T)
    expected = (frame - frame.groupby(groups).transform("mean")).to_numpy().T
    assert_close(kernels.cs_neutralize(x, groups=groups), expected, atol=1e-12 * _row_scale(x))
