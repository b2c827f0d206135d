"""``alphaloop model compare``: registered versions on the same splits and span."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import (
    Col,
    JsonOpt,
    fmt_num,
    out,
    print_json,
    print_table,
    progress_bars,
    workspace,
)

__all__ = ["model_compare"]


def model_compare(
    ctx: typer.Context,
    refs: Annotated[
        list[str], typer.Argument(help="Two or more versions: NAME/vN, NAME or NAME@stage.")
    ],
    splits: Annotated[
        int,
        typer.Option(
            "--splits", min=2, max=50, help="Walk-forward folds shared by all (cv versions)."
        ),
    ] = 5,
    quantile: Annotated[
        float,
        typer.Option("--quantile", min=0.01, max=0.5, help="Leg size of the long-short portfolio."),
    ] = 0.2,
    cost_bps: Annotated[
        float, typer.Option("--cost-bps", min=0.0, help="Cost per unit traded (bps).")
    ] = 5.0,
    as_json: JsonOpt = False,
) -> None:
    """Re-run versions on identical walk-forward test rows: IC, ICIR, DM test, turnover, DSR."""
    from alphaloop.app.model_compare import compare_models

    ws = workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        result = compare_models(
            ws, refs, n_splits=splits, quantile=quantile, cost_bps=cost_bps, progress=progress
        )
    doc = result.to_dict()
    if as_json:
        print_json(doc)
        return
    s = doc["settings"]
    splits = (
        f"the shared schedule {s['schedule']}"
        if s["splitter"] == "rolling"
        else f"{s['n_splits']} walk-forward folds (embargo {fmt_num(s['embargo'])})"
    )
    out.print(
        f"{len(doc['refs'])} models on {escape(doc['dataset'])} v{doc['dataset_version']}: "
        f"{escape(splits)}, "
        f"{doc['n_test_rows']:,} identical test rows, {doc['first_test'][:10]} .. "
        f"{doc['last_test'][:10]}; run {doc['run_id']}"
    )
    cols = (
        Col("model"),
        Col("IC", "right"),
        Col("rank IC", "right"),
        Col("ICIR (ann.)", "right", drop=2),
        Col("IC t (HAC)", "right", drop=3),
        Col("turnover", "right", drop=1),
        Col("L/S Sharpe (ann.)", "right", drop=2),
        Col("DSR", "right"),
    )
    rows = [
        (
            m["name"],
            fmt_num(m["ic"]),
            fmt_num(m["rank_ic"]),
            fmt_num(m["icir_annual"], 3),
            fmt_num(m["ic_tstat_hac"], 3),
            fmt_num(m["turnover"], 3),
            fmt_num(m["ls_sharpe_annual"], 3),
            fmt_num(m["dsr"], 3),
        )
        for m in doc["models"]
    ]
    print_table(cols, rows)
    pair_cols = (
        Col("A"),
        Col("B"),
        Col("mean IC A-B", "right"),
        Col("DM stat", "right"),
        Col("p-value", "right"),
        Col("lags", "right", drop=1),
    )
    pair_rows = [
        (
            p["first"],
            p["second"],
            fmt_num(p["mean_difference"]),
            fmt_num(p["stat"], 3),
            fmt_num(p["p_value"], 3),
            str(p["lags"]),
        )
        for p in doc["pairs"]
    ]
    print_table(pair_cols, pair_rows, title="Diebold-Mariano test of the per-date IC difference")
    out.print(
        f"DSR of net daily long-short returns (top/bottom {fmt_num(s['quantile'])}, "
        f"{fmt_num(s['cost_bps'])} bps per unit traded) with {doc['n_trials']} trials: "
        "the versions registered on this dataset"
    )
