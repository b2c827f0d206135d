"""Synthetic OHLC panels for the strategy template tests, and running a book in both engines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
from alphaloop.backtest.vectorized import SimulationResult, simulate
from alphaloop.data import Panel
from alphaloop.strategies import TemplateInputs, TemplateOutput, TemplateParams


def ohlc_panel(log_close: np.ndarray, seed: int, *, bar_range: float = 0.004) -> Panel:
    """A panel whose closes are ``exp(log_close)``; opens near the previous close, a small range."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(log_close)
    n_times, n_assets = close.shape
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, bar_range / 2, close.shape))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, bar_range, close.shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, bar_range, close.shape)))
    volume = np.full(close.shape, 1e7)
    index = pd.bdate_range("2012-01-02", periods=n_times, tz="UTC")
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return Panel(index, [f"A{j:02d}" for j in range(n_assets)], fields)


def ou_log_prices(n_times: int, n_assets: int, seed: int, *, phi: float = 0.9) -> np.ndarray:
    """Log prices that revert to a constant (AR(1) with coefficient ``phi``, 1.5% shocks)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_times, n_assets))
    shocks = rng.normal(0.0, 0.015, (n_times, n_assets))
    for t in range(1, n_times):
        x[t] = phi * x[t - 1] + shocks[t]
    return x


def random_walk(n_times: int, n_assets: int, seed: int) -> np.ndarray:
    """Log prices of driftless random walks with 1.5% daily volatility."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(0.0, 0.015, (n_times, n_assets)), axis=0)


def trending(n_times: int, n_assets: int, seed: int) -> np.ndarray:
    """Log prices with persistent trends: drift +-0.4% a day in regimes of ~120 bars, 1% noise."""
    rng = np.random.default_rng(seed)
    drift = np.empty((n_times, n_assets))
    sign = rng.choice([-1.0, 1.0], n_assets)
    for t in range(n_times):
        flip = rng.random(n_assets) < 1.0 / 120.0
        sign = np.where(flip, -sign, sign)
        drift[t] = 0.004 * sign
    return np.cumsum(drift + rng.normal(0.0, 0.01, (n_times, n_assets)), axis=0)


def inputs_for(
    panel: Panel,
    *,
    signal: np.ndarray | None = None,
    rebalance: np.ndarray | None = None,
    allow_short: bool = True,
    max_weight: float = 1.0,
    max_leverage: float = 1.0,
) -> TemplateInputs:
    close = np.asarray(panel["close"])
    return TemplateInputs(
        panel=panel,
        eligible=np.isfinite(close) & (close > 0),
        rebalance=np.ones(panel.n_times, dtype=bool) if rebalance is None else rebalance,
        signal=signal,
        max_weight=max_weight,
        max_leverage=max_leverage,
        allow_short=allow_short,
    )


def build(template: TemplateParams, panel: Panel, **kw: Any) -> TemplateOutput:
    return template.build(inputs_for(panel, **kw))


def run_both(
    panel: Panel, weights: np.ndarray, **kw: Any
) -> tuple[SimulationResult, SimulationResult]:
    """The vectorized and the event engine on the same target weights."""
    a = simulate(panel, weights, kind="weights", **kw)
    b = EventEngine(panel, TargetWeightsStrategy(weights), **kw).run()
    return a, b


def half_return(result: SimulationResult) -> float:
    """Net return over the second half of the run (the first is warm-up and burn-in)."""
    equity = result.equity.to_numpy()
    half = len(equity) // 2
    return float(equity[-1] / equity[half] - 1.0)
