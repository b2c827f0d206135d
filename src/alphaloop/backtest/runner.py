"""Run a StrategySpec on loaded data: find the span, build targets, simulate with
either engine and measure.

This is the pure core: it takes the spec, the dataset's :class:`DatasetInfo`,
the loaded :class:`Panel` and the signal computed on it; loading data,
computing model signals and recording runs are the application layer's
(:mod:`alphaloop.app.backtests`).

The backtest starts at the spec's ``start`` or, if later, at the first bar
where the signal has a value (its warm-up is not counted as a flat period);
history before that feeds the signal only.

What depends on the market comes from the dataset's recorded
:class:`~alphaloop.data.market_calendar.MarketCalendar` unless the spec sets
it: the annualization factor (:func:`resolve_periods_per_year`), the cost
model (:func:`resolve_costs`: the preset of the asset class) and whether
volume can feed market impact (only traded volume can). Results that real
strategies do not reach are flagged (:mod:`alphaloop.backtest.plausibility`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.backtest.book import (
    build_book,
    carried_book,
    rebalance_filter,
    size_and_gate,
    strategy_targets,
    vol_target_overlay,
)
from alphaloop.backtest.metrics import compute_metrics
from alphaloop.backtest.optimized import optimized_targets, optimizer_stats
from alphaloop.backtest.plausibility import check_plausibility
from alphaloop.backtest.portfolio import rebalance_rows, trailing_volatility
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.vectorized import SimulationResult, drop_history, simulate
from alphaloop.data import DatasetInfo, Panel, synthetic_open_mask
from alphaloop.errors import BacktestError
from alphaloop.execution import CostModel, FillTiming, cost_preset, describe_preset, preset_name
from alphaloop.jsonsafe import json_safe
from alphaloop.strategies import TemplateOutput
from alphaloop.strategies.overlay import VolatilityTarget

__all__ = [
    "BacktestResult",
    "Engine",
    "PreparedStrategy",
    "align_benchmark",
    "backtest_panel",
    "check_strategy",
    "equal_weight_benchmark",
    "model_start_row",
    "prepare_strategy",
    "prepared_targets",
    "resolve_costs",
    "resolve_periods_per_year",
    "run_prepared",
    "scan_decisions",
    "select_universe",
    "spec_end",
    "synthetic_open_fills",
    "target_signal_fn",
]

Engine = Literal["vectorized", "event"]


@dataclass(frozen=True)
class PreparedStrategy:
    """A spec with its data loaded and its signal computed over the whole history.

    ``panel``/``signal``/``eligible`` cover all loaded bars; the backtest uses
    rows ``start_row:`` of them. ``notes`` are warnings about the configuration
    found while preparing (carried into the result's assumptions). A
    template spec carries its built ``template`` output (whose signal is
    ``signal``).
    """

    spec: StrategySpec
    info: DatasetInfo
    panel: Panel
    signal: np.ndarray
    eligible: np.ndarray
    start_row: int
    notes: tuple[str, ...] = ()
    template: TemplateOutput | None = None
    #: per-asset lot sizes from stored instrument metadata (None: the spec's ``lot_size``)
    lots: np.ndarray | None = None
    #: the cost preset of the stored instruments' asset class, resolved with their ticks
    #: and pips, and its label (None: the dataset's asset class picks the preset)
    instrument_costs: tuple[CostModel, str] | None = None

    @property
    def lot_size(self) -> float | tuple[float, ...]:
        """The lot size the simulators take: per asset when instruments set it, else the spec's."""
        if self.lots is None:
            return self.spec.lot_size
        return tuple(float(x) for x in self.lots)

    @property
    def trading_panel(self) -> Panel:
        return self.panel.iloc(slice(self.start_row, None))


def select_universe(spec: StrategySpec, panel: Panel) -> Panel:
    """The spec's universe of ``panel``; an empty panel is an error naming the span."""
    if spec.universe != "all":
        unknown = [a for a in spec.universe if a not in panel.assets]
        if unknown:
            raise BacktestError(
                f"universe names assets not in {spec.data!r}: {unknown[:5]}",
                hint=f"known assets: {', '.join(panel.assets[:20])}"
                + (" ..." if len(panel.assets) > 20 else ""),
            )
        panel = panel.select(spec.universe)
    if panel.n_times == 0:
        raise BacktestError(f"no data of {spec.data!r} up to {spec.end}")
    return panel


def spec_end(spec: StrategySpec) -> pd.Timestamp | None:
    """The last instant the spec's ``end`` date admits (end of that day, UTC)."""
    if spec.end is None:
        return None
    return pd.Timestamp(spec.end, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")


def model_start_row(index: pd.DatetimeIndex, label_end: Any, *, model: str, data: str) -> int:
    """First row of ``index`` after a model's training data (labels included).

    A model never predicts dates inside its own training period.
    """
    row = int(index.searchsorted(pd.Timestamp(label_end).tz_convert("UTC"), side="right"))
    if row >= len(index) - 1:
        raise BacktestError(
            f"model {model} was trained on data up to {pd.Timestamp(label_end):%Y-%m-%d}; "
            f"{data!r} has no later bars to backtest it on",
            hint="train the model on an earlier span (ModelSpec end:) to leave bars after it",
        )
    return row


def check_strategy(spec: StrategySpec, panel: Panel) -> tuple[str, ...]:
    """Refuse a spec that cannot run on ``panel``; note what runs but means little.

    ``panel`` is the spec's data with its universe selected. Checked before
    any signal is computed, so a refused spec never runs (and is not a trial):

    - the fields the fills, stops and participation cap need (``close``;
      ``open`` for ``next_open``; ``high`` and ``low`` for stops; ``volume``
      for ``participation``);
    - ``top_k`` with ``k`` above the number of assets in the universe is
      refused; ``k`` equal to it is noted: every eligible asset is held and
      the signal selects nothing.

    Returns
    -------
    tuple of str
        Notes for the result's assumptions.

    Raises
    ------
    BacktestError
        Naming the field or the two numbers, and what to change.
    """
    fields = ", ".join(panel.field_names)
    if "close" not in panel:
        raise BacktestError(f"{spec.data!r} has no 'close' field (fields: {fields})")
    if spec.fills is FillTiming.NEXT_OPEN and "open" not in panel:
        raise BacktestError(
            f"fills at the next open need an 'open' field; {spec.data!r} has {fields}",
            hint="use fills: next_close (or --fills next_close)",
        )
    if spec.stops.active and not ("high" in panel and "low" in panel):
        raise BacktestError(
            "stop loss, take profit and trailing stops are checked against each bar's "
            f"high and low; {spec.data!r} has no 'high'/'low' fields (fields: {fields})",
            hint="set stops to 0 or use a dataset with high and low",
        )
    if spec.participation is not None and "volume" not in panel:
        raise BacktestError(
            f"participation caps fills at a share of each bar's volume; {spec.data!r} has no "
            f"'volume' field (fields: {fields})",
            hint="remove participation: or use a dataset with volume",
        )
    notes: list[str] = []
    k, n = spec.portfolio.k, panel.n_assets
    if spec.uses_portfolio_rule and spec.portfolio.method == "top_k" and k is not None:
        where = "the universe" if spec.universe != "all" else f"the universe of {spec.data!r}"
        if k > n:
            raise BacktestError(
                f"portfolio.k is {k} but {where} has {n} asset{'s' if n != 1 else ''}: "
                f"the top {k} cannot be chosen from {n}",
                hint=f"choose k of at most {n} (--top-k {n} holds every asset)",
            )
        if k == n:
            notes.append(
                f"portfolio.k = {k} is the whole universe ({n} asset{'s' if n != 1 else ''}): "
                "every eligible asset is held, so the signal selects nothing"
            )
    return tuple(notes)


def prepare_strategy(
    spec: StrategySpec,
    info: DatasetInfo,
    panel: Panel,
    signal: np.ndarray | None,
    *,
    first_row: int = 0,
    holdout_boundary: pd.Timestamp | None = None,
) -> PreparedStrategy:
    """Find the first bar of the backtest for a spec whose signal is computed.

    Parameters
    ----------
    spec, info, panel
        The spec, its dataset's description and the loaded data (universe selected).
    signal : ndarray, shape (time, asset), or None
        The spec's own signal on every bar of ``panel``, point in time (None
        for a template that makes its own). A template is built here
        (:func:`build_book`); its signal is the one traded on.
    first_row : int, default 0
        No bar before this row is traded (e.g. the end of a signal model's training data).
    holdout_boundary : Timestamp, optional
        When evaluating a sealed holdout: the backtest covers bars from here on only.

    Raises
    ------
    BacktestError
        What :func:`check_strategy` refuses; a signal without any value; a
        backtest span that is empty or one bar long.
    """
    notes = check_strategy(spec, panel)
    template = None
    if spec.template is not None:
        ppy, _ = resolve_periods_per_year(spec, info)
        signal, template = build_book(spec, panel, signal, periods_per_year=ppy)
        notes = (*notes, *template.notes)
    elif signal is None:
        raise BacktestError("the spec has no signal to trade on")
    eligible = panel.membership & np.isfinite(panel["close"])
    has_signal = (np.isfinite(signal) & eligible).any(axis=1)
    if not has_signal.any():
        raise BacktestError(
            f"the signal {spec.describe_signal()} has no value on any bar of {spec.data!r}",
            hint="check the expression's windows against the dataset's length",
        )
    first = int(np.argmax(has_signal))
    start = 0
    if spec.start is not None:
        start = int(panel.index.searchsorted(pd.Timestamp(spec.start, tz="UTC")))
    if holdout_boundary is not None:
        start = max(start, int(panel.index.searchsorted(holdout_boundary)))
    start = max(start, first_row)
    start_row = max(first, start)
    if start_row >= panel.n_times - 1:
        raise BacktestError(
            f"the backtest span of {spec.data!r} is empty or one bar long "
            f"(from {panel.index[min(start_row, panel.n_times - 1)]:%Y-%m-%d}, "
            f"data ends {panel.index[-1]:%Y-%m-%d})"
        )
    return PreparedStrategy(spec, info, panel, signal, eligible, start_row, notes, template)


def _targets(
    prep: PreparedStrategy, rebalance: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, dict[str, Any] | None]]:
    """The prepared spec's target weights on the trading rows, and the statistics of its
    overlay and rebalance filter (``{"overlay": ..., "rebalance": ...}``, None when off)."""
    spec = prep.spec
    sl = slice(prep.start_row, None)
    full_close = np.asarray(prep.panel["close"], dtype=np.float64)
    panel = prep.trading_panel
    if rebalance is None:
        rebalance = rebalance_rows(panel.index, spec.rebalance)
    vol = None
    if spec.portfolio.weighting == "inverse_volatility":
        vol = trailing_volatility(full_close, spec.portfolio.vol_window)[sl]
    template = prep.template
    if template is not None and template.weights is not None:
        template = replace(template, weights=carried_book(template.weights, prep.start_row))
    optimizer = None
    if template is None and spec.portfolio.method == "optimize":
        walk = optimized_targets(
            prep.signal[sl],
            full_close[sl],
            prep.eligible[sl],
            spec.portfolio,
            spec.limits,
            rebalance,
            history=full_close[: prep.start_row],
            assets=prep.panel.assets,
        )
        weights, optimizer = walk.weights, optimizer_stats(walk, panel.index)
    else:
        weights = strategy_targets(
            spec,
            prep.signal[sl],
            full_close[sl],
            prep.eligible[sl],
            rebalance,
            template=template,
            volatility=vol,
        )
    stats = None
    ppy, _ = resolve_periods_per_year(spec, prep.info)
    weights, sized = size_and_gate(
        spec, weights, prep.panel, periods_per_year=ppy, first_row=prep.start_row
    )
    weights, overlay_stats = vol_target_overlay(
        spec, weights, prep.panel, periods_per_year=ppy, first_row=prep.start_row
    )
    if spec.rebalance.drift is not None or spec.rebalance.cost_aware:
        _, charged, _ = resolve_costs(spec, prep.info, preset=prep.instrument_costs)
        weights, stats = rebalance_filter(
            spec,
            weights,
            prep.panel,
            costs=charged,
            periods_per_year=ppy,
            first_row=prep.start_row,
        )
    # an order cannot fill where the asset has no price at the fill bar: keep the position
    lag = 0 if spec.fills is FillTiming.SAME_CLOSE else 1
    px = np.asarray(panel[spec.fills.price_field if spec.fills.price_field in panel else "close"])
    no_fill = np.ones_like(weights, dtype=bool)
    no_fill[: len(px) - lag] = ~(np.isfinite(px[lag:]) & (px[lag:] > 0))
    weights[no_fill & np.isfinite(weights)] = np.nan
    return weights, {
        "overlay": overlay_stats,
        "rebalance": stats,
        "optimizer": optimizer,
        "sizing": sized.get("sizing"),
        "regime": sized.get("regime"),
    }


def prepared_targets(prep: PreparedStrategy) -> np.ndarray:
    """The prepared spec's target weights on its trading rows (rows ``start_row:``).

    Shape (trading rows, assets); NaN where the row does not rebalance the asset.
    The same book the simulators trade (sizing, overlay and rebalance filter applied).
    """
    return _targets(prep)[0]


def target_signal_fn(
    spec: StrategySpec,
    signal_of: Callable[[Panel], np.ndarray | None],
    *,
    periods_per_year: float = 252.0,
    costs: CostModel | None = None,
) -> Callable[[Panel], dict[str, np.ndarray]]:
    """A lookahead-scan function for the spec: its signal and its target weights.

    ``signal_of`` computes the spec's own signal on a panel (None for a
    template that makes its own). Weights are computed on the bars of
    :func:`scan_decisions` (the spec's calendar rebalance bars, NaN elsewhere
    as in the backtest; every bar for a ``bars`` schedule); a template's
    book is built on the panel as in the backtest. A quoting template's
    scan covers its signal and its quote plan's arrays. The rebalance
    filters (``rebalance.drift``, ``rebalance.cost_aware``) run as in the
    backtest, with ``costs`` (default: the spec's, else the equities preset).
    """
    filter_costs = costs or spec.costs or cost_preset("equities")

    def fn(panel: Panel) -> dict[str, np.ndarray]:
        signal, template = build_book(
            spec, panel, signal_of(panel), periods_per_year=periods_per_year
        )
        out = {"signal": signal}
        if template is not None and template.kind == "quotes":
            arrays = getattr(template.quotes, "arrays", None)
            out.update({f"quotes.{k}": v for k, v in (arrays() if arrays else {}).items()})
            return out
        close = np.asarray(panel["close"], dtype=np.float64)
        eligible = panel.membership & np.isfinite(close)
        rebalance = scan_decisions(spec, panel.index)
        weights = strategy_targets(
            spec, signal, close, eligible, rebalance, template=template, assets=panel.assets
        )
        weights, _ = size_and_gate(spec, weights, panel, periods_per_year=periods_per_year)
        weights, _ = vol_target_overlay(spec, weights, panel, periods_per_year=periods_per_year)
        out["target_weights"], _ = rebalance_filter(
            spec, weights, panel, costs=filter_costs, periods_per_year=periods_per_year
        )
        return out

    return fn


def scan_decisions(spec: StrategySpec, index: pd.DatetimeIndex) -> np.ndarray:
    """The bars a lookahead scan treats as the spec's decisions (bool, one per bar).

    Calendar schedules: their rebalance bars, which depend on the calendar
    only, so a cut panel keeps them. A ``bars`` schedule counts from the
    backtest's first bar, which the scan does not know: every bar. A
    template that builds its own book or quotes decides on any bar: every bar.
    """
    if spec.rebalance.frequency == "bars" or not spec.uses_portfolio_rule:
        return np.ones(len(index), dtype=bool)
    return rebalance_rows(index, spec.rebalance)


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest with its provenance and the assumptions behind its numbers."""

    spec: StrategySpec
    engine: str
    dataset: DatasetInfo
    simulation: SimulationResult
    benchmark: pd.Series | None
    benchmark_label: str
    metrics: dict[str, float]
    assumptions: dict[str, Any]
    run_id: int | None = None
    n_trials: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec_hash(self) -> str:
        return self.spec.hash

    @property
    def synthetic(self) -> dict[str, Any] | None:
        """The synthetic origin of the data traded on (generator, parameters, seed), or None."""
        return (self.assumptions.get("data") or {}).get("synthetic")

    @property
    def implausible(self) -> list[dict[str, Any]]:
        """Flags of numbers real strategies do not reach (empty when none)."""
        return list(self.assumptions.get("implausible", []))

    def to_dict(self, *, max_trades: int | None = None) -> dict[str, Any]:
        """JSON-ready: ``metrics``, ``trades``, ``round_trips``, ``assumptions`` and provenance."""
        sim = self.simulation
        trades = sim.trades if max_trades is None else sim.trades.head(max_trades)
        return json_safe(
            {
                "name": self.spec.name,
                "spec_hash": self.spec_hash,
                "engine": self.engine,
                "run_id": self.run_id,
                "n_trials": self.n_trials,
                "dataset": {
                    "name": self.dataset.name,
                    "version": self.dataset.version,
                    "content_hash": self.dataset.content_hash,
                    "synthetic": self.synthetic,
                },
                "period": {
                    "start": sim.equity.index[0].isoformat(),
                    "end": sim.equity.index[-1].isoformat(),
                    "bars": len(sim.equity),
                },
                "final_equity": sim.final_value,
                "metrics": self.metrics,
                "costs": sim.costs,
                "trades": _records(trades),
                "n_trades": len(sim.trades),
                "round_trips": _records(sim.round_trips),
                "implausible": self.implausible,
                "assumptions": self.assumptions,
            }
        )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {
                k: (v.isoformat() if isinstance(v, pd.Timestamp) else None if v is pd.NaT else v)
                for k, v in row.items()
            }
        )
    return out


def equal_weight_benchmark(prep: PreparedStrategy) -> tuple[pd.Series, str]:
    """The equal-weight universe's simple returns on the trading index, and its label."""
    panel = prep.trading_panel
    close = np.asarray(prep.panel["close"], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = np.full(close.shape, np.nan)
        rets[1:] = close[1:] / close[:-1] - 1.0
    rets[~prep.eligible] = np.nan
    rets[1:][~prep.eligible[:-1]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN
        mean = np.nanmean(rets, axis=1)
    series = pd.Series(mean[prep.start_row :], index=panel.index)
    return series, "equal-weight universe (daily rebalanced)"


def align_benchmark(close: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    """Simple returns of a benchmark's ``close`` on ``index`` (last price carried forward)."""
    rets = close.reindex(close.index.union(index)).ffill().reindex(index)
    series = rets.pct_change(fill_method=None)
    series.iloc[0] = np.nan
    return series


def resolve_periods_per_year(spec: StrategySpec, info: DatasetInfo) -> tuple[float, dict[str, Any]]:
    """Bars per year for annualizing the spec's results, and how it was chosen.

    The spec's ``periods_per_year`` wins; otherwise the dataset's, recorded
    at import from its calendar and asset class.

    Raises
    ------
    BacktestError
        Neither gives one (an irregular calendar).
    """
    market = info.market
    if spec.periods_per_year is not None:
        ppy, source = float(spec.periods_per_year), "the spec (periods_per_year)"
    elif market.periods_per_year is not None:
        ppy, source = float(market.periods_per_year), f"the dataset's calendar ({market.basis})"
    else:
        raise BacktestError(
            f"cannot annualize results on {info.name!r}: its calendar is irregular "
            f"({market.basis})",
            hint="set periods_per_year in the spec (or --periods-per-year), or re-import the "
            "data with --periods-per-year",
        )
    if spec.periods_per_year is not None:
        words = (
            f"annualized with {ppy:,.6g} bars a year set in the spec (the dataset's "
            f"{market.calendar} calendar gives {market.annualization()})"
        )
    else:
        words = (
            f"annualized with {market.annualization()}: {market.asset_class} on a "
            f"{market.calendar} calendar"
        )
    return ppy, {
        "periods_per_year": ppy,
        "source": source,
        "asset_class": market.asset_class,
        "calendar": market.calendar,
        "frequency": info.frequency,
        "description": words,
    }


def resolve_costs(
    spec: StrategySpec, info: DatasetInfo, *, preset: tuple[CostModel, str] | None = None
) -> tuple[CostModel, CostModel, dict[str, Any]]:
    """The spec's cost model, the one the simulation charges, and the assumption record.

    Costs set in the spec win; otherwise ``preset`` (the stored instruments'
    asset-class preset and its label), else the dataset's asset class picks a
    preset (:data:`~alphaloop.execution.costs.COST_PRESETS`). Market impact
    needs traded volume: on tick volume (FX) it is switched off in the
    simulated model, and the record says so.
    """
    market = info.market
    if spec.costs is not None:
        costs = spec.costs
        name = preset_name(costs)
        label = "set in the spec" + (f" (equal to the {name} preset)" if name else "")
    elif preset is not None:
        costs, label = preset
        name = label.split(" ", 1)[0]
    else:
        costs = cost_preset(market.asset_class)
        name = preset_name(costs)
        label = describe_preset(name or "equities") + (
            f", chosen by the dataset's asset class {market.asset_class}"
        )
    charged = costs
    if costs.impact == "sqrt" and market.volume == "tick":
        charged = costs.model_copy(update={"impact": "none"})
    notes = []
    if spec.costs is None and preset is None and market.asset_class == "mixed":
        notes.append(
            "the dataset combines several asset classes: the equities cost preset is charged "
            "to every asset; set `costs:` in the spec to price them otherwise"
        )
    equity_style = costs.commission_per_share > 0 and market.asset_class in ("fx", "crypto")
    if spec.costs is not None and equity_style:
        notes.append(
            f"the spec's costs charge {costs.commission_per_share:g} per share, an equity "
            f"convention, on a {market.asset_class} dataset; `costs: {{preset: "
            f"{market.asset_class}, ...}}` starts from the {market.asset_class} preset"
        )
    record = {
        **costs.model_dump(mode="json"),
        "source": "spec" if spec.costs is not None else "preset",
        "preset": name,
        "label": label,
        "volume": market.volume,
        "impact_modelled": charged.impact == "sqrt" and market.volume == "traded",
        "description": [
            label,
            *costs.describe(
                has_volume=market.volume != "none" and "volume" in info.fields,
                volume=market.volume,
            ),
        ],
        "notes": notes,
    }
    return costs, charged, record


def _assumptions(
    spec: StrategySpec,
    prep: PreparedStrategy,
    sim: SimulationResult,
    bench_label: str,
    costs: dict[str, Any],
    annualization: dict[str, Any],
    flags: list[dict[str, Any]],
    stats: dict[str, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    info = prep.info
    origin = prep.panel.synthetic
    notes = [] if origin is None else [f"{origin.describe()}: not market data"]
    notes += [f"IMPLAUSIBLE: {flag['message']}" for flag in flags]
    notes += list(costs["notes"])
    notes += [*prep.notes, *sim.notes]
    if costs.get("maker_commission_bps") is not None:
        notes.append(_describe_maker(costs, sim.trades))
    synthetic = synthetic_open_fills(spec, prep, sim)
    if synthetic is not None and synthetic["count"]:
        notes.append(
            f"{synthetic['count']:,} of {synthetic['fills']:,} fills were at synthetic opens "
            "(open equal to the previous close): in effect fills at the signal bar's close"
        )
    skipped = prep.start_row
    if skipped:
        notes.append(
            f"the first {skipped} bars feed the signal's warm-up only; the backtest starts "
            f"{prep.panel.index[prep.start_row]:%Y-%m-%d}"
        )
    stats = stats or {}
    rebalance = spec.rebalance.model_dump(mode="json")
    rebalance_stats = stats.get("rebalance")
    if rebalance_stats is not None:
        rebalance["stats"] = rebalance_stats
        notes.append(_describe_rebalance_filter(rebalance_stats))
    overlay = None
    if spec.overlay is not None:
        overlay = {**spec.overlay.model_dump(mode="json"), "stats": stats.get("overlay")}
        notes.append(_describe_overlay(spec.overlay, stats.get("overlay")))
    sizing = regime = None
    if spec.sizing is not None:
        sizing = {**spec.sizing.model_dump(mode="json"), "stats": stats.get("sizing")}
        notes.append(_describe_sizing(spec, stats.get("sizing")))
    if spec.regime is not None:
        regime = {**spec.regime.model_dump(mode="json"), "stats": stats.get("regime")}
        notes.append(_describe_regime(spec, stats.get("regime")))
    portfolio = None
    optimizer = stats.get("optimizer")
    if optimizer is not None:
        portfolio = spec.portfolio.model_dump(mode="json", exclude_none=True)
        portfolio["optimizer_stats"] = optimizer
        if optimizer["fallbacks"]:
            failed = [e for e in optimizer["events"] if e["fallback"] != "none"]
            dates = ", ".join(e["date"][:10] for e in failed[:5])
            more = "" if optimizer["fallbacks"] <= 5 else ", ..."
            notes.append(
                f"optimizer fell back at {optimizer['fallbacks']:,} of "
                f"{optimizer['fallbacks'] + optimizer['solved']:,} rebalances ({dates}{more}); "
                f"fallback {spec.portfolio.optimizer.fallback if spec.portfolio.optimizer else ''}"
            )
    template = None
    if prep.template is not None and spec.template is not None:
        template = {
            "template": spec.template.template,
            "description": spec.template.describe(),
            "params": spec.template.model_dump(mode="json"),
            "diagnostics": prep.template.diagnostics,
        }
    return {
        "template": template,
        **({"portfolio": portfolio} if portfolio is not None else {}),
        "overlay": overlay,
        **({"sizing": sizing} if sizing is not None else {}),
        **({"regime": regime} if regime is not None else {}),
        "fills": {
            "timing": spec.fills.value,
            "description": spec.fills.describe(),
            "optimistic": spec.fills.optimistic,
            "synthetic_open_fills": synthetic,
            **({"participation": spec.participation} if spec.participation is not None else {}),
        },
        "costs": {k: v for k, v in costs.items() if k != "notes"},
        "annualization": annualization,
        "implausible": flags,
        "capital": spec.capital,
        "lot_size": spec.lot_size,
        "limits": spec.limits.model_dump(mode="json", exclude_none=spec.limits.risk is None),
        "rebalance": rebalance,
        "stops": spec.stops.model_dump(mode="json"),
        "benchmark": bench_label,
        "data": {
            "name": info.name,
            "version": info.version,
            "content_hash": info.content_hash,
            "market": info.market.to_dict(),
            "caveats": list(info.caveats),
            "synthetic": None if origin is None else origin.to_dict(),
        },
        "notes": notes,
    }


def _describe_maker(costs: dict[str, Any], trades: pd.DataFrame) -> str:
    """One line on how many fills paid the maker commission (set in the spec)."""
    makers = int((trades["liquidity"] == "maker").sum()) if "liquidity" in trades else 0
    return (
        f"maker commission {costs['maker_commission_bps']:g} bps on {makers:,} of "
        f"{len(trades):,} fills (resting limit orders and take-profits); the others paid "
        f"{costs['commission_bps']:g} bps as takers"
    )


def _describe_overlay(overlay: VolatilityTarget, stats: dict[str, Any] | None) -> str:
    """One line on how the volatility target scaled the book."""
    text = f"{overlay.describe()} on each decision bar (positions drift between decisions)"
    if not stats or not stats["rows_scaled"]:
        return f"{text}: no decision bar had the history to scale"
    capped = stats["rows_leverage_capped"]
    return (
        f"{text}: {stats['rows_scaled']:,} bars scaled by {stats['min_scale']:.2f}-"
        f"{stats['max_scale']:.2f} (mean {stats['mean_scale']:.2f})"
        + (f", {capped:,} capped by max_leverage" if capped else "")
    )


def _describe_sizing(spec: StrategySpec, stats: dict[str, Any] | None) -> str:
    """One line on how the sizing rule sized the book."""
    assert spec.sizing is not None
    text = f"sizing {spec.sizing.describe()} on each decision bar, within limits"
    if not stats or not stats["rows_sized"]:
        return f"{text}: no decision bar had the history to size"
    capped = stats["rows_capped"]
    return (
        f"{text}: {stats['rows_sized']:,} bars sized, gross {stats['mean_gross']:.2f} on "
        f"average (at most {stats['max_gross']:.2f})"
        + (f", {capped:,} capped by max_weight/max_leverage" if capped else "")
    )


def _describe_regime(spec: StrategySpec, stats: dict[str, Any] | None) -> str:
    """One line on what the regime gate did."""
    assert spec.regime is not None
    text = f"{spec.regime.describe()} (market: equal-weight universe; decided at t, from t+1)"
    if not stats:
        return text
    bars = ", ".join(f"{k} {v:,}" for k, v in stats["bars_by_regime"].items())
    gated = stats["share_gated"]
    return (
        f"{text}: bars by regime {bars}; {stats['rows_changed']:,} regime changes between "
        "rebalances re-targeted the book" + (f"; flat on {gated:.0%} of bars" if gated else "")
    )


def _describe_rebalance_filter(stats: dict[str, Any]) -> str:
    """One line on what the drift band and the cost rule skipped (estimates at the decision)."""
    return (
        f"rebalance filters: {stats['drift_skipped_rows']:,} of {stats['decision_rows']:,} "
        f"decision rows skipped by the drift band (estimated cost saved "
        f"{stats['drift_cost_saved']:,.0f}); {stats['cost_skipped_trades']:,} trades skipped "
        f"as costing more than their expected benefit (estimated cost saved "
        f"{stats['cost_aware_cost_saved']:,.0f})"
    )


def synthetic_open_fills(
    spec: StrategySpec, prep: PreparedStrategy, sim: SimulationResult
) -> dict[str, int] | None:
    """How many next-open fills landed on bars whose open is synthetic.

    A synthetic open equals the previous close (see
    :func:`alphaloop.data.price_checks.synthetic_open_mask`), so a "next
    open" fill there is in effect a fill at the signal bar's close. Returns
    ``{"count": k, "fills": n}``, or None when the spec does not fill at
    the next open. Only fills at the open price count: a quote or a stop
    filled at its own level inside the bar's range is not a fill at the open.
    """
    if spec.fills is not FillTiming.NEXT_OPEN:
        return None
    trades = sim.trades
    if trades.empty:
        return {"count": 0, "fills": 0}
    mask = synthetic_open_mask(prep.panel)
    rows = prep.panel.index.get_indexer(pd.DatetimeIndex(trades["time"]))
    cols = pd.Index(prep.panel.assets).get_indexer(trades["asset"])
    known = (rows >= 0) & (cols >= 0)
    rows, cols = rows[known], cols[known]
    at_open = trades["price"].to_numpy()[known] == np.asarray(prep.panel["open"])[rows, cols]
    count = int((mask[rows, cols] & at_open).sum())
    return {"count": count, "fills": len(trades)}


def _simulate_event(
    full: Panel, targets: np.ndarray, history: int, settings: dict[str, Any]
) -> SimulationResult:
    """The event engine on ``full``: history rows carry no orders and are cut from the result.

    The history rows feed the impact model exactly as ``simulate(history=...)``
    does, so both engines see the same costs.
    """
    from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy

    padded = np.full((full.n_times, full.n_assets), np.nan)
    padded[history:] = targets
    stops = {k: settings.pop(k) for k in ("stop_loss", "take_profit", "trailing_stop")}
    res = EventEngine(full, TargetWeightsStrategy(padded, **stops), **settings).run()
    return drop_history(res, history)


def _refuse_ruin(equity: pd.Series, capital: float) -> None:
    """Raise when the account's equity fell to zero or below: the strategy was ruined.

    Below zero equity no weight, exposure or return means anything; the
    simulators do not model a margin call, so the backtest ends here with
    the date and the equity, instead of metrics computed from nonsense.
    """
    values = equity.to_numpy()
    ruined = np.flatnonzero(~(values > 0))
    if ruined.size:
        i = int(ruined[0])
        raise BacktestError(
            f"the account was ruined on {equity.index[i]:%Y-%m-%d}: equity fell to "
            f"{values[i]:,.2f} from a capital of {capital:,.0f} (losses and costs exceeded it)",
            hint="fewer trades (a slower rebalance), more capital per trade, or lower costs",
        )


def _simulate_weights(
    prep: PreparedStrategy, engine: Engine, charged: CostModel
) -> tuple[SimulationResult, dict[str, dict[str, Any] | None]]:
    """Target weights (a portfolio rule's or a template's) through the chosen engine,
    and the statistics of the overlay and the rebalancing filter (see :func:`_targets`)."""
    spec = prep.spec
    targets, stats = _targets(prep)
    kwargs = {
        "fills": spec.fills,
        "costs": charged,
        "initial_capital": spec.capital,
        "max_leverage": spec.limits.max_leverage,
        "allow_short": spec.limits.allow_short,
        "lot_size": prep.lot_size,
        "stop_loss": spec.stops.stop_loss,
        "take_profit": spec.stops.take_profit,
        "trailing_stop": spec.stops.trailing_stop,
        "participation": spec.participation,
    }
    # bars before the start feed the impact model's volume and volatility
    history = min(prep.start_row, charged.impact_window)
    full = prep.panel.iloc(slice(prep.start_row - history, None))
    if engine == "vectorized":
        sim = simulate(full, targets, kind="weights", history=history, **kwargs)
        if spec.limits.risk is not None:
            note = "limits.risk not applied: the risk engine runs in the event engine only"
            sim = replace(sim, notes=(*sim.notes, note))
    else:
        kwargs["risk"] = spec.limits.risk_limits()
        sim = _simulate_event(full, targets, history, kwargs)
        if spec.participation is not None:
            note = (
                f"participation cap {spec.participation:g} of each bar's volume per asset; the "
                "event engine's rebalance remainders are DAY orders: they expire at the end of "
                "their UTC date (the vectorized engine carries them until done or replaced)"
            )
            sim = replace(sim, notes=(*sim.notes, note))
        if spec.limits.risk is not None:
            stats = {**stats, "risk_engine": _risk_record(sim, full.index)}
    return sim, stats


def _simulate_quotes(
    prep: PreparedStrategy, engine: Engine, charged: CostModel
) -> SimulationResult:
    """A quoting template's plan through the quote simulator of the chosen engine.

    Stops and exits are refused: a market maker's risk is managed by its
    inventory cap and skew, and a stop order would trade against its quotes.
    """
    from alphaloop.backtest.quotes import simulate_quotes

    spec = prep.spec
    assert prep.template is not None
    if spec.participation is not None:
        raise BacktestError(
            f"template {spec.template.template if spec.template else '?'} quotes; a quote "
            "fills at its level within the bar and participation does not cap it",
            hint="remove participation: (max_inventory limits the inventory)",
        )
    if spec.stops.active or spec.exits.active:
        raise BacktestError(
            f"template {spec.template.template if spec.template else '?'} quotes; stops and "
            "exits do not apply to quotes",
            hint="remove stops: and exits:; max_inventory and skew limit the inventory",
        )
    history = min(prep.start_row, charged.impact_window)
    first = prep.start_row - history
    return simulate_quotes(
        prep.panel.iloc(slice(first, None)),
        prep.template.quotes.rows(first),
        costs=charged,
        initial_capital=spec.capital,
        history=history,
        engine=engine,
        fills=spec.fills,
        max_leverage=spec.limits.max_leverage,
        max_weight=spec.limits.max_weight,
        allow_short=spec.limits.allow_short,
        lot_size=prep.lot_size,
    )


def run_prepared(
    prep: PreparedStrategy,
    engine: Engine,
    benchmark: pd.Series,
    benchmark_label: str,
    *,
    run_id: int | None = None,
) -> BacktestResult:
    """Simulate a prepared strategy with the chosen engine and measure it.

    Parameters
    ----------
    prep : PreparedStrategy
    engine : {"vectorized", "event"}
        Both give the same numbers for what both can run; the event engine
        is the one that later drives paper and live trading.
    benchmark : Series
        Benchmark simple returns on the trading index (see
        :func:`equal_weight_benchmark`, :func:`align_benchmark`).
    benchmark_label : str
    run_id : int, optional
        The recorded run this result belongs to.
    """
    if engine not in ("vectorized", "event"):
        raise BacktestError(f"unknown engine {engine!r}; use 'vectorized' or 'event'")
    spec = prep.spec
    ppy, annualization = resolve_periods_per_year(spec, prep.info)
    _, charged, cost_record = resolve_costs(spec, prep.info, preset=prep.instrument_costs)
    if prep.template is not None and prep.template.kind == "quotes":
        sim, stats = _simulate_quotes(prep, engine, charged), None
    else:
        sim, stats = _simulate_weights(prep, engine, charged)
    _refuse_ruin(sim.equity, spec.capital)
    bench, bench_label = benchmark, benchmark_label
    metrics = compute_metrics(
        sim.returns,
        periods_per_year=ppy,
        benchmark=bench.dropna() if bench.notna().any() else None,
        round_trips=sim.round_trips[~sim.round_trips["open"]],
        gross_exposure=sim.gross_exposure,
        turnover=sim.turnover,
        costs=sim.costs,
        initial_capital=spec.capital,
    )
    # return lost to costs: costs of each bar over the equity it started from, annualized
    prev = sim.equity.shift(1).fillna(spec.capital).to_numpy()
    metrics["cost_drag_annual"] = float(np.mean(sim.bar_costs.to_numpy() / prev) * ppy)
    if stats and stats.get("optimizer") is not None:
        metrics["optimizer_fallbacks"] = float(stats["optimizer"]["fallbacks"])
    flags = [f.to_dict() for f in check_plausibility(metrics, sim.returns, prep.info.frequency)]
    assumptions = _assumptions(
        spec, prep, sim, bench_label, cost_record, annualization, flags, stats
    )
    if spec.limits.risk is not None:
        assumptions["risk_engine"] = (stats or {}).get("risk_engine") or {
            "applied": False,
            "reason": "the risk engine runs in the event engine only",
        }
    return BacktestResult(
        spec=spec,
        engine=engine,
        dataset=prep.info,
        simulation=sim,
        benchmark=bench,
        benchmark_label=bench_label,
        metrics=metrics,
        assumptions=assumptions,
        run_id=run_id,
    )


def _risk_record(sim: SimulationResult, index: pd.DatetimeIndex) -> dict[str, Any]:
    """What the risk engine did in an event run: refusals by limit and the state changes
    (``index``: the calendar the run's bar numbers refer to)."""
    refusals = getattr(sim, "risk_refusals", ())
    transitions = getattr(sim, "risk_transitions", ())
    counts: dict[str, int] = {}
    for r in refusals:
        counts[r.limit] = counts.get(r.limit, 0) + 1
    return {
        "applied": True,
        "refusals": len(refusals),
        "refusals_by_limit": counts,
        "transitions": [
            {
                "time": index[int(t.now)].isoformat(),
                "from": t.before.value,
                "to": t.after.value,
                "reason": t.reason,
                "limit": t.limit,
                "value": t.value,
                "threshold": t.threshold,
            }
            for t in transitions
        ],
    }


def backtest_panel(
    spec: StrategySpec,
    info: DatasetInfo,
    panel: Panel,
    engine: Engine = "vectorized",
    *,
    signal: np.ndarray | None = None,
) -> BacktestResult:
    """Backtest a spec on a Panel in memory (no workspace, nothing recorded).

    ``panel`` is the spec's data (the spec's universe is selected here);
    ``signal`` is the spec's own signal on it, computed from its expression
    or composite when not given (a model signal must be given). The
    benchmark is the equal-weight universe.
    """
    from alphaloop.backtest.composite import signal_models, signal_values

    panel = select_universe(spec, panel)
    if signal is None and spec.signal is not None:
        if signal_models(spec):
            raise BacktestError("a model signal needs its predictions: pass signal=")
        signal = signal_values(spec, panel)
    prep = prepare_strategy(spec, info, panel, signal)
    bench, label = equal_weight_benchmark(prep)
    return run_prepared(prep, engine, bench, label)
