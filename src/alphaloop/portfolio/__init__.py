"""Portfolio optimizers (through skfolio) with documented fallbacks.

Pure computation on arrays of returns: :class:`OptimizerConfig` names a
method and its constraints, :func:`optimize_weights` solves one window,
:func:`walk_forward_weights` solves every rebalance of a backtest on the
trailing window ending at that bar's close, falling back (inverse
volatility or the previous weights) where the optimizer fails, and
recording each fallback.
"""

from __future__ import annotations

from alphaloop.portfolio.config import FALLBACKS, METHODS, OptimizerConfig
from alphaloop.portfolio.errors import OptimizationError, PortfolioInputError
from alphaloop.portfolio.max_sharpe import max_sharpe_weights
from alphaloop.portfolio.optimize import SOLVERS, OptimizeResult, Solver, optimize_weights
from alphaloop.portfolio.walk import FallbackEvent, WalkResult, walk_forward_weights

__all__ = [
    "FALLBACKS",
    "METHODS",
    "SOLVERS",
    "FallbackEvent",
    "OptimizationError",
    "OptimizeResult",
    "OptimizerConfig",
    "PortfolioInputError",
    "Solver",
    "WalkResult",
    "max_sharpe_weights",
    "optimize_weights",
    "walk_forward_weights",
]
