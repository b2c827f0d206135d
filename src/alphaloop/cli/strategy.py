"""``alphaloop strategy``: the strategy templates, and new specs written from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace

strategy_app = typer.Typer(
    help="Strategy templates: list them, write a new spec from one.", no_args_is_help=True
)


@strategy_app.command("templates")
def templates(
    as_json: JsonOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Parameters, assumptions and pitfalls too.")
    ] = False,
) -> None:
    """List the strategy templates with their parameters and what each assumes."""
    from alphaloop.app.strategy_templates import template_catalog

    catalog = template_catalog()
    if as_json:
        print_json({"templates": catalog})
        return
    rows = [(t["name"], t["output"], t["summary"]) for t in catalog]
    print_table(
        [Col("template"), Col("output", drop=1), Col("what it does", drop=2)],
        rows,
        title=f"{len(rows)} strategy templates",
    )
    for t in catalog:
        if not verbose:
            continue
        out.print(f"\n[bold]{escape(t['name'])}[/] — {escape(t['title'])}")
        for p in t["parameters"]:
            grid = f" (searched: {', '.join(map(str, p['grid']))})" if p["grid"] else ""
            out.print(f"  {p['name']} = {escape(str(p['default']))}{escape(grid)}")
        for a in t["assumes"]:
            out.print(f"  assumes: {escape(a)}")
        for a in t["pitfalls"]:
            out.print(f"  pitfall: {escape(a)}")
    if not verbose:
        out.print("parameters, assumptions and pitfalls: alphaloop strategy templates --verbose")


@strategy_app.command("new")
def new(
    ctx: typer.Context,
    template: Annotated[str, typer.Argument(help="Template name (alphaloop strategy templates).")],
    data: Annotated[str, typer.Option("--data", help="Dataset name in the workspace.")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the spec (YAML).")],
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="key=value: a template parameter (entry=2.5) or a dotted spec field "
            "(limits.max_leverage=1.5); repeatable.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a spec of TEMPLATE on a dataset, to edit and backtest."""
    from alphaloop.app.strategy_templates import new_template_spec, write_spec

    ws = workspace(ctx)
    spec = new_template_spec(template, data, settings or (), ws=ws)
    path = write_spec(spec, out_path, force=force)
    if as_json:
        spec_dict = spec.model_dump(mode="json")
        print_json({"path": str(path), "spec_hash": spec.hash, "spec": spec_dict})
        return
    out.print(f"wrote {escape(str(path))} ({escape(spec.describe_signal())})", soft_wrap=True)
    out.print(f"next: alphaloop backtest {escape(str(path))}", soft_wrap=True)
