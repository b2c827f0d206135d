"""The ``alphaloop`` command line.

Errors print one line (what, where, what to do) on stderr and exit non-zero;
``--debug`` shows the traceback instead. Every command that reports
something takes ``--json`` and then prints exactly one JSON document on
stdout. Heavy imports happen inside the commands so start-up stays fast.

One module per command family (:mod:`.data`, :mod:`.runs`, :mod:`.factor`,
:mod:`.backtest`, :mod:`.validate`, :mod:`.holdout`, :mod:`.models`,
:mod:`.demo`); what they share is in :mod:`.common`. Application logic lives
in :mod:`alphaloop.app`, where the REST service calls the same functions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop import __version__
from alphaloop.cli.backtest import backtest, lookahead
from alphaloop.cli.common import err
from alphaloop.cli.data import data_app
from alphaloop.cli.demo import demo
from alphaloop.cli.factor import factor_app
from alphaloop.cli.holdout import holdout_app
from alphaloop.cli.models import model_app
from alphaloop.cli.runs import runs_app
from alphaloop.cli.validate import validate

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="alphaloop",
    help="Autonomous quantitative research with numbers that survive scrutiny.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(runs_app, name="runs")
app.add_typer(factor_app, name="factor")
app.command("demo")(demo)
app.command("backtest")(backtest)
app.command("lookahead")(lookahead)
app.command("validate")(validate)
app.add_typer(holdout_app, name="holdout")
app.add_typer(model_app, name="model")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"alphaloop {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace directory (default: $ALPHALOOP_HOME or ./.alphaloop).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """alphaloop: research, backtest and validate trading strategies."""
    ctx.obj = {"workspace": workspace, "debug": debug}


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning errors into one-line messages and exit codes."""
    from alphaloop.errors import AlphaloopError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="alphaloop")
    except SystemExit as exc:  # typer's standalone mode: usage errors, help, typer.Exit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except AlphaloopError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"  hint: {escape(exc.hint)}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"[red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "  hint: run again with --debug for the traceback, and report it",
            soft_wrap=True,
        )
        return 70
    return 0


def run() -> None:  # pragma: no cover - the console script; tests call main()
    """Console entry point: run :func:`main`, flush, and exit without native teardown.

    Arrow's and DuckDB's thread pools can abort the process while the
    interpreter shuts down (``terminate called without an active
    exception``, seen intermittently under load). By then every result is
    written and committed, so the process leaves with ``os._exit`` and the
    exit code ``main`` chose.
    """
    import contextlib
    import os

    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a closed pipe (`| head`): nothing more to say
            stream.flush()
    os._exit(code)
