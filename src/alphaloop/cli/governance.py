"""``alphaloop audit``, ``alphaloop kill`` and ``alphaloop approvals``: governance by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace
from alphaloop.errors import ExitCode

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
approvals_app = typer.Typer(help="Orders waiting for a person's approval.", no_args_is_help=True)

ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Who decides (default: the login name).")
]


def _actor(actor: str | None) -> str:
    from alphaloop.app.governance import current_user

    return actor.strip() if actor and actor.strip() else current_user()


# ------------------------------------------------------------------ audit
@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH of an entry kept elsewhere; it must still be there."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every entry's hash and link; exit 1 and say where when the chain is broken."""
    from alphaloop.app.governance import governance, parse_anchor

    pin = parse_anchor(anchor)
    result = governance(workspace(ctx)).audit.verify(pin)
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        out.print(
            f"audit chain intact: {result.n_entries} entries; head {result.head_seq}:"
            f"{result.head_hash}",
            markup=False,
        )
    else:
        assert result.problem is not None
        out.print(f"[red]audit chain BROKEN[/] at entry {result.problem.seq}")
        out.print(result.problem.message, markup=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(ExitCode.CHECK_FAILED)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="From this time on (ISO date or time, UTC).")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Only this action (e.g. kill.set), or a prefix ending in '.' (order.)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most the last N entries.", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Audit entries, oldest first (the last --limit of them)."""
    from alphaloop.app.governance import governance, parse_since

    entries = governance(workspace(ctx)).audit.entries(
        since=parse_since(since), action=action, limit=limit
    )
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    if not entries:
        out.print("no audit entry" + (f" of action {action!r}" if action else ""), markup=False)
        return
    cols = (
        Col("seq", "right"),
        Col("time (UTC)"),
        Col("actor"),
        Col("action"),
        Col("subject", drop=1),
        Col("details", drop=2),
        Col("hash", drop=3),
    )
    rows = [
        (str(e.seq), e.at[:19].replace("T", " "), e.actor, e.action, e.subject,
         e.payload if len(e.payload) <= 80 else e.payload[:77] + "...", e.hash[:12])
        for e in entries
    ]  # fmt: skip
    print_table(cols, rows, title="audit trail (`alphaloop audit verify` checks the chain)")


# ------------------------------------------------------------------- kill
def kill(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Argument(help="The session or strategy id (with --scope).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (required with --clear).")] = None,
    scope: Annotated[
        str, typer.Option(help="What to stop: all, session ID or strategy ID.")
    ] = "all",
    clear: Annotated[bool, typer.Option("--clear", help="Clear the kill switch.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Only show the active kills.")] = False,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set (or --clear) the kill switch: gated brokers stop sending and cancel working orders."""
    from alphaloop.app.governance import kill_status, set_kill

    if status:
        state = kill_status(workspace(ctx))
    else:
        state = set_kill(workspace(ctx, write=True), scope=scope, target=target, reason=reason,
                         clear=clear, actor=_actor(actor))  # fmt: skip
    if as_json:
        print_json(state)
        return
    if not status:
        what = "all" if scope == "all" else f"{scope} {target}"
        out.print(f"kill switch {'cleared' if clear else 'SET'} for {escape(what)}")
    if not state["active"]:
        out.print("no kill is active", markup=False)
    for k in state["active"]:
        where = "all" if k["scope"] == "all" else f"{k['scope']} {k['target']}"
        out.print(f"active: {where}: {k['reason']} (by {k['actor']}, {k['at'][:19]})",
                  markup=False)  # fmt: skip


# -------------------------------------------------------------- approvals
def _approval_rows(items: list) -> list[tuple[str, ...]]:
    rows = []
    for a in items:
        o = a.order
        kind = o.get("kind", "order")
        if kind == "rebalance":
            targets = [(n, w) for n, w in zip(o.get("assets") or [], o["weights"], strict=False)
                       if w is not None]  # fmt: skip
            what = "to " + ", ".join(f"{n} {w:.3g}" for n, w in targets[:4]) + (
                " ..." if len(targets) > 4 else "")  # fmt: skip
            kind_text = f"rebalance (bar {o.get('row')})"
        elif kind == "live":
            what, kind_text = f"live trading on {o.get('venue')}", "live session"
        else:
            price = o.get("limit_price") or o.get("stop_price")
            what = f"{o['side']} {o['quantity']:g} {o['asset']}"
            kind_text = o["type"] + (f" @ {price:g}" if price else "")
        rows.append((
            str(a.id), a.status, what, kind_text, o.get("session") or "-",
            a.expires_at.isoformat()[:19].replace("T", " "), a.order_hash[:12],
            (a.decided_by or "") + (f": {a.reason}" if a.reason else ""),
        ))  # fmt: skip
    return rows


@approvals_app.command("list")
def approvals_list(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="pending, approved, rejected, expired, sent or refused (default: all)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approval requests, oldest first (due ones are marked expired first; read-only: shown)."""
    from alphaloop.app.governance import governance

    ws = workspace(ctx)
    items = governance(ws).approvals.list(status, expire=not ws.read_only)
    if as_json:
        print_json([a.to_dict() for a in items])
        return
    if not items:
        out.print("no approval request" + (f" {status}" if status else ""), markup=False)
        return
    cols = (
        Col("id", "right"),
        Col("status"),
        Col("order"),
        Col("type"),
        Col("session", drop=2),
        Col("expires (UTC)", drop=1),
        Col("order hash", drop=3),
        Col("decision", drop=4),
    )
    print_table(cols, _approval_rows(items), title="approval requests")


@approvals_app.command("approve")
def approvals_approve(
    ctx: typer.Context,
    approval_id: Annotated[int, typer.Argument(help="Request id (see `approvals list`).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve one pending order; it is sent at the gate's next event if unchanged."""
    from alphaloop.app.governance import governance

    a = governance(workspace(ctx, write=True)).approvals.approve(
        approval_id, actor=_actor(actor), reason=reason
    )
    if as_json:
        print_json(a.to_dict())
        return
    out.print(f"approved request {a.id} (order hash {a.order_hash[:16]}) as {a.decided_by}",
              markup=False)  # fmt: skip


@approvals_app.command("reject")
def approvals_reject(
    ctx: typer.Context,
    approval_id: Annotated[int, typer.Argument(help="Request id (see `approvals list`).")],
    reason: Annotated[str, typer.Option(help="Why (required).")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject one pending order (a reason is required)."""
    from alphaloop.app.governance import governance

    a = governance(workspace(ctx, write=True)).approvals.reject(
        approval_id, actor=_actor(actor), reason=reason
    )
    if as_json:
        print_json(a.to_dict())
        return
    out.print(f"rejected request {a.id} as {a.decided_by}: {a.reason}", markup=False)
