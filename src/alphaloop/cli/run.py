"""``alphaloop run --config live.yaml``: the live loop over a replayed feed (paper)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import JsonOpt, out, print_json, workspace


def run_command(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option("--config", help="Loop configuration (YAML or JSON).", show_default=False),
    ],
    restart: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="Start the run over from its start instead of resuming after its last checkpoint.",
        ),
    ] = False,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all: the loop with its learning manager; loop: without it; learning: the "
            "learning manager alone, a consumer of the loop's bars on the Redis bus.",
        ),
    ] = "all",
    as_json: JsonOpt = False,
) -> None:
    """Run the live loop on a replayed dataset: controller, lifecycle, learning, kill switch.

    Paper only: strategies trade as sleeves with the backtester's costs and fills.
    Everything is audited; `alphaloop status` shows where it ended. A run stopped
    by a crash or kill -9 resumes after its last finished bar when started again.
    """
    from alphaloop.app.run_loop import load_loop_config, run_loop
    from alphaloop.errors import ConfigError

    if role not in ("all", "loop", "learning"):
        raise ConfigError(f"--role {role!r}: one of all, loop, learning")
    cfg = load_loop_config(config)
    if role == "learning":
        from alphaloop.app.run_learning import run_learning_role

        done = run_learning_role(workspace(ctx, write=True), cfg)
        if as_json:
            print_json(dict(done))
            return
        out.print(f"{escape(cfg.name)} learning: {len(done['cycles'])} cycles to "
                  f"{done['last_bar']}")  # fmt: skip
        for item in done["cycles"]:
            if item["action"] != "none":
                out.print(f"  {item['at']}  learning: {item['action']} "
                          f"{escape(item['incumbent'])}")  # fmt: skip
        return
    result = run_loop(workspace(ctx, write=True), cfg, restart=restart,
                      learning=role == "all")  # fmt: skip
    if as_json:
        print_json(result.to_dict())
        return
    if result.resumed_at is not None:
        out.print(f"resumed after {result.resumed_at} bars")
    out.print(
        f"{escape(result.name)}: {result.bars} bars {result.first:%Y-%m-%d} to "
        f"{result.last:%Y-%m-%d}; equity {result.equity:,.2f}, max drawdown "
        f"{result.max_drawdown:.1%}; {result.events:,} events"
    )
    modes = ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.modes.items()))
    out.print(f"risk mode by bars: {modes or '-'}")
    for t in result.transitions:
        out.print(
            f"  {t['bar']}  {escape(t['strategy'])}: {t['from']} -> {t['to']} "
            f"({escape(t['reason'])})"
        )
    for item in result.learning:
        if item["action"] != "none":
            out.print(f"  {item['at']}  learning: {item['action']} {escape(item['incumbent'])}")
    if result.halted:
        out.print(f"[red]halted[/]: {escape(result.halted)}")
