"""Risk and governance: kill switch, approvals, policy (mode and limits), lifecycle, audit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field

from alphaloop.api.deps import PolicyAdmin, Trader, audit_note, context, require
from alphaloop.api.routes._common import Reasoned, to_json

router = APIRouter(tags=["risk", "governance"])

ApprovalId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Approval id.")]


class KillBody(Reasoned):
    scope: Literal["all", "session", "strategy"] = "all"
    target: str | None = Field(None, max_length=200, description="Session or strategy id.")
    clear: bool = Field(False, description="Clear the switch instead of setting it.")
    reason: str = Field(min_length=1, max_length=2000, description="Why (audited).")


class Decision(Reasoned):
    reason: str = Field("", max_length=2000)


class Rejection(Reasoned):
    reason: str = Field(min_length=1, max_length=2000, description="Why (required).")


class ModeBody(Reasoned):
    mode: str = Field(min_length=1, max_length=40, description="Risk mode, e.g. normal.")
    reason: str = Field(min_length=1, max_length=2000)


class LifecycleMove(Reasoned):
    action: Literal["promote", "demote", "retire"]
    to: Literal["shadow", "live"] | None = Field(
        None, description="The stage to promote to (promote only): shadow, then live."
    )
    reason: str = Field(min_length=1, max_length=2000)


class ModelStageMove(Reasoned):
    ref: str = Field(min_length=1, max_length=300, description="NAME/vN (or NAME, NAME@stage).")
    stage: Literal["candidate", "production", "archived"] = Field(
        description="The stage to move to (the registry's allowed moves only)."
    )
    reason: str = Field(min_length=1, max_length=2000)


# ------------------------------------------------------------------- risk
@router.get("/risk/kill", name="risk.kill_status", dependencies=[require("read")])
def kill_status(request: Request) -> dict[str, Any]:
    """The active kills (scope, target, reason, who, when)."""
    from alphaloop.app.governance import kill_status as status

    return to_json(status(context(request).ws))  # type: ignore[no-any-return]


@router.post("/risk/kill", name="risk.kill")
def kill(body: KillBody, request: Request, who: Trader) -> dict[str, Any]:
    """Set (or clear) the kill switch for everything, a session or a strategy; every gated
    broker stops sending orders at once."""
    from alphaloop.app.governance import set_kill

    ctx = context(request)
    doc = set_kill(
        ctx.ws, scope=body.scope, target=body.target, reason=body.reason, clear=body.clear,
        actor=who.name,
    )  # fmt: skip
    audit_note(
        request, f"kill:{body.scope}:{body.target or ''}", body.reason, {"clear": body.clear}
    )
    return to_json(doc)  # type: ignore[no-any-return]


@router.get("/risk/limits", name="risk.limits", dependencies=[require("read")])
def risk_limits(request: Request) -> dict[str, Any]:
    """The policy in force: risk mode, its limits, blocked symbols and strategies."""
    from alphaloop.app.policy import show_policy

    return to_json(show_policy(context(request).ws))  # type: ignore[no-any-return]


@router.get("/risk/states", name="risk.states", dependencies=[require("read")])
def risk_states(request: Request) -> dict[str, Any]:
    """Risk state now: mode, active kills, open sessions, pending approvals."""
    from alphaloop.app.status import system_status

    doc = system_status(context(request).ws)
    return to_json(doc)  # type: ignore[no-any-return]


# -------------------------------------------------------------- approvals
@router.get("/approvals", name="approvals.list", dependencies=[require("read")])
def approvals_list(
    request: Request,
    status: Annotated[
        Literal["pending", "approved", "rejected", "expired", "sent", "refused"] | None, Query()
    ] = None,
) -> dict[str, Any]:
    """Orders waiting for (or given) a person's decision."""
    from alphaloop.app.governance import governance

    items = governance(context(request).ws).approvals.list(status)
    return to_json({"approvals": [a.to_dict() for a in items]})  # type: ignore[no-any-return]


@router.post("/approvals/{approval_id}/approve", name="approvals.approve")
def approvals_approve(
    approval_id: ApprovalId, body: Decision, request: Request,
    who: Trader,
) -> dict[str, Any]:  # fmt: skip
    """Approve a pending order."""
    from alphaloop.app.governance import governance

    ctx = context(request)
    a = governance(ctx.ws).approvals.approve(approval_id, actor=who.name, reason=body.reason)
    audit_note(request, f"approval:{approval_id}", body.reason)
    return to_json(a.to_dict())  # type: ignore[no-any-return]


@router.post("/approvals/{approval_id}/reject", name="approvals.reject")
def approvals_reject(
    approval_id: ApprovalId, body: Rejection, request: Request,
    who: Trader,
) -> dict[str, Any]:  # fmt: skip
    """Reject a pending order (a reason is required)."""
    from alphaloop.app.governance import governance

    ctx = context(request)
    a = governance(ctx.ws).approvals.reject(approval_id, actor=who.name, reason=body.reason)
    audit_note(request, f"approval:{approval_id}", body.reason)
    return to_json(a.to_dict())  # type: ignore[no-any-return]


# ----------------------------------------------------------------- policy
@router.get("/policy", name="policy.show", dependencies=[require("read")])
def policy_show(request: Request) -> dict[str, Any]:
    """The autonomy policy: version, mode, blocked names, each mode's settings."""
    from alphaloop.app.policy import show_policy

    return to_json(show_policy(context(request).ws))  # type: ignore[no-any-return]


@router.get("/policy/history", name="policy.history", dependencies=[require("read")])
def policy_history(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """Changes of the policy, newest first: who, when, why."""
    from alphaloop.app.policy import policy_history as history

    return to_json({"changes": [c.to_dict() for c in history(context(request).ws, limit)]})  # type: ignore[no-any-return]


@router.put("/policy/mode", name="policy.set_mode")
def policy_set_mode(body: ModeBody, request: Request, who: PolicyAdmin) -> dict[str, Any]:
    """Switch the risk mode (admins)."""
    from alphaloop.app.policy import set_mode, show_policy

    ctx = context(request)
    change = set_mode(ctx.ws, body.mode, actor=who.name, reason=body.reason)
    audit_note(request, "policy:mode", body.reason, {"mode": body.mode})
    doc = show_policy(ctx.ws)
    return to_json({"changed": change is not None, "policy": doc})  # type: ignore[no-any-return]


# -------------------------------------------------------------- lifecycle
@router.get("/lifecycle", name="lifecycle.list", dependencies=[require("read")])
def lifecycle_list(
    request: Request,
    state: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """Strategies in the lifecycle (candidate, paper, live, retired, ...), newest change first."""
    from alphaloop.app.lifecycle import lifecycle_list as listing

    return to_json({"strategies": listing(context(request).ws, state)})  # type: ignore[no-any-return]


@router.post("/lifecycle/{ref}", name="lifecycle.move")
def lifecycle_move(
    ref: Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[0-9a-fA-F]+$")],
    body: LifecycleMove, request: Request, who: PolicyAdmin,
) -> dict[str, Any]:  # fmt: skip
    """Promote (every gate checked: policy, validation, shadow record, DSR, approval),
    demote or retire a strategy (admins)."""
    from alphaloop.app.lifecycle import demote, promote, retire
    from alphaloop.errors import UsageError

    ctx = context(request)
    if body.action == "promote":
        if body.to is None:
            raise UsageError("promote needs 'to': shadow or live")
        record = promote(ctx.ws, ref, body.to, actor=who.name, reason=body.reason)
    else:
        move = demote if body.action == "demote" else retire
        record = move(ctx.ws, ref, actor=who.name, reason=body.reason)
    audit_note(request, f"strategy:{ref}", body.reason, {"action": body.action})
    return to_json(record.to_dict())  # type: ignore[no-any-return]


@router.post("/models/stage", name="models.stage")
def model_stage(body: ModelStageMove, request: Request, who: PolicyAdmin) -> dict[str, Any]:
    """Move a model version to another stage (admins): candidate -> production | archived,
    production -> archived, archived -> candidate; promoting to production archives the
    name's current production version. Recorded in the registry and the audit trail."""
    from alphaloop.app.models import promote_model

    moved = promote_model(context(request).ws, body.ref, body.stage, body.reason, actor=who.name)
    audit_note(request, f"model:{moved.version.ref}", body.reason, {"stage": body.stage})
    return to_json(moved.to_dict())  # type: ignore[no-any-return]


# ------------------------------------------------------------------ audit
@router.get("/audit", name="audit.list", dependencies=[require("read")])
def audit_list(
    request: Request,
    action: Annotated[str | None, Query(max_length=80)] = None,
    since: Annotated[
        str | None, Query(max_length=40, description="ISO date or time (UTC).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The last audit entries (of an action, or a prefix ending in '.'), oldest first."""
    from alphaloop.app.governance import governance, parse_since

    ws = context(request).ws
    entries = governance(ws).audit.entries(since=parse_since(since), action=action, limit=limit)
    return to_json({"entries": [e.to_dict() for e in entries]})  # type: ignore[no-any-return]


@router.get("/audit/verify", name="audit.verify", dependencies=[require("read")])
def audit_verify(
    request: Request,
    anchor: Annotated[
        str | None, Query(max_length=100, description="SEQ:HASH kept elsewhere.")
    ] = None,
) -> dict[str, Any]:
    """Check every entry's hash and link; where the chain breaks, if it does."""
    from alphaloop.app.governance import governance, parse_anchor

    result = governance(context(request).ws).audit.verify(parse_anchor(anchor))
    return to_json(result.to_dict())  # type: ignore[no-any-return]
