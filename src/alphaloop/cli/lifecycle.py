"""``alphaloop lifecycle``: strategies from backtest to shadow, live and retirement."""

from __future__ import annotations

from typing import Annotated

import typer

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace
from alphaloop.cli.governance import ActorOpt

lifecycle_app = typer.Typer(
    help="The strategy lifecycle: backtest -> shadow -> live -> retired, gated and audited.",
    no_args_is_help=True,
)

IdArg = Annotated[str, typer.Argument(help="Strategy hash or prefix (see `alphaloop strategies`).")]


def _actor(actor: str | None) -> str:
    from alphaloop.app.governance import current_user

    return actor.strip() if actor and actor.strip() else current_user()


def _done(record: object, as_json: bool) -> None:
    d = record.to_dict()  # type: ignore[attr-defined]
    if as_json:
        print_json(d)
        return
    out.print(f"strategy {d['strategy'][:12]}: {d['from']} -> {d['to']} (transition {d['id']}, "
              f"by {d['actor']}): {d['reason']}", markup=False, soft_wrap=True)  # fmt: skip


@lifecycle_app.command("list")
def lifecycle_list_cmd(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help="Only this state (shadow, live, retired, backtest)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Strategies that entered the lifecycle, by their latest change."""
    from alphaloop.app.lifecycle import lifecycle_list

    items = lifecycle_list(workspace(ctx), state)
    if as_json:
        print_json(items)
        return
    if not items:
        out.print("no strategy has left backtest (`alphaloop lifecycle promote ID --to shadow`)",
                  markup=False)  # fmt: skip
        return
    cols = (Col("strategy"), Col("name"), Col("state"), Col("since (UTC)", drop=1),
            Col("paper session", "right", drop=2), Col("dataset", drop=3))  # fmt: skip
    rows = [
        (i["strategy"][:12], i["name"], i["state"], (i["since"] or "")[:19].replace("T", " "),
         "-" if i["paper_session_id"] is None else str(i["paper_session_id"]), i["dataset"])
        for i in items
    ]  # fmt: skip
    print_table(cols, rows, title="strategy lifecycle")


@lifecycle_app.command("promote")
def lifecycle_promote(
    ctx: typer.Context,
    ref: IdArg,
    to: Annotated[str, typer.Option("--to", help="shadow or live.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
    autonomy: Annotated[
        str, typer.Option(help="Autonomy level L1-L5: L2-L4 need a person's approval to go live.")
    ] = "L2",
    session: Annotated[
        int | None, typer.Option(help="The paper session that shadows it (default: the longest).")
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Promote a strategy when every gate passes; exit 1 naming each failing gate."""
    from alphaloop.app.lifecycle import promote

    record = promote(workspace(ctx, write=True), ref, to, actor=_actor(actor), reason=reason,
                     autonomy=autonomy, session_id=session)  # fmt: skip
    if not as_json:
        for gate in record.inputs.get("gates", []):
            out.print(f"  passed {gate['name']}: {gate['reason']}", markup=False, soft_wrap=True)
    _done(record, as_json)


@lifecycle_app.command("demote")
def lifecycle_demote(
    ctx: typer.Context,
    ref: IdArg,
    reason: Annotated[str, typer.Option(help="Why (required).")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Demote a live strategy to shadow, or a shadow one to backtest."""
    from alphaloop.app.lifecycle import demote

    _done(demote(workspace(ctx, write=True), ref, actor=_actor(actor), reason=reason), as_json)


@lifecycle_app.command("retire")
def lifecycle_retire(
    ctx: typer.Context,
    ref: IdArg,
    reason: Annotated[str, typer.Option(help="Why (required).")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retire a strategy for good."""
    from alphaloop.app.lifecycle import retire

    _done(retire(workspace(ctx, write=True), ref, actor=_actor(actor), reason=reason), as_json)


@lifecycle_app.command("review")
def lifecycle_review(
    ctx: typer.Context,
    ref: IdArg,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what it would do.")] = False,
    ic: Annotated[
        float | None,
        typer.Option(help="The live rank IC, compared with the validation's (decay)."),
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Demote or retire a shadow or live strategy on drawdown, decay or policy."""
    from alphaloop.app.lifecycle import review

    decision, record = review(workspace(ctx, write=not dry_run), ref,
                              actor=_actor(actor) if actor else "system", ic=ic,
                              apply=not dry_run)  # fmt: skip
    if as_json:
        print_json({"decision": None if decision is None else
                    {"event": decision.event.value, "reasons": list(decision.reasons),
                     "inputs": decision.inputs},
                    "transition": None if record is None else record.to_dict()})  # fmt: skip
        return
    if decision is None:
        out.print("healthy: nothing calls for a demotion or retirement", markup=False)
        return
    verb = "would " + decision.event.value if record is None else decision.event.value + "d"
    out.print(f"{verb}: " + "; ".join(decision.reasons), markup=False, soft_wrap=True)
    if record is not None:
        _done(record, as_json)
