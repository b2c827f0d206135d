"""``alphaloop risk``: VaR, VaR backtests, exposure and stress tests of a strategy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alphaloop.cli.common import JsonOpt, out, print_json, workspace

if TYPE_CHECKING:
    from alphaloop.app.risk_report import RiskReport
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import StrategySpec
    from alphaloop.risk import StressLimits, StressReport

risk_app = typer.Typer(
    help="Risk: VaR/CVaR, VaR backtests, exposure and stress tests of a strategy; market regimes.",
    no_args_is_help=True,
)

TargetArg = Annotated[str, typer.Argument(help="Spec file (YAML/JSON) or a backtest run id.")]
ConfidenceOpt = Annotated[
    float, typer.Option("--confidence", help="VaR confidence level, strictly between 0 and 1.")
]
MaxLossOpt = Annotated[
    float | None,
    typer.Option("--max-loss", help="Loss limit per scenario, a fraction (0.2 = 20%)."),
]
MaxDrawdownOpt = Annotated[
    float | None,
    typer.Option("--max-drawdown", help="Drawdown limit per scenario, a fraction."),
]


def _spec(ws: Workspace, target: str) -> StrategySpec:
    from alphaloop.app import resolve_run_spec, resolve_spec

    if target.isdigit() and not Path(target).exists():
        return resolve_run_spec(ws, int(target)).spec
    return resolve_spec(Path(target), None, None).spec


def _limits(max_loss: float | None, max_drawdown: float | None) -> StressLimits:
    from alphaloop.risk import StressLimits

    return StressLimits(max_loss=max_loss, max_drawdown=max_drawdown)


def _print_stress(report: StressReport) -> None:
    table = Table(box=None, pad_edge=False)
    for col in ("scenario", "window", "P&L", "max drawdown", "worst bar", "breaches"):
        table.add_column(
            col, justify="left" if col in ("scenario", "window", "breaches") else "right"
        )
    for r in report.results:
        window = "-" if r.start is None or r.end is None else f"{r.start.date()} .. {r.end.date()}"
        table.add_row(
            escape(r.name),
            window,
            f"{r.pnl:.2%}",
            f"{r.max_drawdown:.2%}",
            f"{r.worst_bar:.2%}",
            ", ".join(r.breaches) or "-",
        )
    out.print(table)
    for name, reason in report.skipped.items():
        out.print(f"skipped {escape(name)}: {escape(reason)}")


def _print_factor_exposure(report: RiskReport) -> None:
    f = report.factor_exposure
    if f is None:
        return
    if f.exposure is None:
        out.print(f"{escape(f.label)}: no regression: {escape(f.note)}")
        return
    x = f.exposure
    betas = ", ".join(f"{escape(str(k))} {v:.2f} (t {x.beta_t[k]:.2f})" for k, v in x.betas.items())
    out.print(
        f"{escape(f.label)}, {f.n_obs} {f.frequency} observations "
        f"{f.start.date() if f.start is not None else '-'} .. "
        f"{f.end.date() if f.end is not None else '-'}: {betas}; "
        f"alpha {x.alpha_annualised:.2%} a year (t {x.alpha_t:.2f}), R² {x.r_squared:.2f}"
    )


def _print_contributions(report: RiskReport) -> None:
    c = report.contributions
    if c is None:
        out.print(f"per-asset risk: {escape(report.contribution_note)}")
        return
    table = Table(box=None, pad_edge=False, title=f"{c.measure} {c.total:.2%} by asset")
    for col in ("asset", "weight", "marginal", "component", "share"):
        table.add_column(col, justify="left" if col == "asset" else "right")
    for asset, r in c.frame.sort_values("component", ascending=False).iterrows():
        table.add_row(
            escape(str(asset)),
            f"{r['weight']:.2%}",
            f"{r['marginal']:.4f}",
            f"{r['component']:.3%}",
            f"{r['share']:.1%}",
        )
    out.print(table)


def _print_regimes(report: RiskReport) -> None:
    from alphaloop.app.risk_report_page import regime_rows

    rows = regime_rows(report)
    if not rows:
        out.print(escape(report.regime_note))
        return
    table = Table(box=None, pad_edge=False)
    for col in ("regime", "bars", "share", "return/yr", "vol/yr", "Sharpe", "max DD"):
        table.add_column(col, justify="left" if col == "regime" else "right")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    out.print("per market regime (volatility, causal; a bar under the regime known before it):")
    out.print(table)


@risk_app.command("report")
def risk_report_command(
    ctx: typer.Context,
    target: TargetArg,
    confidence: ConfidenceOpt = 0.99,
    max_loss: MaxLossOpt = None,
    max_drawdown: MaxDrawdownOpt = None,
    factors: Annotated[
        str,
        typer.Option(
            "--factors",
            help="Bundled factor set for the exposures: market (S&P 500), etf (MTUM QUAL SIZE "
            "USMV VLUE, daily 2014-2022) or ff (Fama-French, monthly 1926-2018).",
        ),
    ] = "market",
    report_path: Annotated[
        Path | None,
        typer.Option("--report", help="Also write an HTML risk report (self-contained) here."),
    ] = None,
    stress_generator: Annotated[
        str | None,
        typer.Option(
            "--stress-generator",
            help="Also stress the portfolio held at the last bar over SYNTHETIC paths: a fitted "
            "generator (alphaloop synth fit) or a kind fitted now on the held assets "
            "(bootstrap, garch, regime, gan, normal).",
        ),
    ] = None,
    paths: Annotated[
        int, typer.Option("--paths", help="Synthetic paths of --stress-generator (>= 100).")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the Monte Carlo paths.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """VaR/CVaR by every method, a VaR backtest, exposures and stress tests of a strategy.

    The strategy is backtested on its research span (recorded, like every
    evaluation); its net returns per bar are measured. --stress-generator adds
    a Monte Carlo over synthetic paths, labelled SYNTHETIC.
    """
    from alphaloop.app.risk_report import check_factors, risk_report
    from alphaloop.app.risk_report_page import check_report_path, write_risk_page
    from alphaloop.risk import check_confidence

    # bad options fail before the backtest runs
    check_factors(factors)
    check_confidence(confidence)
    if report_path is not None:
        check_report_path(report_path)
    ws = workspace(ctx, write=True)
    limits = _limits(max_loss, max_drawdown)
    if stress_generator is not None:
        from alphaloop.app.risk_report_stress import check_stress_generator

        check_stress_generator(ws, stress_generator)  # before the backtest runs
    report = risk_report(
        ws, _spec(ws, target), confidence=confidence, limits=limits, factors=factors,
        stress_generator=stress_generator, stress_paths=paths, seed=seed,
    )  # fmt: skip
    if report_path is not None:
        write_risk_page(report, report_path, factors=factors)
    if as_json:
        print_json(
            {**report.to_dict(), "report": None if report_path is None else str(report_path)}
        )
        return
    start, end, bars = report.period
    out.print(
        f"[bold]{escape(report.name)}[/]  spec {report.spec_hash[:12]}  "
        f"{start} .. {end}, {bars} bars"
    )
    table = Table(box=None, pad_edge=False)
    table.add_column("method")
    table.add_column(f"VaR {report.confidence:g}", justify="right")
    table.add_column("CVaR", justify="right")
    for v in report.var:
        table.add_row(v.method, f"{v.var:.2%}", f"{v.cvar:.2%}")
    out.print(table)
    bt = report.backtest
    if bt is not None:
        out.print(
            f"VaR backtest: {bt.n_exceptions} exceptions in {bt.n_obs} bars "
            f"({bt.exception_rate:.2%}, expected {bt.expected_rate:.2%}); "
            f"Kupiec p {bt.kupiec.p_value:.3f}, independence p {bt.independence.p_value:.3f}, "
            f"conditional coverage p {bt.conditional_coverage.p_value:.3f}"
        )
    if report.exposure is not None:
        e = report.exposure
        beta = next(iter(e["betas"].values()))
        out.print(
            f"vs {escape(str(e['benchmark']))}: beta {beta:.2f}, "
            f"alpha {e['alpha_annualised']:.2%} a year (t {e['alpha_t']:.2f}), "
            f"R² {e['r_squared']:.2f}"
        )
    _print_factor_exposure(report)
    _print_contributions(report)
    _print_regimes(report)
    _print_stress(report.stress)
    mc = report.monte_carlo
    out.print(
        f"bootstrap, {mc.n_paths} paths of {mc.horizon} bars: VaR {mc.var:.2%}, CVaR {mc.cvar:.2%}"
        + "".join(f", P({k} breached) {v:.1%}" for k, v in mc.breach_probability.items())
    )
    if report.generator_stress is not None:
        out.print(f"[bold]{escape(report.generator_stress.describe())}[/]")
    for note in report.notes:
        out.print(f"note: {escape(note)}")
    if report_path is not None:
        out.print(f"report: {escape(str(report_path))}")


@risk_app.command("stress")
def risk_stress_command(
    ctx: typer.Context,
    target: TargetArg,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="A built-in scenario name, or a YAML/JSON file of {name, start, end} windows; "
            "repeatable. Default: every built-in scenario.",
        ),
    ] = None,
    max_loss: MaxLossOpt = None,
    max_drawdown: MaxDrawdownOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay crisis windows over a strategy's returns; exit 1 when a limit is breached."""
    from alphaloop.app.risk_report import load_scenarios, strategy_returns, stress_report
    from alphaloop.errors import ExitCode
    from alphaloop.risk import scenario as builtin

    names: list[str] = []
    custom = []
    for item in scenario or []:
        if Path(item).suffix.lower() in (".yaml", ".yml", ".json") or Path(item).is_file():
            custom.extend(load_scenarios(Path(item)))
        else:
            names.append(builtin(item).name)  # an unknown name fails before the backtest
    ws = workspace(ctx, write=True)
    returns = strategy_returns(ws, _spec(ws, target))
    report = stress_report(
        returns,
        names=names if scenario else None,
        scenarios=custom,
        limits=_limits(max_loss, max_drawdown),
    )
    if as_json:
        print_json(
            {
                "scenarios": [r.to_dict() for r in report.results],
                "skipped": report.skipped,
                "breached": list(report.breached),
            }
        )
    else:
        _print_stress(report)
    if report.breached:
        raise typer.Exit(ExitCode.CHECK_FAILED)
