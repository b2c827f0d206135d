"""``alphaloop holdout``: see, configure and (once) unseal the sealed holdouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import JsonOpt, out, print_json, workspace

holdout_app = typer.Typer(
    help="Sealed holdouts: the final share of each dataset, out of reach of research.",
    no_args_is_help=True,
)


def _describe(info: dict) -> str:
    if info["boundary"] is None:
        return f"{info['dataset']}: no holdout (fraction 0)"
    state = (
        f"UNSEALED {info['unsealed_at'][:10]} after {info['trials_before']} strategies tried"
        if info["unsealed_at"]
        else "sealed"
    )
    return (
        f"{info['dataset']}: last {info['fraction']:.0%} from {info['boundary'][:10]} "
        f"({state}; sealed {info['sealed_at'][:10]})"
    )


@holdout_app.command("list")
def holdout_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Holdouts sealed so far (a dataset's holdout is sealed at its first use)."""

    infos = [h.to_dict() for h in workspace(ctx).data.holdouts.list()]
    if as_json:
        print_json(infos)
        return
    if not infos:
        out.print("no holdout sealed yet: each dataset's is sealed at its first use")
    for info in infos:
        out.print(escape(_describe(info)))


@holdout_app.command("show")
def holdout_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    as_json: JsonOpt = False,
) -> None:
    """A dataset's holdout (sealing it now if this is its first use) and any results."""

    ws = workspace(ctx)
    ws.data.holdout_boundary(name)
    info = ws.data.holdouts.get(name)
    assert info is not None
    doc = info.to_dict()
    if as_json:
        print_json(doc)
        return
    out.print(escape(_describe(doc)))
    for row in (doc["results"] or {}).get("strategies", []):
        m = row["metrics"]
        out.print(
            f"  {escape(row['name'])} ({row['spec_hash'][:12]}): Sharpe "
            f"{m.get('sharpe_ratio') if m.get('sharpe_ratio') is not None else float('nan'):.2f}, "
            f"annual return {m.get('annual_return') or 0:.1%}, "
            f"max drawdown {m.get('max_drawdown') or 0:.1%}"
        )


@holdout_app.command("set")
def holdout_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    fraction: Annotated[float, typer.Option("--fraction", help="Share of final bars, [0, 1).")],
    as_json: JsonOpt = False,
) -> None:
    """Choose a dataset's holdout share before its first use (this seals it)."""

    info = workspace(ctx, write=True).data.configure_holdout(name, fraction).to_dict()
    if as_json:
        print_json(info)
    else:
        out.print(escape(_describe(info)))


@holdout_app.command("unseal")
def holdout_unseal(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    specs: Annotated[
        list[Path], typer.Option("--spec", help="A final strategy spec (repeat for several).")
    ],
    note: Annotated[str, typer.Option("--note", help="Why these strategies (recorded).")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: this spends the holdout for good.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate final strategies on the holdout: once per dataset, never again."""
    from alphaloop.app import evaluate_holdout
    from alphaloop.backtest import load_spec
    from alphaloop.errors import UsageError

    loaded = [load_spec(p) for p in specs]
    if not yes:
        raise UsageError(
            f"unsealing {name!r} spends its holdout for good; nothing was changed",
            hint="add --yes to confirm",
        )
    evaluation = evaluate_holdout(workspace(ctx, write=True), name, loaded, note=note).to_dict()
    if as_json:
        print_json(evaluation)
        return
    out.print(
        f"holdout of {escape(name)} from {evaluation['boundary'][:10]} unsealed after "
        f"{evaluation['trials_before']} strategies tried; results recorded:"
    )
    for row in evaluation["strategies"]:
        m = row["metrics"]
        sharpe = m["sharpe_ratio"] if m["sharpe_ratio"] is not None else float("nan")
        out.print(f"  {escape(row['name'])}: Sharpe {sharpe:.2f} over {m['n_periods']:.0f} bars")
