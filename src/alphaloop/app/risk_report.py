"""The risk report of a strategy: VaR table, VaR backtest, exposure, stress.

:func:`risk_report` backtests a spec on its research span (recorded, like
every evaluation: it counts as a trial once per spec hash; never on the
sealed holdout) and measures the risk of the strategy's net daily returns
with :mod:`alphaloop.risk`:

- a VaR/CVaR table by every method at ``confidence``, one bar ahead;
- a backtest of rolling one-bar-ahead forecasts (``var_method``, ``window``
  bars of history each) with the Kupiec and Christoffersen tests;
- the alpha/beta decomposition against the backtest's benchmark, and
  against a bundled factor set (``factors``: ``market`` = S&P 500, ``etf``
  = five factor ETFs, ``ff`` = Fama-French monthly) on the dates both
  cover (:func:`alphaloop.risk.factor_set_exposure`);
- component and marginal VaR (normal) of the portfolio held at the last bar,
  when the strategy holds one (:mod:`alphaloop.app.risk_report_page`);
- the strategy's returns per causal volatility regime of its dataset's
  equal-weight market (:func:`alphaloop.app.risk_regimes.strategy_regime_table`);
- the named crisis windows replayed over the strategy's returns (those
  outside the span are listed as skipped), any custom windows, and a
  stationary-bootstrap Monte Carlo of ``mc_horizon`` bars, against the
  loss and drawdown limits given;
- with ``stress_generator``, a Monte Carlo of the portfolio held at the last
  bar over SYNTHETIC paths of a generator
  (:mod:`alphaloop.app.risk_report_stress`).

The strategy's returns are after costs, as the backtest reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.jsonsafe import json_safe
from alphaloop.risk import (
    VAR_METHODS,
    FactorSetExposure,
    MonteCarloStress,
    RiskContributions,
    RiskInputError,
    Scenario,
    ScenarioError,
    StressLimits,
    StressReport,
    VarBacktest,
    VarEstimate,
    backtest_var,
    bootstrap_stress,
    check_confidence,
    factor_exposures,
    factor_set_exposure,
    replay_scenarios,
    risk_contributions,
    rolling_var_forecasts,
    var_table,
)

if TYPE_CHECKING:
    from alphaloop.app.risk_report_stress import GeneratorStress
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import StrategySpec

__all__ = [
    "RiskReport",
    "check_factors",
    "load_scenarios",
    "risk_report",
    "strategy_returns",
    "stress_report",
]


@dataclass(frozen=True)
class RiskReport:
    """What :func:`risk_report` measured (see the module docstring)."""

    name: str
    spec_hash: str
    run_id: int | None
    confidence: float
    period: tuple[str, str, int]
    var: list[VarEstimate]
    backtest: VarBacktest | None
    exposure: dict[str, Any] | None
    stress: StressReport
    monte_carlo: MonteCarloStress
    notes: tuple[str, ...]
    factor_exposure: FactorSetExposure | None = None
    contributions: RiskContributions | None = None
    contribution_note: str = ""
    periods_per_year: float = 252.0
    caveats: tuple[str, ...] = ()
    regimes: pd.DataFrame | None = None
    regime_note: str = ""
    generator_stress: GeneratorStress | None = None
    returns: pd.Series = field(
        default_factory=lambda: pd.Series(dtype=float), repr=False, compare=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``alphaloop risk report --json``."""
        return json_safe(
            {
                "name": self.name,
                "spec_hash": self.spec_hash,
                "run_id": self.run_id,
                "confidence": self.confidence,
                "period": {"start": self.period[0], "end": self.period[1], "bars": self.period[2]},
                "var": [v.to_dict() for v in self.var],
                "var_backtest": None if self.backtest is None else self.backtest.to_dict(),
                "exposure": self.exposure,
                "factor_exposure": (
                    None if self.factor_exposure is None else self.factor_exposure.to_dict()
                ),
                "contributions": _contributions_dict(self.contributions, self.contribution_note),
                "stress": {
                    "scenarios": [r.to_dict() for r in self.stress.results],
                    "skipped": self.stress.skipped,
                    "monte_carlo": self.monte_carlo.to_dict(),
                    "generator": (
                        None if self.generator_stress is None else self.generator_stress.to_dict()
                    ),
                },
                "regimes": _regimes_dict(self.regimes, self.regime_note),
                "notes": list(self.notes),
                "caveats": list(self.caveats),
            }
        )


def _contributions_dict(c: RiskContributions | None, note: str) -> dict[str, Any]:
    if c is None:
        return {"measure": None, "note": note, "assets": []}
    return {
        "measure": c.measure,
        "confidence": c.confidence,
        "total": c.total,
        "note": note,
        "assets": [
            {"asset": str(asset), **{k: float(v) for k, v in row.items()}}
            for asset, row in c.frame.iterrows()
        ],
    }


def _regimes_dict(table: pd.DataFrame | None, note: str) -> dict[str, Any]:
    rows = (
        []
        if table is None
        else [{"regime": str(name), **row} for name, row in table.to_dict(orient="index").items()]
    )
    return {"table": rows, "note": note}


def _regime_table(
    ws: Workspace, spec: StrategySpec, returns: pd.Series, ppy: float
) -> tuple[pd.DataFrame | None, str]:
    from alphaloop.app.risk_regimes import strategy_regime_table
    from alphaloop.risk import RiskError

    try:
        return strategy_regime_table(ws, spec.data, returns, periods_per_year=ppy)
    except RiskError as exc:
        return None, f"no regime table: {exc}"


def check_factors(factors: str) -> str:
    """``factors`` if it names a bundled factor set, else :class:`RiskInputError`."""
    from alphaloop.data import FACTOR_SETS

    if factors not in FACTOR_SETS:
        raise RiskInputError(
            f"factors {factors!r} is not a factor set; choose one of {', '.join(FACTOR_SETS)}",
            field="factors",
        )
    return factors


def _factor_exposure(returns: pd.Series, factors: str, ppy: float) -> FactorSetExposure:
    from alphaloop.data import factor_returns

    return factor_set_exposure(returns, factor_returns(factors), periods_per_year=ppy)


def _contributions(
    ws: Workspace, spec: StrategySpec, result: Any, confidence: float, window: int
) -> tuple[RiskContributions | None, str]:
    from alphaloop.app.risk_report_page import held_portfolio

    held = held_portfolio(ws, spec, result, window=window)
    if held is None:
        return None, "no positions at the last bar: no per-asset risk"
    weights, returns = held
    if len(returns) < 20:
        return None, (
            f"only {len(returns)} bars where every held asset has a price: no per-asset risk"
        )
    c = risk_contributions(returns, weights, confidence=confidence, method="normal")
    note = (
        f"normal component VaR at {confidence:g} of the {len(weights)} positions held after the "
        f"last bar (shares x last close / equity), on the last {len(returns)} bars of the "
        "assets' close-to-close returns; components add up to the portfolio's VaR"
    )
    return c, note


def _strategy_returns(ws: Workspace, spec: StrategySpec) -> tuple[Any, pd.Series]:
    from alphaloop.app.backtests import run_backtest

    result = run_backtest(ws, spec)
    returns = result.simulation.returns.astype(float)
    if len(returns) < 60:
        raise RiskInputError(
            f"the backtest of {spec.name!r} has {len(returns)} bars; "
            "a risk report needs 60 or more",
            field="returns",
        )
    return result, returns


def stress_report(
    returns: pd.Series,
    *,
    names: list[str] | None = None,
    scenarios: list[Scenario] | None = None,
    limits: StressLimits | None = None,
) -> StressReport:
    """Named and custom windows replayed over a strategy's returns.

    See :func:`~alphaloop.risk.replay_scenarios`.
    """
    return replay_scenarios(returns, names=names, scenarios=scenarios or [], limits=limits)


def risk_report(
    ws: Workspace,
    spec: StrategySpec,
    *,
    confidence: float = 0.99,
    var_method: str = "historical",
    window: int = 250,
    names: list[str] | None = None,
    scenarios: list[Scenario] | None = None,
    limits: StressLimits | None = None,
    mc_horizon: int = 21,
    mc_paths: int = 2000,
    seed: int = 0,
    factors: str = "market",
    stress_generator: str | None = None,
    stress_paths: int = 2000,
    stress_seed: int | None = None,
) -> RiskReport:
    """Backtest ``spec`` (recorded) and measure the risk of its net returns.

    Parameters
    ----------
    confidence : float, default=0.99
    var_method : str, default="historical"
        The method of the rolling forecasts that are backtested.
    window : int, default=250
        Bars of history per rolling forecast (shortened to half the
        backtest when that is shorter, and said so in ``notes``).
    names, scenarios, limits :
        Built-in windows to replay (default: all), custom windows, limits.
    mc_horizon, mc_paths, seed :
        The bootstrap Monte Carlo: bars per path, paths, seed.
    factors : {"market", "etf", "ff"}, default="market"
        The bundled factor set of ``factor_exposure``.
    stress_generator : str, optional
        A stored generator or a generator kind: the held portfolio is also
        stressed over ``stress_paths`` SYNTHETIC paths of ``mc_horizon``
        bars (seed ``stress_seed``, default ``seed``).
    """
    # bad options fail before the backtest runs
    if var_method not in VAR_METHODS:
        raise RiskInputError(
            f"var_method {var_method!r} is not a VaR method; "
            f"choose one of {', '.join(VAR_METHODS)}",
            field="var_method",
        )
    check_confidence(confidence)
    check_factors(factors)
    if stress_generator is not None:
        from alphaloop.app.risk_report_stress import check_stress_generator

        check_stress_generator(ws, stress_generator)
        if isinstance(stress_paths, bool) or not 100 <= int(stress_paths) <= 1_000_000:
            raise RiskInputError(
                f"stress paths must be between 100 and 1,000,000, got {stress_paths!r}",
                field="paths",
            )
    limits = limits or StressLimits()
    result, returns = _strategy_returns(ws, spec)
    notes: list[str] = [
        "returns are the backtest's net returns per bar (after costs), on the research span"
    ]
    table = var_table(returns, confidence=confidence, methods=VAR_METHODS, seed=seed)
    use_window = min(int(window), len(returns) // 2)
    if use_window != window:
        notes.append(f"rolling VaR window shortened to {use_window} bars (half the backtest)")
    backtest: VarBacktest | None = None
    if use_window >= 20:
        forecasts = rolling_var_forecasts(
            returns,
            window=use_window,
            confidence=confidence,
            method=var_method,  # type: ignore[arg-type]
        )
        backtest = backtest_var(returns, forecasts["var"], confidence)
    ppy_exact = float(result.metrics.get("periods_per_year", 252))
    ppy = round(ppy_exact)
    exposure: dict[str, Any] | None = None
    if result.benchmark is not None:
        bench = result.benchmark.astype(float).rename(result.benchmark_label or "benchmark")
        exp = factor_exposures(returns, bench, periods_per_year=ppy)
        exposure = {"benchmark": result.benchmark_label, **exp.to_dict()}
    else:
        notes.append("no benchmark: no alpha/beta decomposition")
    factor_exposure = _factor_exposure(returns, factors, ppy_exact)
    contributions, contribution_note = _contributions(ws, spec, result, confidence, window)
    regimes, regime_note = _regime_table(ws, spec, returns, ppy_exact)
    stress = stress_report(returns, names=names, scenarios=scenarios, limits=limits)
    mc = bootstrap_stress(
        returns,
        n_paths=mc_paths,
        horizon=mc_horizon,
        confidence=confidence,
        limits=limits,
        seed=seed,
    )
    synthetic = None
    if stress_generator is not None:
        from alphaloop.app.risk_report_stress import generator_stress_section

        synthetic = generator_stress_section(
            ws, spec, result, stress_generator, n_paths=int(stress_paths), horizon=mc_horizon,
            confidence=confidence, limits=limits, seed=seed if stress_seed is None else stress_seed,
        )  # fmt: skip
    sim = result.simulation
    period = (str(sim.equity.index[0].date()), str(sim.equity.index[-1].date()), len(returns))
    return RiskReport(
        name=spec.name,
        spec_hash=spec.hash,
        run_id=result.run_id,
        confidence=float(confidence),
        period=period,
        var=table,
        backtest=backtest,
        exposure=exposure,
        stress=stress,
        monte_carlo=mc,
        notes=tuple(notes),
        factor_exposure=factor_exposure,
        contributions=contributions,
        contribution_note=contribution_note,
        periods_per_year=ppy_exact,
        caveats=tuple(result.assumptions.get("data", {}).get("caveats", result.dataset.caveats)),
        regimes=regimes,
        regime_note=regime_note,
        generator_stress=synthetic,
        returns=returns,
    )


def strategy_returns(ws: Workspace, spec: StrategySpec) -> pd.Series:
    """The net returns per bar of ``spec``'s recorded backtest on the research span."""
    return _strategy_returns(ws, spec)[1]


def load_scenarios(path: Path) -> list[Scenario]:
    """Custom stress windows from a YAML or JSON file.

    The file holds a list (or ``{"scenarios": [...]}``) of entries with
    ``name``, ``start``, ``end`` (ISO dates) and an optional ``description``;
    a bad entry raises :class:`ScenarioError` naming the file and the entry.
    """
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ScenarioError(
            f"cannot read scenario file {path}: {exc.strerror}", field="scenario"
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(
            f"scenario file {path} is not YAML/JSON: {exc}", field="scenario"
        ) from None
    entries = doc.get("scenarios") if isinstance(doc, dict) else doc
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(
            f"scenario file {path} must hold a list of {{name, start, end}} entries",
            field="scenario",
        )
    out = []
    for i, entry in enumerate(entries):
        missing = [
            k for k in ("name", "start", "end") if not isinstance(entry, dict) or k not in entry
        ]
        if missing:
            raise ScenarioError(
                f"scenario file {path}, entry {i + 1}: missing {', '.join(missing)}",
                field="scenario",
            )
        out.append(
            Scenario.of(
                str(entry["name"]),
                str(entry["start"]),
                str(entry["end"]),
                str(entry.get("description", "")),
            )
        )
    return out
