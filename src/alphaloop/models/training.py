"""Train an estimator on purged time-series splits; score it out of sample; tune it inside folds.

:func:`train` cross-validates a family over whole-date splits
(:mod:`~alphaloop.models.date_splits`), scores the test folds'
predictions (:mod:`~alphaloop.models.metrics`), optionally tunes inside
each fold's training rows (:mod:`~alphaloop.models.tuning`), and fits the
final model on all usable rows. Its result is a
:class:`~alphaloop.models.training_results.TrainingResult`.

Conventions
-----------
Splits, early stopping
    See :mod:`alphaloop.models.date_splits`.
Metrics
    See :mod:`alphaloop.models.metrics`; ``in_sample_ic`` is the per-date
    IC of each fold's model on the rows it was fitted on.
Hyperparameter search
    See :mod:`alphaloop.models.tuning`.
Rows
    Rows without a label (``y`` NaN) are neither trained nor scored. Sequence
    families use windows of ``sequence_window`` dates
    (:meth:`LearningData.sequences`); rows without a complete window are
    left out. Left-out and never-tested rows get NaN out-of-sample predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from alphaloop.models.date_splits import _EMPTY, _date_splits, _Rows, _tail_validation
from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import TASKS, Estimator
from alphaloop.models.families import SEQUENCE_FAMILIES, make_estimator
from alphaloop.models.learning_data import LearningData
from alphaloop.models.metrics import _ic_metrics, prediction_metrics
from alphaloop.models.training_results import FitRecord, TrainingPeriod, TrainingResult
from alphaloop.models.tuning import (
    HPO_INNER_SPLITS,
    SEARCH_SPACES,
    SearchSummary,
    _search,
    _search_pool,
)

__all__ = ["train"]


class Augmenter(Protocol):
    """Synthetic training rows for one fit (:mod:`alphaloop.models.augment`)."""

    def __call__(
        self, data: LearningData, fit_rows: np.ndarray, *, stage: str, fold: int | None,
        trial: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...  # fmt: skip


# An augmenter may keep a ``records`` list (one entry per fit); the fits of a search that
# ran in other processes send theirs back, and they are appended here in trial order.


Splitter = Literal["walk_forward", "purged_kfold"]
SPLITTERS: tuple[str, ...] = ("walk_forward", "purged_kfold")
DEFAULT_SEQUENCE_WINDOW = 10


@dataclass
class _Context:
    """Everything a fit needs, shared by the outer folds, the search and the final fit."""

    data: LearningData
    family: str
    task: str
    seed: int
    rows_info: _Rows
    valid_fraction: float
    embargo: float
    features: np.ndarray  # data.X, or the sequences of the usable rows
    feature_row: np.ndarray  # row -> index into features, -1 if unusable
    on_fit: Callable[[FitRecord], None] | None
    augment: Augmenter | None = None

    def x(self, rows: np.ndarray) -> np.ndarray:
        return self.features[self.feature_row[rows]]

    def fit(
        self,
        params: Mapping[str, Any],
        rows: np.ndarray,
        *,
        stage: Literal["cv", "hpo", "final", "rolling"],
        fold: int | None,
        trial: int | None = None,
        eval_rows: np.ndarray = _EMPTY,
    ) -> tuple[Estimator, np.ndarray, np.ndarray]:
        fit_rows, valid_rows = _tail_validation(self.rows_info, rows, self.valid_fraction)
        if self.task == "classification" and len(np.unique(self.data.y[fit_rows])) < 2:
            raise ModelError(
                f"{stage} fit{'' if fold is None else f' of fold {fold}'} has only one class "
                "in its training rows",
                hint="use fewer splits or a label with both outcomes in every period",
            )
        if self.on_fit is not None:
            self.on_fit(FitRecord(stage, fold, trial, fit_rows, valid_rows, eval_rows))
        estimator = make_estimator(self.family, self.task, params, self.seed)
        y = self.data.y
        x_fit, y_fit = self.x(fit_rows), y[fit_rows]
        if self.augment is not None:  # synthetic rows join the training rows only
            x_syn, y_syn = self.augment(self.data, fit_rows, stage=stage, fold=fold, trial=trial)
            x_fit = np.concatenate([x_fit, x_syn.astype(x_fit.dtype, copy=False)])
            y_fit = np.concatenate([y_fit, y_syn])
        if valid_rows.size:
            estimator.fit(x_fit, y_fit, X_valid=self.x(valid_rows), y_valid=y[valid_rows])
        else:
            estimator.fit(x_fit, y_fit)
        return estimator, fit_rows, valid_rows

    def predict(self, estimator: Estimator, rows: np.ndarray) -> np.ndarray:
        out = np.full(len(self.data), np.nan)
        if rows.size:
            out[rows] = estimator.predict(self.x(rows))
        return out


def train(
    data: LearningData,
    family: str,
    *,
    task: str | None = None,
    params: Mapping[str, Any] | None = None,
    splitter: Splitter = "walk_forward",
    n_splits: int = 5,
    embargo: float = 0.01,
    seed: int = 0,
    valid_fraction: float = 0.2,
    hpo_trials: int = 0,
    hpo_timeout: float | None = None,
    sequence_window: int | None = None,
    on_fit: Callable[[FitRecord], None] | None = None,
    on_fold: Callable[[int, Estimator, np.ndarray, np.ndarray], None] | None = None,
    augment: Augmenter | None = None,
    hpo_executor: str = "local",
    hpo_workers: int = 1,
    hpo_address: str | None = None,
    hpo_concurrent: int = 1,
) -> TrainingResult:
    """Cross-validate ``family`` on ``data`` out of sample, then fit the final model on all of it.

    Parameters
    ----------
    data : LearningData
    family : str
        A model family (:data:`~alphaloop.models.families.FAMILIES`).
    task : {"regression", "classification"}, optional
        Default ``data.label.kind``.
    params : mapping, optional
        Estimator parameters; with a search, these are held fixed. A family
        that takes ``feature_names`` (``"tft"``) gets the data's unless given.
    splitter : {"walk_forward", "purged_kfold"}, default="walk_forward"
        Outer splits over whole dates, purged with the label end times.
    n_splits : int, default=5
    embargo : float, default=0.01
        Fraction of dates embargoed around each test block.
    seed : int, default=0
        Seeds every estimator and the search's sampler.
    valid_fraction : float, default=0.2
        Share of each training period's last dates used for early stopping
        (0 disables early stopping).
    hpo_trials : int, default=0
        Optuna trials per search; a search runs inside each fold's training
        rows and once on all rows for the final model. 0: no search.
    hpo_timeout : float, optional
        Seconds per search (checked before each round of trials).
    hpo_executor : {"local", "ray"}, default="local"
        Where the search's fits run (:mod:`alphaloop.compute`): ``local`` in
        this process (one worker) or a process pool, ``ray`` on Ray actors.
        The result does not depend on it.
    hpo_workers : int, default=1
        Processes or actors for the search.
    hpo_address : str, optional
        A Ray cluster's address (``ray`` only; default: a local instance).
    hpo_concurrent : int, default=1
        Trials asked per round of the search. The result depends on it
        (1 is the sequential search); with more, pruning is decided after a
        round's fits ran (see :mod:`alphaloop.models.tuning`).
    sequence_window : int, optional
        Dates per sequence for the sequence families (``"lstm"``, ``"gru"``,
        ``"transformer"``, ``"tft"``; default 10); not allowed for other families.
    on_fit : callable, optional
        Called with a :class:`FitRecord` before every model fit (audits, tests).
    on_fold : callable, optional
        Called after each outer fold's fit as ``on_fold(fold, estimator,
        test_rows, X_test)`` with the fold's model, its test rows (positions
        in ``data``) and their inputs (sequences for sequence families), e.g.
        to measure the fold model on data it did not train on.
    augment : callable, optional
        Opt-in data augmentation: called before each fit as ``augment(data,
        fit_rows, stage=, fold=, trial=)``, it returns ``(X, y)`` rows added
        to that fit's training rows only (never to its early-stopping rows,
        tests or metrics); see :class:`~alphaloop.models.augment.TrainingAugmenter`.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ModelError
        For bad settings, a label that does not fit the task, or data too
        short for the splits.
    """
    _check_splits(splitter, n_splits, hpo_trials, hpo_concurrent)
    task, fixed, window = _check_common(
        data, family, task, params, seed, valid_fraction, sequence_window
    )
    if hpo_trials and not SEARCH_SPACES[family]:
        raise ModelError(
            f"family {family!r} has no hyperparameters to search",
            hint="use hpo_trials=0, or the 'ridge' family for a tuned linear model",
        )
    ctx, usable = _context(data, family, task, seed, valid_fraction, embargo, window, on_fit)
    ctx.augment = augment

    oos = np.full(len(data), np.nan)
    outer = _date_splits(ctx.rows_info, usable, splitter, n_splits, embargo, "outer")
    pool, steps = None, {}
    if hpo_trials:
        searches = {**{k: rows for k, (rows, _) in enumerate(outer)}, None: usable}
        pool, steps = _search_pool(
            ctx, searches, executor=hpo_executor, workers=hpo_workers, address=hpo_address
        )

    def tune(key: int | None) -> tuple[dict[str, Any], SearchSummary]:
        assert pool is not None
        return _search(ctx, pool, key, steps[key], fixed, hpo_trials, hpo_timeout, hpo_concurrent)

    try:
        result = _cross_validate(ctx, outer, fixed, tune if hpo_trials else None, on_fold, oos)
    finally:
        if pool is not None:
            pool.close()
    fold_rows, final_params, search = result
    final, _, _ = ctx.fit(final_params, usable, stage="final", fold=None)
    folds = pd.DataFrame(fold_rows)
    tested = np.flatnonzero(np.isfinite(oos))
    metrics = prediction_metrics(data, oos, tested, task=task)
    metrics["in_sample_ic"] = float(folds["in_sample_ic"].mean())
    metrics["n_oos"] = float(tested.size)
    metrics["n_folds"] = float(len(folds))
    times = data.times
    period = TrainingPeriod(
        first_decision=times[usable[0]],
        last_decision=times[usable[-1]],
        last_label_end=pd.Timestamp(int(ctx.rows_info.end_ns[usable].max()), tz="UTC"),
    )
    settings = {
        "splitter": splitter,
        "n_splits": n_splits,
        "embargo": embargo,
        "valid_fraction": valid_fraction,
        "sequence_window": window,
        "hpo_trials": hpo_trials,
        "hpo_timeout": hpo_timeout,
        "hpo_inner_splits": HPO_INNER_SPLITS if hpo_trials else None,
    }
    if hpo_trials:
        settings["hpo_concurrent"] = hpo_concurrent
    summary = getattr(augment, "summary", None)
    if callable(summary):
        settings["augment"] = summary()
    return TrainingResult(
        estimator=final,
        family=family,
        task=task,
        oos_predictions=oos,
        folds=folds,
        metrics=metrics,
        params=final.params,
        seed=seed,
        period=period,
        feature_names=tuple(data.feature_names),
        settings=settings,
        search=search,
    )


def _cross_validate(
    ctx: _Context,
    outer: list[tuple[np.ndarray, np.ndarray]],
    fixed: dict[str, Any],
    tune: Callable[[int | None], tuple[dict[str, Any], SearchSummary]] | None,
    on_fold: Callable[[int, Estimator, np.ndarray, np.ndarray], None] | None,
    oos: np.ndarray,
) -> tuple[list[dict[str, Any]], dict[str, Any], SearchSummary | None]:
    """Fit and test each outer fold (tuned first by ``tune(fold)`` if given), filling
    ``oos``; then tune for the final model. Returns the fold rows, the final model's
    parameters and its search."""
    fold_rows = []
    for k, (train_rows, test_rows) in enumerate(outer):
        fold_params, search = dict(fixed), None
        if tune is not None:
            fold_params, search = tune(k)
        estimator, fit_rows, valid_rows = ctx.fit(
            fold_params, train_rows, stage="cv", fold=k, eval_rows=test_rows
        )
        if on_fold is not None:
            on_fold(k, estimator, test_rows, ctx.x(test_rows))
        pred = ctx.predict(estimator, test_rows)
        oos[test_rows] = pred[test_rows]
        in_sample = _ic_metrics(ctx.data, ctx.predict(estimator, fit_rows))["ic"]
        fold_rows.append(
            _fold_row(ctx, k, fit_rows, valid_rows, test_rows, estimator, pred, in_sample, search)
        )
    final_params, search = dict(fixed), None
    if tune is not None:
        final_params, search = tune(None)
    return fold_rows, final_params, search


def _check_splits(splitter: str, n_splits: int, hpo_trials: int, concurrent: int = 1) -> None:
    if splitter not in SPLITTERS:
        raise ModelError(f"splitter must be one of {SPLITTERS}, got {splitter!r}")
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 2:
        raise ModelError(f"n_splits must be an integer >= 2, got {n_splits!r}")
    if isinstance(hpo_trials, bool) or not isinstance(hpo_trials, int) or hpo_trials < 0:
        raise ModelError(f"hpo_trials must be an integer >= 0, got {hpo_trials!r}")
    if isinstance(concurrent, bool) or not isinstance(concurrent, int) or concurrent < 1:
        raise ModelError(f"hpo_concurrent must be an integer >= 1, got {concurrent!r}")


def _check_common(
    data: LearningData,
    family: str,
    task: str | None,
    params: Mapping[str, Any] | None,
    seed: int,
    valid_fraction: float,
    sequence_window: int | None,
) -> tuple[str, dict[str, Any], int | None]:
    """Checks every training schedule shares: (task, fixed params, sequence window or None)."""
    task = data.label.kind if task is None else task
    if task not in TASKS:
        raise ModelError(f"task must be one of {TASKS}, got {task!r}")
    if not 0.0 <= valid_fraction < 1.0:
        raise ModelError(f"valid_fraction must be in [0, 1), got {valid_fraction!r}")
    if sequence_window is not None and family not in SEQUENCE_FAMILIES:
        raise ModelError(
            f"sequence_window applies to sequence families only, not {family!r}",
            hint=f"sequence families: {', '.join(sorted(SEQUENCE_FAMILIES))}",
        )
    fixed = dict(params or {})
    estimator_type = type(make_estimator(family, task, fixed, seed))  # validates early
    if "feature_names" in estimator_type._get_param_names() and "feature_names" not in fixed:
        fixed["feature_names"] = tuple(data.feature_names)  # e.g. TFT's static features by name
    if task == "classification" and not np.isin(data.y[np.isfinite(data.y)], (0.0, 1.0)).all():
        raise ModelError(
            "task='classification' needs 0/1 labels, but the data's labels are returns",
            hint="build the data with LabelSpec(kind='classification') or use task='regression'",
        )
    window = None
    if family in SEQUENCE_FAMILIES:
        window = DEFAULT_SEQUENCE_WINDOW if sequence_window is None else sequence_window
    return task, fixed, window


def _context(
    data: LearningData,
    family: str,
    task: str,
    seed: int,
    valid_fraction: float,
    embargo: float,
    window: int | None,
    on_fit: Callable[[FitRecord], None] | None,
) -> tuple[_Context, np.ndarray]:
    """The fit context and the usable rows (labeled, with a complete window if needed)."""
    labeled = np.isfinite(data.y)
    end = data.t1.to_numpy()
    start_ns = data.times.as_unit("ns").asi8
    end_ns = pd.DatetimeIndex(end).as_unit("ns").asi8.copy()
    end_ns[~labeled] = start_ns[~labeled]
    rows_info = _Rows(date=np.asarray(data.rows), start_ns=start_ns, end_ns=end_ns)
    feature_row = np.full(len(data), -1, dtype=np.int64)
    if window is None:
        features = data.X
        feature_row[labeled] = np.flatnonzero(labeled)
    else:
        features, positions = data.sequences(window, rows=np.flatnonzero(labeled))
        feature_row[positions] = np.arange(len(positions))
    usable = np.flatnonzero(feature_row >= 0)
    if usable.size == 0:
        raise ModelError(
            "no usable rows: none has a label"
            + ("" if window is None else f" and a complete {window}-date window"),
            hint="build the data with more history",
        )
    ctx = _Context(
        data, family, task, seed, rows_info, valid_fraction, embargo, features, feature_row, on_fit
    )
    return ctx, usable


def _fold_row(
    ctx: _Context,
    k: int,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    test_rows: np.ndarray,
    estimator: Estimator,
    pred: np.ndarray,
    in_sample_ic: float,
    search: SearchSummary | None,
) -> dict[str, Any]:
    times = ctx.data.times
    row: dict[str, Any] = {
        "fold": k,
        "train_start": times[fit_rows[0]],
        "train_end": times[fit_rows[-1]],
        "n_train": int(fit_rows.size),
        "valid_start": times[valid_rows[0]] if valid_rows.size else None,
        "valid_end": times[valid_rows[-1]] if valid_rows.size else None,
        "n_valid": int(valid_rows.size),
        "test_start": times[test_rows[0]],
        "test_end": times[test_rows[-1]],
        "n_test": int(test_rows.size),
        "best_iteration": getattr(estimator, "best_iteration_", None),
    }
    row.update(prediction_metrics(ctx.data, pred, test_rows, task=ctx.task))
    row["in_sample_ic"] = in_sample_ic
    if search is not None:
        row.update(
            hpo_trials=search.n_trials, hpo_pruned=search.n_pruned, hpo_best=search.best_value
        )
        row["params"] = dict(search.best_params)
    return row
