"""``alphaloop data``: list, show, import, combine, resample and check datasets."""

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

data_app = typer.Typer(
    help="Datasets: list, show, import, combine, resample, check.", no_args_is_help=True
)


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
        Col("market", drop=6),
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
            f"{i.market.asset_class} {i.market.calendar}",
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
    out.print(f"market: {escape(info.market.describe())}")
    out.print(f"  (read from: {escape(info.market.basis)})")
    out.print(f"fields: {escape(', '.join(info.fields))}")
    ids = ", ".join(info.asset_ids[:30]) + (" ..." if info.assets > 30 else "")
    out.print(f"assets: {escape(ids)}")
    out.print(f"content hash: {info.content_hash}")
    if info.combined:
        out.print(f"combined on the {info.combined['calendar']} calendar of:")
        for src in info.combined["sources"]:
            out.print(
                f"  {escape(src['dataset'])} v{src['version']} "
                + escape(f"[{src['content_hash'][:12]}]: " + ", ".join(src["assets"]))
            )
    if info.resampled:
        src = info.resampled
        out.print(
            f"resampled from {escape(src['dataset'])} v{src['version']} "
            + escape(f"[{src['content_hash'][:12]}]")
            + f" ({escape(src['source_frequency'])} -> "
            f"{escape(src['rule'])}, {escape(src.get('trading_calendar') or 'UTC days')})"
        )
    if info.caveats:
        out.print("[yellow]caveats:[/]")
        for c in info.caveats:
            out.print(f"  - {escape(c)}")
    report = info.quality_report
    out.print(
        f"quality of the stored rows: {len(report.errors)} error(s), "
        f"{len(report.warnings)} warning(s)"
    )
    for issue in report.issues:
        for i, line in enumerate(issue.lines(max_locations=3)):
            out.print(("  - " if i == 0 else "    ") + escape(line.strip()))
    for r in info.repairs:
        out.print(f"  repaired at import {r.check}: {escape(r.action)} ({r.count})")
    out.print(preview.to_string(index=False), markup=False)


LayoutOpt = Annotated[
    str, typer.Option(help="auto | long | single | wide (refused when auto is not certain).")
]
FieldOpt = Annotated[str, typer.Option(help="Field a wide file holds (close, open, ...).")]
AssetOpt = Annotated[str | None, typer.Option(help="Asset id of a single-asset file.")]
DelimiterOpt = Annotated[str | None, typer.Option(help="CSV delimiter (default: sniffed).")]
DecimalOpt = Annotated[str, typer.Option(help="Decimal mark of the numbers: . or ,")]
TimeColumnOpt = Annotated[
    str | None, typer.Option("--time-column", help="Column holding the timestamps.")
]
TimeFormatOpt = Annotated[
    str | None, typer.Option("--time-format", help="strptime format, e.g. %d.%m.%Y %H:%M.")
]
TimezoneOpt = Annotated[str, typer.Option(help="Zone of timestamps without offset.")]
TradingCalendarOpt = Annotated[
    str | None,
    typer.Option(
        "--calendar",
        help="Trading calendar of the gap checks: XNYS, XLON, CMES, ... (exchange-calendars), "
        "24/7, 24/5 or none (default: inferred from the timestamps).",
    ),
]
SkipRowsOpt = Annotated[
    int | None,
    typer.Option(
        "--skip-rows",
        help="Lines above the header to skip (default: banner lines are detected; 0: none).",
        min=0,
    ),
]


def _read_options(
    layout: str,
    field: str,
    asset: str | None,
    delimiter: str | None,
    decimal: str,
    time_column: str | None,
    time_format: str | None,
    timezone: str,
    skip_rows: int | None,
) -> Any:
    """The file-reading options of a command (validated: bad values are one-line errors)."""
    from alphaloop.data import ReadOptions

    return ReadOptions(
        layout=layout,  # type: ignore[arg-type]
        field=field,
        asset=asset,
        delimiter=delimiter,
        decimal=decimal,  # type: ignore[arg-type]
        time_column=time_column,
        time_format=time_format,
        timezone=timezone,
        skip_rows=skip_rows,
    )


@data_app.command("import")
def data_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    name: Annotated[str, typer.Option("--name", help="Dataset name in the workspace.")],
    layout: LayoutOpt = "auto",
    field: FieldOpt = "close",
    asset: AssetOpt = None,
    delimiter: DelimiterOpt = None,
    decimal: DecimalOpt = ".",
    time_column: TimeColumnOpt = None,
    time_format: TimeFormatOpt = None,
    timezone: TimezoneOpt = "UTC",
    skip_rows: SkipRowsOpt = None,
    repair: Annotated[bool, typer.Option(help="Apply the documented repairs.")] = False,
    description: Annotated[str, typer.Option(help="Free text kept with the dataset.")] = "",
    asset_class: Annotated[
        str | None,
        typer.Option(
            "--asset-class",
            help="equities, fx, crypto or other (default: read from the timestamps).",
        ),
    ] = None,
    periods_per_year: Annotated[
        float | None,
        typer.Option(
            "--periods-per-year",
            help="Bars per year for annualization (default: from the calendar).",
        ),
    ] = None,
    calendar: TradingCalendarOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a CSV or Parquet file (long, single-asset or wide) as a new dataset version."""
    from alphaloop.errors import DataQualityError

    options = _read_options(
        layout, field, asset, delimiter, decimal, time_column, time_format, timezone, skip_rows
    )
    ws = workspace(ctx, write=True)
    try:
        result = ws.data.import_file(
            path,
            name,
            options=options,
            repair=repair,
            description=description,
            asset_class=asset_class,
            periods_per_year=periods_per_year,
            calendar=calendar,
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
    out.print(f"  market: {escape(info.market.describe())}")
    for note in result.report.notes:
        out.print(f"  note: {escape(note)}")
    for r in result.repairs:
        out.print(f"  repaired {r.check}: {escape(r.action)} ({r.count})")
    for w in (result.final_report or result.report).warnings:
        for i, line in enumerate(w.lines(max_locations=3)):
            out.print(("  [yellow]warning[/] " if i == 0 else "    ") + escape(line.strip()))
    if result.holdout_notice:
        out.print(f"  [bold]{escape(result.holdout_notice)}[/]")


@data_app.command("combine")
def data_combine(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the combined dataset.")],
    sources: Annotated[
        list[str],
        typer.Option(
            "--from",
            help="A source: DATASET (every asset) or DATASET:ASSET,ASSET. Repeat for each.",
        ),
    ],
    calendar: Annotated[
        str,
        typer.Option(
            "--calendar",
            help="intersect: bars every source has (default); union: bars any source has "
            "(NaN, not in the universe, where a source has none).",
        ),
    ] = "intersect",
    description: Annotated[str, typer.Option(help="Free text kept with the dataset.")] = "",
    periods_per_year: Annotated[
        float | None,
        typer.Option(
            "--periods-per-year",
            help="Bars per year for annualization (default: from the combined calendar).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Combine the assets of several datasets into a new dataset on a common calendar."""
    ws = workspace(ctx, write=True)
    result = ws.data.combine(
        name,
        sources,
        calendar=calendar,
        description=description,
        periods_per_year=periods_per_year,
    )
    if as_json:
        print_json(result.to_dict())
        return
    info = result.dataset
    out.print(
        f"[green]combined[/] {info.name} v{info.version}: {info.assets} assets, "
        f"{info.rows:,} rows, {fmt_date(info.start)} .. {fmt_date(info.end)} "
        f"({result.combination.calendar} calendar, {info.times:,} bars)"
    )
    for src in result.combination.sources:
        names = ", ".join(c if c == own else f"{c} (= {own})" for c, own in src.assets)
        out.print(
            f"  from {escape(src.dataset)} v{src.version} "
            + escape(f"[{src.content_hash[:12]}]: {names}")
            + f"; {src.bars_kept:,} of its {src.bars:,} bars"
        )
    out.print(f"  market: {escape(info.market.describe())}")
    out.print(f"  fields: {escape(', '.join(info.fields))}")
    out.print(f"  {len(info.caveats)} caveat(s) carried (`alphaloop data show {info.name}`)")
    if result.holdout_notice:
        out.print(f"  [bold]{escape(result.holdout_notice)}[/]")


@data_app.command("resample")
def data_resample(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset to resample.")],
    to: Annotated[
        str, typer.Option("--to", help="Target bar: 5min, 15min, 30min, 1h, 4h, ... or daily.")
    ],
    as_name: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Name of the resampled dataset (default: NAME-RULE). An existing one must "
            "have been resampled from NAME at this rule: it gets a new version.",
        ),
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="Version of the source (default: latest).")
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            help="How the source's bars are stamped: start or end (default: read from "
            "its trading calendar's grid)."
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="Free text kept with the dataset.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Resample a dataset to a coarser bar and store it as a dataset (the seal follows)."""
    ws = workspace(ctx, write=True)
    result = ws.data.resample(
        name, to, as_name=as_name, version=version, label=label, description=description
    )
    if as_json:
        print_json(result.to_dict())
        return
    info, origin = result.dataset, result.origin
    if result.status == "up-to-date":
        out.print(
            f"{info.name} v{info.version} is up to date: resampled from {escape(origin.dataset)} "
            f"v{origin.version} " + escape(f"[{origin.content_hash[:12]}]") + f" to "
            f"{escape(origin.rule)}; nothing stored"
        )
        return
    out.print(
        f"[green]resampled[/] {escape(origin.dataset)} v{origin.version} "
        f"({escape(origin.source_frequency)}) to {info.name} v{info.version}: "
        f"{info.assets} assets, {info.times:,} {escape(origin.rule)} bars, "
        f"{fmt_date(info.start)} .. {fmt_date(info.end)}"
    )
    where = f"the {origin.trading_calendar} sessions" if origin.trading_calendar else "UTC days"
    out.print(
        f"  buckets on {escape(where)}; source bars stamped at their {origin.label}"
        + (f"; {origin.dropped:,} outside the sessions left out" if origin.dropped else "")
    )
    out.print(f"  market: {escape(info.market.describe())}")
    out.print(f"  fields: {escape(', '.join(info.fields))}")
    report = info.quality_report
    out.print(
        f"  quality: {len(report.errors)} error(s), {len(report.warnings)} warning(s); "
        f"{len(info.caveats)} caveat(s) (`alphaloop data show {info.name}`)"
    )
    if result.holdout_notice:
        out.print(f"  [bold]{escape(result.holdout_notice)}[/]")


@data_app.command("check")
def data_check(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A file path or a dataset name.")],
    layout: LayoutOpt = "auto",
    field: FieldOpt = "close",
    asset: AssetOpt = None,
    delimiter: DelimiterOpt = None,
    decimal: DecimalOpt = ".",
    time_column: TimeColumnOpt = None,
    time_format: TimeFormatOpt = None,
    timezone: TimezoneOpt = "UTC",
    skip_rows: SkipRowsOpt = None,
    calendar: TradingCalendarOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Quality report. Exit 0 if clean, 1 if problems were found, 2 if unreadable.

    A file needs no workspace; a dataset name is looked up in the workspace.
    """
    from alphaloop.data import DataCatalog
    from alphaloop.errors import DataReadError

    options = _read_options(
        layout, field, asset, delimiter, decimal, time_column, time_format, timezone, skip_rows
    )
    path = Path(target)
    if path.exists():
        report, _ = DataCatalog.check_file(path, options=options, calendar=calendar)
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
    """A quality report with the first locations of every issue (``QualityReport.lines``)."""
    lines = report.lines(max_locations=3)
    status = "green" if report.clean else ("red" if report.errors else "yellow")
    out.print(f"[{status}]{escape(lines[0])}[/]", soft_wrap=True)  # a path is never cut
    for line in lines[1:]:
        out.print(escape(line), soft_wrap=True)
