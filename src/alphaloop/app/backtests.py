"""Backtest use cases on a workspace: load a spec's data, compute its signal
(an expression, or a registered model's predictions), run it, record the run,
and scan it for lookahead.

A spec is checked against the workspace before anything is recorded: its
signal model exists, its dataset and universe exist, ``k`` fits the
universe, the data has the fields its fills and stops need, the signal has
values and the span has bars. A spec refused there never ran, so it is not
recorded and does not count as a trial; a spec that passed and then failed
while simulating is recorded as a failed run and counts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from alphaloop.app.assets import (
    contract_panel,
    dataset_universe,
    instrument_costs,
    universe_key,
)
from alphaloop.app.trials import record_backtest_trial
from alphaloop.backtest import (
    CODE_SCAN_DECISION_POINTS,
    BacktestResult,
    Engine,
    LookaheadReport,
    PreparedStrategy,
    StrategySpec,
    align_benchmark,
    check_strategy,
    equal_weight_benchmark,
    model_start_row,
    prepare_strategy,
    resolve_costs,
    resolve_periods_per_year,
    run_prepared,
    scan_decisions,
    scan_lookahead,
    select_universe,
    sizing_warmup,
    spec_end,
    target_signal_fn,
)
from alphaloop.backtest.composite import signal_expressions, signal_models, signal_values
from alphaloop.data import DatasetInfo, HoldoutKey, Panel
from alphaloop.errors import AlphaloopError, BacktestError, DatasetNotFoundError
from alphaloop.jsonsafe import json_safe
from alphaloop.progress import Progress, stage

if TYPE_CHECKING:
    from collections.abc import Callable

    from alphaloop.app.workspace import Workspace

__all__ = [
    "load_strategy_data",
    "prepare",
    "run_backtest",
    "scan_spec",
    "strategy_signal",
    "strategy_signal_fn",
]


def check_signal_model(ws: Workspace, spec: StrategySpec) -> None:
    """Refuse a spec whose signal names a model this workspace has not registered.

    Every model of a composite (components and combiner) is checked.

    Raises
    ------
    ModelNotFoundError
        Before any data is loaded, with the registered versions as a hint.
    """
    for ref in signal_models(spec):
        ws.models.get(ref)


def load_strategy_data(
    ws: Workspace, spec: StrategySpec, holdout_key: HoldoutKey | None = None
) -> tuple[DatasetInfo, Panel]:
    """The spec's dataset description and its data up to ``end``, universe selected.

    The signal model is checked first, so a missing model fails before any data is read.
    Text factors the signal reads (``Text("NAME")``) are attached as panel fields;
    ``pca`` ones are fitted on documents before the holdout when it is unsealed.
    """
    from alphaloop.app.text_factors import attach_expression_texts

    check_signal_model(ws, spec)
    info = ws.data.info(spec.data, spec.version)
    panel = ws.data.load(
        spec.data, version=spec.version, end=spec_end(spec), holdout_key=holdout_key
    )
    # a point-in-time universe stored with the dataset: only members at each bar trade
    panel, caveats, applied = dataset_universe(ws, spec.data, panel, info.caveats)
    if applied is not None:
        info = replace(info, caveats=type(info.caveats)(caveats))
    panel = select_universe(spec, panel)
    fit_end = holdout_key.boundary if holdout_key is not None else None
    panel, _ = attach_expression_texts(ws, panel, signal_expressions(spec), fit_end=fit_end)
    return info, panel


def strategy_signal(ws: Workspace | None, spec: StrategySpec, panel: Panel) -> np.ndarray | None:
    """The spec's own signal on every bar of ``panel``, point in time (bar t uses data up to t).

    None for a template spec without a ``signal:`` (the template makes its
    own, see :func:`~alphaloop.backtest.build_book`).

    Every model the signal reads (:func:`~alphaloop.backtest.composite.signal_models`)
    is predicted on ``panel``; :func:`~alphaloop.backtest.composite.signal_values`
    combines.
    """
    if spec.signal is None:
        return None
    refs = signal_models(spec)
    values: dict[str, np.ndarray] = {}
    if refs:
        if ws is None:
            raise BacktestError("a signal that reads a model needs the workspace holding it")
        from alphaloop.app.models import predict_panel

        values = {ref: predict_panel(ws, ref, panel)[0] for ref in refs}
    return signal_values(spec, panel, model_values=values)


def _model_start(ws: Workspace, spec: StrategySpec, index: pd.DatetimeIndex) -> int:
    """First row every model the signal reads predicts out of sample.

    For a model trained once: the first row after its training data (labels
    included). For a rolling model: its first segment's first decision (each
    later row is predicted by a segment trained before it). The latest wins;
    0 when the signal reads no model.
    """
    from alphaloop.models.rolling_model import rolling_first_out_of_sample

    start = 0
    for ref in signal_models(spec):
        version = ws.models.get(ref)
        end = version.label_end or version.train_end
        first_oos = rolling_first_out_of_sample(version.artifact_path)
        if first_oos is not None:
            # the last instant before it: the first row at or after first_oos
            end = first_oos - pd.Timedelta(1, "ns")
        start = max(start, model_start_row(index, end, model=version.ref, data=spec.data))
    return start


def prepare(
    ws: Workspace, spec: StrategySpec, holdout_key: HoldoutKey | None = None
) -> PreparedStrategy:
    """Load the spec's data and compute its signal; find the first bar of the backtest.

    With a ``holdout_key`` (from unsealing) the data runs to its end and the
    backtest covers the holdout only; earlier bars feed the signal.
    """
    info, panel = load_strategy_data(ws, spec, holdout_key)
    check_strategy(spec, panel)  # before the signal, which may be a model's predictions
    signal = strategy_signal(ws, spec, panel)
    boundary = holdout_key.boundary if holdout_key is not None else None
    # the signal reads quoted prices; the simulation trades contracts in the base currency
    traded, lots, notes = contract_panel(ws, panel, default_lot=spec.lot_size)
    prep = prepare_strategy(
        spec,
        info,
        traded,
        signal,
        first_row=_model_start(ws, spec, panel.index),
        holdout_boundary=boundary,
    )
    key = universe_key(ws, spec.data)
    if key is not None:  # the membership file is an input: name it with the result
        notes = (*notes, f"point-in-time universe of {spec.data!r} applied (membership {key})")
    if lots is None and not notes:
        return prep
    # futures, FX and crypto instruments take their class's cost preset (spec costs win)
    costs = instrument_costs(panel, traded, ws) if lots is not None and spec.costs is None else None
    return replace(prep, lots=lots, notes=(*prep.notes, *notes), instrument_costs=costs)


def strategy_signal_fn(
    spec: StrategySpec, ws: Workspace | None = None
) -> Callable[[Panel], dict[str, np.ndarray]]:
    """A lookahead-scan function for the spec: its signal and its daily target weights."""
    ppy, costs = 252.0, None
    if ws is not None and spec.template is not None:
        ppy = resolve_periods_per_year(spec, ws.data.info(spec.data, spec.version))[0]
    if ws is not None and (spec.rebalance.drift is not None or spec.rebalance.cost_aware):
        costs = resolve_costs(spec, ws.data.info(spec.data, spec.version))[1]
    return target_signal_fn(
        spec,
        lambda panel: strategy_signal(ws, spec, panel),
        periods_per_year=ppy,
        costs=costs,
    )


def _benchmark(ws: Workspace, spec: StrategySpec, prep: PreparedStrategy) -> tuple[pd.Series, str]:
    """Benchmark simple returns on the trading index, and its label."""
    if spec.benchmark is None:
        return equal_weight_benchmark(prep)
    name, _, asset = spec.benchmark.partition(":")
    try:
        bench = ws.data.load(name)
    except DatasetNotFoundError as exc:
        raise BacktestError(f"benchmark dataset {name!r} not found", hint=exc.hint) from None
    if not asset:
        if bench.n_assets != 1:
            raise BacktestError(
                f"benchmark {name!r} has {bench.n_assets} assets; name one as {name}:ASSET"
            )
        asset = bench.assets[0]
    if asset not in bench.assets:
        raise BacktestError(f"benchmark asset {asset!r} is not in {name!r}")
    close = bench.frame("close")[asset]
    return align_benchmark(close, prep.trading_panel.index), f"{name}:{asset}"


def run_backtest(
    ws: Workspace,
    spec: StrategySpec,
    *,
    engine: Engine = "vectorized",
    record: bool = True,
    holdout_key: HoldoutKey | None = None,
) -> BacktestResult:
    """Backtest ``spec`` on its dataset in ``ws`` with the chosen engine.

    Parameters
    ----------
    ws : Workspace
    spec : StrategySpec
    engine : {"vectorized", "event"}
        Both give the same numbers for what both can run; the event engine
        is the one that later drives paper and live trading.
    record : bool, default True
        Record the run (spec, hash, metrics, data hash) in the run log, and
        the strategy and its evaluation (a trial) in the strategy database;
        ``n_trials`` of the result is then the dataset's trial count.
    holdout_key : HoldoutKey, optional
        Only from :meth:`~alphaloop.data.holdout.Holdouts.unseal`: evaluate on
        the sealed holdout instead of the research span.
    """
    if engine not in ("vectorized", "event"):
        raise BacktestError(f"unknown engine {engine!r}; use 'vectorized' or 'event'")
    params = {"spec": spec.model_dump(mode="json"), "spec_hash": spec.hash, "engine": engine}
    kind = "holdout" if holdout_key is not None else "backtest"
    if not record:
        prep = prepare(ws, spec, holdout_key)
        bench, label = _benchmark(ws, spec, prep)
        return run_prepared(prep, engine, bench, label)
    # a trial is recorded in the strategy database; a holdout evaluation never is
    trial = holdout_key is None
    try:
        # the configuration check: a spec refused here never ran and is not a trial
        prep = prepare(ws, spec, holdout_key)
        bench, label = _benchmark(ws, spec, prep)
    except AlphaloopError:
        raise
    except Exception as exc:
        # a crash (not a refusal) while computing the signal: the spec was tried
        if trial:
            record_backtest_trial(ws, spec, engine, error=exc, data_hash=_data_hash(ws, spec))
        with ws.runs.start(kind, params):
            raise
    try:
        with ws.runs.start(kind, params) as run:
            run.data_hashes = {spec.data: prep.info.content_hash}
            result = run_prepared(prep, engine, bench, label, run_id=run.id)
            run.result = json_safe(
                {
                    "metrics": result.metrics,
                    "n_trades": len(result.simulation.trades),
                    "implausible": [f["check"] for f in result.implausible],
                }
            )
    except Exception as exc:  # a failed simulation is a failed trial
        if trial:
            record_backtest_trial(ws, spec, engine, error=exc, data_hash=prep.info.content_hash)
        raise
    if trial:
        record_backtest_trial(ws, spec, engine, result=result)
    for ref in signal_models(spec):
        ws.models.record_usage(
            ref,
            spec.hash,
            spec.name,
            result.metrics.get("sharpe_ratio"),
            run_id=result.run_id,
        )
    # every strategy evaluated on this dataset so far, this one included
    return replace(result, n_trials=ws.strategies.n_trials(spec.data))


def _data_hash(ws: Workspace, spec: StrategySpec) -> str | None:
    """The content hash of the spec's dataset version, or None when it cannot be read."""
    try:
        return ws.data.info(spec.data, spec.version).content_hash
    except AlphaloopError:
        return None


def scan_spec(
    ws: Workspace,
    spec: StrategySpec,
    *,
    n_points: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> LookaheadReport:
    """Lookahead scan of a spec's signal and target weights on its dataset.

    The settle period after a cut is at least 252 bars and 11 times the
    signal's warm-up (enough for an EMA to forget its start to 1e-9), capped
    at a third of the data. The warm-up is the longest of every expression
    the signal evaluates (a model's: its features'); a composite with IC
    or mean-variance weights adds ``window + horizon`` bars to the settle
    period and to the history before the first truncation. The decision bars are
    :func:`~alphaloop.backtest.runner.scan_decisions`: each is a truncation
    point, up to the scan's ``max_decision_points``.
    The spec is checked as for a backtest first
    (:func:`~alphaloop.backtest.runner.check_strategy`).
    ``progress`` (see :mod:`alphaloop.progress`) hears of each re-run.
    """
    from alphaloop.factors import compile_expression

    _, panel = load_strategy_data(ws, spec)
    check_strategy(spec, panel)
    texts = signal_expressions(spec)
    if signal_models(spec):
        from alphaloop.app.models import load_recipe

        for ref in signal_models(spec):
            texts += list(load_recipe(ws, ref)[1]["features"].values())
    warmup = max((compile_expression(t, fields=panel.field_names).warmup for t in texts), default=0)
    extra = 0  # trailing weight windows are exact sums: they need no geometric settling
    sig = spec.signal
    if sig is not None and sig.components is not None and sig.combine in ("ic", "mean_variance"):
        extra = sig.window + sig.horizon
    if spec.template is not None:
        # a template's own windows (formation, refits) are exact: no geometric settling
        extra = max(extra, spec.template.warmup())
    # sizing windows and regime detectors: exact windows too (see sizing_warmup)
    extra = max(extra, sizing_warmup(spec))
    template_warmup = spec.template.warmup() if spec.template is not None else 0
    template_warmup = max(template_warmup, sizing_warmup(spec))
    settle = max(252, min(11 * warmup + extra, panel.n_times // 3), template_warmup)
    min_history = min(max(252, warmup + extra + 1), max(1, panel.n_times - n_points - 2))
    # each re-run of a code signal starts a sandbox process: fewer decision bars, one by one
    cap = CODE_SCAN_DECISION_POINTS if sig is not None and sig.code is not None else None
    return scan_lookahead(
        strategy_signal_fn(spec, ws),
        panel,
        decisions=scan_decisions(spec, panel.index),
        n_points=n_points,
        settle=settle,
        min_history=min_history,
        seed=seed,
        progress=stage(progress, "lookahead scan: re-runs"),
        **({"max_decision_points": cap} if cap else {}),
    )
