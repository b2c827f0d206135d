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

:class:`LifecycleStore` records each transition (``lifecycle_transitions``,
append-only, with the inputs the gates saw) and the current state
(``strategy_states``) in one transaction, and appends an audit entry
(``lifecycle.promoted``, ``lifecycle.demoted``, ``lifecycle.retired``;
``lifecycle.refused`` for a refused promotion).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from alphaloop.errors import AlphaloopError, ExitCode
from alphaloop.execution.audit_chain import canonical_json
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.policy import LifecycleThresholds
from alphaloop.jsonsafe import json_safe
from alphaloop.store import Database, LifecycleTransitionRow, StrategyStateRow

__all__ = [
    "TRANSITIONS",
    "GateCheck",
    "HealthDecision",
    "LifecycleError",
    "LifecycleEvent",
    "LifecycleState",
    "LifecycleStore",
    "PromotionRefusedError",
    "StrategyLifecycle",
    "TransitionRecord",
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


# ---------------------------------------------------------------------- store
@dataclass(frozen=True, slots=True)
class StrategyLifecycle:
    """A strategy's current state, since when, and the paper session that shadows it."""

    strategy_hash: str
    state: LifecycleState
    since: datetime | None
    transition_id: int | None
    paper_session_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy_hash,
            "state": self.state.value,
            "since": None if self.since is None else self.since.isoformat(),
            "transition_id": self.transition_id,
            "paper_session_id": self.paper_session_id,
        }


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One stored transition, with the inputs its gates saw."""

    id: int
    strategy_hash: str
    from_state: LifecycleState
    to_state: LifecycleState
    event: LifecycleEvent
    at: datetime
    actor: str
    reason: str
    inputs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "strategy": self.strategy_hash,
            "from": self.from_state.value,
            "to": self.to_state.value,
            "event": self.event.value,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "reason": self.reason,
            "inputs": self.inputs,
        }


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _state(row: StrategyStateRow | None, strategy_hash: str) -> StrategyLifecycle:
    if row is None:
        return StrategyLifecycle(strategy_hash, S.BACKTEST, None, None, None)
    return StrategyLifecycle(row.strategy_hash, LifecycleState(row.state), _aware(row.since),
                             row.transition_id, row.paper_session_id)  # fmt: skip


def _record(row: LifecycleTransitionRow) -> TransitionRecord:
    return TransitionRecord(
        row.id, row.strategy_hash, LifecycleState(row.from_state), LifecycleState(row.to_state),
        LifecycleEvent(row.event), _aware(row.at), row.actor, row.reason, json.loads(row.inputs),
    )  # fmt: skip


_AUDIT_ACTION = {E.PROMOTE: "lifecycle.promoted", E.DEMOTE: "lifecycle.demoted",
                 E.RETIRE: "lifecycle.retired"}  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LifecycleStore:
    """Lifecycle states and transitions of one database; every transition audited.

    Parameters
    ----------
    db : Database
    audit : AuditLog
    clock : callable, optional
        Time of a transition (timezone-aware; default now, UTC).
    """

    def __init__(
        self, db: Database, audit: AuditLog, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock

    def get(self, strategy_hash: str) -> StrategyLifecycle:
        """The strategy's state (``backtest`` when it never moved)."""
        with self.db.session() as s:
            return _state(s.get(StrategyStateRow, strategy_hash), strategy_hash)

    def list(self, states: Sequence[LifecycleState] | None = None) -> list[StrategyLifecycle]:
        """Strategies that left ``backtest`` (or went back to it), of ``states``, newest first."""
        q = select(StrategyStateRow).order_by(StrategyStateRow.since.desc())
        if states:
            q = q.where(StrategyStateRow.state.in_([st.value for st in states]))
        with self.db.session() as s:
            return [_state(r, r.strategy_hash) for r in s.scalars(q).all()]

    def transitions(self, strategy_hash: str | None = None) -> list[TransitionRecord]:
        """Transitions, oldest first (of one strategy)."""
        q = select(LifecycleTransitionRow).order_by(LifecycleTransitionRow.id)
        if strategy_hash is not None:
            q = q.where(LifecycleTransitionRow.strategy_hash == strategy_hash)
        with self.db.session() as s:
            return [_record(r) for r in s.scalars(q).all()]

    def apply(
        self,
        strategy_hash: str,
        event: LifecycleEvent,
        *,
        expected: LifecycleState,
        to: LifecycleState | None = None,
        actor: str,
        reason: str,
        inputs: dict[str, Any] | None = None,
        paper_session_id: int | None = None,
    ) -> TransitionRecord:
        """Move the strategy by ``event``; its state must still be ``expected`` (the one
        its gates were checked in), else :class:`LifecycleError`.

        The transition and the new state are written in one transaction,
        then the audit entry is appended (with the inputs).
        """
        if not actor.strip():
            raise AlphaloopError("a lifecycle transition needs the name of who makes it")
        if not reason.strip():
            raise AlphaloopError("a lifecycle transition needs a reason (--reason TEXT)")
        payload = json_safe(dict(inputs or {}))
        with self.db.write_session() as s:
            row = s.get(StrategyStateRow, strategy_hash, with_for_update=True)
            current = _state(row, strategy_hash)
            if current.state is not expected:
                raise LifecycleError(strategy_hash, current.state, to,
                                     f"it moved to {current.state.value} while its gates were "
                                     f"checked in {expected.value}",
                                     hint="check it again")  # fmt: skip
            target = next_state(strategy_hash, current.state, event, to)
            now = self.clock()
            trow = LifecycleTransitionRow(
                strategy_hash=strategy_hash, from_state=current.state.value,
                to_state=target.value, event=event.value, at=now, actor=actor, reason=reason,
                inputs=canonical_json(payload),
            )  # fmt: skip
            s.add(trow)
            s.flush()
            session_id = paper_session_id if paper_session_id is not None else (
                current.paper_session_id)  # fmt: skip
            if row is None:
                s.add(StrategyStateRow(strategy_hash=strategy_hash, state=target.value, since=now,
                                       transition_id=trow.id,
                                       paper_session_id=session_id))  # fmt: skip
            else:
                row.state, row.since, row.transition_id = target.value, now, trow.id
                row.paper_session_id = session_id
            record = _record(trow)
        self.audit.append(actor, _AUDIT_ACTION[event], f"strategy {strategy_hash}",
                          {"from": record.from_state.value, "to": record.to_state.value,
                           "reason": reason, "transition": record.id,
                           "inputs": payload})  # fmt: skip
        return record

    def record_refusal(self, refused: PromotionRefusedError, *, actor: str,
                       inputs: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Audit a refused promotion (``lifecycle.refused``) with its gates and inputs."""
        self.audit.append(actor, "lifecycle.refused", f"strategy {refused.strategy}",
                          {"from": refused.from_state.value, "to": refused.to_state.value,
                           "gates": [g.to_dict() for g in refused.gates],
                           "inputs": json_safe(dict(inputs or {}))})  # fmt: skip
