"""Rank-IC scoring of candidates: parity with scipy, ranked values, fold scores, twins."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import rankdata, spearmanr

from alphaloop.errors import MiningError
from alphaloop.factors.mining import scoring
from alphaloop.factors.mining.folds import FoldPlan, make_folds
from alphaloop.factors.mining.scoring import ICScorer


def panel(seed: int, n_times: int = 300, n_assets: int = 30, *, ties: bool = False):
    """Label, members and a weakly predictive candidate with NaNs (and optional ties)."""
    rng = np.random.default_rng(seed)
    label = rng.normal(size=(n_times, n_assets))
    values = 0.2 * label + rng.normal(size=(n_times, n_assets))
    if ties:
        label = np.round(label, 0)
        values = np.round(values, 0)
    label[rng.random(label.shape) < 0.1] = np.nan
    values[rng.random(values.shape) < 0.15] = np.nan
    label[-6:] = np.nan
    members = rng.random(label.shape) < 0.9
    members[:5, 4:] = False  # rows with 4 members: below min_assets
    return label, members, values


def reference_ic(label, members, values, min_assets=5):
    out = np.full(label.shape[0], np.nan)
    for t in range(label.shape[0]):
        ok = members[t] & np.isfinite(label[t]) & np.isfinite(values[t])
        if ok.sum() >= min_assets:
            with warnings.catch_warnings():  # a constant row: scipy warns and gives NaN
                warnings.simplefilter("ignore")
                out[t] = spearmanr(values[t, ok], label[t, ok]).statistic
    return out


@pytest.mark.parametrize("ties", [False, True])
def test_daily_ic_equals_scipy_spearman_per_row(ties: bool) -> None:
    label, members, values = panel(1, ties=ties)
    scorer = ICScorer(label, members, make_folds(300, 5))
    daily = scorer.daily_ic(values)
    expected = reference_ic(label, members, values)
    assert np.array_equal(np.isnan(daily), np.isnan(expected))
    assert np.isnan(daily[:5]).all()  # too few members
    assert np.isnan(daily[-6:]).all()  # no label
    np.testing.assert_allclose(daily, expected, rtol=0, atol=1e-12)


cells = st.sampled_from([np.nan, -1.5, 0.0, 0.0, 1.0, 2.0, 3.25, np.inf])


@given(
    values=hnp.arrays(np.float64, (8, 7), elements=cells),
    label=hnp.arrays(np.float64, (8, 7), elements=cells),
    members=hnp.arrays(np.bool_, (8, 7)),
)
def test_daily_ic_matches_scipy_on_heavy_ties_and_gaps(values, label, members) -> None:
    plan = FoldPlan(horizon=1, train=((0, 3),), valid=((5, 6),))
    scorer = ICScorer(label, members, plan, min_assets=3)
    daily = scorer.daily_ic(values)
    finite_values = np.where(np.isfinite(values), values, np.nan)  # +-inf is missing
    finite_label = np.where(np.isfinite(label), label, np.nan)
    expected = reference_ic(finite_label, members, finite_values, min_assets=3)
    np.testing.assert_allclose(daily, expected, rtol=0, atol=1e-12)


def test_non_member_cells_do_not_count() -> None:
    label, members, values = panel(2)
    scorer = ICScorer(label, members, make_folds(300, 5))
    scrambled = values.copy()
    scrambled[~members] = np.random.default_rng(0).normal(size=int((~members).sum())) * 1e6
    np.testing.assert_array_equal(scorer.daily_ic(values), scorer.daily_ic(scrambled))


def test_ranked_is_standardised_average_ranks_of_member_cells() -> None:
    label, members, values = panel(3, ties=True)
    values[10] = 7.0  # a flat row has no ranks
    scorer = ICScorer(label, members, make_folds(300, 5))
    ranked = scorer.ranked(values)
    assert ranked.dtype == np.float32
    for t in range(values.shape[0]):
        ok = members[t] & np.isfinite(values[t])
        row = ranked[t]
        if t < 5 or t == 10:
            assert np.isnan(row).all()
            continue
        assert np.isnan(row[~ok]).all()
        r = rankdata(values[t, ok])
        expected = (r - r.mean()) / r.std()
        np.testing.assert_allclose(row[ok], expected, rtol=0, atol=1e-6)
        assert abs(float(row[ok].astype(np.float64).mean())) < 1e-6
        assert abs(float(row[ok].astype(np.float64).std()) - 1.0) < 1e-6


def test_correlation_is_the_mean_row_pearson_on_common_cells() -> None:
    label, members, values = panel(4)
    plan = make_folds(300, 5)
    scorer = ICScorer(label, members, plan)
    a = scorer.ranked(values)
    b = scorer.ranked(values + np.random.default_rng(1).normal(size=values.shape))
    b[50:60, :27] = np.nan  # rows with 3 common cells are skipped
    for which, rows in (("train", plan.train_rows()), ("valid", plan.valid_rows())):
        per_row = []
        for t in rows:
            ok = np.isfinite(a[t]) & np.isfinite(b[t])
            if ok.sum() >= 5:
                per_row.append(np.corrcoef(a[t, ok].astype(float), b[t, ok].astype(float))[0, 1])
        assert scorer.correlation(a, b, rows=which) == pytest.approx(np.mean(per_row), abs=1e-9)
    assert scorer.correlation(a, a) == pytest.approx(1.0, abs=1e-9)
    assert scorer.correlation(a, -a) == pytest.approx(-1.0, abs=1e-9)
    assert 0.3 < scorer.correlation(a, b) < 0.95


def test_score_reports_fold_means_icir_and_coverage() -> None:
    label, members, values = panel(5)
    plan = make_folds(300, 5, warmup=10, n_folds=4, n_valid=1)
    scorer = ICScorer(label, members, plan)
    score = scorer.score(values)
    daily = scorer.daily_ic(values)
    for fold, (start, end) in zip(score.train_ic, plan.train, strict=True):
        assert fold == pytest.approx(np.nanmean(daily[start:end]), abs=1e-12)
    (start, end) = plan.valid[0]
    assert score.valid_ic == pytest.approx((np.nanmean(daily[start:end]),), abs=1e-12)
    assert score.valid_mean == pytest.approx(np.nanmean(daily[start:end]), abs=1e-12)
    train = daily[plan.train_rows()]
    train = train[np.isfinite(train)]
    assert score.ic == pytest.approx(train.mean(), abs=1e-12)
    assert score.icir == pytest.approx(train.mean() / train.std(ddof=1), abs=1e-12)
    assert score.ic > 0.1  # the planted signal shows
    rows = plan.train_rows()
    cells = members[rows]
    assert score.coverage == pytest.approx(np.isfinite(values[rows])[cells].mean(), abs=1e-12)
    data = score.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["train_ic"][0] == pytest.approx(score.train_ic[0])


def test_score_reads_only_the_plan_rows() -> None:
    label, members, values = panel(6)
    plan = make_folds(300, 5, warmup=20)
    scorer = ICScorer(label, members, plan)
    outside = np.setdiff1d(np.arange(300), np.concatenate([plan.train_rows(), plan.valid_rows()]))
    assert outside.size > 20  # warmup, purged gap, unlabelled tail
    garbage_label, garbage_values = label.copy(), values.copy()
    rng = np.random.default_rng(7)
    garbage_label[outside] = rng.normal(size=(outside.size, 30)) * 1e9
    garbage_values[outside] = np.where(rng.random((outside.size, 30)) < 0.5, np.nan, 1e12)
    other = ICScorer(garbage_label, members, plan)
    assert other.score(garbage_values) == scorer.score(values)


def test_a_row_without_spread_is_not_scored() -> None:
    label, members, values = panel(8)
    values[40] = 1.0
    scorer = ICScorer(label, members, make_folds(300, 5))
    assert math.isnan(scorer.daily_ic(values)[40])


def test_shape_and_plan_errors_say_what() -> None:
    label, members, values = panel(9)
    plan = make_folds(300, 5)
    with pytest.raises(MiningError, match="members has shape"):
        ICScorer(label, members[:, :5], plan)
    with pytest.raises(MiningError, match="only 100 rows"):
        ICScorer(label[:100], members[:100], plan)
    with pytest.raises(MiningError, match="min_assets"):
        ICScorer(label, members, plan, min_assets=1)
    scorer = ICScorer(label, members, plan)
    with pytest.raises(MiningError, match="expected \\(300, 30\\)"):
        scorer.score(values[:, :3])
    with pytest.raises(MiningError, match="rows must be"):
        scorer.rows("test")  # type: ignore[arg-type]


def test_kernels_agree_with_their_plain_python_twins() -> None:
    label, members, values = panel(10, n_times=40, n_assets=9, ties=True)
    plan = FoldPlan(horizon=1, train=((0, 20),), valid=((22, 34),))
    scorer = ICScorer(label, members, plan, min_assets=3)
    rows = np.arange(40, dtype=np.int64)
    args = (
        values,
        rows,
        scorer._label,
        scorer._label_order,
        scorer._label_count,
        rows,
        3,
    )
    np.testing.assert_array_equal(scoring._rank_ic_rows(*args), scoring._rank_ic_rows_jit(*args))
    np.testing.assert_array_equal(
        scoring._standard_ranks(values, members, 3), scoring._standard_ranks_jit(values, members, 3)
    )
    a = scorer.ranked(values)
    b = scorer.ranked(label)
    assert scoring._mean_row_correlation(a, b, rows, 3) == pytest.approx(
        scoring._mean_row_correlation_jit(a, b, rows, 3), abs=1e-12
    )
