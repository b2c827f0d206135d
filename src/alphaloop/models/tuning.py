"""Hyperparameter search with optuna, inside the training rows it is given.

Conventions
-----------
Optuna's TPE sampler (seeded) with a median pruner. A trial is scored by
the mean rank IC over ``HPO_INNER_SPLITS`` walk-forward splits of the
*training* rows it is given (a fold's training rows, or all rows for the
final model); it may be pruned after any inner split. Parameters passed
in ``params`` are held fixed; the search tunes the others of
:data:`SEARCH_SPACES`. ``hpo_timeout`` (seconds, per search) makes the
number of trials depend on the machine, hence the result non-deterministic.
optuna is imported when a search runs, not with this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from alphaloop.models.date_splits import _date_splits
from alphaloop.models.errors import ModelError
from alphaloop.models.metrics import _per_date_ic

if TYPE_CHECKING:
    import optuna

    from alphaloop.models.training import _Context

__all__ = ["HPO_INNER_SPLITS", "SEARCH_SPACES", "SearchSummary"]

HPO_INNER_SPLITS = 3

# name -> ("float" | "int", low, high, log) or ("choice", options)
SearchSpace = Mapping[str, tuple[Any, ...]]
_TORCH_STEP = {
    "learning_rate": ("float", 3e-4, 1e-2, True),
    "weight_decay": ("float", 1e-6, 1e-2, True),
}
SEARCH_SPACES: Mapping[str, SearchSpace] = {
    "lightgbm": {
        "learning_rate": ("float", 0.01, 0.2, True),
        "num_leaves": ("int", 7, 63, True),
        "min_child_samples": ("int", 20, 400, True),
        "colsample": ("float", 0.5, 1.0, False),
        "reg_lambda": ("float", 1e-3, 10.0, True),
    },
    "xgboost": {
        "learning_rate": ("float", 0.01, 0.2, True),
        "max_depth": ("int", 2, 6, False),
        "min_child_weight": ("float", 1.0, 100.0, True),
        "colsample": ("float", 0.5, 1.0, False),
        "reg_lambda": ("float", 1e-3, 10.0, True),
    },
    "random_forest": {
        "max_depth": ("int", 3, 10, False),
        "min_samples_leaf": ("int", 10, 400, True),
        "max_features": ("float", 0.2, 1.0, False),
    },
    "ridge": {"alpha": ("float", 1e-3, 1e3, True)},
    "linear": {},
    "mlp": {
        "hidden_size": ("choice", (16, 32, 64)),
        "n_layers": ("int", 1, 3, False),
        "dropout": ("float", 0.0, 0.3, False),
        **_TORCH_STEP,
    },
    "lstm": {
        "hidden_size": ("choice", (8, 16, 32)),
        "n_layers": ("int", 1, 2, False),
        **_TORCH_STEP,
    },
    "gru": {
        "hidden_size": ("choice", (8, 16, 32)),
        "n_layers": ("int", 1, 2, False),
        **_TORCH_STEP,
    },
    "transformer": {
        "d_model": ("choice", (8, 16, 32)),
        "n_heads": ("choice", (1, 2)),
        "n_layers": ("int", 1, 2, False),
        "dropout": ("float", 0.0, 0.3, False),
        **_TORCH_STEP,
    },
    "tft": {
        "hidden_size": ("choice", (8, 16, 32)),
        "n_heads": ("choice", (1, 2)),
        "dropout": ("float", 0.0, 0.3, False),
        **_TORCH_STEP,
    },
}
"""Per family: the hyperparameters the search tunes and their ranges."""


@dataclass(frozen=True)
class SearchSummary:
    """A hyperparameter search: best parameters found and how many trials ran.

    ``best_value`` is the best trial's mean inner rank IC.
    """

    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    n_complete: int
    n_pruned: int


def _suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec[0] == "float":
            params[name] = trial.suggest_float(name, spec[1], spec[2], log=spec[3])
        elif spec[0] == "int":
            params[name] = trial.suggest_int(name, spec[1], spec[2], log=spec[3])
        else:
            params[name] = trial.suggest_categorical(name, list(spec[1]))
    return params


def _search(
    ctx: _Context,
    rows: np.ndarray,
    fixed: Mapping[str, Any],
    n_trials: int,
    timeout: float | None,
    fold: int | None,
) -> tuple[dict[str, Any], SearchSummary]:
    """Tune on inner walk-forward splits of ``rows`` only; return the best parameters."""
    import optuna

    space = {k: v for k, v in SEARCH_SPACES[ctx.family].items() if k not in fixed}
    inner = _date_splits(
        ctx.rows_info, rows, "walk_forward", HPO_INNER_SPLITS, ctx.embargo, "inner"
    )

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **_suggest(trial, space)}
        scores: list[float] = []
        for step, (inner_train, inner_test) in enumerate(inner):
            estimator, _, _ = ctx.fit(
                params,
                inner_train,
                stage="hpo",
                fold=fold,
                trial=trial.number,
                eval_rows=inner_test,
            )
            rank = _per_date_ic(ctx.data, ctx.predict(estimator, inner_test), "spearman")
            scores.append(float(rank.mean()) if rank.notna().any() else 0.0)
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=ctx.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        )
        study.optimize(objective, n_trials=n_trials, timeout=timeout)
    finally:
        optuna.logging.set_verbosity(verbosity)
    states = [t.state for t in study.trials]
    n_complete = states.count(optuna.trial.TrialState.COMPLETE)
    if n_complete == 0:
        raise ModelError(
            "the hyperparameter search finished no trial",
            hint="raise hpo_trials or hpo_timeout",
        )
    best = {**fixed, **study.best_params}
    summary = SearchSummary(
        best_params=dict(study.best_params),
        best_value=float(study.best_value),
        n_trials=len(study.trials),
        n_complete=n_complete,
        n_pruned=states.count(optuna.trial.TrialState.PRUNED),
    )
    return best, summary
