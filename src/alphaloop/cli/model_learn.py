"""``alphaloop model learn``: one cycle of the continuous learning manager for a model."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import JsonOpt, out, print_json, workspace

__all__ = ["model_learn"]


def model_learn(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name with a production version.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Read data up to this date (default: the data's end)."),
    ] = None,
    retrain_every: Annotated[
        float | None, typer.Option("--retrain-every", help="Scheduled retraining, in days.")
    ] = 30.0,
    max_age: Annotated[float, typer.Option("--max-age", help="Bound on model age, days.")] = 120.0,
    shadow_days: Annotated[
        float, typer.Option("--shadow-days", help="Days a candidate runs in shadow.")
    ] = 60.0,
    margin: Annotated[
        float, typer.Option("--margin", help="IC gain per date a candidate must beat.")
    ] = 0.0,
    level: Annotated[float, typer.Option("--level", help="One-sided test level.")] = 0.05,
    no_drift: Annotated[
        bool, typer.Option("--no-drift", help="Do not retrain on monitor alerts.")
    ] = False,
    no_regime: Annotated[
        bool, typer.Option("--no-regime", help="Do not retrain on a regime change.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say whether retraining is due; train nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Retrain a model when it ages, drifts or the regime changes; promote a retrained
    version only when a paired test over its shadow period finds it better."""
    from alphaloop.app.learning import learning_cycle
    from alphaloop.live.learning import LearningPolicy

    policy = LearningPolicy(
        retrain_every_days=retrain_every,
        max_age_days=max_age,
        on_drift=not no_drift,
        on_regime_change=not no_regime,
        shadow_days=shadow_days,
        margin=margin,
        level=level,
    )
    cycle = learning_cycle(
        workspace(ctx, write=True), name, as_of=as_of, policy=policy, retrain=not dry_run
    )
    if as_json:
        print_json(cycle.to_dict())
        return
    out.print(
        f"{escape(name)} on {cycle.as_of:%Y-%m-%d}: incumbent {escape(cycle.incumbent)}, "
        f"action [bold]{cycle.action}[/]"
    )
    if cycle.retrain is not None:
        r = cycle.retrain
        flag = " [red](overdue)[/]" if r.overdue else ""
        out.print(f"age {r.age_days:.0f} days{flag}; retraining {'due' if r.due else 'not due'}")
        for reason in r.reasons:
            out.print(f"  - {escape(reason)}")
    if cycle.new_version:
        out.print(f"new candidate in shadow: {escape(cycle.new_version)}")
    if cycle.promotion is not None:
        out.print(f"candidate {escape(cycle.candidate or '')}:")
        for reason in cycle.promotion.reasons:
            out.print(f"  - {escape(reason)}")
    for note in cycle.notes:
        out.print(f"[dim]note: {escape(note)}[/]")
