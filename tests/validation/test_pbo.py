"""Probability of backtest overfitting: behaviour, parity with purgedcv, kernel twins."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import purgedcv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alphaloop.validation import pbo as pbo_module
from alphaloop.validation.pbo import block_bounds, probability_of_backtest_overfitting
from alphaloop.validation.sharpe import StatisticsError


def noise(seed: int, n_obs: int, n_strat: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, (n_obs, n_strat))


def awkward_matrix(seed: int) -> np.ndarray:
    """Noise plus the cases conventions decide: duplicates, constants, flat stretches."""
    x = noise(seed, 603, 25)  # 603 rows: blocks of unequal size
    x[:, 4] += 0.0012  # an edge, often selected...
    x[:, 3] = x[:, 4]  # ...and duplicated: IS ties and OOS ties at the selected one
    x[:, 5] = 0.0  # constant everywhere: Sharpe 0 on every slice
    x[:, 6] = 0.002  # constant, non-zero
    x[:303, 7] = 0.0  # flat first half (whole blocks for S=8, 10): some slices constant
    x[:, 8] = np.round(x[:, 8], 3)  # coarse values
    return x


# ----------------------------------------------------------------- behaviour
def test_noise_strategies_overfit_half_the_time() -> None:
    res = probability_of_backtest_overfitting(noise(11, 2000, 200), n_partitions=16)
    assert res.n_combinations == 12_870
    assert res.logits.shape == res.is_best.shape == (12_870,)
    assert 0.35 <= res.pbo <= 0.65
    assert res.slope < 0.5  # IS strength does not carry over
    assert np.all((res.relative_rank > 0) & (res.relative_rank < 1))


def test_a_real_edge_is_not_overfit() -> None:
    x = noise(12, 2000, 200)
    x[:, 42] += 0.004  # per-period Sharpe 0.4 against noise
    res = probability_of_backtest_overfitting(x, n_partitions=16)
    assert res.pbo < 0.1
    assert np.mean(res.is_best == 42) > 0.9
    assert res.prob_oos_loss < 0.1


def test_performance_degradation_is_an_ols_fit() -> None:
    res = probability_of_backtest_overfitting(noise(13, 800, 40), n_partitions=10)
    slope, intercept = np.polyfit(res.is_performance, res.oos_performance, 1)
    assert res.slope == pytest.approx(slope, rel=1e-9)
    assert res.intercept == pytest.approx(intercept, rel=1e-9, abs=1e-12)
    r = np.corrcoef(res.is_performance, res.oos_performance)[0, 1]
    assert res.r_squared == pytest.approx(r**2, rel=1e-9)
    assert res.prob_oos_loss == np.mean(res.oos_performance < 0)
    density, edges = res.logit_distribution(bins=15)
    assert np.sum(density * np.diff(edges)) == pytest.approx(1.0)


def test_result_fields_are_consistent() -> None:
    x = noise(14, 400, 12)
    res = probability_of_backtest_overfitting(x, n_partitions=6)
    n = 12
    assert res.relative_rank == pytest.approx(res.oos_rank / (n + 1))
    assert res.logits == pytest.approx(np.log(res.relative_rank / (1 - res.relative_rank)))
    assert res.pbo == np.mean(res.logits < 0)
    # recompute one combination by hand: IS blocks are the k-th tuple
    k = 7
    bounds = block_bounds(400, 6)
    is_set = list(combinations(range(6), 3))[k]
    rows = np.zeros(400, dtype=bool)
    for b in is_set:
        rows[bounds[b] : bounds[b + 1]] = True
    sharpe = lambda m: m.mean(0) / m.std(0, ddof=1)  # noqa: E731
    is_sr, oos_sr = sharpe(x[rows]), sharpe(x[~rows])
    assert res.is_best[k] == np.argmax(is_sr)
    assert res.is_performance[k] == pytest.approx(is_sr.max(), rel=1e-12)
    assert res.oos_rank[k] == 1 + np.sum(oos_sr < oos_sr[np.argmax(is_sr)])
    assert (res.n_obs, res.n_strategies, res.n_partitions, res.metric) == (400, 12, 6, "sharpe")


# --------------------------------------------------------- parity: purgedcv
@pytest.mark.parametrize(
    ("n_partitions", "matrix"),
    [
        (8, noise(21, 600, 30)),
        (12, noise(22, 1000, 15)),
        (10, awkward_matrix(23)),
    ],
    ids=["S8-noise", "S12-noise", "S10-ties-constants-uneven-blocks"],
)
def test_equals_purgedcv(n_partitions: int, matrix: np.ndarray) -> None:
    ours = probability_of_backtest_overfitting(matrix, n_partitions)
    theirs = purgedcv.probability_of_backtest_overfitting(matrix.T, n_splits=n_partitions)
    # purgedcv enumerates the same tuples as OOS sets: its order is ours reversed
    assert ours.pbo == theirs.pbo
    np.testing.assert_array_equal(ours.logits, theirs.logits[::-1])
    is_oos = theirs.is_oos_performance[::-1]
    np.testing.assert_allclose(ours.is_performance, is_oos[:, 0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.oos_performance, is_oos[:, 1], rtol=1e-12, atol=1e-15)
    assert ours.slope == pytest.approx(theirs.slope, rel=1e-10)
    assert ours.n_combinations == theirs.n_combos


def test_mean_metric_and_callables_equal_purgedcv() -> None:
    x = noise(24, 500, 20)
    theirs = purgedcv.probability_of_backtest_overfitting(x.T, n_splits=8, metric=np.mean)
    for metric in ("mean", lambda m: m.mean(axis=0)):
        ours = probability_of_backtest_overfitting(x, 8, metric=metric)
        np.testing.assert_array_equal(ours.logits, theirs.logits[::-1])
        np.testing.assert_allclose(
            ours.oos_performance, theirs.is_oos_performance[::-1, 1], rtol=1e-12
        )


def test_callable_sharpe_equals_builtin() -> None:
    x = noise(25, 500, 20)
    builtin = probability_of_backtest_overfitting(x, 8)
    called = probability_of_backtest_overfitting(
        x, 8, metric=lambda m: m.mean(0) / m.std(0, ddof=1)
    )
    np.testing.assert_array_equal(builtin.logits, called.logits)
    np.testing.assert_allclose(builtin.is_performance, called.is_performance, rtol=1e-12)
    assert called.metric == "<lambda>"


# ------------------------------------------------------------- kernel twins
def run_twins(x: np.ndarray, n_partitions: int, metric: int):
    bounds = block_bounds(x.shape[0], n_partitions)
    stats = pbo_module._block_stats(np.ascontiguousarray(x), bounds)
    is_blocks = np.array(list(combinations(range(n_partitions), n_partitions // 2)))
    oos_blocks = is_blocks[::-1].copy()
    args = (*stats, np.diff(bounds), is_blocks, oos_blocks, metric)
    return pbo_module._cscv(*args), pbo_module._cscv_jit(*args)


@pytest.mark.parametrize("metric", sorted(pbo_module.METRICS.values()))
def test_numba_kernel_equals_python_twin(metric: int) -> None:
    py, jit = run_twins(awkward_matrix(31), 8, metric)
    for a, b in zip(py, jit, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9).map(
            lambda s: (4 * s[0] + 4, s[1] + 1)
        ),
        elements=st.sampled_from([-0.02, -0.01, 0.0, 0.005, 0.01, 0.03]),
    ),
    n_partitions=st.sampled_from([2, 4]),
)
def test_twins_agree_on_tied_and_flat_inputs(x: np.ndarray, n_partitions: int) -> None:
    py, jit = run_twins(x, n_partitions, pbo_module.METRICS["sharpe"])
    for a, b in zip(py, jit, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"returns": noise(1, 100, 5), "n_partitions": 7}, "even"),
        ({"returns": noise(1, 100, 5), "n_partitions": 0}, "even"),
        ({"returns": noise(1, 100, 5), "n_partitions": 4.0}, "integer"),
        ({"returns": np.zeros(100)}, "2-D"),
        ({"returns": noise(1, 100, 1)}, "at least 2 strategies"),
        ({"returns": noise(1, 20, 100), "n_partitions": 16}, "transpose"),
        ({"returns": np.full((100, 3), np.nan)}, "NaN"),
        ({"returns": noise(1, 100, 5), "metric": "sortino"}, "unknown metric"),
        ({"returns": noise(1, 100, 5), "metric": lambda m: m.mean()}, "5 finite scores"),
        ({"returns": noise(1, 100, 5), "metric": lambda m: np.full(5, np.inf)}, "infinite"),
    ],
)
def test_invalid_inputs_raise(kwargs: dict, message: str) -> None:
    kwargs.setdefault("n_partitions", 4)
    with pytest.raises(StatisticsError, match=message):
        probability_of_backtest_overfitting(**kwargs)
