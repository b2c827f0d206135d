"""Shared strategies and references for the kernel tests, and the contract every kernel keeps.

The other ``test_kernels_*`` modules import the strategies and helpers from
here. The tests in this module check the calling contract (shapes, dtype,
inputs untouched, argument checks) and that each plain-Python kernel and its
numba twin agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.factors import kernels
from alphaloop.factors.kernels import (
    cross_section,
    extremes,
    moments,
    neutralize,
    order,
    pairwise,
    regression,
    sums,
    weighted,
)

WELL_SCALED = ("normal", "ties", "runs", "missing")
"""Column kinds on which pandas' own rolling algorithms are accurate to ~1e-12."""
ALL_KINDS = (*WELL_SCALED, "offset", "spikes")
"""Adds columns that stress running sums: a large mean with a tiny spread, and 1e6 outliers."""


def _column(kind: str, rows: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(rows) * 10.0 ** rng.uniform(-3, 3)
    if kind == "ties":  # small integers: many ties and short constant runs
        return rng.integers(-3, 4, rows).astype(float)
    if kind == "runs":  # piecewise constant: whole windows of one value
        return np.repeat(rng.standard_normal(rows), rng.integers(1, 9, rows))[:rows]
    if kind == "offset":  # mean / std ~ 1e6
        return 1e4 + rng.standard_normal(rows) * 1e-2
    if kind == "spikes":
        return rng.standard_normal(rows) + np.where(rng.random(rows) < 0.1, 1e6, 0.0)
    return np.full(rows, np.nan)  # "missing": an all-NaN column


@st.composite
def panels(
    draw: st.DrawFn,
    kinds: tuple[str, ...] = ALL_KINDS,
    max_rows: int = 40,
    max_cols: int = 3,
    allow_inf: bool = True,
) -> np.ndarray:
    """A (rows, cols) float panel: one kind per column, NaN holes, sometimes +-inf."""
    rows = draw(st.integers(0, max_rows))
    cols = draw(st.integers(1, max_cols))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = np.column_stack([_column(draw(st.sampled_from(kinds)), rows, rng) for _ in range(cols)])
    x = x.reshape(rows, cols)
    x[rng.random(x.shape) < draw(st.sampled_from([0.0, 0.1, 0.4]))] = np.nan
    if allow_inf and draw(st.booleans()):
        x[rng.random(x.shape) < 0.05] = np.inf * rng.choice([-1.0, 1.0])
    return x


@st.composite
def windows(draw: st.DrawFn, max_window: int = 20) -> tuple[int, int]:
    """``(window, min_periods)`` with ``1 <= min_periods <= window``."""
    window = draw(st.integers(1, max_window))
    return window, draw(st.integers(1, window))


def by_window(
    x: np.ndarray,
    window: int,
    min_periods: int,
    func: Callable[[np.ndarray, np.ndarray, int], float],
) -> np.ndarray:
    """Reference: ``func(valid_values, their_rows, t)`` per cell, NaN below ``min_periods``."""
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        for t in range(x.shape[0]):
            rows = np.arange(max(0, t - window + 1), t + 1)
            ok = np.isfinite(x[rows, j])
            if ok.sum() >= min_periods:
                out[t, j] = func(x[rows[ok], j], rows[ok], t)
    return out


def window_scale(x: np.ndarray, window: int) -> np.ndarray:
    """Largest |valid value| in each cell's window (1 where none): the scale of its rounding."""
    finite = np.where(np.isfinite(x), np.abs(x), 0.0)
    scale = by_window(finite, window, 1, lambda v, _r, _t: float(v.max()))
    return np.where(np.isnan(scale) | (scale == 0), 1.0, scale)


def assert_close(
    actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-9, atol: Any = 1e-12
) -> None:
    """Equal NaN patterns and ``|a - e| <= atol + rtol |e|`` elsewhere (atol may be an array)."""
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg="NaN pattern")
    ok = ~np.isnan(expected)
    bound = (np.broadcast_to(atol, expected.shape) + rtol * np.abs(expected))[ok]
    err = np.abs(actual[ok] - expected[ok])
    assert np.all(err <= bound), f"max excess {np.max(err - bound, initial=0.0):.3g}"


def fraction(v: float) -> Fraction:
    return Fraction(float(v))


def no_inf(x: np.ndarray) -> np.ndarray:
    """``x`` with +-inf as NaN (what pandas rolling does before computing)."""
    return np.where(np.isinf(x), np.nan, x)


# --- the contract -----------------------------------------------------------


def _other(x: Any) -> np.ndarray:
    """A second panel shaped like ``x``."""
    return np.cos(np.arange(np.size(x), dtype=float)).reshape(np.shape(x))


PUBLIC_KERNELS: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = [
    ("shift", lambda x: kernels.shift(x, 2)),
    ("count", lambda x: kernels.rolling_count(x, 3, 2)),
    ("sum", lambda x: kernels.rolling_sum(x, 3, 2)),
    ("mean", lambda x: kernels.rolling_mean(x, 3, 2)),
    ("var", lambda x: kernels.rolling_var(x, 3, 2)),
    ("std", lambda x: kernels.rolling_std(x, 3, 2)),
    ("skew", lambda x: kernels.rolling_skew(x, 4, 2)),
    ("kurt", lambda x: kernels.rolling_kurt(x, 5, 2)),
    ("mad", lambda x: kernels.rolling_mad(x, 3, 2)),
    ("max", lambda x: kernels.rolling_max(x, 3, 2)),
    ("min", lambda x: kernels.rolling_min(x, 3, 2)),
    ("argmax", lambda x: kernels.rolling_argmax(x, 3, 2)),
    ("argmin", lambda x: kernels.rolling_argmin(x, 3, 1, qlib=True)),
    ("quantile", lambda x: kernels.rolling_quantile(x, 3, 2, 0.3)),
    ("median", lambda x: kernels.rolling_median(x, 3, 2)),
    ("rank", lambda x: kernels.rolling_rank(x, 3, 2)),
    ("slope", lambda x: kernels.rolling_slope(x, 3, 2)),
    ("rsquare", lambda x: kernels.rolling_rsquare(x, 3, 2, qlib=True)),
    ("resi", lambda x: kernels.rolling_resi(x, 3, 2)),
    ("wma", lambda x: kernels.rolling_wma(x, 3, 2)),
    ("ewm", lambda x: kernels.ewm_mean(x, 3, 1, adjust=True)),
    ("cov", lambda x: kernels.rolling_cov(x, _other(x), 3, 2)),
    ("corr", lambda x: kernels.rolling_corr(x, _other(x), 3, 2, qlib=True)),
    ("cs_rank", kernels.cs_rank),
    ("cs_zscore", kernels.cs_zscore),
    ("cs_demean", kernels.cs_demean),
    (
        "cs_neutralize",
        lambda x: kernels.cs_neutralize(x, groups=np.array([0, 0, 1]), factors=_other(x)),
    ),
]


@pytest.mark.parametrize(("name", "kernel"), PUBLIC_KERNELS, ids=[n for n, _ in PUBLIC_KERNELS])
def test_kernel_returns_a_new_float_panel_and_leaves_input_alone(
    name: str, kernel: Callable[[np.ndarray], np.ndarray]
) -> None:
    x = np.arange(24, dtype=float).reshape(8, 3) % 5
    x[2, 1] = np.nan
    before = x.copy()
    out = kernel(x)
    assert out.shape == x.shape, name
    assert out.dtype == np.float64
    assert out.flags.c_contiguous or out.flags.f_contiguous
    assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(x, before)
    assert kernel(np.empty((0, 3))).shape == (0, 3)
    assert kernel(x.tolist()).shape == x.shape  # nested lists are accepted too
    frozen = x.copy()
    frozen.flags.writeable = False  # as Panel fields are
    np.testing.assert_array_equal(kernel(frozen), out)
    np.testing.assert_array_equal(kernel(np.asfortranarray(x)), out)


def test_window_arguments_are_checked() -> None:
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="window must be >= 1"):
        kernels.rolling_mean(x, 0, 1)
    with pytest.raises(ValueError, match=r"min_periods must be between 1 and window \(3\), got 4"):
        kernels.rolling_mean(x, 3, 4)
    with pytest.raises(TypeError, match="window must be an integer"):
        kernels.rolling_mean(x, 2.5, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="min_periods must be an integer"):
        kernels.rolling_mean(x, 3, True)
    with pytest.raises(ValueError, match="2-D"):
        kernels.rolling_mean(np.ones(4), 3, 1)
    with pytest.raises(ValueError, match="same shape"):
        kernels.rolling_corr(x, np.ones((3, 2)), 3, 1)
    with pytest.raises(ValueError, match="q must be between 0 and 1"):
        kernels.rolling_quantile(x, 3, 1, 1.5)
    with pytest.raises(ValueError, match="exactly one of span and alpha"):
        kernels.ewm_mean(x, 3, 1, alpha=0.5)
    with pytest.raises(ValueError, match="alpha must be in"):
        kernels.ewm_mean(x, None, 1, alpha=1.5)
    with pytest.raises(ValueError, match="span must be"):
        kernels.ewm_mean(x, 0.5, 1)


# --- plain-Python kernels and their numba twins ------------------------------

TWINS: list[tuple[str, Callable[..., np.ndarray], Callable[..., np.ndarray], tuple[Any, ...]]] = [
    ("count", sums._count, sums._count_jit, (5, 2)),
    ("sum", sums._sum, sums._sum_jit, (5, 2, False)),
    ("mean", sums._sum, sums._sum_jit, (5, 1, True)),
    ("var", moments._variance, moments._variance_jit, (6, 2, False)),
    ("std", moments._variance, moments._variance_jit, (3, 3, True)),
    ("skew", moments._shape, moments._shape_jit, (6, 1, False)),
    ("kurt", moments._shape, moments._shape_jit, (7, 4, True)),
    ("mad", moments._mad, moments._mad_jit, (5, 2)),
    ("max", extremes._extreme, extremes._extreme_jit, (5, 2, 1.0, extremes.VALUE)),
    ("argmin", extremes._extreme, extremes._extreme_jit, (5, 1, -1.0, extremes.BARS_SINCE)),
    ("argmax_qlib", extremes._extreme, extremes._extreme_jit, (4, 1, 1.0, extremes.QLIB_POSITION)),
    ("quantile", order._order, order._order_jit, (6, 2, 0.3, order.QUANTILE)),
    ("median", order._order, order._order_jit, (6, 1, 0.5, order.MEDIAN)),
    ("rank", order._order, order._order_jit, (6, 2, 0.5, order.RANK)),
    ("slope", regression._regression, regression._regression_jit, (6, 2, regression.SLOPE)),
    ("rsquare", regression._regression, regression._regression_jit, (5, 1, regression.RSQUARE)),
    ("resi", regression._regression, regression._regression_jit, (7, 3, regression.RESI)),
    ("wma", weighted._wma, weighted._wma_jit, (5, 2, False)),
    ("wma_qlib", weighted._wma, weighted._wma_jit, (5, 1, True)),
    ("ewm", weighted._ewm, weighted._ewm_jit, (0.3, 2, False)),
    ("ewm_adjust", weighted._ewm, weighted._ewm_jit, (0.5, 1, True)),
    ("cs_rank", cross_section._rank, cross_section._rank_jit, ()),
    ("cs_zscore", cross_section._center, cross_section._center_jit, (True,)),
    ("cs_demean", cross_section._center, cross_section._center_jit, (False,)),
]


@pytest.mark.parametrize(
    ("name", "python", "jitted", "args"), TWINS, ids=[name for name, *_ in TWINS]
)
@settings(deadline=None, max_examples=8)
@given(x=panels(max_rows=30))
def test_python_kernel_and_numba_twin_agree_exactly(
    name: str,
    python: Callable[..., np.ndarray],
    jitted: Callable[..., np.ndarray],
    args: tuple[Any, ...],
    x: np.ndarray,
) -> None:
    np.testing.assert_array_equal(python(x, *args), jitted(x, *args), err_msg=name)


@settings(deadline=None, max_examples=8)
@given(x=panels(max_rows=30), y=panels(max_rows=30), corr=st.booleans())
def test_pairwise_twins_agree_exactly(x: np.ndarray, y: np.ndarray, corr: bool) -> None:
    rows, cols = min(len(x), len(y)), min(x.shape[1], y.shape[1])
    x, y = x[:rows, :cols], y[:rows, :cols]
    expected = pairwise._pairwise(x, y, 6, 2, corr)
    np.testing.assert_array_equal(expected, pairwise._pairwise_jit(x, y, 6, 2, corr))


@settings(deadline=None, max_examples=8)
@given(x=panels(max_rows=12, max_cols=3))
def test_neutralize_twins_agree_exactly(x: np.ndarray) -> None:
    codes = np.tile(np.array([0, 1, 0], dtype=np.int64)[: x.shape[1]], (len(x), 1))
    factors = np.stack([np.cos(np.arange(x.size, dtype=float)).reshape(x.shape)])
    expected = neutralize._neutralize(x, codes, 2, factors)
    np.testing.assert_array_equal(expected, neutralize._neutralize_jit(x, codes, 2, factors))
