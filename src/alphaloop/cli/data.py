"""``alphaloop data``: list, show, import and check datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import (
    Col,
    JsonOpt,
    err,
    fmt_date,
    out,
    print_json,
    print_table,
    workspace,
)
from alphaloop.errors import ExitCode

data_app = typer.Typer(help="Datasets: list, show, import, check.", no_args_is_help=True)


@data_app.command("list")
def data_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every dataset in the workspace, bundled and imported."""
    ws = workspace(ctx)
    infos = ws.data.list()
    if ws.data.unregistered_bundled:
        err.print(
            "note: bundled datasets this read-only workspace does not hold are not listed: "
            + ", ".join(ws.data.unregistered_bundled),
            markup=False,
            soft_wrap=True,
        )
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    cols = (
        Col("name"),
        Col("ver", "right", drop=4),
        Col("assets", "right"),
        Col("fields", drop=1),
        Col("start"),
        Col("end"),
        Col("freq", drop=5),
        Col("rows", "right", drop=2),
        Col("source", drop=3),
    )
    rows = [
        (
            i.name,
            str(i.version),
            str(i.assets),
            ", ".join(i.fields),
            fmt_date(i.start),
            fmt_date(i.end),
            i.frequency,
            f"{i.rows:,}",
            i.source.split("/")[0] if i.bundled else i.source,
        )
        for i in infos
    ]
    print_table(cols, rows, title=f"datasets in {ws.root}")


@data_app.command("show")
def data_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    version: Annotated[int | None, typer.Option(help="Version (default: latest).")] = None,
    rows: Annotated[int, typer.Option(help="Preview rows.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """One dataset: summary, caveats, quality and a preview of its last rows."""
    ws = workspace(ctx)
    info = ws.data.info(name, version)
    preview = ws.data.preview(name, rows, version)
    if as_json:
        doc = info.to_dict(full=True)
        doc["preview"] = json.loads(preview.to_json(orient="records", date_format="iso"))
        print_json(doc)
        return
    out.print(f"[bold]{info.name}[/] v{info.version}  ({escape(info.source)})")
    if info.description:
        out.print(escape(info.description))
    out.print(
        f"{info.assets} assets x {info.times:,} times ({info.rows:,} rows), {info.frequency}, "
        f"{fmt_date(info.start)} .. {fmt_date(info.end)}"
    )
    out.print(f"fields: {escape(', '.join(info.fields))}")
    ids = ", ".join(info.asset_ids[:30]) + (" ..." if info.assets > 30 else "")
    out.print(f"assets: {escape(ids)}")
    out.print(f"content hash: {info.content_hash}")
    if info.caveats:
        out.print("[yellow]caveats:[/]")
        for c in info.caveats:
            out.print(f"  - {escape(c)}")
    q = info.quality
    out.print(
        f"quality at import: {q.get('errors', 0)} error(s), {q.get('warnings', 0)} warning(s)"
    )
    for issue in q.get("issues", []):
        out.print(f"  - {issue['severity']}: {issue['check']}: {escape(issue['message'])}")
    out.print(preview.to_string(index=False), markup=False)


@data_app.command("import")
def data_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    name: Annotated[str, typer.Option("--name", help="Dataset name in the workspace.")],
    layout: Annotated[str, typer.Option(help="auto, long or wide.")] = "auto",
    field: Annotated[str, typer.Option(help="Field a wide file holds.")] = "close",
    asset: Annotated[str | None, typer.Option(help="Asset id of a single-asset file.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: sniffed).")] = None,
    timezone: Annotated[str, typer.Option(help="Zone of timestamps without offset.")] = "UTC",
    repair: Annotated[bool, typer.Option(help="Apply the documented repairs.")] = False,
    description: Annotated[str, typer.Option(help="Free text kept with the dataset.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Import a CSV or Parquet file (long or wide) as a new dataset version."""
    from alphaloop.errors import DataQualityError

    if layout not in ("auto", "long", "wide"):
        raise typer.BadParameter(
            f"{layout!r} is not one of auto, long, wide", param_hint="--layout"
        )
    ws = workspace(ctx, write=True)
    try:
        result = ws.data.import_file(
            path,
            name,
            layout=layout,
            field_name=field,
            asset=asset,  # type: ignore[arg-type]
            delimiter=delimiter,
            timezone=timezone,
            repair=repair,
            description=description,
        )
    except DataQualityError as exc:
        if not as_json:  # with --json the error document carries the report
            _print_report(exc.report)
        raise
    if as_json:
        print_json(result.to_dict())
        return
    info = result.dataset
    out.print(
        f"[green]imported[/] {info.name} v{info.version}: {info.assets} assets, "
        f"{info.rows:,} rows, {fmt_date(info.start)} .. {fmt_date(info.end)} ({result.status})"
    )
    for r in result.repairs:
        out.print(f"  repaired {r.check}: {escape(r.action)} ({r.count})")
    for w in (result.final_report or result.report).warnings:
        out.print(f"  [yellow]warning[/] {w.check}: {escape(w.message)}")


@data_app.command("check")
def data_check(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A file path or a dataset name.")],
    layout: Annotated[str, typer.Option(help="auto, long or wide (files only).")] = "auto",
    field: Annotated[str, typer.Option(help="Field a wide file holds.")] = "close",
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter.")] = None,
    timezone: Annotated[str, typer.Option(help="Zone of timestamps without offset.")] = "UTC",
    as_json: JsonOpt = False,
) -> None:
    """Quality report. Exit 0 if clean, 1 if problems were found, 2 if unreadable.

    A file needs no workspace; a dataset name is looked up in the workspace.
    """
    from alphaloop.data.catalog import DataCatalog
    from alphaloop.errors import DataReadError

    path = Path(target)
    if path.exists():
        report, _ = DataCatalog.check_file(
            path,
            layout=layout,  # type: ignore[arg-type]
            field_name=field,
            delimiter=delimiter,
            timezone=timezone,
        )
    elif any(sep in target for sep in ("/", "\\")) or path.suffix:
        raise DataReadError(f"{target}: no such file")
    elif _is_dataset(ws := workspace(ctx), target):
        report = ws.data.check_dataset(target)
    else:
        raise DataReadError(
            f"{target!r} is neither a file nor a dataset in this workspace",
            hint="see `alphaloop data list`",
        )
    if as_json:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if not report.clean:
        raise typer.Exit(ExitCode.CHECK_FAILED)


def _is_dataset(ws: Any, name: str) -> bool:
    from alphaloop.errors import DatasetNotFoundError

    try:
        ws.data.info(name)
    except DatasetNotFoundError:
        return False
    return True


def _print_report(report: Any) -> None:
    from alphaloop.data.catalog import summarize_issue

    status = (
        "[green]clean[/]"
        if report.clean
        else (
            f"[red]{len(report.errors)} error(s)[/], [yellow]{len(report.warnings)} warning(s)[/]"
        )
    )
    out.print(f"{escape(report.source)}: {report.rows:,} rows ({report.layout}): {status}")
    for note in report.notes:
        out.print(f"  note: {escape(note)}")
    for issue in report.issues:
        repair = f" (repair: {issue.repair})" if issue.severity == "error" and issue.repair else ""
        out.print(f"  - {escape(summarize_issue(issue) + repair)}")
