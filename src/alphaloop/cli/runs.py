"""``alphaloop runs``: the run log."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace

runs_app = typer.Typer(help="The run log.", no_args_is_help=True)

SHORT_HASH = 12  # hex digits of a data hash shown in tables


def _short_hashes(data_hashes: dict[str, str]) -> str:
    """``name hash12`` per dataset read, one per line."""
    return "\n".join(f"{name} {digest[:SHORT_HASH]}" for name, digest in data_hashes.items())


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recent runs, newest first, with the data they read (content hashes)."""
    ws = workspace(ctx)
    runs = ws.runs.list(kind, limit)
    if as_json:
        print_json(runs)
        return
    if not runs:
        out.print("no run recorded yet" + (f" of kind {kind!r}" if kind else ""), markup=False)
        return
    cols = (
        Col("id", "right"),
        Col("kind"),
        Col("status"),
        Col("started", drop=1),
        Col("data (hash)", drop=2),
        Col("version", drop=4),
        Col("error", drop=3),
    )
    rows = [
        (
            str(r["id"]),
            r["kind"],
            r["status"],
            r["started_at"][:19].replace("T", " "),
            _short_hashes(r["data_hashes"] or {}) or "-",
            r["code_version"],
            (r["error"] or "").split("\n", 1)[0],  # the first line; `runs show` has it all
        )
        for r in runs
    ]
    print_table(cols, rows, title="runs (newest first; `alphaloop runs show ID` for one in full)")


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="Run id (see `alphaloop runs list`).")],
    as_json: JsonOpt = False,
) -> None:
    """One run in full: parameters, result, data hashes, outcome and times."""
    run = workspace(ctx).runs.get(run_id)
    if as_json:
        print_json(run)
        return
    out.print(f"[bold]run {run['id']}[/] {escape(run['kind'])}: {escape(run['status'])}")
    out.print(f"started {run['started_at']}, finished {run['finished_at'] or '-'}")
    out.print(f"code version {escape(run['code_version'])}")
    if run["error"]:
        out.print(f"[red]error:[/] {escape(run['error'])}")
    if run["data_hashes"]:
        out.print("data read (content hashes):")
        for name, digest in run["data_hashes"].items():
            out.print(f"  {escape(name)} {digest}", markup=True)
    else:
        out.print("data read: none recorded")
    _section("parameters", run["params"])
    _section("result", run["result"])


def _section(title: str, value: Any) -> None:
    if not value:
        out.print(f"{title}: none")
        return
    out.print(f"{title}:")
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    out.print("\n".join(f"  {line}" for line in text.splitlines()), markup=False)
