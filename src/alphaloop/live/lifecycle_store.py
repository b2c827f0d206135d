"""The lifecycle's record: current states and the append-only history of transitions.

:class:`LifecycleStore` writes each transition (``lifecycle_transitions``,
with the inputs its gates saw) and the strategy's new state
(``strategy_states``) in one transaction, checking that the state is still
the one the gates were checked in, then appends the audit entry
(``lifecycle.promoted``, ``lifecycle.demoted``, ``lifecycle.retired``);
a refused promotion is audited as ``lifecycle.refused``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from alphaloop.errors import AlphaloopError
from alphaloop.execution.audit_chain import canonical_json
from alphaloop.execution.audit_log import AuditLog
from alphaloop.jsonsafe import json_safe
from alphaloop.live.lifecycle import (
    LifecycleError,
    LifecycleEvent,
    LifecycleState,
    PromotionRefusedError,
    next_state,
)
from alphaloop.store import Database, LifecycleTransitionRow, StrategyStateRow

__all__ = ["LifecycleStore", "StrategyLifecycle", "TransitionRecord"]

S, E = LifecycleState, LifecycleEvent


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
