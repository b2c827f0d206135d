"""Use case: the running system at a glance (``alphaloop status``).

Strategies by lifecycle state, the risk mode and blocked names, paper and live
sessions with equity, production models with their age and alerts, active kills and
approvals waiting for a person. Read-only: nothing is written.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from alphaloop.app.workspace import Workspace

__all__ = ["system_status"]

_OPEN_SESSIONS = ("created", "running", "interrupted")


def _models(ws: Workspace, now: datetime) -> list[dict[str, Any]]:
    out = []
    for v in ws.models.list(stage="production"):
        end = v.label_end or v.train_end
        age = None if end is None else (now - end).total_seconds() / 86400.0
        out.append(
            {
                "ref": v.ref,
                "family": v.family,
                "dataset": v.dataset,
                "data_end": None if end is None else end.isoformat(),
                "age_days": age,
                "alerts": len(ws.models.alerts(v.ref)),
            }
        )
    return sorted(out, key=lambda m: m["ref"])


def _pending_approvals(ws: Workspace, now: datetime) -> int:
    """Requests waiting for a person and not yet expired (counted without expiring
    the due ones, which would be a write)."""
    from sqlalchemy import func, select

    from alphaloop.store.governance import ApprovalRow

    q = select(func.count()).where(ApprovalRow.status == "pending", ApprovalRow.expires_at > now)
    with ws.db.session() as s:
        return int(s.scalar(q) or 0)


def system_status(ws: Workspace, *, now: datetime | None = None) -> dict[str, Any]:
    """The system's state as a JSON-ready dict.

    Keys: ``risk_mode``, ``blocked`` (symbols and strategies), ``strategies``
    (counts by lifecycle state and the list), ``sessions`` (open paper or live
    sessions), ``models`` (production versions with ``age_days`` since the end of
    their data and recorded ``alerts``), ``kills`` (active), ``approvals_pending``.
    ``now`` (UTC) sets the clock model ages are measured by.
    """
    from alphaloop.app.governance import kill_status
    from alphaloop.app.lifecycle import lifecycle_list
    from alphaloop.app.paper import paper_sessions
    from alphaloop.app.policy import show_policy

    now = now or datetime.now(UTC)
    policy = show_policy(ws)
    strategies = lifecycle_list(ws)
    sessions = [
        {
            "id": s.id,
            "name": s.name,
            "feed": s.feed,
            "state": s.state,
            "bars": s.position,
            "equity": s.equity,
            "last_bar": None if s.last_bar is None else s.last_bar.isoformat(),
        }
        for s in paper_sessions(ws)
        if s.state in _OPEN_SESSIONS
    ]
    pending = _pending_approvals(ws, now)
    return {
        "as_of": now.isoformat(),
        "risk_mode": policy["mode"],
        "blocked": {
            "symbols": list(policy.get("blocked_symbols", [])),
            "strategies": list(policy.get("blocked_strategies", [])),
        },
        "strategies": {
            "by_state": dict(Counter(s["state"] for s in strategies)),
            "list": strategies,
        },
        "sessions": sessions,
        "models": _models(ws, now),
        "kills": kill_status(ws)["active"],
        "approvals_pending": pending,
    }
