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
:mod:`.algos` (TWAP, VWAP), :mod:`.risk_engine`, :mod:`.risk_limits`,
:mod:`.risk_records`, :mod:`.risk_book` and :mod:`.risk_gate` (pre-trade
limits, circuit breakers, trading states; the gate in front of the broker),
:mod:`.feeds` (bar feeds: replay now, live through adapters),
:mod:`.costs` (``CostModel``, ``FillTiming`` and the numba ``fill_cost``
every engine calls).
"""

from alphaloop.execution.algos import ExecAlgorithm, make_parent, slice_quantities, volume_profile
from alphaloop.execution.broker import Broker, BrokerConfig
from alphaloop.execution.costs import (
    COST_CATEGORIES,
    CostModel,
    FillTiming,
    cost_preset,
    describe_preset,
    execution_lag,
    fill_cost,
    impact_inputs,
    preset_name,
)
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
from alphaloop.execution.feeds import BarEvent, Feed, FeedName, ReplayFeed, parse_feed
from alphaloop.execution.ledger import REASONS, Ledger
from alphaloop.execution.market import MarketData
from alphaloop.execution.orders import (
    Order,
    OrderSide,
    OrderStateError,
    OrderStatus,
    OrderType,
    Protection,
    TimeInForce,
)
from alphaloop.execution.risk_engine import Refusal, RiskEngine, TradingState, Transition
from alphaloop.execution.risk_limits import RiskLimits, risk_limits
from alphaloop.execution.simulated import SimulatedBroker, config_from

__all__ = [
    "COST_CATEGORIES",
    "REASONS",
    "BarEvent",
    "Broker",
    "BrokerConfig",
    "CancelOrder",
    "CostModel",
    "ExecAlgorithm",
    "Feed",
    "FeedName",
    "FillEvent",
    "FillTiming",
    "Ledger",
    "MarketData",
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
    "Refusal",
    "ReplayFeed",
    "RiskEngine",
    "RiskLimits",
    "SimulatedBroker",
    "SubmitOrder",
    "TimeInForce",
    "TradingState",
    "Transition",
    "config_from",
    "cost_preset",
    "describe_preset",
    "execution_lag",
    "fill_cost",
    "impact_inputs",
    "make_parent",
    "parse_feed",
    "preset_name",
    "risk_limits",
    "slice_quantities",
    "volume_profile",
]
