"""The ``alphaloop`` command line.

Errors print one line (what, where, what to do) on stderr and exit non-zero;
``--debug`` shows the traceback instead. Every command that reports
something takes ``--json`` and then prints exactly one JSON document on
stdout. Heavy imports happen inside the commands so start-up stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alphaloop import __version__

app = typer.Typer(
    name="alphaloop",
    help="Autonomous quantitative research with numbers that survive scrutiny.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Datasets: list, show, import, check.", no_args_is_help=True)
runs_app = typer.Typer(help="The run log.", no_args_is_help=True)
factor_app = typer.Typer(
    help="Factors: evaluate expressions, analyze them, browse libraries.", no_args_is_help=True
)
library_app = typer.Typer(help="Named factor libraries.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(runs_app, name="runs")
app.add_typer(factor_app, name="factor")
factor_app.add_typer(library_app, name="library")

out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"alphaloop {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace directory (default: $ALPHALOOP_HOME or ./.alphaloop).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """alphaloop: research, backtest and validate trading strategies."""
    ctx.obj = {"workspace": workspace, "debug": debug}


def _workspace(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from alphaloop.workspace import Workspace

    return Workspace(ctx.obj["workspace"])


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _fmt_date(value: Any) -> str:
    return f"{value:%Y-%m-%d}" if value is not None else "-"


# ---------------------------------------------------------------------- data
@data_app.command("list")
def data_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every dataset in the workspace, bundled and imported."""
    ws = _workspace(ctx)
    infos = ws.data.list()
    if as_json:
        _print_json([i.to_dict() for i in infos])
        return
    table = Table(title=f"datasets in {ws.root}")
    for col in ("name", "ver", "assets", "fields", "start", "end", "freq", "rows", "source"):
        table.add_column(col, justify="right" if col in ("ver", "assets", "rows") else "left")
    for i in infos:
        table.add_row(
            i.name,
            str(i.version),
            str(i.assets),
            ",".join(i.fields),
            _fmt_date(i.start),
            _fmt_date(i.end),
            i.frequency,
            f"{i.rows:,}",
            escape(i.source.split("/")[0] if i.bundled else i.source),
        )
    out.print(table)


@data_app.command("show")
def data_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    version: Annotated[int | None, typer.Option(help="Version (default: latest).")] = None,
    rows: Annotated[int, typer.Option(help="Preview rows.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """One dataset: summary, caveats, quality and a preview of its last rows."""
    ws = _workspace(ctx)
    info = ws.data.info(name, version)
    preview = ws.data.preview(name, rows, version)
    if as_json:
        doc = info.to_dict(full=True)
        doc["preview"] = json.loads(preview.to_json(orient="records", date_format="iso"))
        _print_json(doc)
        return
    out.print(f"[bold]{info.name}[/] v{info.version}  ({escape(info.source)})")
    if info.description:
        out.print(escape(info.description))
    out.print(
        f"{info.assets} assets x {info.times:,} times ({info.rows:,} rows), {info.frequency}, "
        f"{_fmt_date(info.start)} .. {_fmt_date(info.end)}"
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
    ws = _workspace(ctx)
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
        if as_json:
            _print_json({"status": "refused", "error": str(exc), "report": exc.report.to_dict()})
        else:
            _print_report(exc.report)
        raise
    if as_json:
        _print_json(result.to_dict())
        return
    info = result.dataset
    out.print(
        f"[green]imported[/] {info.name} v{info.version}: {info.assets} assets, "
        f"{info.rows:,} rows, {_fmt_date(info.start)} .. {_fmt_date(info.end)} ({result.status})"
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
    """Quality report. Exit 0 if clean, 1 if problems were found, 2 if unreadable."""
    from alphaloop.errors import DataReadError

    ws = _workspace(ctx)
    path = Path(target)
    if path.exists():
        report, _ = ws.data.check_file(
            path,
            layout=layout,
            field_name=field,
            delimiter=delimiter,  # type: ignore[arg-type]
            timezone=timezone,
        )
    elif _is_dataset(ws, target):
        report = ws.data.check_dataset(target)
    elif any(sep in target for sep in ("/", "\\")) or path.suffix:
        raise DataReadError(f"{target}: no such file")
    else:
        raise DataReadError(
            f"{target!r} is neither a file nor a dataset in this workspace",
            hint="see `alphaloop data list`",
        )
    if as_json:
        _print_json(report.to_dict())
    else:
        _print_report(report)
    if not report.clean:
        raise typer.Exit(1)


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


# ---------------------------------------------------------------------- runs
@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recent runs, newest first."""
    ws = _workspace(ctx)
    runs = ws.runs.list(kind, limit)
    if as_json:
        _print_json(runs)
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


# -------------------------------------------------------------------- factor
CacheOpt = Annotated[
    bool, typer.Option("--cache", help="Reuse factor values cached in the workspace.")
]


def _factor_cache(ws: Any, enabled: bool) -> Any:
    from alphaloop.factors.cache import FactorCache

    return FactorCache(ws.root / "cache" / "factors") if enabled else None


def _mode(compat: str | None) -> str:
    if compat in (None, "", "none", "strict"):
        return "strict"
    if compat == "qlib":
        return "qlib"
    raise typer.BadParameter(
        f"{compat!r} is not a compatibility mode; use qlib", param_hint="--compat"
    )


@factor_app.command("operators")
def factor_operators(as_json: JsonOpt = False) -> None:
    """Every operator of the expression language."""
    from alphaloop.factors.operators import ALIASES, OPERATORS

    specs = [s for s in OPERATORS.values() if s.kind != "marker"]
    if as_json:
        _print_json(
            {
                "operators": [
                    {"name": s.name, "kind": s.kind, "signature": s.signature, "doc": s.doc}
                    for s in specs
                ],
                "aliases": ALIASES,
            }
        )
        return
    table = Table(title="operators ($field reads a dataset field; N is a literal window)")
    for col in ("operator", "kind", "meaning"):
        table.add_column(col)
    for s in specs:
        table.add_row(escape(s.signature), s.kind, escape(s.doc))
    out.print(table)
    out.print("aliases: " + ", ".join(f"{a} = {c}" for a, c in ALIASES.items()))


@library_app.command("list")
def library_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Built-in and workspace factor libraries."""
    from alphaloop.factors.library import list_libraries

    ws = _workspace(ctx)
    libs = list_libraries(ws.root)
    if as_json:
        _print_json([{k: v for k, v in lib.to_dict().items() if k != "factors"} for lib in libs])
        return
    table = Table(title="factor libraries")
    for col in ("name", "factors", "fields", "description"):
        table.add_column(col)
    for lib in libs:
        table.add_row(
            lib.name, str(len(lib.factors)), ",".join(lib.fields), escape(lib.description)
        )
    out.print(table)


@library_app.command("show")
def library_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Library name.")],
    as_json: JsonOpt = False,
) -> None:
    """The factors of one library with their formulas."""
    from alphaloop.factors.library import get_library

    lib = get_library(name, _workspace(ctx).root)
    if as_json:
        _print_json(lib.to_dict())
        return
    out.print(f"[bold]{lib.name}[/]: {escape(lib.description)} ({len(lib.factors)} factors)")
    for note in lib.notes:
        out.print(f"note: {escape(note)}")
    for fname, text in lib.factors.items():
        out.print(f"  {fname:<10} {escape(text)}")


@library_app.command("add")
def library_add(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="YAML file with name, description, factors.")],
) -> None:
    """Validate a YAML factor library and keep it in the workspace."""
    from alphaloop.factors.library import save_library

    lib = save_library(_workspace(ctx).root, path)
    out.print(f"added library {lib.name} ({len(lib.factors)} factors) at {escape(lib.source)}")


@factor_app.command("eval")
def factor_eval(
    ctx: typer.Context,
    expr: Annotated[str, typer.Argument(help="Expression, e.g. 'Mean($close, 5) / $close'.")],
    data: Annotated[str, typer.Option("--data", help="Dataset name.")],
    out_path: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    start: Annotated[str | None, typer.Option(help="First timestamp to output.")] = None,
    end: Annotated[str | None, typer.Option(help="Last timestamp to use.")] = None,
    compat: Annotated[str | None, typer.Option(help="'qlib' for Qlib's semantics.")] = None,
    label: Annotated[bool, typer.Option(help="Allow future references (labels).")] = False,
    cache: CacheOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate an expression on a dataset and write long-format Parquet."""
    from alphaloop.factors.service import evaluate_dataset, write_long_parquet

    ws = _workspace(ctx)
    result = evaluate_dataset(
        ws.data,
        {expr: expr},
        data,
        start=start,
        end=end,
        mode=_mode(compat),  # type: ignore[arg-type]
        label=label,
        cache=_factor_cache(ws, cache),
    )
    rows = write_long_parquet(result, out_path)
    summary = result.summary()
    summary["out"] = str(out_path)
    summary["rows"] = rows
    if as_json:
        _print_json(summary)
        return
    stats = summary["factors"][expr]
    out.print(
        f"wrote {rows:,} rows to {escape(str(out_path))} ({stats['valid']:,} values, "
        f"{rows - stats['valid']:,} missing during warm-up or in the data), mode {result.mode}"
    )
    for c in result.caveats:
        out.print(f"  [yellow]caveat:[/] {escape(c)}")


@factor_app.command("analyze")
def factor_analyze(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="An expression, or a factor library's name.")],
    data: Annotated[str, typer.Option("--data", help="Dataset name (needs a close).")],
    horizon: Annotated[int, typer.Option(help="Forward-return horizon in bars.")] = 1,
    quantiles: Annotated[int, typer.Option(help="Number of quantile buckets.")] = 5,
    start: Annotated[str | None, typer.Option(help="First timestamp analyzed.")] = None,
    end: Annotated[str | None, typer.Option(help="Last timestamp used.")] = None,
    compat: Annotated[str | None, typer.Option(help="'qlib' for Qlib's semantics.")] = None,
    market: Annotated[
        str, typer.Option(help="Single-asset dataset as the market, 'auto' or 'none'.")
    ] = "auto",
    known: Annotated[
        str | None,
        typer.Option(help="Comma-separated datasets of known factors, or 'none'."),
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML tearsheet here.")] = None,
    cache: CacheOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """IC, rank IC, decay, turnover, quantile returns, orthogonality and regimes of a factor."""
    from alphaloop.factors.service import analyze_dataset

    if horizon < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--horizon")
    ws = _workspace(ctx)
    known_list = None if known is None else ([] if known == "none" else known.split(","))
    result = analyze_dataset(
        ws.data,
        target,
        data,
        horizon=horizon,
        quantiles=quantiles,
        start=start,
        end=end,
        mode=_mode(compat),
        market=market,
        known=known_list,  # type: ignore[arg-type]
        library_root=ws.root,
        cache=_factor_cache(ws, cache),
    )
    doc = result.to_dict()
    if report is not None:
        from alphaloop.factors.report_pages import write_report

        doc["report"] = str(write_report(result, report))
    if as_json:
        _print_json(doc)
        return
    _print_analysis(doc, result.is_library)


def _print_analysis(doc: dict[str, Any], is_library: bool) -> None:
    def num(v: Any, fmt: str = ".4f") -> str:
        return "-" if v is None else format(v, fmt)

    out.print(
        f"[bold]{escape(doc['target'])}[/] on {doc['dataset']} ({doc['mode']}), "
        f"market: {escape(doc['market'])}, known factors: {', '.join(doc['known_factors']) or '-'}"
    )
    if is_library:
        mt = doc["multiple_testing"]
        table = Table(title=f"{doc['n_factors_tested']} factors tested")
        for col in ("factor", "rank IC", "t (HAC)", "p", "p Holm", "IC", "spread", "rank AC"):
            table.add_column(col, justify="left" if col == "factor" else "right")
        rows = sorted(
            doc["factors"].items(), key=lambda kv: -abs(kv[1].get("rank_t_stat_hac") or 0)
        )
        for name, f in rows:
            table.add_row(
                name,
                num(f["rank_ic_mean"]),
                num(f["rank_t_stat_hac"], ".2f"),
                num(f["rank_ic_p_value"], ".3f"),
                num(f["rank_ic_p_value_holm"], ".3f"),
                num(f["ic_mean"]),
                num(f["quantile_returns"]["spread"]["mean"], ".5f"),
                num(f["turnover"]["rank_autocorrelation"].get("1"), ".3f"),
            )
        out.print(table)
        out.print(
            f"{mt['significant_at_5pct_before_adjustment']} of {mt['n_tests']} significant at 5% "
            f"before adjusting for the number tested, "
            f"{mt['significant_at_5pct_after_adjustment']} after (Holm)."
        )
    else:
        out.print(
            f"IC {num(doc['ic_mean'])} (ICIR {num(doc['icir'], '.3f')}, "
            f"t {num(doc['t_stat'], '.2f')}, "
            f"HAC t {num(doc['t_stat_hac'], '.2f')}), rank IC {num(doc['rank_ic_mean'])} "
            f"over {doc['n_periods']} periods, horizon {doc['horizon']}"
        )
        decay = ", ".join(f"{h}: {num(p['rank_ic_mean'])}" for h, p in doc["ic_decay"].items())
        out.print(f"rank IC decay: {decay}")
        q = doc["quantile_returns"]
        buckets = [k for k in q if k.isdigit()]
        out.print(
            "mean forward return by quantile: "
            + ", ".join(f"Q{k} {num(q[k], '.5f')}" for k in buckets)
            + f"; spread {num(q['spread']['mean'], '.5f')}, monotonicity "
            f"{num(q['monotonicity'], '.2f')}"
        )
    for c in doc["caveats"]:
        out.print(f"  [yellow]caveat:[/] {escape(c)}")
    if doc.get("report"):
        out.print(f"report written to {escape(doc['report'])}")


# ---------------------------------------------------------------------- demo
@app.command("demo")
def demo(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Run the main pipeline on bundled real data (offline, no keys)."""
    from alphaloop.demo import run_demo

    ws = _workspace(ctx)
    summary = run_demo(ws, console=None if as_json else out)
    if as_json:
        _print_json(summary)


# ------------------------------------------------------------------ backtest
def _register_backtest() -> None:
    from alphaloop.cli_backtest import backtest, lookahead
    from alphaloop.cli_holdout import holdout_app
    from alphaloop.cli_models import model_app
    from alphaloop.cli_validate import validate

    app.command("backtest")(backtest)
    app.command("lookahead")(lookahead)
    app.command("validate")(validate)
    app.add_typer(holdout_app, name="holdout")
    app.add_typer(model_app, name="model")


_register_backtest()


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning errors into one-line messages and exit codes."""
    from alphaloop.errors import AlphaloopError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="alphaloop")
    except SystemExit as exc:  # typer's standalone mode: usage errors, help, typer.Exit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except AlphaloopError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"  hint: {escape(exc.hint)}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"[red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "  hint: run again with --debug for the traceback, and report it",
            soft_wrap=True,
        )
        return 70
    return 0


def run() -> None:  # pragma: no cover - the console script; tests call main()
    """Console entry point: run :func:`main`, flush, and exit without native teardown.

    Arrow's and DuckDB's thread pools can abort the process while the
    interpreter shuts down (``terminate called without an active
    exception``, seen intermittently under load). By then every result is
    written and committed, so the process leaves with ``os._exit`` and the
    exit code ``main`` chose.
    """
    import contextlib
    import os

    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a closed pipe (`| head`): nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
