"""What the risk engine records: trading states, refusals and state transitions.

Plain frozen records the caller can store (a backtest result, a live log).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Refusal", "TradingState", "Transition"]

_STATE_LIMITS = {
    "halted": "trading is halted (state HALTED)",
    "reducing_only": "only orders that reduce a position pass (state REDUCING)",
    "restricted": "the asset is on the restricted list (reductions only)",
    "policy_symbol": "the policy blocks the asset or leaves it off its allow list "
    "(reductions only)",
    "policy_strategy": "the policy blocks the strategy or leaves it off its allow list "
    "(reductions only)",
}


class TradingState(StrEnum):
    """What the engine lets through: everything, reductions only, or nothing."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An order the engine refused: which limit, the value and the threshold.

    ``value`` and ``threshold`` are in the limit's unit (fraction of equity
    for weights and leverage, currency for notionals, orders for rates).
    """

    order_id: int
    asset: str
    limit: str
    value: float
    threshold: float
    now: float

    @property
    def message(self) -> str:
        if self.limit in _STATE_LIMITS:
            return f"risk: order #{self.order_id} {self.asset} refused: {_STATE_LIMITS[self.limit]}"
        return (
            f"risk: order #{self.order_id} {self.asset} refused by {self.limit}: "
            f"{self.value:.6g} vs limit {self.threshold:.6g}"
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of trading state and why (the limit, its value and threshold when one)."""

    now: float
    before: TradingState
    after: TradingState
    reason: str
    limit: str = ""
    value: float = math.nan
    threshold: float = math.nan
