"""Evaluating final strategies on a dataset's sealed holdout, once.

:func:`evaluate_holdout` spends the holdout of a dataset
(:meth:`~alphaloop.data.holdout.Holdouts.unseal`), recording the note and
the number of strategies tried on the dataset before it (the strategy
database's trial count); then backtests each
named, final spec on the holdout span (earlier bars feed the signals only)
and records their metrics with the holdout. It cannot be run twice for a
dataset: the first result stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alphaloop.app.backtests import run_backtest
from alphaloop.app.workspace import Workspace
from alphaloop.backtest import StrategySpec
from alphaloop.errors import HoldoutError
from alphaloop.jsonsafe import json_safe

__all__ = ["HoldoutEvaluation", "evaluate_holdout"]

# metrics kept in the holdout record for each strategy
RECORDED = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "n_round_trips",
    "turnover",
    "cost_drag_annual",
    "n_periods",
)


@dataclass(frozen=True)
class HoldoutEvaluation:
    """What the one evaluation on a holdout found."""

    dataset: str
    boundary: str
    trials_before: int
    note: str
    strategies: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "dataset": self.dataset,
                "boundary": self.boundary,
                "trials_before": self.trials_before,
                "note": self.note,
                "strategies": self.strategies,
            }
        )


def evaluate_holdout(
    ws: Workspace, dataset: str, specs: list[StrategySpec], *, note: str
) -> HoldoutEvaluation:
    """Unseal ``dataset``'s holdout and evaluate the final ``specs`` on it.

    Parameters
    ----------
    ws : Workspace
    dataset : str
    specs : list of StrategySpec
        The final strategies, all on ``dataset``; at least one.
    note : str
        Why these strategies, recorded with the holdout.

    Raises
    ------
    HoldoutError
        No specs, a spec on another dataset, no holdout, or already unsealed.
    """
    if not specs:
        raise HoldoutError("name at least one final strategy to evaluate on the holdout")
    others = sorted({s.data for s in specs if s.data != dataset})
    if others:
        raise HoldoutError(f"every strategy must run on {dataset!r}; some use {others}")
    ws.data.holdout_boundary(dataset)  # seals it if this is its first use
    trials = ws.strategies.n_trials(dataset)
    key = ws.data.holdouts.unseal(dataset, note=note, trials_before=trials)
    rows: list[dict[str, Any]] = []
    with ws.runs.start(
        "holdout-unseal",
        {"dataset": dataset, "specs": [s.hash for s in specs], "trials_before": trials},
    ) as run:
        for spec in specs:
            result = run_backtest(ws, spec, holdout_key=key)
            sim = result.simulation
            rows.append(
                {
                    "name": spec.name,
                    "spec_hash": spec.hash,
                    "run_id": result.run_id,
                    "start": sim.equity.index[0].isoformat(),
                    "end": sim.equity.index[-1].isoformat(),
                    "metrics": {k: result.metrics.get(k) for k in RECORDED},
                }
            )
        evaluation = HoldoutEvaluation(
            dataset=dataset,
            boundary=key.boundary.isoformat() if key.boundary is not None else "",
            trials_before=trials,
            note=note,
            strategies=rows,
        )
        ws.data.holdouts.record_results(key, evaluation.to_dict())
        run.result = evaluation.to_dict()
        run.data_hashes = {dataset: ws.data.info(dataset).content_hash}
    return evaluation
