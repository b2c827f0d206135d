"""Execution: orders, order events, the order state machine, the ``Broker``
protocol, the simulated broker and the shared cost and fill model.

Everything that sends orders (the event-driven backtest now, paper and live
trading later) uses these types, so an order behaves the same in every mode.

Modules: :mod:`.orders` (order model and state machine), :mod:`.events`
(events and commands), :mod:`.broker` (interface and settings),
:mod:`.simulated` (the simulated broker), :mod:`.matching` and
:mod:`.resting` (price rules and book of resting orders), :mod:`.protection`
(stop/take-profit brackets), :mod:`.sizing` (rebalance sizing), :mod:`.ledger`
(cash, positions, marks), :mod:`.market` (bar data as the broker sees it),
:mod:`.algos` (TWAP, VWAP), :mod:`.costs` (``CostModel``, ``FillTiming`` and
the numba ``fill_cost`` every engine calls).
"""

from alphaloop.execution.broker import Broker, BrokerConfig
from alphaloop.execution.costs import COST_CATEGORIES, CostModel, FillTiming, fill_cost
from alphaloop.execution.events import (
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
from alphaloop.execution.orders import (
    Order,
    OrderSide,
    OrderStateError,
    OrderStatus,
    OrderType,
    Protection,
    TimeInForce,
)
from alphaloop.execution.simulated import SimulatedBroker

__all__ = [
    "COST_CATEGORIES",
    "Broker",
    "BrokerConfig",
    "CancelOrder",
    "CostModel",
    "FillEvent",
    "FillTiming",
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
    "SubmitOrder",
    "TimeInForce",
    "fill_cost",
]
