"""``alphaloop rl``: train reinforcement-learning agents across seeds, tune them on validation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, fmt_num, out, print_json, print_table, progress_bars
from alphaloop.cli.common import workspace as open_workspace
from alphaloop.errors import UsageError

rl_app = typer.Typer(
    help="Reinforcement learning: train agents from an RL spec across seeds, tune on validation.",
    no_args_is_help=True,
)

_SHOWN = (
    ("total_return", "total return", True),
    ("sharpe_ratio", "Sharpe", False),
    ("max_drawdown", "max drawdown", True),
    ("turnover", "turnover (1/yr)", False),
)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def _cell(value: Any, percent: bool) -> str:
    if value is None:
        return "-"
    return _pct(value) if percent else fmt_num(value, 3)


@rl_app.command("train")
def rl_train(
    ctx: typer.Context,
    spec_path: Annotated[Path, typer.Argument(help="RL spec (YAML or JSON).")],
    seeds: Annotated[
        int | None, typer.Option("--seeds", help="Train this many seeds (spec's seed, +1, ...).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train on the training span (validation callbacks), report the test span across seeds.

    Checkpoints are kept in the workspace every ``checkpoint_every`` steps; Ctrl-C keeps
    the last one and the same command resumes from it. The policy is registered as
    NAME/vN (family rl), usable as a strategy signal ``model: NAME/vN``.
    """
    from alphaloop.app.rl import train_rl
    from alphaloop.rl.spec import load_rl_spec

    spec = load_rl_spec(spec_path)
    if seeds is not None:
        spec = spec.with_seeds(seeds)
    ws = open_workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        result = train_rl(ws, spec, progress=progress, report=report)
    doc = result.to_dict()
    if as_json:
        print_json(doc)
        return
    spans = doc["spans"]
    out.print(
        f"registered [bold]{escape(doc['ref'])}[/] ({doc['algorithm']}, "
        f"{len(doc['seeds'])} seed(s), {doc['timesteps']:,} steps each); run {doc['run_id']}"
    )
    out.print(
        "spans: "
        + "; ".join(f"{k} {v['start'][:10]} .. {v['end'][:10]} ({v['bars']} bars)"
                    for k, v in spans.items())
    )  # fmt: skip
    for note in doc["resumed"]:
        out.print(f"resumed: {escape(note)}")
    summary = doc["test"]["summary"]
    bench = doc["benchmarks"]
    cols = (
        Col("test span"),
        Col("agent mean", "right"),
        Col("spread (sd)", "right"),
        Col("95% CI", "right"),
        Col("buy & hold", "right"),
        Col("equal weight", "right"),
    )
    rows = []
    for key, label, percent in _SHOWN:
        s = summary[key]
        ci = f"{_cell(s['ci_low'], percent)} .. {_cell(s['ci_high'], percent)}"
        rows.append((label, _cell(s["mean"], percent), _cell(s["std"], percent), ci,
                     _cell(bench["buy_and_hold"].get(key), percent),
                     _cell(bench["equal_weight"].get(key), percent)))  # fmt: skip
    print_table(cols, rows)
    if doc.get("ensemble"):
        e = doc["ensemble"]["summary"]
        out.print(
            f"regime ensemble ({doc['ensemble']['n_regimes']} regimes, "
            f"{doc['ensemble']['mode']}): total return {_pct(e['total_return']['mean'])} "
            f"(sd {_pct(e['total_return']['std'])}), Sharpe {fmt_num(e['sharpe_ratio']['mean'], 3)}"
        )
    out.print(f"costs on ({escape(doc['costs_note'])}); fills {doc['fills']}")
    for caveat in doc["caveats"]:
        out.print(f"[yellow]caveat:[/] {escape(caveat)}")
    if doc.get("report"):
        out.print(f"report: {escape(doc['report'])}")


@rl_app.command("tune")
def rl_tune(
    ctx: typer.Context,
    spec_path: Annotated[Path, typer.Argument(help="RL spec (YAML or JSON).")],
    trials: Annotated[int, typer.Option("--trials", help="Optuna trials (each one counts).")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Sampler seed.")] = 0,
    executor: Annotated[str, typer.Option(help="Where trials train: local or ray.")] = "local",
    workers: Annotated[
        int, typer.Option(help="Trial processes (or Ray actors); 1 trains in process.", min=1)
    ] = 1,
    concurrent: Annotated[
        int,
        typer.Option(
            help="Trials asked per round (the search depends on it, not on the executor).",
            min=1,
        ),
    ] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Search hyperparameters with Optuna on the validation span only (never the test span)."""
    from alphaloop.app.rl import tune_rl
    from alphaloop.rl.spec import load_rl_spec

    if executor not in ("local", "ray"):
        raise UsageError(f"--executor must be local or ray, got {executor!r}")
    spec = load_rl_spec(spec_path)
    ws = open_workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        result = tune_rl(
            ws,
            spec,
            trials=trials,
            seed=seed,
            progress=progress,
            executor=executor,
            workers=workers,
            concurrent=concurrent,
        )
    doc = result.to_dict()
    if as_json:
        print_json(doc)
        return
    out.print(
        f"{doc['n_trials']} trials ({doc['n_failed']} failed) of {doc['algorithm']} on the "
        f"validation span; run {doc['run_id']}"
    )
    out.print(
        f"best validation reward {fmt_num(doc['best_value'], 4)} (trial {doc['best_trial']}), "
        f"selected among {doc['n_trials']} trials: expect it to be optimistic"
    )
    for key, value in doc["best_params"].items():
        out.print(f"  {escape(key)}: {escape(str(value))}")
    out.print("set them under hyperparameters: in the spec, then `alphaloop rl train SPEC`")
