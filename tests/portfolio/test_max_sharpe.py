"""The exact max-Sharpe solver: skfolio's MeanRisk as the reference, where it applies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.bundled import load_bundled
from alphaloop.portfolio import (
    OptimizationError,
    OptimizerConfig,
    PortfolioInputError,
    max_sharpe_weights,
    optimize_weights,
    walk_forward_weights,
)

#: skfolio's conic solver stops within its tolerance: weights agree to this, and the exact
#: solution's Sharpe ratio is never below skfolio's
WEIGHT_TOL = 2e-3


def sharpe(x: np.ndarray, w: np.ndarray) -> float:
    mu, cov = x.mean(axis=0), np.cov(x, rowvar=False)
    return float(mu @ w / np.sqrt(w @ cov @ w))


def random_windows(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n_obs, n = int(rng.integers(60, 400)), int(rng.integers(2, 15))
        common = rng.standard_normal((n_obs, 1))
        vols = rng.uniform(0.005, 0.03, n)
        drift = rng.normal(0.0003, 0.0006, n)
        yield vols * (rng.uniform(0, 1) * common + rng.standard_normal((n_obs, n))) + drift


def test_exact_solver_matches_skfolio_on_random_windows():
    cfg = OptimizerConfig(method="max_sharpe")
    compared = 0
    for x in random_windows(40):
        try:
            reference = optimize_weights(x, cfg, solver="skfolio")
        except OptimizationError:
            continue  # e.g. every mean negative: the exact route declines too (below)
        fast = optimize_weights(x, cfg)
        assert fast.diagnostics["solver"] == "exact"
        assert reference.diagnostics["solver"] == "skfolio"
        np.testing.assert_allclose(fast.weights, reference.weights, atol=WEIGHT_TOL)
        assert sharpe(x, fast.weights) >= sharpe(x, reference.weights) - 1e-10
        compared += 1
    assert compared >= 30


def test_exact_solver_matches_skfolio_on_the_bundled_stocks():
    close = load_bundled("sp500-stocks").to_panel()["close"]
    rets = np.diff(close[-1300:], axis=0) / close[-1300:-1]
    cfg = OptimizerConfig(method="max_sharpe", window=252)
    for end in range(252, rets.shape[0], 150):
        x = rets[end - 252 : end]
        fast, reference = optimize_weights(x, cfg), optimize_weights(x, cfg, solver="skfolio")
        np.testing.assert_allclose(fast.weights, reference.weights, atol=WEIGHT_TOL)
        assert sharpe(x, fast.weights) >= sharpe(x, reference.weights) - 1e-10


def test_the_kkt_conditions_hold_at_the_exact_solution():
    for x in random_windows(20, seed=5):
        mu, cov = x.mean(axis=0), np.cov(x, rowvar=False)
        w = max_sharpe_weights(mu, cov)
        if w is None:
            assert mu.max() <= 0
            continue
        y = w / float(mu @ w)  # the homogenized variable: a'y = 1
        lam = 2 * float(y @ cov @ y)
        dual = 2 * cov @ y - lam * mu
        assert np.all(dual[w > 1e-12] == pytest.approx(0.0, abs=1e-9))
        assert np.all(dual >= -1e-9)


def test_where_the_exact_solver_does_not_apply_skfolio_decides():
    rng = np.random.default_rng(2)
    x = pd.DataFrame(0.01 * rng.standard_normal((300, 5)) + 0.0005)
    # every mean below the risk-free rate: declined, and skfolio's failure is the answer
    assert max_sharpe_weights(x.mean().to_numpy() - 1.0, x.cov().to_numpy()) is None
    with pytest.raises(OptimizationError):
        optimize_weights(x - 0.01, OptimizerConfig(method="max_sharpe"))
    # a binding upper bound, a lower bound: skfolio solves them
    free = optimize_weights(x, OptimizerConfig(method="max_sharpe"))
    cap = float(free.weights.max()) - 0.05
    capped = optimize_weights(x, OptimizerConfig(method="max_sharpe", max_weight=cap))
    assert capped.diagnostics["solver"] == "skfolio"
    assert capped.weights.max() <= cap + 1e-6
    floor = optimize_weights(x, OptimizerConfig(method="max_sharpe", min_weight=0.05))
    assert floor.diagnostics["solver"] == "skfolio"
    # a bound that does not bind keeps the exact route
    loose = optimize_weights(x, OptimizerConfig(method="max_sharpe", max_weight=0.99))
    assert loose.diagnostics["solver"] == "exact"
    with pytest.raises(PortfolioInputError, match="unknown solver"):
        optimize_weights(x, OptimizerConfig(method="max_sharpe"), solver="cvx")  # type: ignore[arg-type]


def test_walk_forward_routes_agree():
    close = load_bundled("sp500-stocks").to_panel()["close"][-900:]
    rows = np.arange(300, 900, 21)
    cfg = OptimizerConfig(method="max_sharpe", window=252)
    eligible = np.ones(close.shape, dtype=bool)
    fast = walk_forward_weights(close, eligible, rows, cfg)
    reference = walk_forward_weights(close, eligible, rows, cfg, solver="skfolio")
    assert fast.solved == reference.solved == len(rows)
    np.testing.assert_allclose(fast.weights[rows], reference.weights[rows], atol=WEIGHT_TOL)
