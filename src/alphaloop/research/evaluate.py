"""Evaluate one research candidate on the search span: lookahead scan, walk-forward backtest.

Every candidate a session proposes goes through :func:`evaluate_candidate`
with the same :class:`EvalContext` (the search-span panel, the dataset's
description, the :class:`EvaluationProtocol` and, for model signals, a
predictor). It never raises for the candidate's own faults: a crash, a
signal that blows up, non-finite returns all become ``status="failed"``
with the reason, and count as trials. A spec refused before it ran (what
the backtest's configuration check refuses, an expression naming a missing
field, a signal without any value) is ``failed`` with ``refused=True``: it
never ran, so it is not a trial.

Walk-forward
    A candidate has no fitted parameters, so its walk-forward backtest is
    one backtest over the search span (the same numbers as ``alphaloop
    backtest`` on that span: :func:`~alphaloop.backtest.runner.run_prepared`)
    whose trading bars are cut into ``folds`` consecutive blocks. Fold ``i``
    is the out-of-sample block of an expanding-window walk-forward: its
    in-sample window is every trading bar before it (none for the first
    fold). Each fold reports its out-of-sample annualized Sharpe ratio and,
    from the second on, the in-sample one; ``oos_is_ratio`` is
    :func:`alphaloop.validation.oos_is_ratio` over folds 2..k and
    ``fold_share`` the share of folds with a positive Sharpe ratio.

Regimes
    ``regime_share`` is :func:`alphaloop.validation.regime_performance`'s
    share of evaluated volatility, trend and crisis regimes with a positive
    Sharpe ratio, against the equal-weight universe's returns.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from alphaloop.backtest.instrument_costs import instrument_costs
from alphaloop.backtest.runner import (
    check_strategy,
    equal_weight_benchmark,
    prepare_strategy,
    resolve_costs,
    resolve_periods_per_year,
    run_prepared,
)
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data import DatasetInfo, Panel
from alphaloop.data.assets import Instrument, contract_terms
from alphaloop.errors import AlphaloopError, BacktestError
from alphaloop.research.measures import fold_bounds, fold_stats, folds, regime_share
from alphaloop.research.scan import scan_candidate

__all__ = [
    "CandidateResult",
    "EvalContext",
    "EvaluationProtocol",
    "Predictor",
    "evaluate_candidate",
    "fold_bounds",
    "signal_of",
]

Predictor = Callable[[str, Panel], np.ndarray]
"""A model reference (``name/vN``) and a panel -> its (time, asset) predictions, point in
time, NaN on bars up to the model's label end (the backtest starts at the first bar with a
signal)."""

_MAX_FINDINGS = 5


class EvaluationProtocol(BaseModel):
    """How candidates are evaluated; its :meth:`key` identifies stored evaluations.

    Parameters
    ----------
    data_hash : str
        Content hash of the dataset version evaluated on.
    search_end : date, optional
        Last day of the search span (None: the dataset's research span end).
    folds : int, default 5
        Walk-forward blocks of the trading bars.
    scan : bool, default True
        Run the lookahead scan (integrity rule 3: on for every research candidate).
    scan_points : int, default 20
        Truncation rows spread over the span, as the application's scan.
    decision_points : int, default 0
        Most rebalance bars that are also truncation rows, on top of the
        spread (0: none). Research signals are expressions, whose parser
        refuses any future reference before they run, and models or
        composites, whose leaks (a label used as a feature, a full-sample
        normalization) touch every bar: any truncation row catches those, and
        every row between two truncation rows is compared. Raise it to hunt
        leaks on isolated rebalance bars, at one signal re-run each.
    seed : int, default 0
        Seeds the scan's random truncation rows.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_hash: str = Field(min_length=1)
    search_end: date | None = None
    folds: int = Field(5, ge=1, le=50)
    scan: bool = True
    scan_points: int = Field(20, ge=1, le=1000)
    decision_points: int = Field(0, ge=0, le=10_000)
    seed: int = 0

    def key(self) -> str:
        """16 hex digits: SHA-256 of the canonical JSON (sorted keys, no spaces)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class EvalContext:
    """What every evaluation of a session shares; pickled once per worker.

    Attributes
    ----------
    panel : Panel
        The search span of the dataset, universe applied.
    info : DatasetInfo
    protocol : EvaluationProtocol
    predictor : Predictor, optional
        Model predictions for model and composite signals (picklable).
    traded : Panel, optional
        ``panel`` in traded units (contract multipliers, base currency) where
        instruments are stored for its assets; signals read ``panel``, the
        simulation trades ``traded``.
    instruments : dict of str to Instrument, optional
        The stored instruments of the panel's assets (their lots size trades).
    """

    panel: Panel
    info: DatasetInfo
    protocol: EvaluationProtocol
    predictor: Predictor | None = None
    traded: Panel | None = None
    instruments: dict[str, Instrument] | None = None


@dataclass(frozen=True)
class CandidateResult:
    """The evaluation of one candidate on the search span.

    Attributes
    ----------
    spec_hash : str
    status : {"ok", "failed"}
    reason : str or None
        Why it failed (``"ExcType: message"``).
    metrics : dict of str to float
        Full-span numbers: ``sharpe`` (annualized), ``sharpe_per_period``,
        ``annual_return``, ``annual_volatility``, ``total_return``,
        ``max_drawdown`` (negative fraction, as ``compute_metrics``),
        ``turnover`` (annual, one-way, fraction of equity), ``n_round_trips``,
        ``years``, ``n_obs`` (trading bars), ``skew``, ``kurtosis`` (excess),
        ``exposure``, ``cost_drag_annual``, ``periods_per_year``,
        ``oos_is_ratio``, ``fold_share``, ``regime_share``,
        ``regimes_evaluated``, ``implausible`` (count of plausibility flags).
    folds : list of dict
        Per fold: ``start``, ``end`` (ISO), ``n_obs``, ``sharpe`` (OOS,
        annualized), ``is_sharpe`` (None for the first fold).
    lookahead : dict
        ``clean``, ``checked`` (re-runs), ``points``, ``coverage``,
        ``counts`` and the first ``findings``; ``{"clean": None}`` when not scanned.
    returns : ndarray of float32 or None
        Per-bar simple returns on every bar of the context's panel, NaN before
        the backtest starts.
    seconds : dict of str to float
        Wall time of ``signal``, ``scan``, ``backtest`` and ``total``; ``cpu``:
        the process's CPU time over the whole evaluation.
    refused : bool
        The spec was refused before running: not a trial.
    """

    spec_hash: str
    status: Literal["ok", "failed"]
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    folds: list[dict[str, Any]] = field(default_factory=list)
    lookahead: dict[str, Any] = field(default_factory=dict)
    returns: np.ndarray | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def signal_of(ctx: EvalContext, spec: StrategySpec, panel: Panel) -> np.ndarray | None:
    """The spec's own signal on every bar of ``panel``: an expression, a model or a composite.

    None for a strategy template that makes its own signal (the backtest
    builds the template's book, :func:`alphaloop.backtest.build_book`).
    """
    sig = spec.signal
    if sig is None:
        return None
    if getattr(sig, "components", None):
        from alphaloop.backtest import composite  # type: ignore[attr-defined]

        refs = composite.signal_models(spec)
        values = {ref: _predict(ctx, ref, panel) for ref in refs}
        return np.asarray(composite.signal_values(spec, panel, model_values=values))
    if sig.model is not None:
        return _predict(ctx, sig.model, panel)
    if getattr(sig, "code", None) is not None:
        from alphaloop.backtest import composite  # type: ignore[attr-defined]

        return np.asarray(composite.signal_values(spec, panel))
    from alphaloop.factors.evaluate import evaluate

    return evaluate(panel, {"signal": _compiled(str(sig.expr))}, mode=sig.mode)["signal"]


@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> Any:
    """The expression parsed once per process (fields are checked by :func:`_warmup` first)."""
    from alphaloop.factors import compile_expression

    return compile_expression(text)


def _predict(ctx: EvalContext, ref: str, panel: Panel) -> np.ndarray:
    if ctx.predictor is None:
        raise BacktestError(f"the signal needs model {ref} but the evaluation has no predictor")
    return np.asarray(ctx.predictor(ref, panel), dtype=np.float64)


def _warmup(spec: StrategySpec, panel: Panel) -> int:
    """Bars of history the signal's expressions need (252 for model and code signals); a template's
    own warm-up is :meth:`~alphaloop.strategies.TemplateParams.warmup`."""
    from alphaloop.factors import compile_expression

    sig = spec.signal
    if sig is None:
        return 0
    if getattr(sig, "components", None):
        from alphaloop.backtest import composite  # type: ignore[attr-defined]

        texts = list(composite.signal_expressions(spec))
        extra = 252 if composite.signal_models(spec) else 0
    elif sig.expr is not None:
        texts, extra = [str(sig.expr)], 0
    else:
        texts, extra = [], 252
    warm = [compile_expression(t, fields=panel.field_names).warmup for t in texts]
    return max([extra, *warm])


def _market(panel: Panel) -> pd.Series:
    """Equal-weight universe returns on every bar of ``panel`` (cached per panel object)."""
    hit = _MARKETS.get(id(panel))
    if hit is None or hit[0] is not panel:
        close = np.asarray(panel["close"], dtype=np.float64)
        eligible = panel.membership & np.isfinite(close)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rets = np.full(close.shape, np.nan)
            rets[1:] = close[1:] / close[:-1] - 1.0
            rets[~eligible] = np.nan
            rets[1:][~eligible[:-1]] = np.nan
            mean = np.nanmean(rets, axis=1)
        hit = _MARKETS[id(panel)] = (panel, pd.Series(mean, index=panel.index))
        while len(_MARKETS) > 4:
            _MARKETS.pop(next(iter(_MARKETS)))
    return hit[1]


_MARKETS: dict[int, tuple[Panel, pd.Series]] = {}


def _lookahead_dict(report: Any) -> dict[str, Any]:
    return {
        "clean": bool(report.clean),
        "checked": len(report.checked_points) + len(report.warmups),
        "points": len(report.checked_points),
        "coverage": report.coverage(),
        "coverage_horizon": int(report.coverage_horizon),
        "counts": {k: dict(v) for k, v in report.counts.items()},
        "offending": list(report.offending_outputs),
        "findings": [f.to_dict() for f in report.findings[:_MAX_FINDINGS]],
    }


_KEEP = {
    "sharpe": "sharpe_ratio",
    "annual_return": "annual_return",
    "annual_volatility": "annual_volatility",
    "total_return": "total_return",
    "max_drawdown": "max_drawdown",
    "n_round_trips": "n_round_trips",
    "skew": "skew",
    "kurtosis": "kurtosis",
    "exposure": "exposure",
    "cost_drag_annual": "cost_drag_annual",
    "sortino": "sortino_ratio",
    "win_rate": "win_rate",
}


def _run(ctx: EvalContext, spec: StrategySpec, seconds: dict[str, float]) -> CandidateResult:
    panel = ctx.panel
    proto = ctx.protocol
    tic = time.perf_counter()
    try:  # the configuration check and the signal: a refusal here is not a trial
        check_strategy(spec, panel)
        warm = _warmup(spec, panel)
        own = signal_of(ctx, spec, panel)
        prep = prepare_strategy(spec, ctx.info, panel if ctx.traded is None else ctx.traded, own)
        if ctx.instruments:
            terms = contract_terms(panel.assets, ctx.instruments, default_lot=spec.lot_size)
            prep = replace(prep, lots=terms.lots)
            if spec.costs is None and ctx.traded is not None:
                # futures, FX and crypto instruments take their class's cost preset
                costs = instrument_costs(panel, ctx.traded, ctx.instruments)
                prep = replace(prep, instrument_costs=costs)
    except AlphaloopError as exc:
        return CandidateResult(spec.hash, "failed", _reason(exc), seconds=seconds, refused=True)
    seconds["signal"] = time.perf_counter() - tic
    lookahead: dict[str, Any] = {"clean": None}
    if proto.scan:
        tic = time.perf_counter()
        report = scan_candidate(
            spec,
            panel,
            lambda p: signal_of(ctx, spec, p),
            full_signal=own,
            warmup=warm,
            scan_points=proto.scan_points,
            decision_points=proto.decision_points,
            seed=proto.seed,
            periods_per_year=resolve_periods_per_year(spec, ctx.info)[0],
            costs=resolve_costs(spec, ctx.info, preset=prep.instrument_costs)[1],
        )
        lookahead = _lookahead_dict(report)
        seconds["scan"] = time.perf_counter() - tic
    tic = time.perf_counter()
    bench, label = equal_weight_benchmark(prep)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = run_prepared(prep, "vectorized", bench, label)
    r = result.simulation.returns
    values = r.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise BacktestError("the backtest's returns hold NaN or infinite values")
    ppy = float(result.metrics["periods_per_year"])
    m = result.metrics
    metrics = {key: float(m[src]) for key, src in _KEEP.items()}
    metrics.update(
        sharpe_per_period=float(m["sharpe_ratio"]) / math.sqrt(ppy),
        turnover=float(m["turnover"]) / 2.0,  # traded notional counts buys and sells
        years=values.size / ppy,
        n_obs=float(values.size),
        periods_per_year=ppy,
        implausible=float(len(result.implausible)),
    )
    per_fold = folds(values, r.index, proto.folds, ppy)
    metrics.update(fold_stats(per_fold))
    share, evaluated = regime_share(values, r.index, _market(panel), ppy)
    metrics.update(regime_share=share, regimes_evaluated=float(evaluated))
    returns = np.full(panel.n_times, np.nan, dtype=np.float32)
    returns[prep.start_row :] = values.astype(np.float32)
    seconds["backtest"] = time.perf_counter() - tic
    return CandidateResult(
        spec.hash, "ok", None, metrics, per_fold, lookahead, returns, seconds=seconds
    )


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 2000 else text[:1997] + "..."


def evaluate_candidate(ctx: EvalContext, spec: StrategySpec) -> CandidateResult:
    """Scan, backtest and measure ``spec`` on the context's search span; never raises.

    Parameters
    ----------
    ctx : EvalContext
    spec : StrategySpec

    Returns
    -------
    CandidateResult
        ``status="ok"`` with metrics, folds, the lookahead report and the
        returns; or ``status="failed"`` with the reason (``refused=True`` when
        the spec never ran).
    """
    start, cpu = time.perf_counter(), time.process_time()
    seconds: dict[str, float] = {}
    try:
        res = _run(ctx, spec, seconds)
    except Exception as exc:  # a candidate's own failure is a result, not an error
        res = CandidateResult(spec.hash, "failed", _reason(exc), seconds=seconds)
    seconds["total"] = time.perf_counter() - start
    seconds["cpu"] = time.process_time() - cpu
    return res
