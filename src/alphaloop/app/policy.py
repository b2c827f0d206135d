"""The policy of a workspace: risk mode, blocked and allowed names, per-mode settings.

Thin wiring of :class:`~alphaloop.execution.policy_store.PolicyStore` to the
workspace's database for the CLI (``alphaloop policy``), the Python API and
the live loop. A strategy named by a hash prefix that the strategy database
knows is stored under its full hash (the id the lifecycle and the risk
engine see); other names (a session's strategy label) are stored as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.errors import StrategyNotFoundError, UsageError
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.policy import Policy
from alphaloop.execution.policy_store import PolicyChange, PolicyStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from alphaloop.app.workspace import Workspace

__all__ = [
    "allow",
    "block",
    "current_policy",
    "parse_assignments",
    "policy_history",
    "policy_store",
    "set_mode",
    "set_mode_settings",
    "show_policy",
]


def policy_store(ws: Workspace, *, poll_interval_s: float = 0.0) -> PolicyStore:
    """The policy store of ``ws``'s database (pass it to a RiskEngine as ``policy=``)."""
    return PolicyStore(ws.db, AuditLog(ws.db), poll_interval_s=poll_interval_s)


def show_policy(ws: Workspace) -> dict[str, Any]:
    """The current policy as a JSON-ready dict (``version``, ``mode``, lists, ``modes``)."""
    return policy_store(ws).current(refresh=True).to_dict()


def _name(ws: Workspace, name: str, kind: str) -> str:
    if kind != "strategy":
        return name.strip()
    try:
        return ws.strategies.get(name.strip()).hash
    except StrategyNotFoundError:
        return name.strip()


def set_mode(ws: Workspace, mode: str, *, actor: str, reason: str) -> PolicyChange | None:
    """Switch the risk mode (None when it already is that mode)."""
    return policy_store(ws).set_mode(mode, actor=actor, reason=reason)


def block(ws: Workspace, name: str, *, kind: str, actor: str, reason: str
          ) -> PolicyChange | None:  # fmt: skip
    """Block a symbol or a strategy (it may only reduce positions)."""
    return policy_store(ws).block(_name(ws, name, kind), kind=kind, actor=actor, reason=reason)


def allow(
    ws: Workspace, name: str | None, *, kind: str, only: bool, actor: str, reason: str
) -> PolicyChange | None:
    """Unblock a name (``only``: and add it to the allow list); no name clears the allow list."""
    target = None if name is None else _name(ws, name, kind)
    return policy_store(ws).allow(target, kind=kind, only=only, actor=actor, reason=reason)


def parse_assignments(items: Sequence[str], where: str) -> dict[str, Any]:
    """``KEY=VALUE`` items: numbers as floats (integers as ints), ``none`` removes a value,
    comma-separated text as a list (``restricted=TSLA,GME``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise UsageError(f"{where}: {item!r} is not KEY=VALUE", hint="e.g. max_gross=0.5")
        if raw.lower() in ("none", "null", "off"):
            out[key] = None
            continue
        try:
            out[key] = int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            out[key] = [p.strip() for p in raw.split(",") if p.strip()]
    return out


def set_mode_settings(
    ws: Workspace,
    mode: str,
    *,
    limits: Sequence[str] = (),
    thresholds: Sequence[str] = (),
    actor: str,
    reason: str,
) -> PolicyChange | None:
    """Change some limits (``KEY=VALUE``) and lifecycle thresholds of one risk mode."""
    if not limits and not thresholds:
        raise UsageError("nothing to change: give --limit KEY=VALUE or --threshold KEY=VALUE")
    return policy_store(ws).set_mode_settings(
        mode, limits=parse_assignments(limits, "--limit"),
        thresholds=parse_assignments(thresholds, "--threshold"), actor=actor, reason=reason,
    )  # fmt: skip


def policy_history(ws: Workspace, limit: int | None = None) -> list[PolicyChange]:
    """Every change of the policy, oldest first (the last ``limit``)."""
    return policy_store(ws).history(limit)


def current_policy(ws: Workspace) -> Policy:
    """The current policy object."""
    return policy_store(ws).current(refresh=True)
