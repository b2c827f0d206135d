"""``alphaloop init``: create a workspace and register the bundled datasets."""

from __future__ import annotations

import typer

from alphaloop.cli.common import JsonOpt, out, print_json, workspace


def init(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the workspace (--workspace, else the default) and register the bundled data.

    Commands that only read never create a workspace; this one, and every
    command that records something, do. Running it on an existing workspace
    only registers bundled datasets it lacks.
    """
    ws = workspace(ctx, write=True)
    added = ws.data.ensure_bundled()
    datasets = ws.data.list()
    doc = {
        "workspace": str(ws.root),
        "created": ws.created,
        "registered": added,
        "datasets": len(datasets),
    }
    if as_json:
        print_json(doc)
        return
    state = "created" if ws.created else "ready"
    news = f"; registered {len(added)} bundled dataset(s)" if added else ""
    out.print(f"workspace {ws.root} {state}: {len(datasets)} dataset(s){news}", markup=False)
