"""The built-in event types of the live loop (all version 1).

Events are named for what happened, in the past tense; ``type`` is the short
wire name. Prices are in the instrument's quote currency, quantities in
shares or units (always positive; ``side`` gives the direction), times are
timezone-aware UTC.

=========================  ========================  ====================================
class                      ``type``                  payload
=========================  ========================  ====================================
:class:`BarClosed`         ``bar``                   :class:`Bar`, one OHLCV bar
:class:`SignalEmitted`     ``signal``                :class:`Signal`, a strategy's value
:class:`OrderSubmitted`    ``order``                 :class:`OrderRequest`, an order
:class:`OrderFilled`       ``fill``                  :class:`Fill`, an execution
:class:`RiskStateChanged`  ``risk_state``            :class:`RiskState`, the book's risk
:class:`PolicyChanged`     ``policy_change``         :class:`PolicyChange`, who, what, why
``LifecycleTransitioned``  ``lifecycle_transition``  :class:`LifecycleTransition`
:class:`ModelReleased`     ``model_release``         :class:`ModelRelease`, a new version
:class:`AlertRaised`       ``alert``                 :class:`Alert`, needs attention
:class:`PnlTicked`         ``pnl_tick``              :class:`PnlTick`, equity and P&L now
=========================  ========================  ====================================
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

from alphaloop.live.bus.events import Event, Payload, register_event

__all__ = [
    "Alert",
    "AlertRaised",
    "Bar",
    "BarClosed",
    "Fill",
    "LifecycleTransition",
    "LifecycleTransitioned",
    "ModelRelease",
    "ModelReleased",
    "OrderFilled",
    "OrderRequest",
    "OrderSubmitted",
    "PnlTick",
    "PnlTicked",
    "PolicyChange",
    "PolicyChanged",
    "RiskState",
    "RiskStateChanged",
    "Signal",
    "SignalEmitted",
]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Side = Literal["buy", "sell"]
#: the policy store's risk modes; any case is read, lower case is stored
RiskMode = Annotated[Literal["aggressive", "normal", "defensive"], BeforeValidator(_lower)]
#: the lifecycle's states; any case is read, lower case is stored
LifecycleState = Annotated[
    Literal["backtest", "shadow", "live", "retired"], BeforeValidator(_lower)
]

_Symbol = Field(min_length=1, max_length=64)
_Positive = Field(gt=0, allow_inf_nan=False)
_NonNegative = Field(ge=0, allow_inf_nan=False)


class Bar(Payload):
    """One OHLCV bar of ``symbol`` that closed at ``end`` (``low <= open, close <= high``)."""

    symbol: str = _Symbol
    end: AwareDatetime
    open: float = _Positive
    high: float = _Positive
    low: float = _Positive
    close: float = _Positive
    volume: float = _NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Bar:
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise ValueError(
                f"prices out of order: open={self.open}, high={self.high}, "
                f"low={self.low}, close={self.close} (need low <= open, close <= high)"
            )
        return self


class Signal(Payload):
    """A strategy's signal ``value`` for ``symbol`` at the bar that ended at ``bar_end``."""

    strategy: str = Field(min_length=1)
    symbol: str = _Symbol
    value: float = Field(allow_inf_nan=False)
    bar_end: AwareDatetime


class OrderRequest(Payload):
    """An order sent to a broker: ``limit_price`` is required for, and only for, limit orders."""

    order_id: str = Field(min_length=1)
    strategy: str = ""
    symbol: str = _Symbol
    side: Side
    quantity: float = _Positive
    order_type: Literal["market", "limit"] = "market"
    limit_price: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _limit(self) -> OrderRequest:
        if (self.order_type == "limit") != (self.limit_price is not None):
            raise ValueError("limit_price is required for limit orders and only for them")
        return self


class Fill(Payload):
    """An execution of ``quantity`` at ``price`` for order ``order_id`` (commission in currency)."""

    fill_id: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    symbol: str = _Symbol
    side: Side
    quantity: float = _Positive
    price: float = _Positive
    commission: float = _NonNegative


class RiskState(Payload):
    """The book's risk: exposures and drawdown as fractions of equity, VaR as a loss fraction;
    ``mode`` is the policy's risk mode (aggressive, normal or defensive)."""

    mode: RiskMode
    equity: float = Field(allow_inf_nan=False)
    gross_exposure: float = _NonNegative
    net_exposure: float = Field(allow_inf_nan=False)
    drawdown: float = Field(ge=0, le=1, allow_inf_nan=False)
    var_95: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    kill_switch: bool = False
    breached: tuple[str, ...] = ()


class PolicyChange(Payload):
    """A change to the policy store: ``changes`` maps a setting to its new value."""

    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    changes: dict[str, JsonValue] = Field(min_length=1)
    risk_mode: RiskMode | None = None


class LifecycleTransition(Payload):
    """Strategy ``strategy`` moved from ``from_state`` to ``to_state`` (backtest, shadow,
    live or retired; ``actor`` and why)."""

    strategy: str = Field(min_length=1)
    from_state: LifecycleState
    to_state: LifecycleState
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _moved(self) -> LifecycleTransition:
        if self.from_state == self.to_state:
            raise ValueError(f"from_state and to_state are both {self.from_state}")
        return self


class ModelRelease(Payload):
    """Version ``version`` of model ``model`` replaced ``previous`` (None for the first)."""

    model: str = Field(min_length=1)
    version: int = Field(ge=1)
    previous: int | None = Field(default=None, ge=1)
    reason: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"metrics must be finite: {bad}")
        return value


class Alert(Payload):
    """Something needs attention: ``severity``, who raised it and a one-line message."""

    severity: Literal["info", "warning", "critical"]
    source: str = Field(min_length=1)
    message: str = Field(min_length=1)
    subject: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class PnlTick(Payload):
    """A session's or strategy's equity and P&L now, in the currency of its capital
    (the live loop's sleeves keep unit accounts: equity starts at 1.0).

    ``pnl`` is equity minus the starting equity; ``pnl_day`` is the change over the
    last bar (daily bars) or since the day's first equity, None when unknown.
    """

    session: str = Field(min_length=1, max_length=200)
    strategy: str | None = Field(default=None, min_length=1, max_length=200)
    equity: float = Field(allow_inf_nan=False)
    pnl: float = Field(allow_inf_nan=False, description="Equity minus the starting capital.")
    pnl_day: float | None = Field(default=None, allow_inf_nan=False)


@register_event
class BarClosed(Event):
    """A bar closed (market data)."""

    type: Literal["bar"] = "bar"
    version: Literal[1] = 1
    payload: Bar


@register_event
class SignalEmitted(Event):
    """A strategy emitted a signal."""

    type: Literal["signal"] = "signal"
    version: Literal[1] = 1
    payload: Signal


@register_event
class OrderSubmitted(Event):
    """An order was submitted."""

    type: Literal["order"] = "order"
    version: Literal[1] = 1
    payload: OrderRequest


@register_event
class OrderFilled(Event):
    """An order was (partly) filled."""

    type: Literal["fill"] = "fill"
    version: Literal[1] = 1
    payload: Fill


@register_event
class RiskStateChanged(Event):
    """The book's risk state changed."""

    type: Literal["risk_state"] = "risk_state"
    version: Literal[1] = 1
    payload: RiskState


@register_event
class PolicyChanged(Event):
    """The policy store changed."""

    type: Literal["policy_change"] = "policy_change"
    version: Literal[1] = 1
    payload: PolicyChange


@register_event
class LifecycleTransitioned(Event):
    """A strategy moved through its lifecycle."""

    type: Literal["lifecycle_transition"] = "lifecycle_transition"
    version: Literal[1] = 1
    payload: LifecycleTransition


@register_event
class ModelReleased(Event):
    """A model version was released."""

    type: Literal["model_release"] = "model_release"
    version: Literal[1] = 1
    payload: ModelRelease


@register_event
class AlertRaised(Event):
    """An alert was raised."""

    type: Literal["alert"] = "alert"
    version: Literal[1] = 1
    payload: Alert


@register_event
class PnlTicked(Event):
    """A P&L tick of a paper or live session, or of one sleeve of the live loop."""

    type: Literal["pnl_tick"] = "pnl_tick"
    version: Literal[1] = 1
    payload: PnlTick
