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
    "ExprOpt",
    "JsonOpt",
    "PeriodsPerYearOpt",
    "SpecArg",
    "SpecEndOpt",
    "SpecFillsOpt",
    "SpecRebalanceOpt",
    "SpecStartOpt",
    "SpecTopKOpt",
    "SpecWeightingOpt",
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


# -- strategy options: build the quick form, or override a spec file's fields ------------
# None means "not given": an option given with its default value still overrides a
# file. The quick form's defaults live in alphaloop.app.specs.QUICK_DEFAULTS.
SpecTopKOpt = Annotated[
    int | None,
    typer.Option("--top-k", help="Assets held (default 5); overrides portfolio.k.", min=1),
]
SpecWeightingOpt = Annotated[
    str | None,
    typer.Option(
        "--weighting",
        help="equal (default) | signal | inverse_volatility; overrides portfolio.weighting.",
    ),
]
SpecRebalanceOpt = Annotated[
    str | None,
    typer.Option(
        "--rebalance",
        help="daily | weekly | monthly (default) | quarterly; overrides rebalance.",
    ),
]
SpecFillsOpt = Annotated[
    str | None,
    typer.Option(
        "--fills",
        help="next_open (default) | next_close | same_close (optimistic); overrides fills.",
    ),
]
SpecStartOpt = Annotated[
    str | None, typer.Option("--start", help="First date of the backtest; overrides start.")
]
SpecEndOpt = Annotated[
    str | None, typer.Option("--end", help="Last date of the backtest; overrides end.")
]
