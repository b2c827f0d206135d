"""``alphaloop backtest`` and ``alphaloop lookahead``: run and scan strategies.

Both take a spec file (YAML or JSON) or the quick form ``--expr EXPR --data
NAME --top-k K``. With a file, the quick-form options given (``--top-k``,
``--fills``, ``--start``...) override its fields, and the output says so in
one line (see :func:`alphaloop.app.specs.resolve_spec`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from alphaloop.cli.common import (
    DataOpt,
    ExprOpt,
    JsonOpt,
    PeriodsPerYearOpt,
    SpecArg,
    SpecEndOpt,
    SpecFillsOpt,
    SpecRebalanceOpt,
    SpecStartOpt,
    SpecTopKOpt,
    SpecWeightingOpt,
    out,
    print_json,
    progress_bars,
    workspace,
)
from alphaloop.errors import ExitCode

# metrics shown in the terminal, with their format
_HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("total_return", "total return", "signed"),
    ("annual_return", "annual return", "signed"),
    ("annual_volatility", "annual volatility", "pct"),
    ("sharpe_ratio", "Sharpe", "num"),
    ("sortino_ratio", "Sortino", "num"),
    ("max_drawdown", "max drawdown", "pct"),
    ("max_drawdown_duration_days", "longest drawdown (days)", "int"),
    ("calmar_ratio", "Calmar", "num"),
    ("win_rate", "win rate (round trips)", "pct"),
    ("profit_factor", "profit factor", "num"),
    ("n_round_trips", "round trips", "int"),
    ("turnover", "turnover (per year)", "num"),
    ("total_costs", "costs", "money"),
    ("cost_drag_annual", "cost drag (per year)", "pct"),
    ("beta", "beta", "num"),
    ("alpha", "alpha (annual)", "signed"),
    ("information_ratio", "information ratio", "num"),
    ("tracking_error", "tracking error (annual)", "pct"),
    ("benchmark_correlation", "correlation with the benchmark", "num"),
    ("var_95", "VaR 95% (per bar)", "pct"),
    ("cvar_95", "CVaR 95% (per bar)", "pct"),
)


def _fmt(value: Any, kind: str) -> str:
    """``signed``: a return, with its sign; ``pct``: a size (volatility, drawdown, a rate)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "signed":
        return f"{value:+.2%}"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "int":
        return f"{value:,.0f}"
    if kind == "money":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def backtest(
    ctx: typer.Context,
    spec_path: SpecArg = None,
    expr: ExprOpt = None,
    data: DataOpt = None,
    top_k: SpecTopKOpt = None,
    weighting: SpecWeightingOpt = None,
    rebalance: SpecRebalanceOpt = None,
    fills: SpecFillsOpt = None,
    start: SpecStartOpt = None,
    end: SpecEndOpt = None,
    engine: Annotated[
        str, typer.Option("--engine", help="vectorized (fast) | event (order by order).")
    ] = "vectorized",
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML tearsheet here.")
    ] = None,
    periods_per_year: PeriodsPerYearOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest a strategy: costs on, fills at the next bar unless the spec says otherwise."""
    from alphaloop.app import resolve_spec, run_backtest

    resolved = resolve_spec(
        spec_path,
        expr,
        data,
        top_k=top_k,
        weighting=weighting,
        rebalance=rebalance,
        fills=fills,
        start=start,
        end=end,
        periods_per_year=periods_per_year,
    )
    spec = resolved.spec
    ws = workspace(ctx, write=True)
    result = run_backtest(ws, spec, engine=engine)  # type: ignore[arg-type]
    if report is not None:
        from alphaloop.backtest import render_backtest_report

        render_backtest_report(result, report)
    if as_json:
        doc = result.to_dict()
        doc["report"] = str(report) if report else None
        doc["overrides"] = resolved.overrides
        print_json(doc)
        return
    doc = result.to_dict(max_trades=0)
    a = doc["assumptions"]
    out.print(
        f"[bold]{escape(spec.name)}[/]  spec {doc['spec_hash'][:12]}  run {doc['run_id']}  "
        f"engine {doc['engine']}  strategies tried on this dataset: {doc['n_trials']}",
        soft_wrap=True,  # one line a script can read, however narrow the terminal
    )
    if resolved.overrides:
        out.print(escape(str(resolved.overrides_line())))
    out.print(
        f"{escape(doc['dataset']['name'])} v{doc['dataset']['version']}  "
        f"{doc['period']['start'][:10]} .. {doc['period']['end'][:10]}  "
        f"{doc['period']['bars']:,} bars  final equity {doc['final_equity']:,.0f}"
    )
    if a["fills"]["optimistic"]:
        out.print(f"[bold red]{escape(a['fills']['description'])}[/]")
    for flag in doc["implausible"]:
        out.print(f"[bold red]IMPLAUSIBLE:[/] {escape(flag['message'])}")
    table = Table(show_header=False, box=None, pad_edge=False)
    for key, label, kind in _HEADLINE:
        table.add_row(label, _fmt(doc["metrics"].get(key), kind))
    out.print(table)
    out.print(f"benchmark: {escape(a['benchmark'])}; {doc['n_trades']:,} fills")
    out.print(f"fills: {escape(a['fills']['description'])}")
    out.print(f"annualization: {escape(a['annualization']['description'])}")
    for line in a["costs"]["description"]:
        out.print(f"costs: {escape(line)}")
    for c in a["data"]["caveats"]:
        out.print(f"[yellow]caveat:[/] {escape(c)}")
    for n in a["notes"]:
        if not n.startswith("IMPLAUSIBLE:"):  # printed in red above
            out.print(f"note: {escape(n)}")
    if report is not None:
        out.print(f"report written to {escape(str(report))}")


def lookahead(
    ctx: typer.Context,
    spec_path: SpecArg = None,
    expr: ExprOpt = None,
    data: DataOpt = None,
    top_k: SpecTopKOpt = None,
    weighting: SpecWeightingOpt = None,
    rebalance: SpecRebalanceOpt = None,
    fills: SpecFillsOpt = None,
    start: SpecStartOpt = None,
    end: SpecEndOpt = None,
    points: Annotated[int, typer.Option("--points", help="Truncation points.", min=2)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Scan a strategy for lookahead: exit 0 when clean, 1 when future data leaks in."""
    from alphaloop.app import resolve_spec, scan_spec

    resolved = resolve_spec(
        spec_path,
        expr,
        data,
        top_k=top_k,
        weighting=weighting,
        rebalance=rebalance,
        fills=fills,
        start=start,
        end=end,
    )
    spec = resolved.spec
    ws = workspace(ctx, write=True)
    with (
        ws.runs.start("lookahead", {"spec": spec.model_dump(mode="json")}) as run,
        progress_bars(as_json) as progress,
    ):
        report = scan_spec(ws, spec, n_points=points, progress=progress)
        run.result = {"clean": report.clean, "counts": report.to_dict()["counts"]}
    if as_json:
        doc = report.to_dict()
        doc["spec_hash"] = spec.hash
        doc["overrides"] = resolved.overrides
        print_json(doc)
    else:
        if resolved.overrides:
            out.print(escape(str(resolved.overrides_line())))
        colour = "green" if report.clean else "red"
        out.print(f"[{colour}]{escape(report.summary())}[/]")
    if not report.clean:
        raise typer.Exit(ExitCode.CHECK_FAILED)
