"""``alphaloop sweep``: a grid of moving-average crosses on a dataset's search span."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, fmt_num, out, print_json, print_table, workspace
from alphaloop.errors import UsageError


def _windows(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(
            f"{option} takes whole numbers of bars separated by commas, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise UsageError(f"{option} takes whole numbers of bars of at least 1, got {text!r}")
    return values


def sweep(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset name (needs $close).")],
    fast: Annotated[str, typer.Option(help="Fast windows in bars, comma-separated.")] = "5,10,20",
    slow: Annotated[
        str, typer.Option(help="Slow windows in bars, comma-separated.")
    ] = "50,100,200",
    asset: Annotated[
        list[str] | None,
        typer.Option("--asset", help="Sweep this asset (repeatable; default all)."),
    ] = None,
    executor: Annotated[str, typer.Option(help="Where points run: local or ray.")] = "local",
    workers: Annotated[
        int, typer.Option(help="Processes (or Ray actors); 1 runs in process.", min=1)
    ] = 1,
    top: Annotated[int, typer.Option(help="Points to show, best Sharpe first.", min=1)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Backtest every fast x slow moving-average cross on the search span (next-bar fills,
    costs on), in process, in a process pool or on Ray; the best is optimistic by selection."""
    from alphaloop.app.sweeps import sweep_dataset

    if executor not in ("local", "ray"):
        raise UsageError(f"--executor must be local or ray, got {executor!r}")
    doc = sweep_dataset(
        workspace(ctx, write=True),
        data,
        fast=_windows(fast, "--fast"),
        slow=_windows(slow, "--slow"),
        assets=asset or None,
        executor=executor,
        workers=workers,
    )
    if as_json:
        print_json(doc)
        return
    ranked = sorted(doc["points"], key=lambda p: -p["sharpe"])[:top]
    print_table(
        (
            Col("asset"),
            Col("fast", "right"),
            Col("slow", "right"),
            Col("Sharpe", "right"),
            Col("total return", "right"),
            Col("trades", "right", drop=1),
        ),
        [
            (
                escape(p["asset"]),
                str(p["fast"]),
                str(p["slow"]),
                fmt_num(p["sharpe"], 3),
                f"{p['total_return']:.1%}",
                str(p["n_trades"]),
            )
            for p in ranked
        ],
        title=f"{doc['data']}: {doc['n_points']} points on the search span "
        f"({doc['span']['bars']} bars, fills at the {doc['fills'].replace('_', ' ')}, costs on)",
    )
    if doc["best"] is not None:
        out.print(
            f"best Sharpe {fmt_num(doc['best']['sharpe'], 3)} selected among "
            f"{doc['n_points']} points: expect it to be optimistic; run {doc['run_id']}"
        )
        d = doc["deflated"]
        if d is not None and d["dsr"] is not None:
            out.print(
                f"deflated Sharpe {fmt_num(d['dsr'], 3)} (probability that its true Sharpe beats "
                f"the best of {d['n_trials']} trials counted on {doc['data']} by chance)"
            )
