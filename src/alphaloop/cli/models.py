"""``alphaloop model``: train, list, show and monitor registered models."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alphaloop.cli.common import JsonOpt, out, print_json, workspace

model_app = typer.Typer(
    help="Models: train from a spec into the registry, list, show, monitor drift.",
    no_args_is_help=True,
)


def _num(value: object, pattern: str = "{:.4f}") -> str:
    return "-" if value is None else pattern.format(value)


@model_app.command("train")
def model_train(
    ctx: typer.Context,
    spec_path: Annotated[Path, typer.Argument(help="Model spec (YAML or JSON).")],
    as_json: JsonOpt = False,
) -> None:
    """Train a model on purged splits and register it as NAME/vN (never on the holdout)."""
    from alphaloop.app.models import train_from_spec
    from alphaloop.models.spec import load_model_spec

    spec = load_model_spec(spec_path)
    trained = train_from_spec(workspace(ctx), spec)
    doc = trained.to_dict()
    if as_json:
        print_json(doc)
        return
    m = doc["training"]["metrics"]
    v = doc["version"]
    out.print(
        f"registered [bold]{escape(doc['ref'])}[/] ({v['family']}, {len(v['features'])} "
        f"features, stage {v['stage']}); run {doc['run_id']}"
    )
    out.print(
        f"trained on {v['train_start'][:10]} .. {v['train_end'][:10]} "
        f"(labels to {(v['label_end'] or '')[:10]}), seed {v['seed']}"
    )
    out.print(
        f"out of sample over {_num(m.get('n_folds'), '{:.0f}')} folds: IC {_num(m.get('ic'))}, "
        f"rank IC {_num(m.get('rank_ic'))}, ICIR {_num(m.get('icir'), '{:.2f}')}; "
        f"in-sample IC {_num(m.get('in_sample_ic'))}"
    )


@model_app.command("list")
def model_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="Only this model.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only this stage.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Registered model versions, newest first."""

    versions = workspace(ctx).models.list(name=name, stage=stage)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    table = Table()
    for col in ("ref", "family", "target", "features", "stage", "OOS IC", "trained to"):
        table.add_column(col)
    for v in versions:
        table.add_row(
            v.ref,
            v.family,
            v.target,
            v.feature_family,
            v.stage,
            _num(v.metrics.get("ic")),
            f"{v.train_end:%Y-%m-%d}" if v.train_end else "-",
        )
    out.print(table)


@model_app.command("show")
def model_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME (latest), NAME/vN or NAME@stage.")],
    as_json: JsonOpt = False,
) -> None:
    """One version: metadata, metrics, lineage, usage, stage history, alerts."""

    reg = workspace(ctx).models
    v = reg.get(ref)
    doc = v.to_dict()
    doc["lineage"] = [x.ref for x in reg.lineage(v.ref)]
    doc["usage"] = [u.to_dict() for u in reg.usage(v.ref)]
    doc["stage_history"] = [c.to_dict() for c in reg.stage_history(v.ref)]
    doc["alerts"] = [
        {**asdict(a), "created_at": a.created_at.isoformat()} for a in reg.alerts(v.ref)
    ]
    if as_json:
        print_json(doc)
        return
    out.print(f"[bold]{escape(v.ref)}[/] {v.family} ({v.task}), stage {v.stage}")
    out.print(
        f"dataset {escape(v.dataset)} {v.dataset_hash[:12]}, seed {v.seed}, code {v.code_version}"
    )
    out.print(f"features: {v.feature_family} ({len(v.features)})")
    out.print("metrics: " + ", ".join(f"{k} {_num(val)}" for k, val in v.metrics.items()))
    out.print("lineage: " + " <- ".join(doc["lineage"]))
    for u in doc["usage"]:
        sharpe = _num(u.get("sharpe"), "{:.2f}")
        out.print(f"used by {escape(str(u.get('strategy_name')))}: Sharpe {sharpe}")
    for a in doc["alerts"]:
        out.print(f"[yellow]alert:[/] {escape(str(a.get('message')))}")


@model_app.command("monitor")
def model_monitor(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME/vN.")],
    data: Annotated[
        str | None, typer.Option("--data", help="Dataset (default: training's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Drift (PSI, KL) and IC decay since training; alerts are recorded. Exit 1 on alerts."""
    from alphaloop.app.models import monitor_model
    from alphaloop.jsonsafe import json_safe

    report = monitor_model(workspace(ctx), ref, data)
    doc = json_safe(report.to_dict())
    if as_json:
        print_json(doc)
    else:
        out.print(
            f"{escape(ref)}: recent IC {_num(doc.get('recent_ic'))} vs validation IC "
            f"{_num(doc.get('validation_ic'))}; prediction PSI {_num(doc.get('prediction_psi'))}"
        )
        for alert in doc.get("alerts", []):
            out.print(f"[yellow]alert:[/] {escape(str(alert.get('message', alert)))}")
        if not doc.get("alerts"):
            out.print("no alerts")
    if doc.get("alerts"):
        raise typer.Exit(1)
