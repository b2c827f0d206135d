"""``alphaloop demo``: the main pipeline on bundled real data."""

from __future__ import annotations

import typer

from alphaloop.cli.common import JsonOpt, out, print_json, workspace


def demo(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Run the main pipeline on bundled real data (offline, no keys)."""
    from alphaloop.app import run_demo

    ws = workspace(ctx, write=True)
    summary = run_demo(ws, console=None if as_json else out)
    if as_json:
        print_json(summary)
