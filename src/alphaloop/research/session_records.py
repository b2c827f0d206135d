"""Research sessions and agent decisions in the strategy database.

Each function takes an open SQLAlchemy session;
:class:`~alphaloop.research.strategy_db.StrategyDB` opens it. A session row
holds the goal, constraints and configuration, the status (``running``,
``finished``, ``interrupted``, ``failed``), the models at the start and the
end, the summary and the one holdout result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alphaloop.errors import ConfigError, ResearchSessionNotFoundError
from alphaloop.jsonsafe import json_safe
from alphaloop.research.strategy_records import (
    DecisionRecord,
    EvaluationRecord,
    decision_record,
    evaluation_record,
    iso,
)
from alphaloop.store.models import AgentDecisionRow, EvaluationRow, ResearchSessionRow

__all__ = [
    "SESSION_STATUSES",
    "create_session",
    "decisions",
    "interrupt_session",
    "record_decisions",
    "session",
    "session_evaluations",
    "sessions",
    "update_session",
]

SESSION_STATUSES = ("running", "finished", "interrupted", "failed")
#: fields update_session may set, and whether they hold JSON
_UPDATABLE = {
    "status": False,
    "n_batches": False,
    "finished_at": False,
    "goal": False,
    "models_end": True,
    "summary": True,
    "holdout": True,
    "config": True,
    "constraints": True,
}


def create_session(
    s: Session,
    dataset: str,
    goal: str,
    constraints: dict[str, Any],
    config: dict[str, Any],
    models_start: list[Any],
) -> int:
    row = ResearchSessionRow(
        dataset=dataset,
        goal=goal,
        constraints=json_safe(dict(constraints)),
        config=json_safe(dict(config)),
        status="running",
        n_batches=0,
        models_start=json_safe(list(models_start)),
        created_at=datetime.now(UTC),
    )
    s.add(row)
    s.flush()
    return int(row.id)


def _get(s: Session, session_id: int) -> ResearchSessionRow:
    row = s.get(ResearchSessionRow, session_id)
    if row is None:
        raise ResearchSessionNotFoundError(
            f"no research session {session_id} in this workspace",
            hint="see `alphaloop strategies sessions`",
        )
    return row


def _as_dict(row: ResearchSessionRow, n_evaluations: int | None = None) -> dict[str, Any]:
    doc = {
        "id": row.id,
        "dataset": row.dataset,
        "goal": row.goal,
        "constraints": row.constraints,
        "config": row.config,
        "status": row.status,
        "n_batches": row.n_batches,
        "models_start": row.models_start,
        "models_end": row.models_end,
        "summary": row.summary,
        "holdout": row.holdout,
        "created_at": iso(row.created_at),
        "finished_at": iso(row.finished_at),
    }
    if n_evaluations is not None:
        doc["n_evaluations"] = n_evaluations
    return doc


def _counts(s: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    q = (
        select(EvaluationRow.session_id, func.count())
        .where(EvaluationRow.session_id.in_(ids))
        .group_by(EvaluationRow.session_id)
    )
    return {int(sid): int(n) for sid, n in s.execute(q).all()}


def session(s: Session, session_id: int) -> dict[str, Any]:
    row = _get(s, session_id)
    return _as_dict(row, _counts(s, [row.id]).get(row.id, 0))


def sessions(s: Session, limit: int = 20) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(ResearchSessionRow).order_by(ResearchSessionRow.id.desc()).limit(limit)
    ).all()
    counts = _counts(s, [r.id for r in rows])
    return [_as_dict(r, counts.get(r.id, 0)) for r in rows]


def update_session(s: Session, session_id: int, fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(_UPDATABLE))
    if unknown:
        raise ConfigError(
            f"cannot set research session field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(_UPDATABLE)}"
        )
    status = fields.get("status")
    if status is not None and status not in SESSION_STATUSES:
        raise ConfigError(f"session status {status!r} is not one of {SESSION_STATUSES}")
    row = _get(s, session_id)
    for name, is_json in _UPDATABLE.items():
        if name in fields:
            value = fields[name]
            setattr(row, name, json_safe(value) if is_json else value)


def interrupt_session(s: Session, session_id: int) -> bool:
    """Mark the session ``interrupted`` if it is still ``running`` (one conditional update:
    a session that finished, failed or was interrupted meanwhile is left as it is); whether
    it was changed."""
    result = s.execute(
        update(ResearchSessionRow)
        .where(ResearchSessionRow.id == session_id, ResearchSessionRow.status == "running")
        .values(status="interrupted")
    )
    return bool(getattr(result, "rowcount", 0))


def record_decisions(s: Session, session_id: int, records: list[DecisionRecord]) -> None:
    _get(s, session_id)
    now = datetime.now(UTC)
    for d in records:
        s.add(
            AgentDecisionRow(
                session_id=session_id,
                seq=d.seq,
                batch=d.batch,
                agent=d.agent,
                action=d.action,
                operator=d.operator,
                strategy_hash=d.strategy_hash,
                parents=list(d.parents),
                rationale=d.rationale,
                context=json_safe(dict(d.context)),
                trials_before=d.trials_before,
                created_at=now,
            )
        )
    s.flush()


def decisions(s: Session, session_id: int) -> list[DecisionRecord]:
    rows = s.scalars(
        select(AgentDecisionRow)
        .where(AgentDecisionRow.session_id == session_id)
        .order_by(AgentDecisionRow.seq)
    ).all()
    return [decision_record(r) for r in rows]


def session_evaluations(s: Session, session_id: int, protocol: str) -> list[EvaluationRecord]:
    rows = s.scalars(
        select(EvaluationRow)
        .where(EvaluationRow.session_id == session_id, EvaluationRow.protocol == protocol)
        .order_by(EvaluationRow.created_at, EvaluationRow.strategy_hash)
    ).all()
    return [evaluation_record(r) for r in rows]
