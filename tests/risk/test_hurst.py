"""The Hurst exponent on series whose exponent is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.risk import WARMUP, RiskError, hurst_exponent, hurst_regimes, rolling_hurst
from tests.risk.helpers import assert_causal, dates, fractional_gaussian_noise

SEEDS = range(5)


@pytest.mark.parametrize("method", ["variogram", "rs"])
def test_random_walk_is_near_one_half(method: str) -> None:
    rng = np.random.default_rng(0)
    estimates = [hurst_exponent(rng.normal(size=2048), method=method) for _ in SEEDS]
    # R/S without small-sample corrections reads high on a random walk
    centre = 0.5 if method == "variogram" else 0.56
    assert abs(np.mean(estimates) - centre) < 0.04


@pytest.mark.parametrize("hurst", [0.25, 0.75])
def test_fractional_noise_recovers_its_exponent(hurst: float) -> None:
    estimates = [hurst_exponent(fractional_gaussian_noise(1024, hurst, s)) for s in SEEDS]
    assert abs(np.mean(estimates) - hurst) < 0.05


@pytest.mark.parametrize("method", ["variogram", "rs"])
def test_trending_above_and_mean_reverting_below(method: str) -> None:
    for seed in SEEDS:
        trending = hurst_exponent(fractional_gaussian_noise(1024, 0.8, seed), method=method)
        walk = hurst_exponent(fractional_gaussian_noise(1024, 0.5, seed), method=method)
        reverting = hurst_exponent(fractional_gaussian_noise(1024, 0.2, seed), method=method)
        assert reverting < walk < trending


def test_mean_reverting_levels_are_below_one_half() -> None:
    rng = np.random.default_rng(3)
    level = np.zeros(2049)
    for t in range(1, level.size):
        level[t] = 0.9 * level[t - 1] + rng.normal()
    assert hurst_exponent(np.diff(level)) < 0.35


def test_constant_series_is_nan() -> None:
    assert np.isnan(hurst_exponent(np.zeros(100)))


def test_rolling_hurst_is_causal_and_warms_up() -> None:
    returns = pd.Series(np.random.default_rng(1).normal(size=400), index=dates(400))
    h = rolling_hurst(returns, window=100)
    assert h.iloc[:99].isna().all()
    assert h.iloc[99:].notna().all()
    assert h.iloc[150] == pytest.approx(hurst_exponent(returns.iloc[51:151], max_scale=16))
    assert_causal(lambda r: rolling_hurst(r, window=100, method="rs"), returns, [100, 250])


def test_hurst_regimes_label_trending_and_reverting_spans() -> None:
    x = np.concatenate(
        [fractional_gaussian_noise(600, 0.9, 1), fractional_gaussian_noise(600, 0.1, 2)]
    )
    result = hurst_regimes(pd.Series(x, index=dates(1200)), window=200, band=0.1)
    assert (result.labels.iloc[:199] == WARMUP).all()
    assert (result.labels.iloc[300:600] == 2).mean() > 0.9
    assert (result.labels.iloc[900:] == 0).mean() > 0.9


def test_bad_inputs() -> None:
    with pytest.raises(RiskError, match="returns: 10 bars is too short; at least 32"):
        hurst_exponent(np.zeros(10))
    with pytest.raises(RiskError, match="method: unknown value 'dfa'"):
        hurst_exponent(np.zeros(100), method="dfa")
    with pytest.raises(RiskError, match="max_scale: 80 bars is more than half"):
        hurst_exponent(np.zeros(100), max_scale=80)


def test_a_random_walk_is_mostly_labelled_random_walk() -> None:
    returns = np.random.default_rng(12).normal(size=2000)
    labels = hurst_regimes(returns).labels.to_numpy()[251:]
    assert np.mean(labels == 1) > 0.8
