"""Monte Carlo stress paths by the stationary bootstrap (Politis and Romano, 1994).

Paths of ``horizon`` bars are resampled from the portfolio's history in
blocks of random length (geometric, mean ``mean_block`` bars), so
volatility clusters and cross-asset moves of the same day survive. The
portfolio is rebalanced to its weights each bar (rows of the portfolio's
bar returns are resampled). Seeded: the same seed gives the same paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.risk._inputs import check_confidence, check_horizon
from alphaloop.risk.empirical import historical_var
from alphaloop.risk.errors import RiskInputError
from alphaloop.risk.rolling import portfolio_returns
from alphaloop.risk.stress import StressLimits

__all__ = ["MonteCarloStress", "bootstrap_stress", "stationary_bootstrap_indices"]


def stationary_bootstrap_indices(
    n_obs: int, n_paths: int, horizon: int, mean_block: float, rng: np.random.Generator
) -> np.ndarray:
    """(n_paths, horizon) row indices: each bar starts a new block with probability
    ``1 / mean_block``, else continues the previous one (wrapping at the end)."""
    idx = np.empty((n_paths, horizon), dtype=np.int64)
    idx[:, 0] = rng.integers(0, n_obs, n_paths)
    fresh = rng.random((n_paths, horizon)) < 1.0 / mean_block
    starts = rng.integers(0, n_obs, (n_paths, horizon))
    for k in range(1, horizon):
        idx[:, k] = np.where(fresh[:, k], starts[:, k], (idx[:, k - 1] + 1) % n_obs)
    return idx


@dataclass(frozen=True)
class MonteCarloStress:
    """Distribution of outcomes over bootstrapped paths.

    Attributes
    ----------
    n_paths, horizon, mean_block, seed :
        As asked (horizon in bars).
    pnl_quantiles : Series
        Path return quantiles at 1%, 5%, 50%, 95%, 99%.
    var, cvar : float
        VaR and CVaR of the path return at ``confidence`` (positive losses).
    drawdown_quantiles : Series
        Max drawdown quantiles (50%, 95%, 99%).
    breach_probability : dict
        Share of paths breaking each given limit.
    """

    n_paths: int
    horizon: int
    mean_block: float
    seed: int
    confidence: float
    pnl_quantiles: pd.Series
    var: float
    cvar: float
    drawdown_quantiles: pd.Series
    breach_probability: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "n_paths": self.n_paths,
            "horizon": self.horizon,
            "mean_block": self.mean_block,
            "seed": self.seed,
            "confidence": self.confidence,
            "pnl_quantiles": {str(k): float(v) for k, v in self.pnl_quantiles.items()},
            "var": self.var,
            "cvar": self.cvar,
            "drawdown_quantiles": {str(k): float(v) for k, v in self.drawdown_quantiles.items()},
            "breach_probability": self.breach_probability,
        }


def bootstrap_stress(
    returns: Any,
    *,
    weights: Any = None,
    n_paths: int = 10_000,
    horizon: int = 21,
    mean_block: float = 10.0,
    confidence: float = 0.99,
    limits: StressLimits | None = None,
    seed: int = 0,
) -> MonteCarloStress:
    """P&L and drawdown over ``n_paths`` stationary-bootstrap paths of ``horizon`` bars."""
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    if int(n_paths) < 100:
        raise RiskInputError(f"n_paths must be at least 100, got {n_paths!r}", field="n_paths")
    if not float(mean_block) >= 1.0:
        raise RiskInputError(f"mean_block must be >= 1 bar, got {mean_block!r}", field="mean_block")
    r = portfolio_returns(returns, weights).to_numpy()
    rng = np.random.default_rng(seed)
    bars = r[stationary_bootstrap_indices(r.size, int(n_paths), h, float(mean_block), rng)]
    value = np.cumprod(1.0 + bars, axis=1)
    value = np.concatenate([np.ones((value.shape[0], 1)), value], axis=1)
    pnl = value[:, -1] - 1.0
    drawdown = np.max(1.0 - value / np.maximum.accumulate(value, axis=1), axis=1)
    var, cvar = historical_var(-pnl, c)
    limits = limits or StressLimits()
    breach: dict[str, float] = {}
    if limits.max_loss is not None:
        breach["max_loss"] = float(np.mean(-pnl > limits.max_loss))
    if limits.max_drawdown is not None:
        breach["max_drawdown"] = float(np.mean(drawdown > limits.max_drawdown))
    levels = [0.01, 0.05, 0.5, 0.95, 0.99]
    return MonteCarloStress(
        n_paths=int(n_paths),
        horizon=h,
        mean_block=float(mean_block),
        seed=int(seed),
        confidence=c,
        pnl_quantiles=pd.Series(np.quantile(pnl, levels), index=levels, name="pnl"),
        var=var,
        cvar=cvar,
        drawdown_quantiles=pd.Series(
            np.quantile(drawdown, [0.5, 0.95, 0.99]), index=[0.5, 0.95, 0.99], name="max_drawdown"
        ),
        breach_probability=breach,
    )
