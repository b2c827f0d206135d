"""Signal permutation test: planted signals, random signals, exact nulls, parity, real data."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.factors.analysis import forward_returns, information_coefficient
from alphaloop.validation.permutation import signal_permutation_test
from alphaloop.validation.sharpe import StatisticsError


def _panel(seed: int, n_times: int = 250, n_assets: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.02, (n_times, n_assets))
    returns[rng.random(returns.shape) < 0.05] = np.nan
    return returns


def test_planted_signal_is_significant() -> None:
    returns = _panel(0)
    rng = np.random.default_rng(1)
    signal = returns + rng.normal(0.0, 0.1, returns.shape)  # rank IC about 0.2
    for statistic in ("rank_ic", "long_short"):
        result = signal_permutation_test(
            signal, returns, statistic=statistic, n_permutations=199, seed=2
        )
        assert result.observed > 0
        assert result.p_value == pytest.approx(1 / 200)  # the smallest possible
        assert result.p_value < 0.01
        assert result.observed > result.null_quantiles["q95"]


def test_random_signal_gives_roughly_uniform_p_values() -> None:
    p_values = []
    for seed in range(20):
        returns = _panel(100 + seed, n_times=120)
        signal = np.random.default_rng(200 + seed).normal(size=returns.shape)
        result = signal_permutation_test(signal, returns, n_permutations=99, seed=seed)
        p_values.append(result.p_value)
    p = np.array(p_values)
    assert (p > 0).all()
    assert 0.3 < p.mean() < 0.7
    assert (p < 0.05).sum() <= 3
    assert (p > 0.5).sum() >= 5


def test_p_value_is_never_zero_and_uses_the_plus_one_correction() -> None:
    returns = _panel(3, n_times=60)
    result = signal_permutation_test(returns, returns, n_permutations=9, seed=0)
    assert result.p_value == pytest.approx(0.1)  # (0 + 1) / (9 + 1)
    k = round(result.p_value * 10) - 1
    assert k == int((result.null_distribution >= result.observed).sum())


def test_observed_rank_ic_matches_the_factor_analysis_rank_ic() -> None:
    returns = _panel(4)
    rng = np.random.default_rng(5)
    signal = returns + rng.normal(0.0, 0.05, returns.shape)
    signal[rng.random(signal.shape) < 0.1] = np.nan
    signal[7] = 1.0  # a constant cross-section: no rank IC that day
    result = signal_permutation_test(signal, returns, n_permutations=9, min_assets=5)
    ic = information_coefficient(signal, returns, "spearman", min_assets=5)
    assert result.observed == pytest.approx(float(ic.mean()), rel=1e-12)
    assert result.n_dates == int(ic.notna().sum())


def test_long_short_by_hand() -> None:
    signal = np.array([[5.0, 1.0, 3.0, 2.0, 4.0], [1.0, 2.0, np.nan, 4.0, 5.0]])
    returns = np.array([[0.10, -0.05, 0.00, 0.02, 0.03], [0.01, 0.02, 0.50, 0.03, -0.04]])
    # day 1: k = 1, top = asset 0 (0.10), bottom = asset 1 (-0.05) -> 0.15
    # day 2: 4 counting assets, k = max(1, floor(0.8)) = 1: top = asset 4 (-0.04),
    #        bottom = asset 0 (0.01) -> -0.05
    result = signal_permutation_test(
        signal, returns, statistic="long_short", min_assets=4, n_permutations=9
    )
    assert result.observed == pytest.approx((0.15 - 0.05) / 2)
    assert result.n_dates == 2


def test_null_is_exactly_the_within_date_shuffles() -> None:
    # one date, four counting assets (one NaN): the null takes the 4! shuffles' values
    signal = np.array([[0.3, np.nan, -1.0, 2.0, 0.5]])
    returns = np.array([[0.01, 0.02, -0.03, 0.04, 0.0]])
    result = signal_permutation_test(signal, returns, n_permutations=2000, min_assets=4, seed=1)
    valid = [0, 2, 3, 4]
    possible = set()
    for perm in itertools.permutations([signal[0, i] for i in valid]):
        shuffled = signal.copy()
        shuffled[0, valid] = perm
        ic = information_coefficient(shuffled, returns, "spearman", min_assets=4).iloc[0]
        possible.add(round(float(ic), 12))
    seen = {round(float(v), 12) for v in result.null_distribution}
    assert seen == possible
    assert result.null_mean == pytest.approx(0.0, abs=0.03)


def test_alternatives_and_a_negative_signal() -> None:
    returns = _panel(6)
    signal = -returns + np.random.default_rng(7).normal(0.0, 0.1, returns.shape)
    greater = signal_permutation_test(signal, returns, n_permutations=99, seed=0)
    less = signal_permutation_test(signal, returns, n_permutations=99, seed=0, alternative="less")
    both = signal_permutation_test(
        signal, returns, n_permutations=99, seed=0, alternative="two-sided"
    )
    assert greater.p_value == 1.0
    assert less.p_value == pytest.approx(0.01)
    assert both.p_value == pytest.approx(0.01)


def test_seeds_make_it_deterministic() -> None:
    returns = _panel(8)
    signal = np.random.default_rng(9).normal(size=returns.shape)
    a = signal_permutation_test(signal, returns, n_permutations=50, seed=3)
    b = signal_permutation_test(signal, returns, n_permutations=50, seed=3)
    c = signal_permutation_test(signal, returns, n_permutations=50, seed=4)
    np.testing.assert_array_equal(a.null_distribution, b.null_distribution)
    assert a.p_value == b.p_value
    assert not np.array_equal(a.null_distribution, c.null_distribution)
    payload = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert payload["seed"] == 3
    assert "null_distribution" not in payload


def test_circular_shift_variant() -> None:
    returns = _panel(10, n_times=300)
    planted = returns + np.random.default_rng(11).normal(0.0, 0.1, returns.shape)
    result = signal_permutation_test(
        planted, returns, method="circular_shift", n_permutations=99, seed=0, min_shift=10
    )
    assert result.p_value == pytest.approx(0.01)
    assert result.parameters["min_shift"] == 10
    # a persistent random signal: its edge is luck and shifting it says so
    rng = np.random.default_rng(12)
    persistent = np.repeat(rng.normal(size=(6, returns.shape[1])), 50, axis=0)
    noise = signal_permutation_test(
        persistent, returns, method="circular_shift", n_permutations=99, seed=0
    )
    assert noise.p_value > 0.05
    with pytest.raises(StatisticsError, match="min_shift"):
        signal_permutation_test(planted, returns, method="circular_shift", min_shift=200)


def test_dataframes_are_aligned() -> None:
    returns = pd.DataFrame(_panel(13), columns=[f"a{i}" for i in range(12)])
    signal = returns.iloc[5:, ::-1] + 0.001  # fewer dates, reversed column order
    result = signal_permutation_test(signal, returns, n_permutations=19)
    assert result.n_dates == returns.iloc[5:].notna().sum(axis=1).ge(5).sum()
    assert result.observed == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statistic": "ic"}, "unknown statistic"),
        ({"method": "bootstrap"}, "unknown method"),
        ({"alternative": "bigger"}, "unknown alternative"),
        ({"n_permutations": 0}, "n_permutations"),
        ({"quantile": 0.6}, "quantile"),
        ({"min_assets": 1}, "min_assets"),
        ({"min_assets": 50}, "no date has 50"),
    ],
)
def test_bad_inputs_raise(kwargs: dict, message: str) -> None:
    returns = _panel(14, n_times=30)
    with pytest.raises(StatisticsError, match=message):
        signal_permutation_test(returns, returns, **kwargs)


def test_shapes_must_match() -> None:
    with pytest.raises(StatisticsError, match="same shape"):
        signal_permutation_test(np.zeros((10, 3)), np.zeros((10, 4)))


def test_real_stocks_lookahead_signal_versus_random(shared_workspace: Workspace) -> None:
    panel = shared_workspace.data.load("sp500-stocks", start="2005-01-01", end="2012-12-31")
    fwd = forward_returns(panel["close"], 1)
    rng = np.random.default_rng(15)
    # a signal that peeks at tomorrow's return through noise: must be detected
    peeking = fwd + rng.normal(0.0, 0.05, fwd.shape)
    found = signal_permutation_test(peeking, fwd, n_permutations=199, seed=0)
    assert found.p_value < 0.01
    assert found.n_dates == panel.n_times - 1
    # random signals on the same returns: not significant at 1% for any of a few seeds
    random_p = [
        signal_permutation_test(
            np.random.default_rng(seed).normal(size=fwd.shape), fwd, n_permutations=99, seed=seed
        ).p_value
        for seed in range(3)
    ]
    assert min(random_p) > 0.01
    assert not math.isnan(found.null_std)


def test_long_short_matches_a_loop_over_dates() -> None:
    returns = _panel(16, n_times=80, n_assets=11)
    rng = np.random.default_rng(17)
    signal = rng.normal(size=returns.shape)
    signal[rng.random(signal.shape) < 0.1] = np.nan
    expected = []
    for x, y in zip(signal, returns, strict=True):
        ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        if ok.size < 5:
            continue
        k = max(1, int(np.floor(0.3 * ok.size)))
        ranked = ok[np.argsort(-x[ok], kind="stable")]
        expected.append(y[ranked[:k]].mean() - y[ranked[-k:]].mean())
    result = signal_permutation_test(
        signal, returns, statistic="long_short", quantile=0.3, n_permutations=9
    )
    assert result.n_dates == len(expected)
    assert result.observed == pytest.approx(float(np.mean(expected)), rel=1e-12)
