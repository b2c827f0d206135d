"""``alphaloop risk regimes``: the current market regime of a dataset and its regime table."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import (
    Col,
    JsonOpt,
    PeriodsPerYearOpt,
    out,
    print_json,
    print_table,
    workspace,
)


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


def risk_regimes(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset name (needs closes).")],
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="vol (trailing volatility vs its history), trend (50/200-bar averages), "
            "hmm (Gaussian HMM, needs the risk extra), markov (Markov switching), hurst.",
        ),
    ] = "vol",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the HMM fits.")] = 0,
    periods_per_year: PeriodsPerYearOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The current regime of a dataset's equal-weight index, and its return per regime.

    Labels use data up to each bar only; hmm and markov are fitted on the
    first two years, refitted yearly on the past, and forward-filtered.
    """
    from alphaloop.app.risk_regimes import regime_report

    params = {"seed": seed} if method == "hmm" else {}
    report = regime_report(
        workspace(ctx), data, method, periods_per_year=periods_per_year, params=params
    )
    if as_json:
        print_json(report.to_dict())
        return
    line = f"{escape(data)} ({method}) on {report.as_of:%Y-%m-%d}: [bold]{report.current_name}[/]"
    if report.probabilities:
        line += " (" + ", ".join(f"{k} {v:.0%}" for k, v in report.probabilities.items()) + ")"
    out.print(line)
    cols = (
        Col("regime"),
        Col("bars", "right"),
        Col("time", "right"),
        Col("ann. return", "right"),
        Col("ann. vol", "right"),
        Col("Sharpe", "right"),
        Col("max DD", "right", drop=1),
        Col("hit rate", "right", drop=2),
    )
    rows = [
        (
            str(name),
            f"{row['bars']:,.0f}",
            _pct(row["share_of_time"]),
            _pct(row["annual_return"]),
            _pct(row["annual_volatility"]),
            "-" if math.isnan(row["sharpe_ratio"]) else f"{row['sharpe_ratio']:.2f}",
            _pct(row["max_drawdown"]),
            _pct(row["hit_rate"]),
        )
        for name, row in report.table.iterrows()
    ]
    print_table(cols, rows, title=f"equal-weight index of {report.assets} asset(s)")
    for caveat in report.caveats:
        out.print(f"[dim]note: {escape(caveat)}[/]")
