"""``alphaloop factor``: evaluate expressions, analyze them, browse libraries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import (
    Col,
    JsonOpt,
    err,
    out,
    print_json,
    print_table,
    progress_bars,
    workspace,
)
from alphaloop.cli.factor_mining import mine_command, mined_app
from alphaloop.cli.factor_text import text_app

factor_app = typer.Typer(
    help="Factors: evaluate expressions, analyze them, browse libraries.", no_args_is_help=True
)
library_app = typer.Typer(help="Named factor libraries.", no_args_is_help=True)
factor_app.add_typer(library_app, name="library")
factor_app.command("mine")(mine_command)
factor_app.add_typer(mined_app, name="mined")
factor_app.add_typer(text_app, name="text")


CacheOpt = Annotated[
    bool, typer.Option("--cache", help="Reuse factor values cached in the workspace.")
]


def _factor_cache(ws: Any, enabled: bool) -> Any:
    from alphaloop.factors import FactorCache

    if enabled and ws.read_only:
        err.print("note: --cache ignored: the workspace is read-only", markup=False)
        return None
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
    """Every operator of the expression language (generated from the parser's table)."""
    from alphaloop.factors import ALIASES, operator_listing

    rows = operator_listing()
    if as_json:
        print_json({"operators": rows, "aliases": ALIASES})
        return
    table_rows = []
    for row in rows:
        names = [str(row["signature"])]
        if row["symbols"]:
            names.append("(" + " ".join(row["symbols"]) + ")")  # type: ignore[arg-type]
        table_rows.append((" ".join(names), str(row["kind"]), str(row["doc"])))
    print_table(
        (Col("operator"), Col("kind", drop=1), Col("meaning")),
        table_rows,
        title="operators ($field reads a dataset field; N is a literal window)",
    )
    aliases = ", ".join(f"{a} = {c}" for a, c in ALIASES.items())
    out.print(f"aliases: {aliases}", markup=False)


@library_app.command("list")
def library_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Built-in and workspace factor libraries."""
    from alphaloop.factors import list_libraries

    ws = workspace(ctx)
    libs = list_libraries(ws.root)
    if as_json:
        print_json([{k: v for k, v in lib.to_dict().items() if k != "factors"} for lib in libs])
        return
    print_table(
        (Col("name"), Col("factors", "right"), Col("fields", drop=1), Col("description")),
        [(lib.name, str(len(lib.factors)), ", ".join(lib.fields), lib.description) for lib in libs],
        title="factor libraries",
    )


@library_app.command("show")
def library_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Library name.")],
    as_json: JsonOpt = False,
) -> None:
    """The factors of one library with their formulas."""
    from alphaloop.factors import get_library

    lib = get_library(name, workspace(ctx).root)
    if as_json:
        print_json(lib.to_dict())
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
    as_json: JsonOpt = False,
) -> None:
    """Validate a YAML factor library and keep it in the workspace."""
    from alphaloop.factors import save_library

    lib = save_library(workspace(ctx, write=True).root, path)
    if as_json:
        print_json({"name": lib.name, "factors": len(lib.factors), "path": lib.source})
        return
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
    from alphaloop.app import evaluate_dataset, write_long_parquet

    ws = workspace(ctx)
    result = evaluate_dataset(
        ws.data,
        {expr: expr},
        data,
        start=start,
        end=end,
        mode=_mode(compat),  # type: ignore[arg-type]
        label=label,
        cache=_factor_cache(ws, cache),
        workspace=ws,
    )
    rows = write_long_parquet(result, out_path)
    summary = result.summary()
    summary["out"] = str(out_path)
    summary["rows"] = rows
    if as_json:
        print_json(summary)
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
    analysis_mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="auto | cross-section | time-series (per-asset IC and hit rate; "
            "auto picks it when there are too few assets for a cross-section).",
        ),
    ] = "auto",
    proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--proxy",
            help="Approximate a missing field (vwap: typical price); labelled in every result.",
        ),
    ] = None,
    cache: CacheOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """IC, rank IC, decay, turnover, quantile returns, orthogonality and regimes of a factor.

    With fewer assets than a cross-section needs, per-asset IC over time and
    hit rates instead (``--mode time-series``).
    """
    from alphaloop.app import analyze_dataset

    if horizon < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--horizon")
    ws = workspace(ctx)
    known_list = None if known is None else ([] if known == "none" else known.split(","))
    with progress_bars(as_json) as progress:
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
            workspace=ws,
            cache=_factor_cache(ws, cache),
            analysis_mode=analysis_mode,
            field_proxies=tuple(proxy or ()),
            progress=progress,
        )
    doc = result.to_dict()
    if report is not None:
        from alphaloop.factors import write_report

        doc["report"] = str(write_report(result, report))
    if as_json:
        print_json(doc)
        return
    _print_analysis(doc, result.is_library)


def _print_analysis(doc: dict[str, Any], is_library: bool) -> None:
    from alphaloop.factors import library_rows, time_series_lines

    def num(v: Any, fmt: str = ".4f") -> str:
        return "-" if v is None else format(v, fmt)

    out.print(
        f"[bold]{escape(doc['target'])}[/] on {doc['dataset']} ({doc['mode']}), "
        f"market: {escape(doc['market'])}, known factors: {', '.join(doc['known_factors']) or '-'}"
    )
    for line in doc.get("skipped_summary") or []:
        out.print(f"  [yellow]{escape(line)}[/]")
    if is_library:
        mt = doc["multiple_testing"]
        header, rows = library_rows(doc)
        cols = tuple(
            Col(h) if i == 0 else Col(h, "right", drop=max(0, i - 2)) for i, h in enumerate(header)
        )
        print_table(cols, rows, title=f"{doc['n_factors_tested']} factors tested")
        out.print(
            f"{mt['significant_at_5pct_before_adjustment']} of {mt['n_tests']} significant at 5% "
            f"before adjusting for the number tested, "
            f"{mt['significant_at_5pct_after_adjustment']} after (Holm)."
        )
    elif doc.get("analysis_mode") == "time-series":
        for line in time_series_lines(doc):
            out.print(escape(line))
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
