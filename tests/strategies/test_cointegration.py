"""Pair screening: Engle-Granger equal to statsmodels, p-value adjustment, planted pair vs noise."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.adfvalues import mackinnonp
from statsmodels.tsa.stattools import coint
from statsmodels.tsa.vector_ar.vecm import coint_johansen

from alphaloop.errors import BacktestError
from alphaloop.strategies._cointegration_kernels import eg_many_python
from alphaloop.strategies.cointegration import (
    adjust_pvalues,
    engle_granger,
    half_life,
    johansen_pvalue,
    mackinnon_pvalues,
    screen_pairs,
)


def walks(seed: int, n_times: int, n_assets: int, vol: float = 0.015) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.log(50.0) + np.cumsum(vol * rng.standard_normal((n_times, n_assets)), axis=0)


def plant(logp: np.ndarray, seed: int, y: int = 0, x: int = 1, phi: float = 0.7) -> np.ndarray:
    """Make column ``y`` = 0.1 + 1.2 * column ``x`` + an AR(1) spread (coefficient phi)."""
    rng = np.random.default_rng(seed + 1000)
    out = logp.copy()
    ou = np.zeros(len(out))
    for t in range(1, len(out)):
        ou[t] = phi * ou[t - 1] + 0.01 * rng.standard_normal()
    out[:, y] = 0.1 + 1.2 * out[:, x] + ou
    return out


@pytest.mark.parametrize("lags", [0, 1, 4])
def test_engle_granger_equals_statsmodels_coint(lags: int) -> None:
    logp = plant(walks(3, 300, 6), 3, y=2, x=4, phi=0.8)
    ys, xs = np.triu_indices(6, 1)
    beta, icpt, stat, pval, _ = engle_granger(logp, ys, xs, adf_lags=lags)
    for k, (i, j) in enumerate(zip(ys, xs, strict=True)):
        ref = coint(logp[:, i], logp[:, j], maxlag=lags, autolag=None)
        assert stat[k] == pytest.approx(ref[0], rel=1e-8, abs=1e-8)
        assert pval[k] == pytest.approx(ref[1], rel=1e-8, abs=1e-12)
        slope, c = np.polyfit(logp[:, j], logp[:, i], 1)
        assert (beta[k], icpt[k]) == pytest.approx((slope, c), rel=1e-8)
    planted = np.flatnonzero((ys == 2) & (xs == 4))[0]
    assert pval[planted] < 0.01
    assert beta[planted] == pytest.approx(1.2, abs=0.1)


def test_kernel_equals_its_python_twin() -> None:
    logp = walks(4, 120, 5)
    ys, xs = np.triu_indices(5, 1)
    got = np.column_stack(engle_granger(logp, ys, xs, adf_lags=2)[:3])
    ref = eg_many_python(np.ascontiguousarray(logp.T), ys.astype(np.int64), xs.astype(np.int64), 2)
    np.testing.assert_allclose(got, ref[:, :3], rtol=1e-12)


def test_mackinnon_pvalues_equal_statsmodels_and_half_life() -> None:
    s = np.linspace(-25.0, 6.0, 777)
    ref = np.array([mackinnonp(v, regression="c", N=2) for v in s])
    np.testing.assert_allclose(mackinnon_pvalues(s), ref, rtol=1e-12, atol=0)
    assert np.isnan(mackinnon_pvalues(np.array([np.nan]))[0])
    # d s = -0.5 s: half the gap closes each bar
    np.testing.assert_allclose(
        half_life(np.array([-0.5, 0.1, np.nan, -1.5])), [1.0, np.inf, np.inf, 0.0]
    )


@pytest.mark.parametrize(
    ("ours", "theirs"), [("bh", "fdr_bh"), ("holm", "holm"), ("bonferroni", "bonferroni")]
)
def test_adjustments_equal_statsmodels(ours: str, theirs: str) -> None:
    p = np.random.default_rng(0).random(40) ** 4
    np.testing.assert_allclose(
        adjust_pvalues(p, ours), multipletests(p, method=theirs)[1], atol=1e-15
    )
    # a larger family: the untested pairs count as p = 1
    padded = np.concatenate([p, np.ones(60)])
    np.testing.assert_allclose(
        adjust_pvalues(p, ours, n_tests=100), adjust_pvalues(padded, ours)[:40], atol=1e-15
    )
    assert (adjust_pvalues(p, ours, n_tests=100) >= adjust_pvalues(p, ours)).all()
    with pytest.raises(ValueError, match="n_tests"):
        adjust_pvalues(p, ours, n_tests=3)


def test_planted_pair_is_selected_among_random_walks() -> None:
    logp = plant(walks(5, 252, 40), 5, y=7, x=21)
    screen = screen_pairs(logp, min_corr=-1.0)
    assert screen.n_pairs == screen.n_tested == screen.n_adjusted_over == 780
    assert [(p.y, p.x) for p in screen.selected] == [(7, 21)]
    best = screen.selected[0]
    assert best.hedge_ratio == pytest.approx(1.2, abs=0.05)
    assert best.p_adjusted <= 0.05
    assert best.p_adjusted >= best.p_value
    assert 0.5 < best.half_life < 5.0  # AR(1) coefficient 0.7: about 1.9 bars
    # the correlation screen keeps it and cuts the number tested, not the family size
    screened = screen_pairs(logp, min_corr=0.5)
    assert screened.n_tested < 50
    assert screened.n_adjusted_over == 780
    assert [(p.y, p.x) for p in screened.selected] == [(7, 21)]


def test_independent_walks_give_few_pairs_after_adjustment() -> None:
    raw, adjusted = 0, 0
    for seed in range(6):
        logp = walks(seed, 252, 40)
        adjusted += len(screen_pairs(logp, min_corr=-1.0).selected)
        adjusted += len(screen_pairs(logp, min_corr=-1.0, correction="holm").selected)
        raw += len(screen_pairs(logp, min_corr=-1.0, correction="none").selected)
    assert adjusted <= 1  # BH and Holm: at most the 5% chance per screen of any pair
    assert raw >= 6 * 780 * 0.02  # unadjusted, a few percent of 780 pairs "pass" each time


def test_johansen_finds_the_planted_pair() -> None:
    logp = plant(walks(6, 252, 8), 6, y=1, x=5)
    screen = screen_pairs(logp, method="johansen", min_corr=-1.0)
    assert [(p.y, p.x) for p in screen.selected] == [(1, 5)]
    best = screen.selected[0]
    ref = coint_johansen(logp[:, [1, 5]], 0, 1)
    assert best.statistic == pytest.approx(ref.lr1[0], rel=1e-12)
    assert best.hedge_ratio == pytest.approx(1.2, abs=0.05)
    # the gamma approximation reproduces the critical values' levels
    for cv, level in zip(ref.cvt[0], (0.10, 0.05, 0.01), strict=True):
        assert johansen_pvalue(cv, 1) == pytest.approx(level, rel=0.1)


def test_top_n_and_missing_values() -> None:
    logp = plant(walks(7, 200, 12), 7, y=3, x=9)
    logp[50, 4] = np.nan  # asset 4 has a gap: left out
    screen = screen_pairs(logp, min_corr=-1.0, top_n=1)
    assert screen.n_assets == 11
    assert screen.n_pairs == 55
    assert screen.n_tested <= 11
    assert [(p.y, p.x) for p in screen.selected] == [(3, 9)]
    assert screen_pairs(logp[:, :1]).selected == []


def test_bad_inputs() -> None:
    logp = walks(8, 100, 3)
    with pytest.raises(ValueError, match="alpha"):
        screen_pairs(logp, alpha=1.5)
    with pytest.raises(ValueError, match="method"):
        screen_pairs(logp, method="granger")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="correction"):
        screen_pairs(logp, min_corr=-1.0, correction="sidak")  # type: ignore[arg-type]
    with pytest.raises(BacktestError, match="too few"):
        screen_pairs(logp[:5], min_corr=-1.0, adf_lags=2)
    with pytest.raises(BacktestError, match="shape"):
        screen_pairs(logp[:, 0])
