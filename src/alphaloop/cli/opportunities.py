"""``alphaloop opportunities``: a dataset's symbols ranked as trading opportunities at a bar."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace


def opportunities(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset name (needs closes).")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="Decision date (default: the last bar); later data is not read."),
    ] = None,
    top: Annotated[int | None, typer.Option("--top", help="Show the N best symbols.")] = None,
    lookback: Annotated[
        int, typer.Option("--lookback", help="Bars for trend, liquidity and correlation.")
    ] = 63,
    as_json: JsonOpt = False,
) -> None:
    """Rank symbols by trend strength, volatility regime and liquidity at a bar.

    Each component is a cross-sectional percentile; score is their weighted mean.
    """
    from alphaloop.app.opportunities import rank_opportunities
    from alphaloop.live.ranker import RankerConfig

    config = RankerConfig(lookback=lookback, min_history=min(20, lookback))
    report = rank_opportunities(workspace(ctx), data, at=at, top=top, config=config)
    if as_json:
        print_json(report.to_dict())
        return
    table = report.ranking.table
    if top is not None:
        table = table.iloc[:top]
    out.print(f"{escape(data)} on {report.ranking.at:%Y-%m-%d}: {len(report.ranking.table)} ranked")
    cols = (
        Col("symbol"),
        Col("score", "right"),
        Col("trend t", "right"),
        Col("dir", "right"),
        Col("calm", "right", drop=1),
        Col("liquidity", "right", drop=2),
    )
    rows = [
        (
            escape(str(sym)),
            f"{row['score']:.3f}",
            f"{row['trend']:.2f}",
            {1.0: "up", -1.0: "down"}.get(float(row["direction"]), "-"),
            f"{row['calm']:.2f}" if row["calm"] == row["calm"] else "-",
            f"{row['liquidity']:.1f}" if row["liquidity"] == row["liquidity"] else "-",
        )
        for sym, row in table.iterrows()
    ]
    print_table(cols, rows)
    for sym, why in report.ranking.excluded.items():
        out.print(f"[dim]excluded {escape(sym)}: {escape(why)}[/]")
    for caveat in report.caveats:
        out.print(f"[dim]note: {escape(caveat)}[/]")
