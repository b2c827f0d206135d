"""``alphaloop policy``: the risk mode, blocked and allowed names, per-mode settings, history."""

from __future__ import annotations

from typing import Annotated

import typer

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace
from alphaloop.cli.governance import ActorOpt

policy_app = typer.Typer(
    help="The trading policy: risk mode, blocked and allowed symbols and strategies.",
    no_args_is_help=True,
)


def _actor(actor: str | None) -> str:
    from alphaloop.app.governance import current_user

    return actor.strip() if actor and actor.strip() else current_user()


ReasonOpt = Annotated[str, typer.Option(help="Why (required; kept in the history and audit).")]
StrategyFlag = Annotated[
    bool, typer.Option("--strategy", help="NAME is a strategy (hash or prefix), not a symbol.")
]


def _done(change: object, what: str, as_json: bool) -> None:
    if as_json:
        print_json(None if change is None else change.to_dict())  # type: ignore[attr-defined]
        return
    if change is None:
        out.print(f"nothing changed: {what}", markup=False)
    else:
        out.print(f"policy v{change.id}: {what} (by {change.actor})",  # type: ignore[attr-defined]
                  markup=False)  # fmt: skip


@policy_app.command("show")
def policy_show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The current policy: mode, lists, and each mode's limits and thresholds."""
    from alphaloop.app.policy import show_policy

    p = show_policy(workspace(ctx))
    if as_json:
        print_json(p)
        return
    out.print(f"risk mode: {p['mode'].upper()} (policy version {p['version']})", markup=False)
    for key in ("blocked_symbols", "allowed_symbols", "blocked_strategies", "allowed_strategies"):
        names = p[key]
        if names:
            out.print(f"{key.replace('_', ' ')}: {', '.join(names)}", markup=False)
        elif key.startswith("allowed"):
            out.print(f"{key.replace('_', ' ')}: any", markup=False)
    cols = (Col("mode"), Col("limits"), Col("lifecycle thresholds", drop=1))
    rows = [
        (("* " if mode == p["mode"] else "") + mode,
         ", ".join(f"{k}={v}" for k, v in s["limits"].items()) or "-",
         ", ".join(f"{k}={v:g}" for k, v in s["thresholds"].items()))
        for mode, s in p["modes"].items()
    ]  # fmt: skip
    print_table(cols, rows, title="per-mode settings (* current)")


@policy_app.command("set-mode")
def policy_set_mode(
    ctx: typer.Context,
    mode: Annotated[str, typer.Argument(help="aggressive, normal or defensive.")],
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Switch the risk mode; risk engines apply its limits at their next check."""
    from alphaloop.app.policy import set_mode

    change = set_mode(workspace(ctx, write=True), mode, actor=_actor(actor), reason=reason)
    _done(change, f"risk mode {mode.lower()}", as_json)


@policy_app.command("block")
def policy_block(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The symbol (or strategy with --strategy).")],
    strategy: StrategyFlag = False,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Block a symbol or strategy: from the next check it may only reduce positions."""
    from alphaloop.app.policy import block

    kind = "strategy" if strategy else "symbol"
    change = block(workspace(ctx, write=True), name, kind=kind, actor=_actor(actor),
                   reason=reason)  # fmt: skip
    _done(change, f"{kind} {name} blocked", as_json)


@policy_app.command("allow")
def policy_allow(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="The symbol (or strategy); none with --any.")
    ] = None,
    strategy: StrategyFlag = False,
    only: Annotated[
        bool, typer.Option("--only", help="Also put it on the allow list (only listed trade).")
    ] = False,
    any_name: Annotated[
        bool, typer.Option("--any", help="Clear the allow list: every name may trade.")
    ] = False,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Unblock a symbol or strategy (--only: allow-list it; --any: clear the allow list)."""
    from alphaloop.app.policy import allow
    from alphaloop.errors import UsageError

    if (name is None) != any_name:
        raise UsageError("give a NAME to allow, or --any to clear the allow list (not both)")
    kind = "strategy" if strategy else "symbol"
    change = allow(workspace(ctx, write=True), name, kind=kind, only=only,
                   actor=_actor(actor), reason=reason)  # fmt: skip
    what = f"{kind} allow list cleared" if name is None else f"{kind} {name} allowed"
    _done(change, what, as_json)


@policy_app.command("set-limits")
def policy_set_limits(
    ctx: typer.Context,
    mode: Annotated[str, typer.Argument(help="aggressive, normal or defensive.")],
    limit: Annotated[
        list[str] | None,
        typer.Option("--limit", help="A risk limit KEY=VALUE (none removes it); repeatable."),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option("--threshold", help="A lifecycle threshold KEY=VALUE; repeatable."),
    ] = None,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change one mode's risk limits or lifecycle thresholds."""
    from alphaloop.app.policy import set_mode_settings

    change = set_mode_settings(workspace(ctx, write=True), mode, limits=limit or (),
                               thresholds=threshold or (), actor=_actor(actor),
                               reason=reason)  # fmt: skip
    _done(change, f"settings of mode {mode.lower()}", as_json)


@policy_app.command("history")
def policy_history_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="At most the last N changes.", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Every change of the policy: who, when, why, what."""
    from alphaloop.app.policy import policy_history

    changes = policy_history(workspace(ctx), limit)
    if as_json:
        print_json([c.to_dict() for c in changes])
        return
    if not changes:
        out.print("the policy was never changed (the default is in force)", markup=False)
        return
    cols = (Col("version", "right"), Col("time (UTC)"), Col("actor"), Col("change"),
            Col("details", drop=2), Col("mode", drop=3), Col("reason", drop=1))  # fmt: skip
    rows = [
        (str(c.id), c.at.isoformat()[:19].replace("T", " "), c.actor, c.change,
         ", ".join(f"{k}={v}" for k, v in c.detail.items()), c.policy.mode.value, c.reason)
        for c in changes
    ]  # fmt: skip
    print_table(cols, rows, title="policy history")
