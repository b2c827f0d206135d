"""The ``alphaloop`` command line.

Errors print one line (what, where, what to do) on stderr and exit with the
code of their kind (one table for every command: :mod:`alphaloop.errors`);
``--debug`` shows the traceback instead. Every command that reports
something takes ``--json`` and then prints exactly one JSON document on
stdout, an error included (``{"error": {...}}``). Heavy imports happen inside
the commands so start-up stays fast.

One module per command family (:mod:`.data`, :mod:`.docs`, :mod:`.runs`,
:mod:`.factor` with :mod:`.factor_mining` and :mod:`.factor_text`,
:mod:`.backtest`, :mod:`.validate`, :mod:`.holdout`, :mod:`.models` with
:mod:`.model_explain`, :mod:`.model_predict` and :mod:`.model_compare`,
:mod:`.research`, :mod:`.risk`, :mod:`.strategies`, :mod:`.demo`, :mod:`.init`,
:mod:`.mcp`, :mod:`.llm`, :mod:`.governance` (audit, kill, approvals), :mod:`.synth`, :mod:`.rl`);
what they share is in :mod:`.common`.
Application logic lives in :mod:`alphaloop.app`, where the REST service
calls the same functions.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from alphaloop import __version__
from alphaloop.cli.backtest import backtest, lookahead
from alphaloop.cli.bus import bus_app
from alphaloop.cli.common import configure_consoles, err, print_json
from alphaloop.cli.data import data_app
from alphaloop.cli.data_assets import register_asset_commands
from alphaloop.cli.data_fetch import register_fetch
from alphaloop.cli.demo import demo
from alphaloop.cli.docs import docs_app
from alphaloop.cli.evolve import evolve
from alphaloop.cli.factor import factor_app
from alphaloop.cli.generate import generate
from alphaloop.cli.governance import approvals_app, audit_app, kill
from alphaloop.cli.holdout import holdout_app
from alphaloop.cli.init import init
from alphaloop.cli.lifecycle import lifecycle_app
from alphaloop.cli.llm import llm_app
from alphaloop.cli.mcp import mcp
from alphaloop.cli.models import model_app
from alphaloop.cli.opportunities import opportunities
from alphaloop.cli.paper import paper_app
from alphaloop.cli.policy import policy_app
from alphaloop.cli.portfolio import portfolio_app
from alphaloop.cli.research import research_app
from alphaloop.cli.risk import risk_app
from alphaloop.cli.risk_regimes import risk_regimes
from alphaloop.cli.rl import rl_app
from alphaloop.cli.run import run_command
from alphaloop.cli.runs import runs_app
from alphaloop.cli.status import status
from alphaloop.cli.strategies import strategies_app
from alphaloop.cli.strategy import strategy_app
from alphaloop.cli.synth import synth_app
from alphaloop.cli.validate import validate

if TYPE_CHECKING:
    from alphaloop.errors import AlphaloopError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="alphaloop",
    help="Autonomous quantitative research with numbers that survive scrutiny.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init")(init)
register_fetch(data_app)
app.add_typer(data_app, name="data")
register_asset_commands(data_app)
app.add_typer(runs_app, name="runs")
app.add_typer(factor_app, name="factor")
app.add_typer(docs_app, name="docs")
app.command("demo")(demo)
app.command("backtest")(backtest)
app.command("lookahead")(lookahead)
app.command("validate")(validate)
app.command("generate")(generate)
app.command("opportunities")(opportunities)
app.command("status")(status)
app.command("run")(run_command)
app.add_typer(bus_app, name="bus")
app.command("evolve")(evolve)
app.add_typer(holdout_app, name="holdout")
app.add_typer(model_app, name="model")
app.add_typer(research_app, name="research")
app.add_typer(strategies_app, name="strategies")
app.add_typer(strategy_app, name="strategy")
risk_app.command("regimes")(risk_regimes)
app.add_typer(risk_app, name="risk")
app.add_typer(portfolio_app, name="portfolio")
app.add_typer(paper_app, name="paper")
app.command("mcp")(mcp)
app.add_typer(llm_app, name="llm")
app.add_typer(audit_app, name="audit")
app.command("kill")(kill)
app.add_typer(approvals_app, name="approvals")
app.add_typer(synth_app, name="synth")
app.add_typer(policy_app, name="policy")
app.add_typer(lifecycle_app, name="lifecycle")
app.add_typer(rl_app, name="rl")


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


def _quiet_library_logs() -> None:
    """Keep the database library's own log records off the user's terminal.

    alphaloop reports every error itself, with an exit code. Without a
    handler, Python prints a library's warnings to stderr: a Ctrl-C that
    lands while SQLAlchemy reads rows made it log "Error closing cursor"
    with a traceback after the command had already said it was interrupted.
    ``--debug`` keeps them.
    """
    import logging

    logger = logging.getLogger("sqlalchemy")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; every outcome becomes an exit code of the one table.

    Usage errors (unknown option, bad value, missing argument) exit 2, typed
    errors with their class's code, Ctrl-C with 130 and a sentence on what
    was recorded as interrupted, anything else with 70. With ``--json`` an
    error is one JSON document on stdout: ``{"error": {"type", "message",
    "hint", "exit_code", ...}}``.
    """
    # typer vendors click: its exceptions are the ones its commands raise
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    from alphaloop.errors import AlphaloopError, ExitCode, UsageError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    configure_consoles()
    if not debug:
        _quiet_library_logs()
    try:
        command = typer.main.get_command(app)
        with _notices(), command.make_context("alphaloop", args) as ctx:
            command.invoke(ctx)
    except (typer.Exit, typer.Abort) as exc:  # --help, --version, a command's exit code
        return getattr(exc, "exit_code", ExitCode.INTERRUPTED)
    except NoArgsIsHelpError:  # a command group without its command: its help was printed
        return ExitCode.BAD_INPUT
    except ClickException as exc:  # parsing: unknown option, bad value, missing argument
        usage = getattr(exc, "ctx", None)
        where = usage.command_path if usage is not None else "alphaloop"
        return _fail(
            UsageError(exc.format_message(), hint=f"see `{where} --help`"), as_json, debug=False
        )
    except KeyboardInterrupt as exc:
        if debug:
            raise
        return _fail(_interrupted(args, exc), as_json, debug=False, label="interrupted")
    except AlphaloopError as exc:
        return _fail(exc, as_json, debug)
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        _silence_stdout()
        return ExitCode.BROKEN_PIPE
    except Exception as exc:
        if debug:
            raise
        return _internal(exc, as_json)
    return ExitCode.OK


@contextlib.contextmanager
def _notices() -> Iterator[None]:
    """Print each notice the data layer raises as a warning once, on stderr, as ``note:``.

    A request clipped at a sealed holdout (``HoldoutClippedWarning``) is said
    in one line wherever it happens; stdout (and so ``--json``) stays clean.
    Other warnings keep Python's handling.
    """
    from alphaloop.errors import HoldoutClippedWarning

    said: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", HoldoutClippedWarning)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
            if not issubclass(category, HoldoutClippedWarning):
                shown(message, category, filename, lineno, file, line)
                return
            text = str(message)
            if text not in said:
                said.add(text)
                err.print(f"note: {text}", markup=False, soft_wrap=True)

        warnings.showwarning = show
        yield


def _fail(exc: AlphaloopError, as_json: bool, debug: bool, label: str = "error") -> int:
    """Report a typed error (one line and the hint, or the JSON document); its exit code."""
    if debug:
        raise exc
    if as_json:
        print_json({"error": exc.to_dict()})
    else:
        colour = "yellow" if label == "interrupted" else "red"
        err.print(f"[{colour}]{label}:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"  hint: {escape(exc.hint)}", soft_wrap=True)
    return int(exc.exit_code)


def _internal(exc: Exception, as_json: bool) -> int:
    from alphaloop.errors import ExitCode

    message = f"{type(exc).__name__}: {exc}"
    hint = "run again with --debug for the traceback, and report it"
    if as_json:
        doc = {"type": "InternalError", "message": message, "hint": hint}
        print_json({"error": {**doc, "exit_code": int(ExitCode.INTERNAL)}})
    else:
        err.print(f"[red]internal error:[/] {escape(message)}\n  hint: {hint}", soft_wrap=True)
    return ExitCode.INTERNAL


def _interrupted(args: list[str], exc: BaseException) -> AlphaloopError:
    """Say what was interrupted and what was recorded as interrupted."""
    from alphaloop.errors import WorkInterruptedError, recorded_interruptions

    command = " ".join(["alphaloop", *_command_words(args)])
    recorded = recorded_interruptions(exc)
    if not recorded:
        return WorkInterruptedError(f"`{command}` stopped; nothing was recorded")
    what = " and ".join(recorded)
    return WorkInterruptedError(
        f"`{command}` stopped; {what} recorded as interrupted",
        recorded=recorded,
        hint="work finished before the interruption is kept; run the command again for the rest",
    )


def _command_words(args: list[str]) -> list[str]:
    """The command path in ``args`` (``["data", "import"]``), skipping options and values."""
    command = typer.main.get_command(app)
    words: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            break
        if token.startswith("-"):
            option = next((p for p in command.params if token in p.opts), None)
            if option is not None and not getattr(option, "is_flag", False) and "=" not in token:
                next(tokens, None)  # the option's value
            continue
        sub = getattr(command, "commands", {}).get(token)
        if sub is None:
            break
        words.append(token)
        command = sub
    return words


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


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
