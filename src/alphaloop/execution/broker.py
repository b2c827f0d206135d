"""The broker interface, and the settings of the simulated broker.

A strategy talks to a :class:`Broker` only through commands
(:class:`~alphaloop.execution.events.SubmitOrder`, ``CancelOrder``,
``ModifyOrder``, ``RebalanceToWeights``) and a few queries, and hears back
through order events. The simulated broker
(:class:`~alphaloop.execution.simulated.SimulatedBroker`) implements it
against historical bars; a paper or live broker implements the same methods
against a venue, so a strategy runs unchanged in all three.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.execution.costs import CostModel, FillTiming
from alphaloop.execution.events import (
    CancelOrder,
    ModifyOrder,
    OrderEvent,
    RebalanceToWeights,
    SubmitOrder,
)
from alphaloop.execution.orders import Order
from alphaloop.execution.risk_limits import RiskLimits

__all__ = ["Broker", "BrokerConfig"]


@runtime_checkable
class Broker(Protocol):
    """What the event engine and a strategy's context need from a broker."""

    def new_order_id(self) -> int:
        """A fresh order id, unique within the account's session."""
        ...

    def submit(self, command: SubmitOrder) -> None:
        """Take a new order; its fate arrives as events."""
        ...

    def cancel(self, command: CancelOrder) -> bool:
        """Cancel a working order; False when it is no longer working."""
        ...

    def modify(self, command: ModifyOrder) -> None:
        """Change a working order's quantity or prices."""
        ...

    def rebalance(self, command: RebalanceToWeights) -> None:
        """Trade the account to target weights, sized at the fill prices."""
        ...

    def position(self, asset: str) -> float:
        """Signed shares held."""
        ...

    def positions(self) -> dict[str, float]:
        """Every non-zero position, by asset."""
        ...

    @property
    def cash(self) -> float:
        """Cash now (negative when borrowing on margin)."""
        ...

    @property
    def equity(self) -> float:
        """Cash plus positions at their latest prices."""
        ...

    def open_orders(self, asset: str | None = None) -> list[Order]:
        """Orders still working (for one asset, or all)."""
        ...

    def drain_events(self) -> list[OrderEvent]:
        """Events since the last call, oldest first."""
        ...


class BrokerConfig(BaseModel):
    """Settings of the simulated broker.

    Parameters
    ----------
    fills : FillTiming, default next_open
        When market orders and rebalances decided after a bar's close fill.
    costs : CostModel, default CostModel()
        Costs of every fill (the model the vectorized simulator uses).
    initial_capital : float, default 1e6
        Starting cash, in the account currency.
    max_leverage : float, default 1.0
        Cap on ``sum |w|`` of a rebalance's target weights; above 1 cash may
        go negative (a margin loan).
    allow_short : bool, default False
    participation : float, optional
        At most this share of a bar's volume trades per asset on that bar
        (all of the asset's orders together); what is left keeps working
        (GTC, DAY until the day ends) or is canceled (IOC). None = no cap.
    lot_size : float or tuple of float, default 0
        Rebalance quantities are rounded toward zero to multiples of it (per
        asset when a tuple); 0 = fractional shares. Capped fills are rounded
        down to it too.
    min_trade_value : float, default 0
        Rebalance trades smaller than this notional are skipped (exits always trade).
    risk : RiskLimits, optional
        Limits of the :class:`~alphaloop.execution.risk_engine.RiskEngine`
        every order and rebalance leg passes before it is accepted; a refused
        order is rejected with the limit, its value and the threshold.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fills: FillTiming = FillTiming.NEXT_OPEN
    costs: CostModel = Field(default_factory=CostModel)
    initial_capital: float = Field(1_000_000.0, gt=0, allow_inf_nan=False)
    max_leverage: float = Field(1.0, gt=0, allow_inf_nan=False)
    allow_short: bool = False
    participation: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    lot_size: float | tuple[float, ...] = 0.0
    min_trade_value: float = Field(0.0, ge=0, allow_inf_nan=False)
    risk: RiskLimits | None = None

    @property
    def cash_only(self) -> bool:
        """No leverage and no shorts: buys must be paid from cash."""
        return self.max_leverage <= 1.0 and not self.allow_short
