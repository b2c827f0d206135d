"""Reality Check, SPA, StepM and MCS wrappers: edge detection, null behaviour, signs, seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import MCS, SPA, StepM

from alphaloop.validation.bootstrap import (
    model_confidence_set,
    reality_check,
    spa_test,
    stepm,
)
from alphaloop.validation.sharpe import StatisticsError

N_BARS = 1000
REPS = 400


def _market_and_noise(seed: int, n_models: int) -> tuple[pd.Series, pd.DataFrame]:
    """A benchmark with 1% daily volatility and models that track it with 0.5% noise.

    The noise is demeaned so that no model has any edge in the sample.
    """
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-01", periods=N_BARS, tz="UTC")
    benchmark = pd.Series(rng.normal(0.0003, 0.01, N_BARS), index=index, name="market")
    noise = rng.normal(0.0, 0.005, (N_BARS, n_models))
    noise -= noise.mean(axis=0)
    models = pd.DataFrame(
        benchmark.to_numpy()[:, None] + noise,
        index=index,
        columns=[f"noise_{i}" for i in range(n_models)],
    )
    return benchmark, models


@pytest.fixture(scope="module")
def with_edge() -> tuple[pd.Series, pd.DataFrame]:
    benchmark, models = _market_and_noise(seed=11, n_models=10)
    models = models.rename(columns={"noise_4": "edge"})
    models["edge"] += 0.001  # +0.1% a day over the benchmark
    return benchmark, models


@pytest.fixture(scope="module")
def pure_noise() -> tuple[pd.Series, pd.DataFrame]:
    return _market_and_noise(seed=12, n_models=10)


def test_spa_finds_a_real_edge(with_edge: tuple[pd.Series, pd.DataFrame]) -> None:
    benchmark, models = with_edge
    result = spa_test(benchmark, models, reps=REPS, block_size=10, seed=1)
    assert result.p_value <= 0.01
    assert result.p_value_lower <= result.p_value <= result.p_value_upper
    assert result.best_model == "edge"
    assert result.statistic == pytest.approx(0.001, abs=1e-12)
    assert result.mean_advantage["edge"] == pytest.approx(0.001, abs=1e-12)
    assert reality_check(benchmark, models, reps=REPS, block_size=10, seed=1).p_value <= 0.01


def test_stepm_selects_the_model_with_the_edge(with_edge: tuple[pd.Series, pd.DataFrame]) -> None:
    benchmark, models = with_edge
    result = stepm(benchmark, models, size=0.05, reps=REPS, block_size=10, seed=1)
    assert result.superior_models == ("edge",)
    assert result.size == 0.05


def test_pure_noise_gives_large_p_values(pure_noise: tuple[pd.Series, pd.DataFrame]) -> None:
    benchmark, models = pure_noise
    spa = spa_test(benchmark, models, reps=REPS, block_size=10, seed=1)
    rc = reality_check(benchmark, models, reps=REPS, block_size=10, seed=1)
    assert spa.p_value > 0.3
    assert rc.p_value > 0.3
    assert stepm(benchmark, models, reps=REPS, block_size=10, seed=1).superior_models == ()


def test_a_strictly_worse_model_gets_a_large_p_value(
    pure_noise: tuple[pd.Series, pd.DataFrame],
) -> None:
    benchmark, models = pure_noise
    worse = models[["noise_0"]] - 0.001
    result = spa_test(benchmark, worse, reps=REPS, block_size=10, seed=1)
    assert result.mean_advantage["noise_0"] == pytest.approx(-0.001, abs=1e-12)
    assert result.statistic < 0
    assert result.p_value == result.p_value_lower == result.p_value_upper == 1.0
    assert reality_check(benchmark, worse, reps=REPS, block_size=10, seed=1).p_value == 1.0
    # a worse model among noise ones does not lower the p-value of the family
    family = pd.concat([models.iloc[:, 1:], worse.rename(columns={"noise_0": "worse"})], axis=1)
    noise_only = spa_test(benchmark, models.iloc[:, 1:], reps=REPS, block_size=10, seed=1)
    with_worse = spa_test(benchmark, family, reps=REPS, block_size=10, seed=1)
    assert with_worse.p_value >= noise_only.p_value - 0.05
    # read as losses by mistake, the same numbers make the worse model look superior
    misread = spa_test(benchmark, worse, inputs="losses", reps=REPS, block_size=10, seed=1)
    assert misread.p_value <= 0.01


def test_losses_are_negated_returns(with_edge: tuple[pd.Series, pd.DataFrame]) -> None:
    benchmark, models = with_edge
    from_returns = spa_test(benchmark, models, reps=200, block_size=10, seed=5)
    from_losses = spa_test(-benchmark, -models, inputs="losses", reps=200, block_size=10, seed=5)
    assert from_losses.settings.inputs == "losses"
    assert from_returns.p_value == from_losses.p_value
    assert from_returns.p_value_upper == from_losses.p_value_upper
    assert from_returns.mean_advantage == pytest.approx(from_losses.mean_advantage)


def test_parity_with_arch_on_negated_returns(with_edge: tuple[pd.Series, pd.DataFrame]) -> None:
    benchmark, models = with_edge
    ours = spa_test(benchmark, models, reps=200, block_size=10, seed=3)
    theirs = SPA(-benchmark.to_numpy(), -models.to_numpy(), block_size=10, reps=200, seed=3)
    theirs.compute()
    assert ours.p_value_lower == theirs.pvalues["lower"]
    assert ours.p_value == theirs.pvalues["consistent"]
    assert ours.p_value_upper == theirs.pvalues["upper"]
    arch_stepm = StepM(-benchmark.to_numpy(), -models, block_size=10, reps=200, seed=3)
    arch_stepm.compute()
    assert stepm(benchmark, models, reps=200, block_size=10, seed=3).superior_models == tuple(
        arch_stepm.superior_models
    )


def test_same_seed_same_result(with_edge: tuple[pd.Series, pd.DataFrame]) -> None:
    benchmark, models = with_edge
    noisy = models.drop(columns="edge")
    first = spa_test(benchmark, noisy, reps=200, block_size=10, seed=42)
    second = spa_test(benchmark, noisy, reps=200, block_size=10, seed=42)
    assert first == second
    other = spa_test(benchmark, noisy, reps=200, block_size=10, seed=43)
    assert other.settings.seed == 43
    mcs_a = model_confidence_set(models, reps=200, block_size=10, seed=42)
    mcs_b = model_confidence_set(models, reps=200, block_size=10, seed=42)
    assert mcs_a == mcs_b


def test_zero_benchmark_tests_excess_returns() -> None:
    rng = np.random.default_rng(7)
    excess = pd.DataFrame(
        {"good": rng.normal(0.002, 0.01, N_BARS), "flat": rng.normal(0.0, 0.01, N_BARS)}
    )
    result = spa_test(None, excess, reps=REPS, block_size=10, seed=0)
    assert result.best_model == "good"
    assert result.p_value <= 0.01


def test_model_confidence_set_keeps_the_best_and_drops_the_worst(
    with_edge: tuple[pd.Series, pd.DataFrame],
) -> None:
    _, models = with_edge
    candidates = models[["edge", "noise_0", "noise_1"]].copy()
    candidates["bad"] = models["noise_2"] - 0.002
    result = model_confidence_set(candidates, size=0.10, reps=REPS, block_size=10, seed=0)
    assert "edge" in result.included
    assert "bad" in result.excluded
    assert set(result.included) | set(result.excluded) == set(candidates.columns)
    assert result.pvalues["edge"] == 1.0  # the last model standing
    assert result.mean_loss["edge"] == pytest.approx(-candidates["edge"].mean())
    arch_mcs = MCS(-candidates, 0.10, reps=REPS, block_size=10, seed=0)
    arch_mcs.compute()
    assert sorted(result.included) == sorted(arch_mcs.included)


def test_settings_are_recorded_and_serializable(with_edge: tuple[pd.Series, pd.DataFrame]) -> None:
    benchmark, models = with_edge
    result = spa_test(benchmark.to_numpy(), models.to_numpy(), reps=50, seed=9)
    settings = result.settings
    assert settings.block_size == int(np.sqrt(N_BARS))  # arch's default, resolved
    assert (settings.reps, settings.seed, settings.bootstrap) == (50, 9, "stationary")
    assert (settings.n_periods, settings.n_models, settings.inputs) == (N_BARS, 10, "returns")
    assert result.best_model == "model_4"  # array columns are named by position
    for payload in (
        result.to_dict(),
        stepm(benchmark, models, reps=50, seed=9).to_dict(),
        reality_check(benchmark, models, reps=50, seed=9, bootstrap="circular").to_dict(),
        model_confidence_set(models.iloc[:, :3], reps=50, seed=9, method="max").to_dict(),
    ):
        json.dumps(payload, allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bootstrap": "iid"}, "unknown bootstrap"),
        ({"reps": 0}, "reps must be"),
        ({"block_size": 0}, "block_size must be"),
        ({"inputs": "prices"}, "inputs must be"),
        ({"seed": 1.5}, "seed must be"),
    ],
)
def test_bad_settings_raise(kwargs: dict, message: str) -> None:
    data = np.zeros((50, 2))
    with pytest.raises(StatisticsError, match=message):
        spa_test(np.zeros(50), data, **kwargs)


def test_bad_data_raise() -> None:
    models = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(StatisticsError, match="benchmark has shape"):
        spa_test(np.zeros(49), models)
    broken = models.copy()
    broken[3, 1] = np.nan
    with pytest.raises(StatisticsError, match="first at bar 3"):
        reality_check(None, broken)
    with pytest.raises(StatisticsError, match="at least 2 models"):
        model_confidence_set(models[:, :1])
    with pytest.raises(StatisticsError, match="size must be"):
        stepm(None, models, size=1.0)
    with pytest.raises(StatisticsError, match="unique"):
        spa_test(None, pd.DataFrame(models, columns=["a", "a"]))
