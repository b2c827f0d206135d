"""Autonomy levels: how much the system may do without a person.

========  ==========================================================  ================
level     what happens to an order                                    needs
========  ==========================================================  ================
``L1``    signals only: no order leaves; each one is recorded         nothing
``L2``    a person approves each order (the approval queue)           nothing
``L3``    automatic, within hard limits a person set                  risk limits
``L4``    fully automatic, every decision audited                     risk limits and
                                                                      a loss breaker
``L5``    as L4, and agents may change the strategy (each change      as L4
          is recorded), still inside the hard limits
========  ==========================================================  ================

"Risk limits" means a :class:`~alphaloop.execution.risk_engine.RiskEngine`
whose :class:`~alphaloop.execution.risk_limits.RiskLimits` are set (at
least one limit). A *loss breaker* is ``max_daily_loss`` or
``max_drawdown``: a system that runs with nobody watching must stop itself
when it loses. The levels are enforced by
:class:`~alphaloop.execution.gated.GatedBroker`, never by strategy code.
"""

from __future__ import annotations

from enum import StrEnum

from alphaloop.errors import AlphaloopError
from alphaloop.execution.risk_limits import RiskLimits

__all__ = ["AutonomyError", "AutonomyLevel", "autonomy_level", "check_autonomy_setup"]


class AutonomyError(AlphaloopError):
    """An autonomy level that the setup does not allow (missing limits, an unknown level)."""


class AutonomyLevel(StrEnum):
    """L1 signals only ... L5 agents may also change the strategy (see the module table)."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"
    L5 = "L5"

    @property
    def sends_orders(self) -> bool:
        return self is not AutonomyLevel.L1

    @property
    def needs_approval(self) -> bool:
        return self is AutonomyLevel.L2

    @property
    def needs_limits(self) -> bool:
        return self in (AutonomyLevel.L3, AutonomyLevel.L4, AutonomyLevel.L5)

    @property
    def needs_loss_breaker(self) -> bool:
        return self in (AutonomyLevel.L4, AutonomyLevel.L5)

    @property
    def agents_change_strategy(self) -> bool:
        return self is AutonomyLevel.L5


def autonomy_level(value: AutonomyLevel | str | int) -> AutonomyLevel:
    """``L1``..``L5`` (or 1..5) as an :class:`AutonomyLevel`; an AutonomyError lists them."""
    if isinstance(value, AutonomyLevel):
        return value
    text = f"L{value}" if isinstance(value, int) else str(value).strip().upper()
    try:
        return AutonomyLevel(text)
    except ValueError:
        allowed = ", ".join(level.value for level in AutonomyLevel)
        raise AutonomyError(
            f"unknown autonomy level {value!r}", hint=f"allowed: {allowed}"
        ) from None


def check_autonomy_setup(
    level: AutonomyLevel,
    limits: RiskLimits | None,
    limits_set_by: str | None,
    *,
    simulated: bool = False,
) -> None:
    """Refuse to start ``level`` without what it needs (see the module table).

    ``simulated``: the gate sits in front of a simulated venue (paper
    trading), where no money moves: L3..L5 then run without hard limits when
    none are given (the gate's ``gate.started`` entry records it). Limits that
    are given still need a named person. A gate in front of a venue never
    passes ``simulated``.
    """
    if not level.needs_limits:
        return
    if simulated and (limits is None or not limits.active):
        return
    if limits is None or not limits.active:
        raise AutonomyError(
            f"autonomy {level.value} runs automatically within hard limits, and no risk "
            "limit is set",
            hint="give the gate a RiskEngine with limits (e.g. max_weight, max_gross)",
        )
    if not (limits_set_by or "").strip():
        raise AutonomyError(
            f"autonomy {level.value}: the hard limits must be set by a named person",
            hint="pass limits_set_by=NAME",
        )
    if level.needs_loss_breaker and limits.max_daily_loss is None and limits.max_drawdown is None:
        raise AutonomyError(
            f"autonomy {level.value} runs with nobody watching and needs a loss breaker: "
            "max_daily_loss or max_drawdown",
            hint="set one of them in the risk limits, or run at L3",
        )
