"""Optimizer plumbing: same weights as skfolio on the same inputs, constraints, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from skfolio import RiskMeasure
from skfolio.optimization import (
    HierarchicalRiskParity,
    MeanRisk,
    ObjectiveFunction,
    RiskBudgeting,
)

from alphaloop.portfolio import (
    METHODS,
    OptimizationError,
    OptimizerConfig,
    PortfolioInputError,
    optimize_weights,
)


def returns(n_obs: int = 300, n: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((n_obs, 1))
    vols = np.linspace(0.006, 0.02, n)
    x = vols * (0.5 * common + rng.standard_normal((n_obs, n))) + 0.0004
    return pd.DataFrame(x, columns=[f"S{i}" for i in range(n)])


def config(method: str, **kw) -> OptimizerConfig:
    extra: dict = {}
    if method == "efficient_return":
        extra["target_return"] = 0.0003
    if method == "black_litterman":
        extra["views"] = ["S0 == 0.001"]
    if method == "risk_budgeting":
        extra["risk_budget"] = {f"S{i}": float(i + 1) for i in range(6)}
    return OptimizerConfig(method=method, **{**extra, **kw})


@pytest.mark.parametrize(
    ("method", "reference"),
    [
        ("min_variance", MeanRisk),
        ("max_sharpe", lambda: MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO)),
        ("min_cvar", lambda: MeanRisk(risk_measure=RiskMeasure.CVAR)),
        ("risk_parity", RiskBudgeting),
        ("hrp", HierarchicalRiskParity),
    ],
)
def test_weights_equal_skfolio_on_the_same_inputs(method: str, reference) -> None:
    x = returns()
    # the skfolio route (max_sharpe's default route is the exact solver: test_max_sharpe.py)
    ours = optimize_weights(x, config(method), solver="skfolio")
    theirs = reference().fit(x).weights_
    theirs = np.clip(theirs, 0, None) / np.clip(theirs, 0, None).sum()
    np.testing.assert_allclose(ours.weights, theirs, atol=1e-7)
    assert ours.assets == tuple(x.columns)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_long_only_weights_summing_to_one(method: str) -> None:
    res = optimize_weights(returns(), config(method))
    assert res.weights.shape == (6,)
    assert res.weights.min() >= 0
    assert res.weights.sum() == pytest.approx(1.0)
    assert res.diagnostics["n_observations"] == 300


def test_bounds_groups_and_turnover_are_applied() -> None:
    x = returns()
    res = optimize_weights(x, config("min_variance", min_weight=0.05, max_weight=0.3))
    assert res.weights.min() >= 0.05 - 1e-6
    assert res.weights.max() <= 0.3 + 1e-6
    groups = {"S0": "low", "S1": "low", "S2": "low"}
    res = optimize_weights(x, config("min_variance", groups=groups, group_max={"low": 0.4}))
    assert res.weights[:3].sum() <= 0.4 + 1e-6
    free = optimize_weights(x, config("min_variance"))
    assert free.weights[:3].sum() > 0.45  # the constraint binds
    previous = np.full(6, 1 / 6)
    res = optimize_weights(x, config("min_variance", max_turnover=0.1), previous=previous)
    assert np.abs(res.weights - previous).max() <= 0.1 + 1e-6  # per asset
    assert np.abs(free.weights - previous).max() > 0.2


@pytest.mark.parametrize(
    ("case", "method"),
    [
        ("negative", "max_sharpe"),
        ("singular", "max_sharpe"),
        ("nan", "min_variance"),
        ("bounds", "min_variance"),
    ],
)
def test_known_breaking_inputs_raise_optimization_error(case: str, method: str) -> None:
    x = returns()
    kw: dict = {}
    if case == "negative":
        x = x - 0.01  # every expected return negative: no positive Sharpe ratio exists
    elif case == "singular":
        x["S5"] = 0.0  # constant column and duplicates
        x["S4"] = x["S3"]
    elif case == "nan":
        x.iloc[5, 2] = np.nan
    else:
        kw = {"max_weight": 0.1}  # 6 assets x 0.1 < 1: infeasible
    with pytest.raises(OptimizationError):
        optimize_weights(x, config(method, **kw))


def test_bad_config_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"min_weight 0\.5 is above max_weight 0\.2"):
        OptimizerConfig(min_weight=0.5, max_weight=0.2)
    with pytest.raises(ValidationError, match="method"):
        OptimizerConfig(method="best")
    with pytest.raises(ValidationError, match="max_turnover is not supported by method hrp"):
        OptimizerConfig(method="hrp", max_turnover=0.2)
    with pytest.raises(ValidationError, match="needs views"):
        OptimizerConfig(method="black_litterman")
    with pytest.raises(ValidationError, match="group_max names groups no asset is in: x"):
        OptimizerConfig(groups={"A": "y"}, group_max={"x": 0.3})
    with pytest.raises(PortfolioInputError, match="3 asset names for 6 columns") as err:
        optimize_weights(returns().to_numpy(), OptimizerConfig(), assets=["a", "b", "c"])
    assert err.value.field == "assets"
