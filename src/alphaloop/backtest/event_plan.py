"""What the event engine runs for a prepared spec, for callers that drive it themselves.

:func:`event_inputs` gives the panel, the target-weight strategy and the
broker settings the spec's event backtest uses (see
:func:`~alphaloop.backtest.runner.run_prepared`), so a paper session on a
replay of the same bars trades the same strategy with the same cost and
fill model. The first ``history`` rows only feed the impact model; the
strategy places no order on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alphaloop.backtest.event import TargetWeightsStrategy
from alphaloop.backtest.runner import PreparedStrategy, _targets, resolve_costs
from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import BrokerConfig, config_from

__all__ = ["EventInputs", "event_inputs"]


@dataclass(frozen=True)
class EventInputs:
    """The event engine's inputs for one prepared spec.

    Attributes
    ----------
    panel : Panel
        The bars: ``history`` rows before the spec's first trading bar, then
        the trading rows.
    weights : ndarray, shape (time, asset)
        Target weights decided after each bar's close (NaN = no rebalance;
        all NaN on the history rows).
    history : int
        Leading rows that feed the cost model only.
    config : BrokerConfig
        The broker settings (fills, costs as charged, capital, leverage,
        shorts, lots, risk limits).
    stops : dict
        ``stop_loss``, ``take_profit``, ``trailing_stop`` fractions.
    """

    panel: Panel
    weights: np.ndarray
    history: int
    config: BrokerConfig
    stops: dict[str, float]

    def strategy(self) -> TargetWeightsStrategy:
        """A fresh strategy object replaying the weights (one per run)."""
        return TargetWeightsStrategy(self.weights, **self.stops)


def event_inputs(prep: PreparedStrategy) -> EventInputs:
    """The event engine's inputs for ``prep`` (target-weight specs and templates).

    Raises
    ------
    BacktestError
        A quoting template: it runs through the quote simulator, not a strategy.
    """
    spec = prep.spec
    if prep.template is not None and prep.template.kind == "quotes":
        raise BacktestError(
            "a quoting template runs through the quote simulator, not an event strategy",
            hint="paper-trade a target-weight spec or template",
        )
    _, charged, _ = resolve_costs(spec, prep.info, preset=prep.instrument_costs)
    targets, _ = _targets(prep)
    history = min(prep.start_row, charged.impact_window)
    full = prep.panel.iloc(slice(prep.start_row - history, None))
    padded = np.full((full.n_times, full.n_assets), np.nan)
    padded[history:] = targets
    settings: dict[str, Any] = {
        "fills": spec.fills,
        "costs": charged,
        "initial_capital": spec.capital,
        "max_leverage": spec.limits.max_leverage,
        "allow_short": spec.limits.allow_short,
        "lot_size": prep.lot_size,
        "participation": spec.participation,
        "risk": spec.limits.risk_limits(),
    }
    stops = {
        "stop_loss": spec.stops.stop_loss,
        "take_profit": spec.stops.take_profit,
        "trailing_stop": spec.stops.trailing_stop,
    }
    return EventInputs(full, padded, history, config_from(settings), stops)
