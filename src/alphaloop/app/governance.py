"""Governance of a workspace: its audit log, kill switch and approval queue.

Thin wiring of :class:`~alphaloop.execution.Governance` to the workspace's
database, for the CLI (``alphaloop audit``, ``kill``, ``approvals``), the
Python API and paper and live sessions.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from alphaloop.app.workspace import Workspace
from alphaloop.errors import UsageError
from alphaloop.execution import Governance, KillScope

__all__ = ["current_user", "governance", "kill_status", "parse_anchor", "parse_since", "set_kill"]


def governance(ws: Workspace, *, approval_ttl_s: float = 900.0) -> Governance:
    """The audit log, kill switch and approval queue of ``ws``'s database."""
    return Governance.open(ws.db, approval_ttl_s=approval_ttl_s)


def current_user() -> str:
    """The login name (who a command run by hand acts as), or ``unknown``."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:
        return "unknown"


def parse_since(text: str | None) -> datetime | None:
    """``--since`` as a UTC time: an ISO date or date-time (naive = UTC)."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since: {text!r} is not a date or time",
            hint="use ISO 8601, e.g. 2026-12-04 or 2026-12-04T14:30",
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_anchor(text: str | None) -> tuple[int, str] | None:
    """``--anchor SEQ:HASH`` (a head printed by ``audit verify`` and kept elsewhere)."""
    if text is None:
        return None
    seq, sep, digest = text.partition(":")
    digest = digest.strip().lower()
    if (
        not sep
        or not seq.strip().isdigit()
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise UsageError(
            f"--anchor: {text!r} is not SEQ:HASH",
            hint="e.g. 1042:<64 hex digits>, as `alphaloop audit verify` prints the head",
        )
    return int(seq), digest


def set_kill(
    ws: Workspace,
    *,
    scope: str,
    target: str | None,
    reason: str | None,
    clear: bool,
    actor: str,
) -> dict[str, Any]:
    """Set or clear the kill switch (audited); the active kills afterwards."""
    kill = governance(ws).kill_switch
    try:
        kind = KillScope(scope)
    except ValueError:
        raise UsageError(
            f"--scope: unknown scope {scope!r}", hint="allowed: all, session ID, strategy ID"
        ) from None
    if clear:
        if not reason:
            raise UsageError("clearing the kill switch needs --reason TEXT")
        kill.clear(reason, actor=actor, scope=kind, target=target)
    else:
        kill.set(reason or "kill switch set by hand", actor=actor, scope=kind, target=target)
    return kill_status(ws)


def kill_status(ws: Workspace) -> dict[str, Any]:
    """The active kills (``active``: list) of the workspace."""
    kills = governance(ws).kill_switch.active(refresh=True)
    return {"active": [k.to_dict() for k in kills]}
