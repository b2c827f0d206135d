"""What every command shares: the consoles, the ``--json`` option, the
quick-form strategy options, the workspace of the invocation and output helpers.

Command modules import from here, never from each other.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = [
    "DataOpt",
    "EndOpt",
    "ExprOpt",
    "FillsOpt",
    "JsonOpt",
    "PeriodsPerYearOpt",
    "RebalanceOpt",
    "SpecArg",
    "StartOpt",
    "TopKOpt",
    "WeightingOpt",
    "err",
    "fmt_date",
    "out",
    "print_json",
    "workspace",
]

out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

SpecArg = Annotated[
    Path | None, typer.Argument(help="Strategy spec (YAML or JSON); or use --expr/--data.")
]
ExprOpt = Annotated[
    str | None, typer.Option("--expr", help="Quick form: signal expression (higher = buy).")
]
DataOpt = Annotated[str | None, typer.Option("--data", help="Quick form: dataset name.")]
TopKOpt = Annotated[int, typer.Option("--top-k", help="Quick form: assets held.", min=1)]
WeightingOpt = Annotated[
    str, typer.Option("--weighting", help="Quick form: equal | signal | inverse_volatility.")
]
RebalanceOpt = Annotated[
    str, typer.Option("--rebalance", help="Quick form: daily | weekly | monthly | quarterly.")
]
FillsOpt = Annotated[
    str,
    typer.Option(
        "--fills", help="Quick form: next_open (default) | next_close | same_close (optimistic)."
    ),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="Quick form: first date.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Quick form: last date.")]
PeriodsPerYearOpt = Annotated[
    float | None,
    typer.Option(
        "--periods-per-year",
        help="Bars per year for annualized numbers (overrides the spec and the dataset's "
        "calendar, e.g. 8760 for hourly crypto).",
    ),
]


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace this invocation works in (``--workspace``, else the default)."""
    from alphaloop.app.workspace import Workspace

    return Workspace(ctx.find_root().obj["workspace"])


def print_json(obj: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def fmt_date(value: Any) -> str:
    """``YYYY-MM-DD``, or ``-`` for no date."""
    return f"{value:%Y-%m-%d}" if value is not None else "-"
