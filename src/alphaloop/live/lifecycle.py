"""The strategy lifecycle: BACKTEST -> SHADOW -> LIVE -> RETIRED as an explicit state machine.

A strategy of the strategy database starts in ``backtest``. Events move it
along a fixed table (:data:`TRANSITIONS`, keyed by ``(state, event)``):

===========  ===========  ===========
from         event        to
===========  ===========  ===========
backtest     promote      shadow
shadow       promote      live
live         demote       shadow
shadow       demote       backtest
backtest     retire       retired
shadow       retire       retired
live         retire       retired
===========  ===========  ===========

Anything else (backtest straight to live, leaving ``retired``, promoting a
live strategy) raises :class:`LifecycleError` naming the states and why.
Promotions pass gates first (:class:`GateCheck`, see
:mod:`alphaloop.app.lifecycle` for what feeds them): to ``shadow`` the
validation verdict; to ``live`` the shadow period, the shadow-vs-backtest
tracking difference, the deflated Sharpe ratio with the dataset's trial
count at the time, and the approval the autonomy level requires. A
refused promotion raises :class:`PromotionRefusedError` (every gate's result).
:func:`review_health` decides demotion or retirement from a running
strategy's drawdown, its Sharpe ratio or IC against the validation's, and
the policy.

:class:`~alphaloop.live.lifecycle_store.LifecycleStore` records each
transition with its inputs, the current states, and the audit entries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from alphaloop.errors import AlphaloopError, ExitCode
from alphaloop.execution.policy import LifecycleThresholds
from alphaloop.jsonsafe import json_safe

__all__ = [
    "TRANSITIONS",
    "GateCheck",
    "HealthDecision",
    "LifecycleError",
    "LifecycleEvent",
    "LifecycleState",
    "PromotionRefusedError",
    "next_state",
    "review_health",
]


class LifecycleState(StrEnum):
    """Where a strategy stands: researched, shadow (paper) traded, live, or retired."""

    BACKTEST = "backtest"
    SHADOW = "shadow"
    LIVE = "live"
    RETIRED = "retired"


class LifecycleEvent(StrEnum):
    """What moves a strategy: a promotion, a demotion, a retirement."""

    PROMOTE = "promote"
    DEMOTE = "demote"
    RETIRE = "retire"


S, E = LifecycleState, LifecycleEvent

#: (state, event) -> the state it leads to; nothing else is a transition
TRANSITIONS: dict[tuple[LifecycleState, LifecycleEvent], LifecycleState] = {
    (S.BACKTEST, E.PROMOTE): S.SHADOW,
    (S.SHADOW, E.PROMOTE): S.LIVE,
    (S.LIVE, E.DEMOTE): S.SHADOW,
    (S.SHADOW, E.DEMOTE): S.BACKTEST,
    (S.BACKTEST, E.RETIRE): S.RETIRED,
    (S.SHADOW, E.RETIRE): S.RETIRED,
    (S.LIVE, E.RETIRE): S.RETIRED,
}

_WHY: dict[tuple[LifecycleState, LifecycleEvent], str] = {
    (S.LIVE, E.PROMOTE): "it is already live, the last stage",
    (S.BACKTEST, E.DEMOTE): "backtest is the first stage",
    (S.RETIRED, E.PROMOTE): "retirement is final: record the strategy anew to trade it again",
    (S.RETIRED, E.DEMOTE): "retirement is final",
    (S.RETIRED, E.RETIRE): "it is already retired",
}


class LifecycleError(AlphaloopError):
    """A transition the state machine does not allow: names from, to and why.

    Attributes ``strategy``, ``from_state``, ``to_state`` (None when the
    event leads nowhere) and ``why``.
    """

    def __init__(
        self,
        strategy: str,
        from_state: LifecycleState,
        to_state: LifecycleState | None,
        why: str,
        *,
        hint: str | None = None,
    ) -> None:
        target = to_state.value if to_state is not None else "(none)"
        super().__init__(
            f"strategy {strategy[:12]}: cannot move from {from_state.value} to {target}: {why}",
            hint=hint,
        )
        self.strategy = strategy
        self.from_state = from_state
        self.to_state = to_state
        self.why = why


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One gate of a promotion: passed or not, its value, threshold and a sentence."""

    name: str
    passed: bool
    value: Any
    threshold: Any
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"name": self.name, "passed": self.passed, "value": self.value,
                          "threshold": self.threshold, "reason": self.reason})  # fmt: skip


class PromotionRefusedError(AlphaloopError):
    """A promotion whose gates did not all pass (exit code 1: a gate said no)."""

    exit_code = ExitCode.CHECK_FAILED

    def __init__(
        self, strategy: str, from_state: LifecycleState, to_state: LifecycleState,
        gates: Sequence[GateCheck], *, hint: str | None = None,
    ) -> None:  # fmt: skip
        failing = [g for g in gates if not g.passed]
        super().__init__(
            f"strategy {strategy[:12]}: promotion from {from_state.value} to {to_state.value} "
            "refused: " + "; ".join(g.reason for g in failing),
            hint=hint,
        )
        self.strategy = strategy
        self.from_state = from_state
        self.to_state = to_state
        self.gates = list(gates)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "gates": [g.to_dict() for g in self.gates]}


def next_state(
    strategy: str,
    state: LifecycleState,
    event: LifecycleEvent,
    to: LifecycleState | None = None,
) -> LifecycleState:
    """The state ``event`` leads to from ``state`` (checked against ``to`` when given).

    Raises
    ------
    LifecycleError
        The event is not allowed from ``state``, or leads elsewhere than ``to``.
    """
    target = TRANSITIONS.get((state, event))
    if target is None:
        why = _WHY.get((state, event), f"{event.value} is not allowed from {state.value}")
        raise LifecycleError(strategy, state, to, why)
    if to is not None and to is not target:
        if (state, to) == (S.BACKTEST, S.LIVE):
            why = "a strategy reaches live only through shadow trading"
            hint = "promote it to shadow first and trade it on paper"
        else:
            why = f"{event.value} from {state.value} leads to {target.value}"
            hint = f"use --to {target.value}"
        raise LifecycleError(strategy, state, to, why, hint=hint)
    return target


# --------------------------------------------------------------------- health
@dataclass(frozen=True, slots=True)
class HealthDecision:
    """A demotion or retirement :func:`review_health` calls for, and every reason."""

    event: LifecycleEvent
    reasons: tuple[str, ...]
    inputs: dict[str, Any] = field(default_factory=dict)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def review_health(
    state: LifecycleState,
    thresholds: LifecycleThresholds,
    *,
    drawdown: float | None = None,
    sharpe: float | None = None,
    validation_sharpe: float | None = None,
    ic: float | None = None,
    validation_ic: float | None = None,
    policy_block: str | None = None,
) -> HealthDecision | None:
    """Whether a shadow or live strategy should be demoted or retired, and why.

    ``drawdown``: from the account's equity peak (fraction, >= 0);
    ``sharpe`` / ``validation_sharpe``: annualized Sharpe ratios of the
    running account and of the validation backtest; ``ic`` /
    ``validation_ic``: rank ICs likewise; ``policy_block``: the policy's
    reason when it blocks the strategy. Retirement wins over demotion: a
    drawdown at ``retire_drawdown``; demotion on a drawdown at
    ``demote_drawdown``, a Sharpe ratio or IC below the ``min_*_ratio``
    share of the validation's (decay; only when the validation's is
    positive), or a policy block. None when nothing calls for a change (and
    always for ``backtest`` and ``retired``).
    """
    if state not in (S.SHADOW, S.LIVE):
        return None
    inputs = json_safe({"drawdown": drawdown, "sharpe": sharpe,
                        "validation_sharpe": validation_sharpe, "ic": ic,
                        "validation_ic": validation_ic, "policy_block": policy_block,
                        "thresholds": thresholds.model_dump()})  # fmt: skip
    if _finite(drawdown) and drawdown >= thresholds.retire_drawdown:  # type: ignore[operator]
        return HealthDecision(E.RETIRE, (f"drawdown {drawdown:.2%} reached the retirement "
                                         f"threshold {thresholds.retire_drawdown:.2%}",),
                              inputs)  # fmt: skip
    reasons: list[str] = []
    if _finite(drawdown) and drawdown >= thresholds.demote_drawdown:  # type: ignore[operator]
        reasons.append(f"drawdown {drawdown:.2%} reached the demotion threshold "
                       f"{thresholds.demote_drawdown:.2%}")  # fmt: skip
    for label, now, then, ratio in (
        ("Sharpe ratio", sharpe, validation_sharpe, thresholds.min_sharpe_ratio),
        ("IC", ic, validation_ic, thresholds.min_ic_ratio),
    ):
        if _finite(now) and _finite(then) and then > 0 and now < ratio * then:  # type: ignore[operator]
            reasons.append(f"{label} decayed: {now:.3g} is below {ratio:g} x the "
                           f"validation's {then:.3g}")  # fmt: skip
    if policy_block:
        reasons.append(policy_block)
    if not reasons:
        return None
    # a shadow strategy that decays goes back to research; a live one back to shadow
    return HealthDecision(E.DEMOTE, tuple(reasons), inputs)
