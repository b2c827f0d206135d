"""Results across seeds, and the benchmarks an agent is judged against.

A policy's test-span result is a distribution over the seeds it was trained
with: :func:`seed_summary` gives its mean, sample spread and a Student-t
confidence interval of the mean, never the best seed alone. The benchmarks
(:func:`benchmark_returns`) are simulated by the backtester on the same bars
with the same costs and fill timing: buy-and-hold (equal weights bought on the
first bar, never rebalanced) and equal weight (rebalanced to equal weights on
the first bar of each month).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SUMMARY_METRICS",
    "MetricSummary",
    "benchmark_returns",
    "episode_metrics",
    "seed_summary",
]

SUMMARY_METRICS = (
    "total_return",
    "annual_return",
    "sharpe_ratio",
    "max_drawdown",
    "annual_volatility",
    "turnover",
    "total_costs",
)
"""The metrics summarised across seeds (keys of :func:`episode_metrics`)."""


@dataclass(frozen=True)
class MetricSummary:
    """One metric across seeds: mean, sample standard deviation, t interval of the mean.

    ``low``/``high`` bound the ``level`` confidence interval of the mean
    (Student t with ``n - 1`` degrees of freedom); NaN with one seed.
    """

    mean: float
    std: float
    low: float
    high: float
    n: int
    level: float
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "ci_low": self.low,
            "ci_high": self.high,
            "n": self.n,
            "level": self.level,
            "values": list(self.values),
        }


def seed_summary(
    per_seed: Sequence[Mapping[str, float]],
    metrics: Sequence[str] = SUMMARY_METRICS,
    *,
    level: float = 0.95,
) -> dict[str, MetricSummary]:
    """Summarise each metric over seeds (NaN values are left out of that metric)."""
    from scipy import stats

    out: dict[str, MetricSummary] = {}
    for name in metrics:
        values = np.array([float(m.get(name, math.nan)) for m in per_seed], dtype=float)
        finite = values[np.isfinite(values)]
        n = len(finite)
        mean = float(finite.mean()) if n else math.nan
        std = float(finite.std(ddof=1)) if n > 1 else math.nan
        if n > 1:
            half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
            low, high = mean - half, mean + half
        else:
            low = high = math.nan
        out[name] = MetricSummary(mean, std, low, high, n, level, tuple(values.tolist()))
    return out


def episode_metrics(
    returns: pd.Series,
    *,
    periods_per_year: float,
    turnover: pd.Series | None = None,
    costs: float | None = None,
) -> dict[str, float]:
    """Metrics of one equity path's simple returns (net of costs), as the backtester
    computes them (:func:`alphaloop.backtest.compute_metrics`), plus ``total_costs``
    (currency) when given."""
    from alphaloop.backtest import compute_metrics

    metrics = compute_metrics(returns, periods_per_year=periods_per_year, turnover=turnover)
    keep = {k: float(metrics[k]) for k in metrics if k in SUMMARY_METRICS}
    keep["total_costs"] = math.nan if costs is None else float(costs)
    return keep


def benchmark_returns(
    panel: Any,
    *,
    costs: Any = None,
    fills: str = "next_open",
    initial_capital: float = 1_000_000.0,
) -> dict[str, Any]:
    """Buy-and-hold and monthly equal-weight books on ``panel``, simulated with costs.

    Returns ``{"buy_and_hold": SimulationResult, "equal_weight": SimulationResult}``;
    weights are decided after the close of a bar and fill at the next bar
    (``fills``), as for the agent.
    """
    from alphaloop.backtest import simulate

    n_t, n_a = panel.n_times, panel.n_assets
    hold = np.full((n_t, n_a), np.nan)
    hold[0] = 1.0 / n_a
    equal = np.full((n_t, n_a), np.nan)
    index = pd.DatetimeIndex(panel.index)
    months = index.year * 12 + index.month
    first = np.r_[True, months[1:] != months[:-1]]
    equal[first] = 1.0 / n_a
    out = {}
    for name, weights in (("buy_and_hold", hold), ("equal_weight", equal)):
        out[name] = simulate(
            panel, weights, fills=fills, costs=costs, initial_capital=initial_capital
        )
    return out
