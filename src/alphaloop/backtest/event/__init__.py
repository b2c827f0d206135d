"""The event-driven engine: an order management system over bars.

A :class:`Strategy` reacts to bars and order events through a
:class:`Context`; its orders go to a :class:`Broker` as commands and come
back as events that move each :class:`Order` through an explicit state
machine. The :class:`SimulatedBroker` fills them against historical bars
with the same cost model, fill timing and sizing rules as the vectorized
simulator, so a target-weight strategy gives the same equity curve in both
engines; a paper or live broker implements the same interface.

Modules: :mod:`.orders` (order model and state machine), :mod:`.events`
(events and commands), :mod:`.broker` (interface and settings),
:mod:`.simulated` (the simulated broker), :mod:`.matching` (price rules of
resting orders), :mod:`.sizing` (rebalance sizing), :mod:`.ledger` (cash,
positions, marks), :mod:`.algos` (TWAP, VWAP), :mod:`.context`,
:mod:`.strategy`, :mod:`.engine`, :mod:`.results`.
"""

from alphaloop.backtest.event.broker import Broker, BrokerConfig
from alphaloop.backtest.event.context import Context
from alphaloop.backtest.event.engine import EventEngine
from alphaloop.backtest.event.events import (
    CancelOrder,
    FillEvent,
    ModifyOrder,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
    RebalanceToWeights,
    SubmitOrder,
)
from alphaloop.backtest.event.orders import (
    Order,
    OrderSide,
    OrderStateError,
    OrderStatus,
    OrderType,
    Protection,
    TimeInForce,
)
from alphaloop.backtest.event.results import EventResult
from alphaloop.backtest.event.simulated import SimulatedBroker
from alphaloop.backtest.event.strategy import Strategy, TargetWeightsStrategy

__all__ = [
    "Broker",
    "BrokerConfig",
    "CancelOrder",
    "Context",
    "EventEngine",
    "EventResult",
    "FillEvent",
    "ModifyOrder",
    "Order",
    "OrderAccepted",
    "OrderCanceled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderPartiallyFilled",
    "OrderRejected",
    "OrderSide",
    "OrderStateError",
    "OrderStatus",
    "OrderSubmitted",
    "OrderTriggered",
    "OrderType",
    "OrderUpdated",
    "Protection",
    "RebalanceToWeights",
    "SimulatedBroker",
    "Strategy",
    "SubmitOrder",
    "TargetWeightsStrategy",
    "TimeInForce",
]
