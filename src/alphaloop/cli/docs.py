"""``alphaloop docs``: import, list and summarize the documents text factors read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, fmt_num, out, print_json, print_table, workspace

docs_app = typer.Typer(
    help="Documents (news, filings, ...) for text factors: import, list, summary.",
    no_args_is_help=True,
)

_PREVIEW_CHARS = 80


@docs_app.command("import")
def docs_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV, JSON Lines or Parquet file.")],
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="Check the assets against this dataset's."),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Zone of times without a UTC offset (refused without it)."),
    ] = None,
    skip_unknown: Annotated[
        bool,
        typer.Option("--skip-unknown", help="Skip (and count) rows of assets not in --dataset."),
    ] = False,
    source: Annotated[
        str | None, typer.Option("--source", help="Source of rows whose file gives none.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Kind of rows whose file gives none.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a document file and store its documents (all or nothing)."""
    from alphaloop.app.documents import import_documents
    from alphaloop.errors import UsageError

    if skip_unknown and dataset is None:
        raise UsageError(
            "--skip-unknown needs --dataset: the assets are checked against a dataset's",
            hint="add --dataset NAME",
        )
    ws = workspace(ctx, write=True)
    result = import_documents(
        ws,
        path,
        dataset=dataset,
        timezone=timezone,
        skip_unknown=skip_unknown,
        source=source,
        kind=kind,
    )
    if as_json:
        print_json(result.to_dict())
        return
    span = (
        f", published {result.first:%Y-%m-%d %H:%M} .. {result.last:%Y-%m-%d %H:%M} UTC"
        if result.first and result.last
        else ""
    )
    out.print(
        f"[green]imported[/] {fmt_num(result.imported)} new document(s) of "
        f"{fmt_num(result.rows)} row(s) from {escape(str(path))}: "
        f"{fmt_num(result.assets)} asset(s){span}"
    )
    if result.duplicates:
        out.print(f"  {fmt_num(result.duplicates)} duplicate row(s) in the file, kept once")
    if result.already_stored:
        out.print(f"  {fmt_num(result.already_stored)} already stored, not stored again")
    if result.skipped_unknown:
        shown = ", ".join(result.unknown_assets[:10])
        more = " ..." if len(result.unknown_assets) > 10 else ""
        out.print(
            f"  [yellow]skipped[/] {fmt_num(result.skipped_unknown)} row(s) of "
            f"{len(result.unknown_assets)} asset(s) not in {escape(str(dataset))}: "
            f"{escape(shown)}{more}"
        )
    for warning in result.warnings:
        out.print(f"  [yellow]warning[/] {escape(warning)}")
    for note in result.notes:
        out.print(f"  note: {escape(note)}")


@docs_app.command("list")
def docs_list(
    ctx: typer.Context,
    asset: Annotated[
        list[str] | None, typer.Option("--asset", help="Only this asset (repeat for more).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most recent documents shown.", min=1)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The most recently published documents, newest first."""
    from alphaloop.app.documents import list_documents

    ws = workspace(ctx)
    frame = list_documents(ws, assets=asset or None, limit=limit)
    if as_json:
        print_json(json.loads(frame.to_json(orient="records", date_format="iso")))
        return
    cols = (
        Col("published (UTC)"),
        Col("asset"),
        Col("source", drop=2),
        Col("kind", drop=3),
        Col("text"),
        Col("id", drop=1),
    )
    rows = [
        (
            f"{r.published_at:%Y-%m-%d %H:%M}",
            r.asset,
            r.source or "-",
            r.kind or "-",
            _preview(r.text),
            r.doc_id[:12],
        )
        for r in frame.itertuples(index=False)
    ]
    if not rows:
        out.print("no documents" + (f" of {', '.join(asset)}" if asset else ""), markup=False)
        return
    print_table(cols, rows, title=f"documents in {ws.root} (newest first)")


@docs_app.command("summary")
def docs_summary(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """How many documents, of which assets, sources and kinds, over which span."""
    from alphaloop.app.documents import document_summary

    ws = workspace(ctx)
    summary = document_summary(ws)
    if as_json:
        print_json(summary)
        return
    if not summary["documents"]:
        out.print("no documents; `alphaloop docs import FILE` adds some", markup=False)
        return
    out.print(
        f"{fmt_num(summary['documents'])} document(s) on {fmt_num(summary['assets'])} "
        f"asset(s), published {_day(summary['first'])} .. {_day(summary['last'])}"
    )
    out.print(f"sources: {escape(_counts(summary['sources']))}")
    out.print(f"kinds: {escape(_counts(summary['kinds']))}")
    rows = [
        (a, fmt_num(v["documents"]), _day(v["first"]), _day(v["last"]))
        for a, v in summary["per_asset"].items()
    ]
    print_table(
        (Col("asset"), Col("documents", "right"), Col("first"), Col("last")),
        rows,
        title="per asset",
    )


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PREVIEW_CHARS else flat[: _PREVIEW_CHARS - 3] + "..."


def _day(iso: str | None) -> str:
    return "-" if iso is None else iso[:10]


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name or '-'} {fmt_num(n)}" for name, n in counts.items())
