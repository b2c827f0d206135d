"""Monte Carlo stress paths by the stationary bootstrap (Politis and Romano, 1994).

Paths of ``horizon`` bars are resampled from the portfolio's history in
blocks of random length (geometric, mean ``mean_block`` bars), so
volatility clusters and cross-asset moves of the same day survive. The
portfolio is rebalanced to its weights each bar (rows of the portfolio's
bar returns are resampled). Seeded: the same seed gives the same paths.

:func:`generator_stress` draws the paths from any fitted generator instead
(anything with ``sample_returns(n_paths, length, seed)`` returning log
returns ``(paths, bars, assets)`` and ``assets_``, such as the generators of
:mod:`alphaloop.synth`), so GARCH or regime-switching crashes, or "more
crisis" scenarios, feed the same summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from alphaloop.risk._inputs import check_confidence, check_horizon
from alphaloop.risk.empirical import historical_var
from alphaloop.risk.errors import RiskInputError
from alphaloop.risk.rolling import portfolio_returns
from alphaloop.risk.stress import StressLimits

__all__ = [
    "MonteCarloStress",
    "PathGenerator",
    "bootstrap_stress",
    "generator_stress",
    "stationary_bootstrap_indices",
]


class PathGenerator(Protocol):
    """What :func:`generator_stress` needs of a generator: its assets and seeded draws."""

    assets_: tuple[str, ...]

    def sample_returns(self, n_paths: int, length: int, seed: int = 0) -> np.ndarray:
        """Log returns of shape ``(n_paths, length, n_assets)``."""
        ...


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
        As asked (horizon in bars; ``mean_block`` NaN for generator paths).
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
    source: str = "stationary bootstrap of the portfolio's returns"

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
            "source": self.source,
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
    return _summarise(bars, c, limits, float(mean_block), int(seed))


def generator_stress(
    generator: PathGenerator,
    weights: Any,
    *,
    n_paths: int = 10_000,
    horizon: int = 21,
    confidence: float = 0.99,
    limits: StressLimits | None = None,
    seed: int = 0,
    source: str = "",
) -> MonteCarloStress:
    """P&L and drawdown over ``n_paths`` paths of ``horizon`` bars drawn by ``generator``.

    Parameters
    ----------
    generator : PathGenerator
        A fitted generator (e.g. :class:`alphaloop.synth.GarchCopula`).
    weights : mapping of asset to weight, or array-like
        Portfolio weights (fractions of capital), rebalanced every bar; a
        mapping may name a subset of the generator's assets (the rest 0),
        an array is in the generator's asset order.
    source : str
        How the paths were made, for the report (default: the generator's repr).
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    if int(n_paths) < 100:
        raise RiskInputError(f"n_paths must be at least 100, got {n_paths!r}", field="n_paths")
    assets = tuple(getattr(generator, "assets_", ()))
    if not assets or not hasattr(generator, "sample_returns"):
        raise RiskInputError(
            "generator must be fitted and have sample_returns(n_paths, length, seed)",
            field="generator",
        )
    if isinstance(weights, dict):
        unknown = sorted(set(weights) - set(assets))
        if unknown:
            raise RiskInputError(
                f"weights name assets the generator was not fitted on: {unknown[:5]}",
                field="weights",
            )
        w = np.array([float(weights.get(a, 0.0)) for a in assets])
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.size != len(assets):
            raise RiskInputError(
                f"{w.size} weights for {len(assets)} generator assets", field="weights"
            )
    if not np.all(np.isfinite(w)):
        raise RiskInputError("weights must be finite numbers", field="weights")
    log_r = generator.sample_returns(int(n_paths), h, int(seed))
    bars = np.expm1(log_r) @ w
    return _summarise(
        bars, c, limits, float("nan"), int(seed), source=source or f"generator {generator!r}"
    )


def _summarise(
    bars: np.ndarray,
    c: float,
    limits: StressLimits | None,
    mean_block: float,
    seed: int,
    *,
    source: str = "stationary bootstrap of the portfolio's returns",
) -> MonteCarloStress:
    """The distribution of path returns and drawdowns of portfolio bar returns ``(paths, bars)``."""
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
        n_paths=bars.shape[0],
        horizon=bars.shape[1],
        mean_block=mean_block,
        seed=seed,
        confidence=c,
        pnl_quantiles=pd.Series(np.quantile(pnl, levels), index=levels, name="pnl"),
        var=var,
        cvar=cvar,
        drawdown_quantiles=pd.Series(
            np.quantile(drawdown, [0.5, 0.95, 0.99]), index=[0.5, 0.95, 0.99], name="max_drawdown"
        ),
        breach_probability=breach,
        source=source,
    )
