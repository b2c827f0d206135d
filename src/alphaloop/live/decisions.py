"""The gate's decisions of a session in the database: write with each bar, read back for a
replay, and summed up for ``paper status`` and ``paper report``.

Rows of ``paper_decisions`` (migration 0011) are
:class:`~alphaloop.execution.gate_decisions.GateDecision`; they are written in
the bar's transaction by :class:`~alphaloop.live.records.StoreRecorder`, so
a session killed at any instant has the decisions of exactly the bars it
recorded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import insert, select

from alphaloop.execution.gate_decisions import GateDecision
from alphaloop.store import Database, PaperDecisionRow

__all__ = ["decision_summary", "read_decisions", "write_decisions"]

_T = PaperDecisionRow.__table__


def write_decisions(conn: Any, session_id: int, decisions: list[GateDecision]) -> None:
    """Insert ``decisions`` on ``conn`` (the bar's transaction)."""
    if decisions:
        conn.execute(insert(_T), [{"session_id": session_id, **d.to_dict()} for d in decisions])


def read_decisions(db: Database, session_id: int) -> list[GateDecision]:
    """Every recorded decision of the session, by command and step."""
    with db.session() as s:
        rows = s.execute(
            select(_T).where(_T.c.session_id == session_id).order_by(_T.c.seq, _T.c.step)
        ).all()
    return [
        GateDecision(
            r.seq,
            r.step,
            r.row,
            r.kind,
            r.order_id,
            r.action,
            r.stage,
            r.message,
            r.approval_id,
            dict(r.detail or {}),
        )
        for r in rows
    ]


def decision_summary(decisions: list[GateDecision], *, recent: int = 5) -> dict[str, Any]:
    """What the gate did: counts by action and by refusing stage, commands still waiting
    for approval (with their request ids) and the latest refusals."""
    final: dict[int, GateDecision] = {}
    for d in decisions:
        if d.seq > 0:
            final[d.seq] = d
    actions = Counter(d.action for d in final.values())
    refused = [d for d in final.values() if d.action == "refused"]
    waiting = [d for d in final.values() if d.action == "held"]
    return {
        "commands": len(final),
        "sent": actions.get("sent", 0),
        "refused": len(refused),
        "held": len(waiting),
        "refused_by_stage": dict(Counter(d.stage for d in refused)),
        "canceled_by_gate": sum(1 for d in decisions if d.seq == 0),
        "waiting": [
            {
                "seq": d.seq,
                "kind": d.kind,
                "order_id": d.order_id,
                "approval_id": d.approval_id,
                "row": d.row,
            }
            for d in sorted(waiting, key=lambda d: d.seq)
        ],
        "latest_refusals": [
            {
                "seq": d.seq,
                "kind": d.kind,
                "order_id": d.order_id,
                "row": d.row,
                "stage": d.stage,
                "message": d.message,
            }
            for d in sorted(refused, key=lambda d: d.seq)[-recent:]
        ],
    }
