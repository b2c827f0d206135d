"""Execution: orders, order events, the order state machine, the ``Broker``
protocol, the simulated broker and the shared cost and fill model.

Everything that sends orders (the event-driven backtest now, paper and live
trading later) uses these types, so an order behaves the same in every mode.

Modules: :mod:`.orders` (order model and state machine), :mod:`.events`
(events and commands), :mod:`.broker` (interface and settings),
:mod:`.simulated` (the simulated broker), :mod:`.matching` and
:mod:`.resting` (price rules and book of resting orders), :mod:`.protection`
(stop/take-profit brackets), :mod:`.armed` and :mod:`.guard_kernel` (brackets
matched by a compiled kernel in backtests), :mod:`.sizing` (rebalance sizing), :mod:`.ledger`
(cash, positions, marks), :mod:`.market` (bar data as the broker sees it),
:mod:`.algos` (TWAP, VWAP), :mod:`.risk_engine`, :mod:`.risk_limits`,
:mod:`.risk_records`, :mod:`.risk_book` and :mod:`.risk_gate` (pre-trade
limits, circuit breakers, trading states; the gate in front of the broker),
:mod:`.feeds` (bar feeds: replay now, live through adapters),
:mod:`.costs` (``CostModel``, ``FillTiming`` and the numba ``fill_cost``
every engine calls).

Governance (loaded on first use, so a backtest does not import the database
layer): :mod:`.gated` and :mod:`.gate_core` (``GatedBroker``: kill switch, autonomy, compliance,
risk and approval in front of any broker), :mod:`.autonomy` (levels L1-L5),
:mod:`.compliance`, :mod:`.approvals`, :mod:`.kill_switch`,
:mod:`.audit_chain` and :mod:`.audit_log` (the hash-chained audit trail),
:mod:`.governance` (the stores together, the market view).
"""

from typing import TYPE_CHECKING, Any

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
    maker_params,
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
from alphaloop.execution.ledger import LIQUIDITY, REASONS, Ledger
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
from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.execution.approvals import (
        Approval,
        ApprovalError,
        ApprovalQueue,
        order_fields,
        order_fingerprint,
    )
    from alphaloop.execution.audit_chain import AuditEntry, ChainBreak, verify_chain
    from alphaloop.execution.audit_log import AuditLog, AuditVerification
    from alphaloop.execution.autonomy import AutonomyError, AutonomyLevel, autonomy_level
    from alphaloop.execution.compliance import (
        ComplianceError,
        ComplianceRefusal,
        ComplianceRules,
        ShortSales,
    )
    from alphaloop.execution.gated import GatedBroker
    from alphaloop.execution.governance import Governance, MarketSnapshot, MarketView
    from alphaloop.execution.kill_switch import KillScope, KillState, KillSwitch, KillSwitchError

# governance name -> its module (explicit, so grep finds every one)
_GOVERNANCE: dict[str, str] = {
    "Approval": "alphaloop.execution.approvals",
    "ApprovalError": "alphaloop.execution.approvals",
    "ApprovalQueue": "alphaloop.execution.approvals",
    "order_fields": "alphaloop.execution.approvals",
    "order_fingerprint": "alphaloop.execution.approvals",
    "AuditEntry": "alphaloop.execution.audit_chain",
    "ChainBreak": "alphaloop.execution.audit_chain",
    "verify_chain": "alphaloop.execution.audit_chain",
    "AuditLog": "alphaloop.execution.audit_log",
    "AuditVerification": "alphaloop.execution.audit_log",
    "AutonomyError": "alphaloop.execution.autonomy",
    "AutonomyLevel": "alphaloop.execution.autonomy",
    "autonomy_level": "alphaloop.execution.autonomy",
    "ComplianceError": "alphaloop.execution.compliance",
    "ComplianceRefusal": "alphaloop.execution.compliance",
    "ComplianceRules": "alphaloop.execution.compliance",
    "ShortSales": "alphaloop.execution.compliance",
    "GatedBroker": "alphaloop.execution.gated",
    "Governance": "alphaloop.execution.governance",
    "MarketSnapshot": "alphaloop.execution.governance",
    "MarketView": "alphaloop.execution.governance",
    "KillScope": "alphaloop.execution.kill_switch",
    "KillState": "alphaloop.execution.kill_switch",
    "KillSwitch": "alphaloop.execution.kill_switch",
    "KillSwitchError": "alphaloop.execution.kill_switch",
}


def __getattr__(name: str) -> Any:
    return load_public(__name__, _GOVERNANCE, name)


__all__ = [
    "COST_CATEGORIES",
    "LIQUIDITY",
    "REASONS",
    "Approval",
    "ApprovalError",
    "ApprovalQueue",
    "AuditEntry",
    "AuditLog",
    "AuditVerification",
    "AutonomyError",
    "AutonomyLevel",
    "BarEvent",
    "Broker",
    "BrokerConfig",
    "CancelOrder",
    "ChainBreak",
    "ComplianceError",
    "ComplianceRefusal",
    "ComplianceRules",
    "CostModel",
    "ExecAlgorithm",
    "Feed",
    "FeedName",
    "FillEvent",
    "FillTiming",
    "GatedBroker",
    "Governance",
    "KillScope",
    "KillState",
    "KillSwitch",
    "KillSwitchError",
    "Ledger",
    "MarketData",
    "MarketSnapshot",
    "MarketView",
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
    "ShortSales",
    "SimulatedBroker",
    "SubmitOrder",
    "TimeInForce",
    "TradingState",
    "Transition",
    "autonomy_level",
    "config_from",
    "cost_preset",
    "describe_preset",
    "execution_lag",
    "fill_cost",
    "impact_inputs",
    "make_parent",
    "maker_params",
    "order_fields",
    "order_fingerprint",
    "parse_feed",
    "preset_name",
    "risk_limits",
    "slice_quantities",
    "verify_chain",
    "volume_profile",
]
