"""One optimization: a window of returns in, long-only weights summing to 1 out (via skfolio)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.portfolio.config import OptimizerConfig
from alphaloop.portfolio.errors import OptimizationError, PortfolioInputError
from alphaloop.portfolio.max_sharpe import max_sharpe_weights

__all__ = ["SOLVERS", "OptimizeResult", "Solver", "build_estimator", "optimize_weights"]

Solver = Literal["auto", "skfolio"]
SOLVERS: tuple[str, ...] = ("auto", "skfolio")
"""``auto``: the exact max-Sharpe solver where it applies, skfolio elsewhere;
``skfolio``: skfolio for every window (the reference)."""

_TOL = 1e-5


@dataclass(frozen=True)
class OptimizeResult:
    """Weights of one window and the optimizer's diagnostics.

    ``weights``: one per asset, in the order given, summing to 1.
    ``diagnostics``: ``mean`` and ``volatility`` (per bar, in-sample on the
    window), ``sharpe`` (per bar), ``effective_assets`` (1 / sum w^2),
    ``n_assets``, ``n_observations``.
    """

    weights: np.ndarray
    assets: tuple[str, ...]
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``weights`` (asset -> weight) and ``diagnostics``."""
        return {
            "weights": {a: float(w) for a, w in zip(self.assets, self.weights, strict=True)},
            "diagnostics": self.diagnostics,
        }


def build_estimator(
    config: OptimizerConfig, assets: Sequence[str], previous: np.ndarray | None = None
) -> Any:
    """The skfolio estimator for ``config`` on these assets (not fitted)."""
    from skfolio import RiskMeasure
    from skfolio.optimization import (
        HierarchicalEqualRiskContribution,
        HierarchicalRiskParity,
        MaximumDiversification,
        MeanRisk,
        NestedClustersOptimization,
        ObjectiveFunction,
        RiskBudgeting,
    )
    from skfolio.prior import BlackLitterman

    bounds = {"min_weights": config.min_weight, "max_weights": config.max_weight}
    convex: dict[str, Any] = dict(bounds)
    if config.group_max is not None:
        assert config.groups is not None
        convex["groups"] = {a: [config.groups.get(a, "_ungrouped")] for a in assets}
        present = {config.groups.get(a) for a in assets}
        convex["linear_constraints"] = [
            f"{g} <= {v}" for g, v in sorted(config.group_max.items()) if g in present
        ] or None
    turnover: dict[str, Any] = {}
    if config.max_turnover is not None and previous is not None:
        turnover = {"max_turnover": config.max_turnover, "previous_weights": previous}
    m = config.method
    rf = config.risk_free_rate
    if m == "min_variance":
        return MeanRisk(**convex, **turnover)
    if m == "max_sharpe":
        return MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
            risk_free_rate=rf,
            **convex,
            **turnover,
        )
    if m == "efficient_return":
        return MeanRisk(min_return=config.target_return, **convex, **turnover)
    if m == "min_cvar":
        return MeanRisk(
            risk_measure=RiskMeasure.CVAR, cvar_beta=config.cvar_beta, **convex, **turnover
        )
    if m == "black_litterman":
        return MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
            prior_estimator=BlackLitterman(views=list(config.views or [])),
            risk_free_rate=rf,
            **convex,
            **turnover,
        )
    if m == "max_diversification":
        return MaximumDiversification(**convex, **turnover)
    if m in ("risk_parity", "risk_budgeting"):
        budget = None
        if m == "risk_budgeting":
            assert config.risk_budget is not None
            budget = np.array([config.risk_budget.get(a, 0.0) for a in assets], dtype=float)
            if not (budget > 0).all():
                missing = [a for a, b in zip(assets, budget, strict=True) if b <= 0]
                raise OptimizationError(f"risk_budget has no budget for {', '.join(missing)}")
        return RiskBudgeting(risk_budget=budget, **convex)
    if m == "hrp":
        return HierarchicalRiskParity(**bounds)
    if m == "herc":
        return HierarchicalEqualRiskContribution(**bounds)
    if m == "nco":
        return NestedClustersOptimization()
    raise PortfolioInputError(f"unknown optimizer method {m!r}", field="method")


def optimize_weights(
    returns: np.ndarray | pd.DataFrame,
    config: OptimizerConfig,
    *,
    assets: Sequence[str] | None = None,
    previous: np.ndarray | None = None,
    solver: Solver = "auto",
) -> OptimizeResult:
    """Solve ``config`` on one window of simple returns.

    Parameters
    ----------
    returns : ndarray (observations, assets) or DataFrame
        Simple returns per bar; every value finite.
    config : OptimizerConfig
    assets : sequence of str, optional
        Asset names (default the DataFrame's columns, or ``A0``, ``A1``, ...).
    previous : ndarray, optional
        The weights held before (for ``max_turnover``), one per asset.
    solver : {"auto", "skfolio"}, default "auto"
        ``auto`` solves ``max_sharpe`` without a lower bound, turnover or
        group limits by the exact active-set solver
        (:mod:`alphaloop.portfolio.max_sharpe`; equal to skfolio's weights
        within its solver tolerance, tested) and everything else, and every
        window that solver declines, through skfolio; ``skfolio`` always
        uses skfolio. ``diagnostics["solver"]`` says which one solved.

    Raises
    ------
    PortfolioInputError
        Wrong shape or asset names (``field`` names the input).
    OptimizationError
        Non-finite returns, fewer than two assets or observations, a solver
        failure or infeasible problem, or weights that break the bounds.
    """
    if isinstance(returns, pd.DataFrame):
        names = tuple(str(c) for c in returns.columns) if assets is None else tuple(assets)
        values = returns.to_numpy(dtype=np.float64)
    else:
        values = np.asarray(returns, dtype=np.float64)
        names = (
            tuple(assets)
            if assets is not None
            else tuple(f"A{i}" for i in range(values.shape[1] if values.ndim == 2 else 0))
        )
    if values.ndim != 2:
        raise PortfolioInputError(
            f"returns must be 2-D (observations, assets); got shape {values.shape}",
            field="returns",
        )
    if len(names) != values.shape[1]:
        raise PortfolioInputError(
            f"{len(names)} asset names for {values.shape[1]} columns of returns", field="assets"
        )
    if previous is not None and np.shape(previous) != (values.shape[1],):
        raise PortfolioInputError(
            f"previous weights have shape {np.shape(previous)}; expected ({values.shape[1]},)",
            field="previous",
        )
    n_obs, n = values.shape
    if n < 2 or n_obs < 2:
        raise OptimizationError(f"needs at least 2 assets and 2 observations; got {n} x {n_obs}")
    if not np.isfinite(values).all():
        raise OptimizationError("returns contain NaN or infinite values")
    if config.min_weight * n > 1 + _TOL or config.max_weight * n < 1 - _TOL:
        raise OptimizationError(
            f"bounds [{config.min_weight:g}, {config.max_weight:g}] cannot sum to 1 "
            f"over {n} assets (infeasible)"
        )
    if solver not in SOLVERS:
        raise PortfolioInputError(f"unknown solver {solver!r}; use auto or skfolio", field="solver")
    if solver == "auto" and _exact_applies(config):
        mean = values.mean(axis=0)
        cov = np.cov(values, rowvar=False, ddof=1)
        exact = max_sharpe_weights(
            mean, cov, risk_free_rate=config.risk_free_rate, max_weight=config.max_weight
        )
        if exact is not None:
            _check_weights(exact, config, n)
            return OptimizeResult(exact, names, {**_diagnostics(values, exact), "solver": "exact"})
    frame = pd.DataFrame(values, columns=list(names))
    estimator = build_estimator(config, names, previous)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(frame)
    except Exception as exc:  # skfolio/cvxpy/scipy raise many types: all are a failure here
        raise OptimizationError(
            f"{config.method} failed: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    weights = np.asarray(estimator.weights_, dtype=np.float64)
    _check_weights(weights, config, n)
    weights = np.clip(weights, 0.0, None)
    weights = weights / weights.sum()
    return OptimizeResult(weights, names, {**_diagnostics(values, weights), "solver": "skfolio"})


def _exact_applies(config: OptimizerConfig) -> bool:
    """Whether the exact max-Sharpe solver may solve this configuration."""
    return (
        config.method == "max_sharpe"
        and config.min_weight == 0.0
        and config.max_turnover is None
        and config.group_max is None
    )


def _check_weights(weights: np.ndarray, config: OptimizerConfig, n: int) -> None:
    """Refuse weights that are non-finite, do not sum to 1 or break the bounds."""
    if weights.shape != (n,) or not np.isfinite(weights).all():
        raise OptimizationError(f"{config.method} returned non-finite weights")
    if abs(weights.sum() - 1.0) > 1e-4:
        raise OptimizationError(f"{config.method} weights sum to {weights.sum():.6f}, not 1")
    if (weights < config.min_weight - 1e-4).any() or (weights > config.max_weight + 1e-4).any():
        raise OptimizationError(
            f"{config.method} weights break the bounds [{config.min_weight:g}, "
            f"{config.max_weight:g}] (min {weights.min():.4f}, max {weights.max():.4f})"
        )


def _diagnostics(values: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
    """In-sample figures of the weights on the window (per bar)."""
    port = values @ weights
    mean = float(port.mean())
    vol = float(port.std(ddof=1))
    return {
        "mean": mean,
        "volatility": vol,
        "sharpe": mean / vol if vol > 0 else None,
        "effective_assets": float(1.0 / np.sum(weights**2)),
        "n_assets": len(weights),
        "n_observations": int(values.shape[0]),
    }
