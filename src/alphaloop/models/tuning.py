"""Hyperparameter search with optuna, inside the training rows it is given.

Conventions
-----------
Optuna's TPE sampler (seeded) with a median pruner. A trial is scored by
the mean rank IC over ``HPO_INNER_SPLITS`` walk-forward splits of the
*training* rows it is given (a fold's training rows, or all rows for the
final model); it may be pruned after any inner split. Parameters passed
in ``params`` are held fixed; the search tunes the others of
:data:`SEARCH_SPACES`. ``hpo_timeout`` (seconds, per search, checked
before each round) makes the number of trials depend on the machine, hence
the result non-deterministic. optuna is imported when a search runs, not
with this module.

Where trials run
----------------
Each inner split of a trial is one task, :func:`score_step`, on a task pool
(:mod:`alphaloop.compute`): in this process, a local process pool or Ray
actors; the pool holds the fit context and every search's inner splits
(:class:`SearchData`), shipped to each worker once. The driver keeps the
study: it asks ``concurrent`` trials per round, draws their parameters,
runs their inner splits on the pool, then replays each trial's scores in
trial order (``trial.report`` after each split, then the pruner's
decision) and tells the study. With ``concurrent=1`` the splits of the one
trial run one at a time and a pruned trial stops, exactly the sequential
search. With ``concurrent > 1`` all splits of a round run at once and the
pruner decides after they ran: pruning then saves no compute, it only
keeps the study's record (values, states, what the sampler sees) the one a
sequential search would write for the same parameters. The search depends
on the seed and ``concurrent``, never on where the tasks ran.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from alphaloop.compute.pools import InlinePool, TaskPool, make_pool
from alphaloop.models.date_splits import _date_splits
from alphaloop.models.errors import ModelError
from alphaloop.models.metrics import _per_date_ic

if TYPE_CHECKING:
    import optuna

    from alphaloop.models.training import _Context
    from alphaloop.models.training_results import FitRecord

__all__ = [
    "HPO_INNER_SPLITS",
    "SEARCH_SPACES",
    "SearchData",
    "SearchSummary",
    "StepOutcome",
    "StepTask",
    "score_step",
]

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

    ``best_value`` is the best trial's mean inner rank IC. ``trials`` holds
    every trial in order: ``number``, ``state`` (``COMPLETE`` or ``PRUNED``),
    ``value`` (mean inner rank IC; a pruned trial's last reported mean) and
    ``params`` (the drawn ones). ``concurrent`` is the number of trials
    asked per round.
    """

    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    n_complete: int
    n_pruned: int
    trials: tuple[dict[str, Any], ...] = ()
    concurrent: int = 1


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


SearchKey = int | None
"""Which search: the outer fold's number, or None for the final model's."""


@dataclass(frozen=True)
class SearchData:
    """What every search task reads: the fit context (without ``on_fit``) and, per
    search (:data:`SearchKey`), its inner ``(train_rows, test_rows)`` splits."""

    ctx: _Context
    inner: dict[SearchKey, list[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class StepTask:
    """One trial's fit and score on one inner split (the seed is the context's)."""

    search: SearchKey
    trial: int
    step: int
    params: dict[str, Any]


@dataclass(frozen=True)
class StepOutcome:
    """A task's result: the split's mean rank IC (0.0 when no date has one), the fit's
    record (replayed to ``on_fit`` by the driver) and the augmenter's records of the fit."""

    score: float
    record: FitRecord
    augment_records: tuple[dict[str, Any], ...] = ()


def score_step(shared: SearchData, task: StepTask) -> StepOutcome | ModelError:
    """Fit ``task.params`` on the inner split's training rows and score its test rows.

    A :class:`ModelError` (e.g. a split with one class) is returned, not raised,
    so the driver raises it as it is whatever pool ran the task.
    """
    inner_train, inner_test = shared.inner[task.search][task.step]
    records: list[FitRecord] = []
    ctx = replace(shared.ctx, on_fit=records.append)
    log = getattr(ctx.augment, "records", None)
    seen = len(log) if isinstance(log, list) else 0
    try:
        estimator, _, _ = ctx.fit(
            task.params,
            inner_train,
            stage="hpo",
            fold=task.search,
            trial=task.trial,
            eval_rows=inner_test,
        )
    except ModelError as exc:
        return exc
    finally:
        new: tuple[dict[str, Any], ...] = ()
        if isinstance(log, list):  # the driver keeps the log, in trial order
            new = tuple(log[seen:])
            del log[seen:]
    rank = _per_date_ic(ctx.data, ctx.predict(estimator, inner_test), "spearman")
    score = float(rank.mean()) if rank.notna().any() else 0.0
    return StepOutcome(score, records[0], new)


def _inner_splits(ctx: _Context, rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(
        _date_splits(ctx.rows_info, rows, "walk_forward", HPO_INNER_SPLITS, ctx.embargo, "inner")
    )


def _search_pool(
    ctx: _Context,
    searches: Mapping[SearchKey, np.ndarray],
    *,
    executor: str = "local",
    workers: int = 1,
    address: str | None = None,
) -> tuple[TaskPool[SearchData], dict[SearchKey, int]]:
    """A pool holding ``ctx`` and the inner splits of each search's rows (``searches``:
    outer fold or None -> training rows), and each search's number of splits. In this
    process for ``local`` with one worker."""
    data = SearchData(
        replace(ctx, on_fit=None), {k: _inner_splits(ctx, rows) for k, rows in searches.items()}
    )
    steps = {k: len(v) for k, v in data.inner.items()}
    if executor == "local" and workers == 1 and address is None:
        return InlinePool(data), steps
    return make_pool(executor, data, workers=workers, address=address), steps


def _outcomes(
    pool: TaskPool[SearchData], key: SearchKey, asked: Sequence[Any], drawn: Sequence[dict],
    n_steps: int,
) -> list[Iterator[StepOutcome | ModelError]]:  # fmt: skip
    """Per trial, its splits' outcomes: lazily one split at a time for a single trial,
    else all splits of the round at once."""
    if len(asked) == 1:
        one = asked[0].number

        def lazy() -> Iterator[StepOutcome | ModelError]:
            for step in range(n_steps):
                yield pool.map(score_step, [StepTask(key, one, step, drawn[0])], batch_size=1)[0]

        return [lazy()]
    tasks = [
        StepTask(key, t.number, step, params)
        for t, params in zip(asked, drawn, strict=True)
        for step in range(n_steps)
    ]
    done = pool.map(score_step, tasks, batch_size=1)
    return [iter(done[i * n_steps : (i + 1) * n_steps]) for i in range(len(asked))]


def _replay(
    study: optuna.Study,
    trial: optuna.Trial,
    outcomes: Iterator[StepOutcome | ModelError],
    ctx: _Context,
    *,
    ran_ahead: bool,
) -> None:
    """Report a trial's scores in order, prune as the pruner says, tell the study.

    ``ran_ahead``: the splits after a pruning ran already; their fits are still
    reported to ``on_fit`` (they happened), their scores are not.
    """
    import optuna

    log = getattr(ctx.augment, "records", None)
    scores: list[float] = []
    pruned = False
    for step, out in enumerate(outcomes):
        if isinstance(out, ModelError):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise out
        if isinstance(log, list):
            log.extend(out.augment_records)
        if ctx.on_fit is not None:
            ctx.on_fit(out.record)
        if pruned:
            continue
        scores.append(out.score)
        trial.report(float(np.mean(scores)), step)
        if trial.should_prune():
            pruned = True
            if not ran_ahead:
                break
    if pruned:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, float(np.mean(scores)))


def _search(
    ctx: _Context,
    pool: TaskPool[SearchData],
    key: SearchKey,
    n_steps: int,
    fixed: Mapping[str, Any],
    n_trials: int,
    timeout: float | None,
    concurrent: int = 1,
) -> tuple[dict[str, Any], SearchSummary]:
    """Tune on the inner splits of search ``key`` (held by ``pool``); return the best
    parameters. Trials are asked ``concurrent`` per round (see the module docstring)."""
    import optuna

    if isinstance(concurrent, bool) or not isinstance(concurrent, int) or concurrent < 1:
        raise ModelError(f"hpo_concurrent must be an integer >= 1, got {concurrent!r}")
    space = {k: v for k, v in SEARCH_SPACES[ctx.family].items() if k not in fixed}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=ctx.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        )
        started = time.monotonic()
        while len(study.trials) < n_trials:
            if timeout is not None and time.monotonic() - started >= timeout:
                break
            asked = [study.ask() for _ in range(min(concurrent, n_trials - len(study.trials)))]
            drawn = [{**fixed, **_suggest(t, space)} for t in asked]
            outcomes = _outcomes(pool, key, asked, drawn, n_steps)
            for trial, steps in zip(asked, outcomes, strict=True):
                _replay(study, trial, steps, ctx, ran_ahead=len(asked) > 1)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return _summarize(study, fixed, concurrent)


def _summarize(
    study: optuna.Study, fixed: Mapping[str, Any], concurrent: int
) -> tuple[dict[str, Any], SearchSummary]:
    import optuna

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
        trials=tuple(
            {"number": t.number, "state": t.state.name, "value": t.value, "params": dict(t.params)}
            for t in study.trials
        ),
        concurrent=concurrent,
    )
    return best, summary
