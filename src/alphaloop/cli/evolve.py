"""``alphaloop evolve``: evolve a population of specialists on a dataset's search span."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, fmt_num, out, print_json, print_table, workspace


def evolve(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset name (needs closes).")],
    population: Annotated[
        int, typer.Option("--population", help="Specialists per generation (>= 4).")
    ] = 12,
    generations: Annotated[
        int, typer.Option("--generations", help="Generations, the first included.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random draw.")] = 0,
    styles: Annotated[
        str,
        typer.Option(
            "--styles",
            help="Comma-separated styles: momentum, mean_reversion, breakout, market_making.",
        ),
    ] = "momentum,mean_reversion,breakout",
    survivors: Annotated[
        int, typer.Option("--survivors", help="Best specialists of the last generation shown.")
    ] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Evolve specialists (template parameters on their grids) by tournament selection.

    Fitness is the annualised Sharpe ratio on the search span (the research span
    minus its last 20%, the validation tail); the sealed holdout is never read.
    Every distinct specialist evaluated is a trial: the survivors' deflated Sharpe
    counts them all, and their validation-tail results are shown beside it.
    Ctrl-C stops after the current generation and reports what was done.
    """
    from alphaloop.app.evolution import evolve_dataset, stop_on_interrupt
    from alphaloop.live.evolution import EvolutionConfig

    names = tuple(s.strip() for s in styles.split(",") if s.strip())
    config = EvolutionConfig(
        population=population,
        generations=generations,
        seed=seed,
        styles=names,
        survivors=survivors,
    ).check()  # bad settings exit 2 before the workspace is opened
    ws = workspace(ctx, write=True)

    def progress(gen: Any, new: list[Any]) -> None:
        if not as_json:
            out.print(
                f"[dim]generation {gen.index + 1}/{generations}: best {fmt_num(gen.best, 3)}, "
                f"{gen.new_evaluations} new, {gen.evaluations} evaluated[/]"
            )

    with stop_on_interrupt() as should_stop:
        report = evolve_dataset(ws, data, config, should_stop=should_stop, on_generation=progress)
    doc = report.to_dict()
    if as_json:
        print_json(doc)
    else:
        _print(doc)
    if doc["status"] == "interrupted":
        raise typer.Exit(130)


def _print(doc: dict[str, Any]) -> None:
    search, tail = doc["search_span"], doc["validation_tail"]
    out.print(
        f"[bold]evolution[/] on {escape(doc['data'])}: {doc['status']} after "
        f"{doc['n_generations']} generations; {doc['n_evaluations']} specialists evaluated, "
        f"DSR deflated for {doc['n_trials']} trials"
    )
    out.print(
        f"  search {search['start'][:10]} .. {search['end'][:10]}; validation tail "
        f"{tail['start'][:10]} .. {tail['end'][:10]} (unseen by the search)"
    )
    rows = [
        (
            str(s["rank"]),
            escape(s["label"]),
            fmt_num(s["search"].get("sharpe"), 2),
            fmt_num(s["search"].get("dsr"), 3),
            fmt_num(s["validation_tail"].get("sharpe"), 2),
            fmt_num(s["validation_tail"].get("total_return"), 3),
            s["verdict"],
        )
        for s in doc["survivors"]
    ]
    print_table(
        (
            Col("#", "right"),
            Col("specialist"),
            Col("search SR", "right"),
            Col("DSR", "right"),
            Col("tail SR", "right"),
            Col("tail ret", "right", drop=1),
            Col("verdict"),
        ),
        rows,
        title="survivors (search span selects; the tail only reports)",
    )
    for caveat in doc["caveats"]:
        out.print(f"[dim]note: {escape(caveat)}[/]")
