"""``alphaloop validate``: the statistics that account for how a strategy was found."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alphaloop.cli.common import (
    DataOpt,
    ExprOpt,
    JsonOpt,
    PeriodsPerYearOpt,
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

_SHOWN = (
    ("psr", "PSR (vs 0)", "{:.3f}"),
    ("dsr", "deflated Sharpe", "{:.3f}"),
    ("n_trials", "strategies tried", "{:.0f}"),
    ("pbo", "PBO", "{:.3f}"),
    ("oos_is_ratio", "walk-forward OOS/IS", "{:.2f}"),
    ("regime_share", "regimes acceptable", "{:.0%}"),
    ("spa_p_value", "SPA p-value", "{:.3f}"),
    ("min_track_record", "min track record (bars)", "{:,.0f}"),
    ("n_obs", "bars", "{:,.0f}"),
)


def validate(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Argument(help="Spec file (YAML/JSON) or a backtest run id.")
    ] = None,
    expr: ExprOpt = None,
    data: DataOpt = None,
    top_k: SpecTopKOpt = None,
    weighting: SpecWeightingOpt = None,
    rebalance: SpecRebalanceOpt = None,
    fills: SpecFillsOpt = None,
    start: SpecStartOpt = None,
    end: SpecEndOpt = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML report with validation.")
    ] = None,
    periods_per_year: PeriodsPerYearOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a strategy: PSR, deflated Sharpe, PBO, walk-forward, regimes, verdict.

    Exits 0 when the strategy passes every gate of the validation policy, 1 when not.
    """
    from alphaloop.app import resolve_run_spec, resolve_spec, validate_spec

    options = {
        "top_k": top_k,
        "weighting": weighting,
        "rebalance": rebalance,
        "fills": fills,
        "start": start,
        "end": end,
        "periods_per_year": periods_per_year,
    }
    if target is not None and target.isdigit() and not Path(target).exists():
        resolved = resolve_run_spec(workspace(ctx, write=True), int(target), expr, data, **options)
    else:
        path = Path(target) if target is not None else None
        resolved = resolve_spec(path, expr, data, **options)
    spec = resolved.spec
    with progress_bars(as_json) as progress:
        result = validate_spec(workspace(ctx, write=True), spec, progress=progress)
    doc = result.to_dict()
    doc["overrides"] = resolved.overrides
    if report is not None:
        from alphaloop.backtest import render_backtest_report
        from alphaloop.validation import validation_section

        render_backtest_report(result.backtest, report, extra_sections=[validation_section(doc)])
        doc["report"] = str(report)
    if as_json:
        print_json(doc)
    else:
        verdict = "[green]PASSED[/]" if doc["passed"] else "[red]FAILED[/]"
        out.print(f"[bold]{escape(spec.name)}[/]  spec {doc['spec_hash'][:12]}  {verdict}")
        if resolved.overrides:
            out.print(escape(str(resolved.overrides_line())))
        for flag in doc["implausible"]:
            out.print(f"[bold red]IMPLAUSIBLE:[/] {escape(flag['message'])}")
        if doc.get("annualization"):
            out.print(f"annualization: {escape(doc['annualization']['description'])}")
        table = Table(show_header=False, box=None, pad_edge=False)
        for key, label, pattern in _SHOWN:
            value = doc.get(key)
            table.add_row(label, "not measured" if value is None else pattern.format(value))
        perm = doc.get("permutation") or {}
        p = perm.get("p_value")
        table.add_row("signal permutation p", perm.get("note", "-") if p is None else f"{p:.3f}")
        out.print(table)
        fam = doc["family"]
        out.print(
            f"trial family: {fam['size']} strategies ({fam['recorded_trials']} recorded, "
            f"{fam['neighbours']} neighbours of this spec)"
        )
        for reason in doc["reasons"]:
            out.print(f"  - {escape(reason)}")
        if report is not None:
            out.print(f"report written to {escape(str(report))}")
    if not doc["passed"]:
        raise typer.Exit(ExitCode.CHECK_FAILED)
