"""A backtest sweep: many small single-asset backtests on one dataset, on any task pool.

Each point of the sweep is a moving-average cross on one asset
(:class:`SmaCross`): long the whole equity while the ``fast``-bar simple
moving average of the close is above the ``slow``-bar one, flat otherwise.
The averages include the current bar, so the decision is taken after bar
``t``'s close; it fills at the next bar's open (the next bar's close on
data without an open price) with the default cost model: nothing here is
optimistic.

The dataset travels once: :func:`sweep_data` cuts the panel into one
single-asset panel per asset, and that is the pool's shared payload
(:mod:`alphaloop.compute`); a batch of points sends only their parameters.
Every point is deterministic, so a sweep gives the same results, bit for
bit, in process, in a process pool or on Ray.

>>> data = sweep_data(panel)                                   # doctest: +SKIP
>>> points = [SmaCross("AAPL", f, s) for f in (5, 10) for s in (50, 100)]  # doctest: +SKIP
>>> with make_pool("ray", data, workers=2) as pool:            # doctest: +SKIP
...     results = run_sweep(pool, points)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alphaloop.backtest.metrics import periods_per_year_for
from alphaloop.backtest.vectorized import SweepResult, simulate_many
from alphaloop.compute.pools import TaskPool
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution.costs import CostModel, FillTiming

__all__ = [
    "SmaCross",
    "SweepData",
    "SweepPoint",
    "run_sweep",
    "sma_cross_point",
    "sma_cross_returns",
    "sweep_data",
]


@dataclass(frozen=True, slots=True)
class SmaCross:
    """One sweep point: ``asset``, ``fast`` and ``slow`` windows in bars (``fast < slow``)."""

    asset: str
    fast: int
    slow: int


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """The outcome of one point.

    ``total_return``: final equity over initial capital minus one (simple);
    ``sharpe``: annualized (mean / sample std of per-bar simple returns,
    times the square root of bars per year); ``n_trades``: fills;
    ``costs``: total costs paid, in currency units of 1,000,000 initial capital.
    """

    asset: str
    fast: int
    slow: int
    total_return: float
    sharpe: float
    n_trades: int
    costs: float


@dataclass(frozen=True)
class SweepData:
    """What every task reads: one single-asset panel per asset, the cost model, the fill
    timing (a next bar's open or close) and bars a year."""

    panels: dict[str, Panel]
    costs: CostModel
    fills: FillTiming
    periods_per_year: float


def sweep_data(panel: Panel, costs: CostModel | None = None) -> SweepData:
    """The shared payload of a sweep over ``panel``'s assets (default costs: realistic)."""
    if "close" not in panel.field_names:
        raise BacktestError("a sweep needs a close field", hint="import data with a close price")
    panels = {a: panel.select(assets=[a]) for a in panel.assets}
    fills = FillTiming.NEXT_OPEN if "open" in panel.field_names else FillTiming.NEXT_CLOSE
    return SweepData(panels, costs or CostModel(), fills, periods_per_year_for(panel.frequency))


def _sma(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing simple mean over ``window`` bars, the current one included (NaN before)."""
    out = np.full(x.shape, np.nan)
    if window <= len(x):
        c = np.cumsum(np.concatenate([[0.0], x]))
        out[window - 1 :] = (c[window:] - c[:-window]) / window
    return out


def sma_cross_returns(data: SweepData, point: SmaCross) -> np.ndarray:
    """Per-bar simple returns of one point (net of costs), as :func:`sma_cross_point` sees them.

    Raises
    ------
    BacktestError
        Unknown asset, or windows that are not ``1 <= fast < slow``.
    """
    return _simulate(data, point).returns()[0]


def _simulate(data: SweepData, point: SmaCross) -> SweepResult:
    panel = data.panels.get(point.asset)
    if panel is None:
        raise BacktestError(f"sweep point names asset {point.asset!r}, which is not in the data")
    if not 1 <= point.fast < point.slow:
        raise BacktestError(
            f"sweep point {point}: windows must satisfy 1 <= fast < slow, "
            f"got fast={point.fast}, slow={point.slow}"
        )
    close = panel.field("close")[:, 0]
    fast, slow = _sma(close, point.fast), _sma(close, point.slow)
    with np.errstate(invalid="ignore"):
        weights = np.where(fast > slow, 1.0, 0.0)
    return simulate_many(panel, weights[None, :, None], costs=data.costs, fills=data.fills)


def sma_cross_point(data: SweepData, point: SmaCross) -> SweepPoint:
    """Backtest one point (the task function of :func:`run_sweep`).

    Raises
    ------
    BacktestError
        Unknown asset, or windows that are not ``1 <= fast < slow``.
    """
    result = _simulate(data, point)
    returns = result.returns()[0]
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else math.nan
    sharpe = float(np.mean(returns)) / std * math.sqrt(data.periods_per_year) if std > 0 else 0.0
    return SweepPoint(
        point.asset,
        point.fast,
        point.slow,
        float(result.total_return[0]),
        sharpe,
        int(result.n_trades[0]),
        float(result.costs[0].sum()),
    )


def run_sweep(
    pool: TaskPool[SweepData], points: Sequence[SmaCross], *, batch_size: int | None = None
) -> list[SweepPoint]:
    """Every point on ``pool`` (made for a :func:`sweep_data` payload); results in order."""
    return pool.map(sma_cross_point, points, batch_size=batch_size)
