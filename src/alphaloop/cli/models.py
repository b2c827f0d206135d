"""``alphaloop model``: train, list, show, promote, monitor, explain, predict, export and compare
registered models."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import (
    Col,
    JsonOpt,
    fmt_date,
    fmt_num,
    out,
    print_json,
    print_table,
    progress_bars,
    workspace,
)
from alphaloop.cli.model_compare import model_compare
from alphaloop.cli.model_explain import model_explain
from alphaloop.cli.model_learn import model_learn
from alphaloop.cli.model_predict import model_export, model_predict
from alphaloop.errors import ExitCode, UsageError

model_app = typer.Typer(
    help=(
        "Models: train from a spec into the registry, list, show, promote, monitor drift, "
        "explain, predict, export, compare."
    ),
    no_args_is_help=True,
)


def _metrics(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k} {fmt_num(v)}" for k, v in metrics.items()) or "-"


@model_app.command("train")
def model_train(
    ctx: typer.Context,
    spec_path: Annotated[Path, typer.Argument(help="Model spec (YAML or JSON).")],
    executor: Annotated[
        str, typer.Option(help="Where the hyperparameter search's fits run: local or ray.")
    ] = "local",
    workers: Annotated[
        int, typer.Option(help="Search processes (or Ray actors); 1 fits in process.", min=1)
    ] = 1,
    concurrent: Annotated[
        int,
        typer.Option(
            help="Search trials asked per round (the search depends on it, not on the executor).",
            min=1,
        ),
    ] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Train a model on purged splits and register it as NAME/vN (never on the holdout)."""
    from alphaloop.app import train_from_spec
    from alphaloop.models import load_model_spec

    if executor not in ("local", "ray"):
        raise UsageError(f"--executor must be local or ray, got {executor!r}")
    spec = load_model_spec(spec_path)
    ws = workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        trained = train_from_spec(
            ws, spec, progress=progress, executor=executor, workers=workers, concurrent=concurrent
        )
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
    rolling = doc["training"].get("segments") is not None
    over = (
        f"{fmt_num(m.get('n_segments'))} rolling segments from "
        f"{doc['training']['first_out_of_sample'][:10]}"
        if rolling
        else f"{fmt_num(m.get('n_folds'))} folds"
    )
    out.print(
        f"out of sample over {over}: IC {fmt_num(m.get('ic'))}, "
        f"rank IC {fmt_num(m.get('rank_ic'))}, ICIR {fmt_num(m.get('icir'), 3)}; "
        f"in-sample IC {fmt_num(m.get('in_sample_ic'))}"
    )
    aug = doc["training"].get("settings", {}).get("augment")
    if aug:
        out.print(
            f"augmented: {aug['synthetic_rows']:,} SYNTHETIC training rows from {aug['paths']} "
            f"{escape(aug['generator'])} path(s) per fit, seed {aug['seed']}; validation, tests "
            "and metrics on real data only"
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
    if not versions:
        out.print("no model version registered yet (`alphaloop model train SPEC` adds one)")
        return
    cols = (
        Col("ref"),
        Col("family", drop=3),
        Col("target", drop=4),
        Col("features", drop=2),
        Col("stage"),
        Col("OOS IC", "right"),
        Col("trained to", drop=1),
    )
    rows = [
        (
            v.ref,
            v.family,
            v.target,
            v.feature_family,
            v.stage,
            fmt_num(v.metrics.get("ic")),
            fmt_date(v.train_end),
        )
        for v in versions
    ]
    print_table(cols, rows)


@model_app.command("show")
def model_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME (latest), NAME/vN or NAME@stage.")],
    as_json: JsonOpt = False,
) -> None:
    """One version: metadata, metrics, segments (rolling), lineage, usage, stages, alerts."""
    from alphaloop.app.models import rolling_segments

    reg = workspace(ctx).models
    v = reg.get(ref)
    doc = v.to_dict()
    doc["segments"] = rolling_segments(v)
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
        f"dataset {escape(v.dataset)} {v.dataset_hash[:12]}, seed {fmt_num(v.seed)}, "
        f"code {v.code_version}"
    )
    out.print(f"features: {escape(v.feature_family)} ({len(v.features)})")
    out.print(f"metrics: {escape(_metrics(v.metrics))}", soft_wrap=True)
    if doc["segments"] is not None:
        _print_segments(doc["segments"])
    out.print("lineage: " + " <- ".join(doc["lineage"]))
    for change in doc["stage_history"]:
        reason = f": {change['reason']}" if change["reason"] else ""
        out.print(
            f"stage {change['from_stage'] or 'registered'} -> {change['to_stage']} "
            f"{change['changed_at'][:10]}{escape(reason)}"
        )
    for u in doc["usage"]:
        out.print(
            f"used by {escape(str(u.get('strategy_name')))}: Sharpe {fmt_num(u.get('sharpe'), 3)}"
        )
    for a in doc["alerts"]:
        out.print(f"[yellow]alert:[/] {escape(str(a.get('message')))}")


def _print_segments(segments: list[dict[str, Any]]) -> None:
    """A rolling version's segments: each one's period, training span and out-of-sample IC."""

    def day(iso: str | None) -> str:
        return (iso or "-")[:10]

    out.print(
        f"rolling: {len(segments)} segments, out of sample from "
        f"{day(segments[0]['test_start'])}; the last one's model predicts later dates"
    )
    cols = (
        Col("segment", "right"),
        Col("predicts"),
        Col("trained on", drop=2),
        Col("labels to", drop=1),
        Col("rows", "right", drop=3),
        Col("IC", "right"),
    )
    rows = [
        (
            str(s["segment"]),
            f"{day(s['test_start'])} .. {day(s['test_end'])}",
            f"{day(s['train_start'])} .. {day(s['valid_end'] or s['train_end'])}",
            day(s["label_end"]),
            fmt_num(s["n_train"] + s["n_valid"]),
            fmt_num(s.get("ic")),
        )
        for s in segments
    ]
    print_table(cols, rows)


@model_app.command("promote")
def model_promote(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME/vN (or NAME for the latest version).")],
    stage: Annotated[
        str, typer.Option("--stage", help="candidate | production | archived.", show_default=False)
    ],
    note: Annotated[str, typer.Option("--note", help="Why (kept in the stage history).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Move a version to a stage; promoting to production archives the current one."""
    from alphaloop.app import promote_model

    promotion = promote_model(workspace(ctx, write=True), ref, stage, note)
    doc = promotion.to_dict()
    if as_json:
        print_json(doc)
        return
    out.print(
        f"{escape(doc['ref'])}: {doc['from_stage']} -> [bold]{doc['to_stage']}[/]"
        + (f" ({escape(note)})" if note else "")
    )
    for archived in doc["archived"]:
        out.print(f"{escape(archived)}: production -> archived (replaced)")


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
    from alphaloop.app import monitor_model
    from alphaloop.jsonsafe import json_safe

    report = monitor_model(workspace(ctx, write=True), ref, data)
    doc = json_safe(report.to_dict())
    if as_json:
        print_json(doc)
    else:
        out.print(
            f"{escape(ref)}: recent IC {fmt_num(doc.get('recent_ic'))} vs validation IC "
            f"{fmt_num(doc.get('validation_ic'))}; prediction PSI "
            f"{fmt_num(doc.get('prediction_psi'))}"
        )
        for alert in doc.get("alerts", []):
            out.print(f"[yellow]alert:[/] {escape(str(alert.get('message', alert)))}")
        if not doc.get("alerts"):
            out.print("no alerts")
    if doc.get("alerts"):
        raise typer.Exit(ExitCode.CHECK_FAILED)


model_app.command("explain")(model_explain)
model_app.command("predict")(model_predict)
model_app.command("export")(model_export)
model_app.command("learn")(model_learn)
model_app.command("compare")(model_compare)
