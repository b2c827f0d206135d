"""Factor analysis by hand: IC, rank IC, quantiles, spread, monotonicity, turnover, t-stats."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.factors.analysis import (
    FactorAnalysisError,
    assign_quantiles,
    factor_rank_autocorrelation,
    forward_returns,
    information_coefficient,
    mean_t_stat,
    mean_t_stat_hac,
    monotonicity,
    newey_west_lags,
    quantile_returns,
    quantile_turnover,
    summarize_ic,
    usable_mask,
)

# one period, five assets: IC 0.13 / sqrt(10 * 0.005), rank IC 0.8 (worked out by hand)
FACTOR = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
RETURNS = np.array([[0.01, 0.03, 0.02, 0.10, 0.04]])


def test_forward_returns_are_simple_returns_stamped_at_the_start():
    close = np.array([[100.0, 50.0], [110.0, np.nan], [121.0, 55.0], [133.1, 60.5]])
    fwd1 = forward_returns(close, 1)
    assert fwd1[0, 0] == pytest.approx(0.10)
    assert np.isnan(fwd1[0, 1])  # the price at t+1 is missing: no forward fill
    assert np.isnan(fwd1[1, 1])  # the price at t is missing
    assert np.isnan(fwd1[-1]).all()  # t+1 is beyond the data
    fwd2 = forward_returns(close, 2)
    assert fwd2[0, 1] == pytest.approx(0.10)
    assert fwd2[1, 0] == pytest.approx(0.21)
    assert np.isnan(fwd2[-2:]).all()


def test_forward_returns_reject_a_bad_horizon():
    with pytest.raises(FactorAnalysisError, match="horizon"):
        forward_returns(np.ones((3, 2)), 0)


def test_pearson_ic_matches_the_hand_computed_value():
    ic = information_coefficient(FACTOR, RETURNS, "pearson", min_assets=5)
    assert ic.iloc[0] == pytest.approx(0.13 / math.sqrt(0.05), abs=1e-12)


def test_rank_ic_matches_the_hand_computed_value():
    ic = information_coefficient(FACTOR, RETURNS, "spearman", min_assets=5)
    assert ic.iloc[0] == pytest.approx(0.8, abs=1e-12)


def test_rank_ic_averages_tied_ranks_like_scipy():
    from scipy.stats import spearmanr

    factor = np.array([[1.0, 1.0, 2.0, 3.0, 3.0, 4.0]])
    returns = np.array([[0.02, -0.01, 0.0, 0.0, 0.05, 0.03]])
    ic = information_coefficient(factor, returns, "spearman", min_assets=5)
    assert ic.iloc[0] == pytest.approx(spearmanr(factor[0], returns[0])[0], abs=1e-12)


def test_periods_with_too_few_assets_are_skipped():
    factor = np.vstack([FACTOR, [[1.0, 2.0, np.nan, 4.0, np.nan]]])
    returns = np.vstack([RETURNS, RETURNS])
    ic = information_coefficient(factor, returns, min_assets=4)
    assert np.isfinite(ic.iloc[0])
    assert np.isnan(ic.iloc[1])  # 3 assets with both values < 4


def test_non_members_do_not_count():
    membership = np.array([[True, True, True, True, False]])
    ic = information_coefficient(FACTOR, RETURNS, membership=membership, min_assets=4)
    expected = np.corrcoef(FACTOR[0, :4], RETURNS[0, :4])[0, 1]
    assert ic.iloc[0] == pytest.approx(expected, abs=1e-12)


def test_constant_factor_has_no_ic():
    ic = information_coefficient(np.full((1, 5), 0.3), RETURNS, min_assets=5)
    assert np.isnan(ic.iloc[0])


def test_unknown_ic_method_is_refused():
    with pytest.raises(FactorAnalysisError, match="spearman"):
        information_coefficient(FACTOR, RETURNS, "kendall")  # type: ignore[arg-type]


def test_quantiles_have_equal_counts_like_qcut():
    factor = np.arange(10.0, 80.0, 10.0)[None, :]  # 7 values into 5 buckets
    assert assign_quantiles(factor, 5).tolist() == [[1, 1, 2, 3, 4, 5, 5]]
    ten = np.array([[9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]])
    assert assign_quantiles(ten, 5).tolist() == [[5, 5, 4, 4, 3, 3, 2, 2, 1, 1]]


def test_tied_values_share_the_bucket_of_their_lowest_position():
    # pandas.qcut refuses this row (two bucket edges equal 1); we keep the ties together
    labels = assign_quantiles(np.array([[1.0, 1.0, 1.0, 2.0, 3.0]]), 5)
    assert labels.tolist() == [[1, 1, 1, 4, 5]]


def test_masked_and_missing_cells_get_no_bucket():
    factor = np.array([[3.0, np.nan, 1.0, 2.0]])
    labels = assign_quantiles(factor, 2, mask=np.array([[True, True, True, False]]))
    assert labels.tolist() == [[2, 0, 1, 0]]


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(-5, 5), min_size=2, max_size=30),
    q=st.integers(2, 10),
)
def test_quantiles_equal_pandas_qcut_wherever_qcut_accepts_the_data(values, q):
    x = np.asarray(values, dtype=float)
    try:
        expected = pd.qcut(x, q, labels=False) + 1
    except ValueError:  # non-unique bucket edges: qcut (and alphalens) drop the period
        return
    assert assign_quantiles(x[None, :], q)[0].tolist() == list(expected)


def test_quantile_returns_spread_and_monotonicity_by_hand():
    factor = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    returns = np.array([[0.01, 0.02, 0.03, 0.05, 0.04], [0.02, 0.03, 0.04, 0.01, -0.01]])
    labels = assign_quantiles(factor, 5)
    qr = quantile_returns(labels, returns, quantiles=5)
    # period 2 reverses the order: asset 5 is bucket 1, asset 1 is bucket 5
    assert qr.by_period.loc[1].tolist() == pytest.approx([-0.01, 0.01, 0.04, 0.03, 0.02])
    assert qr.mean.tolist() == pytest.approx([0.0, 0.015, 0.035, 0.04, 0.03])
    assert qr.spread.tolist() == pytest.approx([0.03, 0.03])
    assert qr.spread_mean == pytest.approx(0.03)
    # mean returns rank 1,2,4,5,3: rho = 1 - 6 * (0 + 0 + 1 + 1 + 4) / (5 * 24)
    assert qr.monotonicity == pytest.approx(0.7)


def test_monotonicity_is_minus_one_for_falling_returns():
    assert monotonicity(np.array([0.05, 0.04, 0.03, 0.02, 0.01])) == pytest.approx(-1.0)
    assert math.isnan(monotonicity(np.array([0.01, 0.01, 0.01])))


def test_spread_t_stat_by_hand():
    factor = np.tile([[1.0, 2.0]], (3, 1))
    returns = np.array([[0.0, 0.01], [0.0, 0.03], [0.0, 0.02]])
    qr = quantile_returns(assign_quantiles(factor, 2), returns, quantiles=2)
    assert qr.spread_t_stat == pytest.approx(0.02 / (0.01 / math.sqrt(3)))


def test_rank_autocorrelation_and_quantile_turnover_by_hand():
    factor = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0], [4.0, 3.0, 2.0, 1.0]])
    auto = factor_rank_autocorrelation(factor, lag=1)
    assert np.isnan(auto.iloc[0])
    assert auto.iloc[1:].tolist() == pytest.approx([0.6, -0.6])
    labels = assign_quantiles(factor, 2)
    top = quantile_turnover(labels, 2, lag=1)
    assert top.iloc[1:].tolist() == pytest.approx([0.0, 1.0])
    assert quantile_turnover(labels, 2, lag=2).iloc[2] == pytest.approx(1.0)


def test_quantile_turnover_is_undefined_after_an_empty_bucket():
    labels = np.array([[1, 2, 0, 0], [0, 0, 0, 0], [1, 2, 0, 0]])
    assert quantile_turnover(labels, 2, lag=1).isna().all()


def test_usable_mask_requires_factor_return_membership_and_enough_assets():
    factor = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    returns = np.array([[0.1, 0.1, 0.1], [0.1, np.nan, 0.1]])
    membership = np.array([[True, True, True], [False, True, True]])
    assert usable_mask(factor, returns, membership).tolist() == [
        [True, False, True],
        [False, False, True],
    ]
    assert not usable_mask(factor, returns, membership, min_assets=2)[1].any()


def test_classical_t_stat_by_hand():
    assert mean_t_stat([1.0, 2.0, 3.0, np.nan]) == pytest.approx(2.0 / (1.0 / math.sqrt(3)))


def test_hac_t_stat_equals_statsmodels_newey_west():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    e = rng.normal(size=600)
    x = np.empty_like(e)
    x[0] = e[0]
    for i in range(1, x.size):
        x[i] = 0.6 * x[i - 1] + e[i]
    x += 0.1
    ours, lags = mean_t_stat_hac(x, 7)
    fit = sm.OLS(x, np.ones_like(x)).fit(
        cov_type="HAC", cov_kwds={"maxlags": 7, "use_correction": False}
    )
    assert lags == 7
    assert ours == pytest.approx(float(fit.tvalues[0]), rel=1e-10)
    # positive autocorrelation: the classical t-stat overstates significance
    assert abs(mean_t_stat(x)) > abs(ours)


def test_newey_west_lags_cover_the_overlap_of_h_period_returns():
    assert newey_west_lags(1000, 1) == 6
    assert newey_west_lags(1000, 20) == 19


def test_summarize_ic_reports_per_period_and_annualized_ir():
    ic = pd.Series([0.1, 0.0, 0.2, np.nan, 0.1])
    s = summarize_ic(ic, horizon=5, periods_per_year=252)
    assert s.n_periods == 4
    assert s.mean == pytest.approx(0.1)
    assert s.std == pytest.approx(np.std([0.1, 0.0, 0.2, 0.1], ddof=1))
    assert s.ir == pytest.approx(s.mean / s.std)
    assert s.ir_annualized == pytest.approx(s.ir * math.sqrt(252 / 5))
    assert s.t_stat == pytest.approx(s.mean / (s.std / 2.0))
    assert s.hac_lags == 3  # capped at n - 1
