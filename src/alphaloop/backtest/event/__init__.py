"""The event-driven engine: a strategy over bars, driving a broker.

A :class:`Strategy` reacts to bars and order events through a
:class:`Context`; its orders go to a :class:`~alphaloop.execution.Broker` as
commands and come back as events that move each order through the state
machine in :mod:`alphaloop.execution`. The
:class:`~alphaloop.execution.SimulatedBroker` fills them against historical
bars with the same cost model, fill timing and sizing rules as the vectorized
simulator, so a target-weight strategy gives the same equity curve in both
engines; a paper or live broker implements the same interface.

Modules: :mod:`.context`, :mod:`.strategy`, :mod:`.engine`, :mod:`.results`.
"""

from alphaloop.backtest.event.context import Context
from alphaloop.backtest.event.engine import EventEngine
from alphaloop.backtest.event.results import EventResult, build_result
from alphaloop.backtest.event.strategy import Strategy, TargetWeightsStrategy

__all__ = [
    "Context",
    "EventEngine",
    "EventResult",
    "Strategy",
    "TargetWeightsStrategy",
    "build_result",
]
