"""Backtests as trials: each spec evaluated on a dataset's research span is recorded in
the strategy database, which counts it.

:func:`record_backtest_trial` stores the strategy (origin ``manual``, its kind
from the signal) and one evaluation under the ``backtest`` protocol: ``ok``
with the metrics, the annualized Sharpe ratio and the daily returns, or
``failed`` with the error of a crash. The first evaluation of a strategy
makes it a trial of its dataset (see
:class:`~alphaloop.research.strategy_db.StrategyDB`); a second backtest of
the same spec changes nothing. Backtests on the sealed holdout are never
recorded here: they are not trials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alphaloop import __version__
from alphaloop.research.strategy_records import EvaluationRecord, spec_kind, spec_models

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import BacktestResult, StrategySpec

__all__ = ["BACKTEST_PROTOCOL", "record_backtest_trial"]

#: the protocol name of a plain backtest on the research span
BACKTEST_PROTOCOL = "backtest"


def record_backtest_trial(
    ws: Workspace,
    spec: StrategySpec,
    engine: str,
    *,
    result: BacktestResult | None = None,
    error: BaseException | None = None,
    data_hash: str | None = None,
) -> bool:
    """Record ``spec`` and its backtest (``result``) or its crash (``error``) as a trial.

    Returns
    -------
    bool
        True when the evaluation was stored; False when the spec already had
        its ``backtest`` evaluation (nothing changed).
    """
    db = ws.strategies
    db.record_strategy(spec, kind=spec_kind(spec), models=spec_models(spec), origin="manual")
    if data_hash is None and result is not None:
        data_hash = result.dataset.content_hash
    provenance = {
        "data_hash": data_hash,
        "code_version": __version__,
        "seed": None,
        "engine": engine,
        "run_id": result.run_id if result is not None else None,
    }
    if result is None:
        reason = f"{type(error).__name__}: {error}" if error is not None else "no result"
        evaluation = EvaluationRecord(
            strategy_hash=spec.hash,
            protocol=BACKTEST_PROTOCOL,
            status="failed",
            reason=reason,
            sharpe=None,
            metrics={},
            folds=[],
            lookahead={},
            validation=None,
            passed=None,
            returns=None,
            provenance=provenance,
            session_id=None,
        )
    else:
        sharpe = result.metrics.get("sharpe_ratio")
        evaluation = EvaluationRecord(
            strategy_hash=spec.hash,
            protocol=BACKTEST_PROTOCOL,
            status="ok",
            reason=None,
            sharpe=float(sharpe) if sharpe is not None else None,
            metrics=dict(result.metrics),
            folds=[],
            lookahead={},
            validation=None,
            passed=None,
            returns=result.simulation.returns.to_numpy(),
            provenance=provenance,
            session_id=None,
        )
    return db.record_evaluation(evaluation)
