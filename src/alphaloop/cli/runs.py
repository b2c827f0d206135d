"""``alphaloop runs``: the run log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alphaloop.cli.common import JsonOpt, out, print_json, workspace

runs_app = typer.Typer(help="The run log.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recent runs, newest first."""
    ws = workspace(ctx)
    runs = ws.runs.list(kind, limit)
    if as_json:
        print_json(runs)
        return
    table = Table(title="runs")
    for col in ("id", "kind", "status", "started", "version", "error"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            r["started_at"][:19],
            r["code_version"],
            escape((r["error"] or "")[:60]),
        )
    out.print(table)
