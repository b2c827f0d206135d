"""What every command shares: the consoles, the ``--json`` option, the
quick-form strategy options, the workspace of the invocation, progress bars,
tables that fit the terminal and output helpers.

Command modules import from here, never from each other.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from alphaloop.progress import Progress, no_progress

if TYPE_CHECKING:
    from alphaloop.app import Workspace

__all__ = [
    "Col",
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
    "configure_consoles",
    "err",
    "fmt_date",
    "fmt_num",
    "out",
    "print_json",
    "print_table",
    "progress_bars",
    "workspace",
]

PIPED_WIDTH = 160  # columns when stdout is not a terminal and COLUMNS is not set

out = Console(highlight=False, soft_wrap=False)
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


# ------------------------------------------------------------------ consoles
def _width(is_tty: bool) -> int | None:
    """Columns: ``COLUMNS`` when set, else the terminal's (None: rich asks), else 160."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if is_tty else PIPED_WIDTH


def configure_consoles() -> None:
    """Set the consoles' widths for this invocation (``COLUMNS`` is always respected)."""
    out.width = _width(sys.stdout.isatty())  # type: ignore[assignment]
    err.width = _width(sys.stderr.isatty())  # type: ignore[assignment]


# ----------------------------------------------------------------- workspace
def workspace(ctx: typer.Context, *, write: bool = False) -> Workspace:
    """The workspace of this invocation (``--workspace``, else the default).

    ``write=False`` (commands that only read): a workspace named with
    ``--workspace`` is never created, so a mistyped path fails; the default
    one (``$ALPHALOOP_HOME`` or ``./.alphaloop``) is created on first use, as
    a new user expects, and that is said once on stderr. Either is opened
    read-only when it cannot be written (said once on stderr).
    ``write=True`` (commands that record something): created when missing
    (said once on stderr), and it must be writable.
    """
    from alphaloop.app import Workspace

    obj = ctx.find_root().obj
    ws: Workspace | None = obj.get("ws")
    if ws is not None and (ws.read_only is False or not write):
        return ws
    create = write or obj["workspace"] is None
    ws = Workspace(obj["workspace"], create=create, read_only=False if write else None)
    if ws.created:
        err.print(f"created workspace {ws.root}", markup=False, soft_wrap=True)
    if ws.read_only:
        err.print(
            f"note: workspace {ws.root} is read-only: reading it, recording nothing",
            markup=False,
            soft_wrap=True,
        )
    obj["ws"] = ws
    ctx.find_root().call_on_close(ws.close)  # when the command ends, whatever the outcome
    return ws


# ------------------------------------------------------------------ progress
@contextmanager
def progress_bars(as_json: bool = False) -> Iterator[Progress]:
    """A :class:`~alphaloop.progress.Progress` callback drawing rich bars on stderr.

    Quiet (the no-op callback) with ``--json`` or unless both stdout and
    stderr are terminals, so scripts, pipes and logs see no bars. The bars
    disappear when the work ends.
    """
    if as_json or not (sys.stdout.isatty() and err.is_terminal):
        yield no_progress
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import (
        Progress as Bars,
    )

    bars = Bars(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def report(step: str, done: int, total: int | None = None) -> None:
        if step not in tasks:
            tasks[step] = bars.add_task(step, total=total)
        bars.update(tasks[step], completed=done, total=total)

    with bars:
        yield report


# -------------------------------------------------------------------- output
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


def fmt_num(value: Any, digits: int = 4) -> str:
    """A number for people: integers (and whole floats) as integers with thousands
    separators, other floats to ``digits`` significant digits, ``-`` for None or NaN."""
    if value is None or isinstance(value, bool):
        return "-" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    size = abs(value)
    if size >= 10**digits:
        return f"{value:,.0f}"
    if size >= 10**-(digits):
        return f"{value:.{digits}g}"
    return f"{value:.{max(1, digits - 1)}e}"


@dataclass(frozen=True)
class Col:
    """A table column.

    ``drop``: 0 keeps the column at any width; when the table does not fit
    the console, columns with the highest ``drop`` are left out first (the
    ``--json`` form always has every field).
    """

    header: str
    justify: Literal["left", "right"] = "left"
    drop: int = 0


def _measure(text: str) -> tuple[int, int]:
    """(longest word, longest line) of a cell, in terminal columns."""
    maximum = max((cell_len(line) for line in text.split("\n")), default=0)
    minimum = max((cell_len(word) for word in text.split()), default=0)
    return minimum, maximum


def _new_table(cols: Sequence[Col], widths: Sequence[int]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for col, width in zip(cols, widths, strict=True):
        table.add_column(col.header, justify=col.justify, width=width, overflow="fold")
    return table


def _overhead(console: Console, n: int) -> int:
    """Columns taken by padding and separators in a table of ``n`` columns."""
    probe = _new_table([Col("x")] * n, [1] * n)
    probe.add_row(*["x"] * n)
    lines = console.render_lines(probe, console.options, pad=False)
    return max(sum(segment.cell_length for segment in line) for line in lines) - n


def _widths(
    console: Console, cols: Sequence[Col], rows: Sequence[Sequence[str]]
) -> list[int] | None:
    """Column widths that fit the console without cutting a word, or None."""
    sizes = [
        [_measure(col.header), *(_measure(row[i]) for row in rows)] for i, col in enumerate(cols)
    ]
    mins = [max(1, *(lo for lo, _ in s)) for s in sizes]
    maxs = [max(1, *(hi for _, hi in s)) for s in sizes]
    room = console.width - _overhead(console, len(cols))
    if sum(mins) > room:
        return None
    spare, need = room - sum(mins), [hi - lo for lo, hi in zip(mins, maxs, strict=True)]
    if sum(need) <= spare:
        return maxs
    widths = [lo + n * spare // sum(need) for lo, n in zip(mins, need, strict=True)]
    left = room - sum(widths)
    for i in sorted(range(len(cols)), key=lambda i: maxs[i] - widths[i], reverse=True):
        if left <= 0:
            break
        if widths[i] < maxs[i]:
            widths[i] += 1
            left -= 1
    return widths


def print_table(
    cols: Sequence[Col],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
    console: Console | None = None,
) -> None:
    """Print plain-text cells as a table that fits the console's width.

    Cells wrap at spaces and never lose characters: when the table does not
    fit, columns are left out by their ``drop`` rank (and the omission is
    said); when it still does not fit, each row is printed as a block of
    ``header: value`` lines.
    """
    console = console or out
    body = [[str(c) for c in row] for row in rows]
    keep = list(range(len(cols)))
    dropped: list[str] = []
    while True:
        widths = _widths(console, [cols[i] for i in keep], [[r[i] for i in keep] for r in body])
        if widths is not None:
            break
        candidates = [i for i in keep if cols[i].drop > 0]
        if not candidates:
            _print_blocks(console, cols, body, title)
            return
        worst = max(candidates, key=lambda i: (cols[i].drop, i))
        keep.remove(worst)
        dropped.append(cols[worst].header)
    if title:
        console.print(Text(title, style="italic"))
    table = _new_table([cols[i] for i in keep], widths)
    for row in body:
        table.add_row(*(Text(row[i]) for i in keep))
    console.print(table)
    if dropped:
        console.print(
            Text(f"(not shown at this width: {', '.join(dropped)}; --json has every field)"),
            style="dim",
        )


def _print_blocks(
    console: Console, cols: Sequence[Col], body: Sequence[Sequence[str]], title: str | None
) -> None:
    if title:
        console.print(Text(title, style="italic"))
    for row in body:
        console.print(Text(row[0], style="bold"))
        for col, cell in zip(cols[1:], row[1:], strict=True):
            console.print(Text(f"  {col.header}: {cell}"))
