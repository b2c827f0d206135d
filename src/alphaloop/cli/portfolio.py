"""``alphaloop portfolio``: optimizer weights (min variance, max Sharpe, HRP, ...)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alphaloop.cli.common import JsonOpt, out, print_json, workspace
from alphaloop.portfolio import METHODS

portfolio_app = typer.Typer(
    help="Portfolio optimizers (via skfolio) with fallbacks.", no_args_is_help=True
)


@portfolio_app.command("optimize")
def optimize_command(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset name.")],
    method: Annotated[str, typer.Option("--method", help=f"One of: {', '.join(METHODS)}.")],
    window: Annotated[int, typer.Option("--window", help="Bars of returns to estimate on.")] = 252,
    min_weight: Annotated[
        float | None, typer.Option("--min-weight", help="Per-asset lower bound.")
    ] = None,
    max_weight: Annotated[
        float | None, typer.Option("--max-weight", help="Per-asset upper bound.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Today's weights from the last window of the dataset's search span (never its holdout).

    The weights are decided at the last bar's close; a failed optimization
    uses the inverse-volatility fallback and says so.
    """
    from alphaloop.app.portfolio import optimize_today, optimizer_config

    config = optimizer_config(
        method=method, window=window, min_weight=min_weight, max_weight=max_weight
    )
    ws = workspace(ctx, write=True)  # the first load of a dataset seals its holdout
    result = optimize_today(ws, data, config)
    if as_json:
        print_json(result.to_dict())
        return
    out.print(f"[bold]{escape(config.describe())}[/]  at the close of {result.date[:10]}")
    if result.fallback is not None:
        out.print(
            f"optimizer failed ({escape(result.fallback['reason'])}); "
            f"fallback {result.fallback['used']}"
        )
    table = Table(box=None, pad_edge=False)
    table.add_column("asset")
    table.add_column("weight", justify="right")
    for asset, weight in result.weights.items():
        if weight < 5e-5:
            continue
        table.add_row(escape(asset), f"{weight:.2%}")
    out.print(table)
    d = result.diagnostics
    if d is not None:
        sharpe = "-" if d["sharpe"] is None else f"{d['sharpe']:.3f}"
        out.print(
            f"in-sample per bar: mean {d['mean']:.4%}, volatility {d['volatility']:.4%}, "
            f"Sharpe {sharpe}; effective assets {d['effective_assets']:.1f} of {d['n_assets']}"
        )
