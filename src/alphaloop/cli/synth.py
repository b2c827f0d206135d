"""``alphaloop synth``: fit synthetic-data generators, draw paths, score them, check strategies."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace

synth_app = typer.Typer(
    help="Synthetic market data: generators, stylized facts, robustness checks.",
    no_args_is_help=True,
)

_KINDS = "bootstrap | garch | regime | gan | normal"


def _num(value: float, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


@synth_app.command("fit")
def fit_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to store the fitted generator under.")],
    data: Annotated[str, typer.Option("--data", help="Dataset to fit on (needs closes).")],
    generator: Annotated[str, typer.Option("--generator", help=_KINDS)],
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help="Generator parameters: 'vol=gjr,copula=t' or JSON. bootstrap: method, "
            "block_length; garch: vol, dist, copula, burn; regime: k_regimes, start_regime, "
            "stay_longer, focus; gan: hidden, n_layers, noise_dim, window, batch_size, steps, "
            "critic_steps, lr, gp_weight, seed, n_threads.",
        ),
    ] = None,
    assets: Annotated[
        str | None, typer.Option("--assets", help="Comma-separated assets (default: all).")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="First date fitted on.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last date fitted on.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Refit an existing name.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a generator on a dataset's returns (never its sealed holdout) and store it."""
    from alphaloop.app.synth import fit_generator, parse_params

    ws = workspace(ctx, write=True)
    record = fit_generator(
        ws,
        name,
        data,
        generator,
        parse_params(params),
        assets=[a.strip() for a in assets.split(",")] if assets else None,
        start=start,
        end=end,
        replace=replace,
    )
    if as_json:
        print_json(record.to_dict())
        return
    out.print(
        f"fitted [bold]{escape(record.name)}[/] ({record.kind}) on {escape(record.dataset)} "
        f"v{record.version}: {len(record.assets)} asset(s), {record.bars:,} return rows"
    )
    for key, value in record.fitted.items():
        out.print(f"  {escape(key)}: {escape(str(value))}")


@synth_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The fitted generators in the workspace."""
    from alphaloop.app.synth import list_generators

    records = list_generators(workspace(ctx))
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        out.print("no generators fitted yet: `alphaloop synth fit NAME --data D --generator K`")
        return
    rows = [
        (r.name, r.kind, f"{r.dataset} v{r.version}", str(len(r.assets)), f"{r.bars:,}",
         r.fitted_at[:10])
        for r in records
    ]  # fmt: skip
    cols = (Col("name"), Col("kind"), Col("dataset"), Col("assets", "right"),
            Col("rows", "right"), Col("fitted", drop=1))  # fmt: skip
    print_table(cols, rows)


@synth_app.command("sample")
def sample_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A fitted generator.")],
    paths: Annotated[int, typer.Option("--paths", help="Number of paths.")] = 10,
    length: Annotated[int, typer.Option("--length", help="Bars per path.")] = 252,
    seed: Annotated[int, typer.Option("--seed", help="Seed (same seed, same paths).")] = 0,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help="Sampling parameters, e.g. for regime: 'start_regime=crisis,stay_longer=3'.",
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option("--name", help="A name for this draw: in every path's label and file names."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write each path as Parquet here (marked synthetic; never importable)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Draw synthetic paths: a summary, and Parquet files with --out."""
    import numpy as np

    from alphaloop.app.synth import parse_params, sample_paths, write_paths

    ws = workspace(ctx)
    panels = sample_paths(ws, name, paths, length, seed, parse_params(params), label=label or "")
    files = write_paths(ws, panels, out_dir) if out_dir is not None else []
    total = np.array([p["close"][-1] / p["close"][0] - 1.0 for p in panels])
    origin = panels[0].synthetic
    assert origin is not None
    doc = {
        "generator": name,
        "kind": origin.generator,
        "label": origin.label,
        "synthetic": True,
        "paths": len(panels),
        "length": length,
        "seed": seed,
        "assets": list(panels[0].assets),
        "fields": list(panels[0].field_names),
        "start": panels[0].index[0].isoformat(),
        "end": panels[0].index[-1].isoformat(),
        "total_return_quantiles": {str(q): float(np.quantile(total, q)) for q in (0.05, 0.5, 0.95)},
        "files": [str(f) for f in files],
    }
    if as_json:
        print_json(doc)
        return
    out.print(
        f"[bold]SYNTHETIC[/] {len(panels)} path(s) x {length:,} bars x {len(doc['assets'])} "
        f"asset(s) from {escape(name)} ({origin.generator}), seed {seed}; fields "
        f"{', '.join(doc['fields'])}"
    )
    q = doc["total_return_quantiles"]
    out.print(
        f"total return per asset and path: 5% {q['0.05']:.1%}, median {q['0.5']:.1%}, "
        f"95% {q['0.95']:.1%}"
    )
    if files:
        out.print(f"wrote {len(files)} file(s) to {escape(str(out_dir))}")


@synth_app.command("score")
def score_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A fitted generator (its dataset is the reference).")],
    paths: Annotated[int, typer.Option("--paths", help="Paths per generator.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the paths.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stylized facts of the real data and of every generator fitted on the same data."""
    from alphaloop.app.synth_score import score_generators, write_score_report

    score = score_generators(workspace(ctx), name, n_paths=paths, seed=seed)
    path = write_score_report(score, report) if report is not None else None
    if as_json:
        doc = score.to_dict()
        doc["report"] = str(path) if path else None
        print_json(doc)
        return
    sources = [score.real, *score.generators.values()]
    cols = (Col("fact"), *(Col(s.label, "right") for s in sources))
    rows = []
    for fact in score.real.facts:
        cells = []
        for s in sources:
            f = s[fact.name]
            mark = "-" if f.passed is None else ("pass" if f.passed else "FAIL")
            cells.append(f"{_num(f.value)} {mark}")
        rows.append((fact.name.replace("_", " "), *cells))
    rows.append(("facts passed", *(f"{s.passed} of {s.applicable}" for s in sources)))
    title = f"{score.dataset}: {score.length:,} bars; {score.n_paths} paths each"
    print_table(cols, rows, title=title)
    out.print("[dim]note: every column but the first is synthetic (not market data)[/]")
    if path is not None:
        out.print(f"report: {escape(str(path))}")


@synth_app.command("stress")
def stress_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A fitted generator.")],
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="ASSET=WEIGHT,... (default: equal weights)."),
    ] = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.")] = 10_000,
    horizon: Annotated[int, typer.Option("--horizon", help="Bars per path.")] = 21,
    confidence: Annotated[float, typer.Option("--confidence", help="VaR level.")] = 0.99,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the paths.")] = 0,
    params: Annotated[
        str | None,
        typer.Option("--params", help="Sampling parameters, e.g. start_regime=crisis."),
    ] = None,
    max_loss: Annotated[
        float | None, typer.Option("--max-loss", help="Loss limit (fraction) to count breaches.")
    ] = None,
    max_drawdown: Annotated[
        float | None, typer.Option("--max-drawdown", help="Drawdown limit (fraction).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Monte Carlo stress of a portfolio over paths drawn by a generator."""
    from alphaloop.app.synth import generator_stress_test, parse_params, parse_weights

    mc = generator_stress_test(
        workspace(ctx), name, parse_weights(weights), n_paths=paths, horizon=horizon,
        confidence=confidence, seed=seed, params=parse_params(params),
        max_loss=max_loss, max_drawdown=max_drawdown,
    )  # fmt: skip
    if as_json:
        print_json({**mc.to_dict(), "synthetic": True})
        return
    out.print(
        f"[bold]SYNTHETIC[/] paths: {escape(mc.source)}; {mc.n_paths:,} paths of "
        f"{mc.horizon} bars, seed {mc.seed}"
    )
    out.print(
        f"VaR {mc.confidence:.0%}: {mc.var:.2%}   CVaR: {mc.cvar:.2%}   "
        f"max drawdown 95%: {mc.drawdown_quantiles[0.95]:.2%}"
    )
    q = mc.pnl_quantiles
    out.print(f"path return: 1% {q[0.01]:.2%}, median {q[0.5]:.2%}, 99% {q[0.99]:.2%}")
    for key, share in mc.breach_probability.items():
        out.print(f"paths breaking {key.replace('_', ' ')}: {share:.1%}")


@synth_app.command("robustness")
def robustness_command(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Strategy spec file (YAML or JSON).")],
    generator: Annotated[str, typer.Option("--generator", help="A fitted generator.")],
    paths: Annotated[int, typer.Option("--paths", help="Synthetic paths.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the paths.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Sharpe and drawdown of a strategy over synthetic paths (a check, not a selector).

    Nothing is recorded; the result is never used to choose parameters.
    """
    from alphaloop.app.synth_robustness import robustness_check

    ws = workspace(ctx, write=True)  # the first load of a dataset seals its holdout
    report = robustness_check(ws, spec, generator, n_paths=paths, seed=seed)
    if as_json:
        print_json(report.to_dict())
        return
    summary = report.summary()
    ran = len(report.paths["sharpe_ratio"])
    out.print(
        f"[bold]{escape(report.strategy)}[/] on {escape(report.dataset)} and {ran} of "
        f"{report.n_paths} SYNTHETIC paths from {escape(report.generator)} ({report.kind}), "
        f"{report.length:,} bars, seed {report.seed}"
    )
    cols = (Col("metric"), Col("real", "right"), Col("5%", "right"), Col("median", "right"),
            Col("95%", "right"), Col("real's percentile", "right"))  # fmt: skip
    rows = [
        (m.replace("_", " "), _num(r["real"]), _num(r["q05"]), _num(r["q50"]), _num(r["q95"]),
         "-" if not math.isfinite(r["real_percentile"]) else f"{r['real_percentile']:.0%}")
        for m, r in summary.items()
    ]  # fmt: skip
    print_table(cols, rows)
    out.print(f"share of paths with a positive Sharpe: {report.share_positive_sharpe:.0%}")
    for reason in report.failed[:5]:
        out.print(f"[dim]failed: {escape(reason)}[/]")
    out.print("[dim]note: a check beside validation; never used to choose parameters[/]")
