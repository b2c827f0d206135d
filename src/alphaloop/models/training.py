"""Train an estimator on purged time-series splits; score it out of sample; tune it inside folds.

Conventions
-----------
Splits
    Folds are blocks of whole decision dates (every asset of a date falls in
    the same fold): the splitter (:class:`~alphaloop.validation.splits.WalkForward`
    or :class:`~alphaloop.validation.splits.PurgedKFold`) runs on the
    calendar of dates, each date's label end being the latest ``t1`` of its
    rows, and purges and embargoes by those times. ``embargo`` is a fraction
    of the dates.
Early stopping
    Each fit holds out the *last* ``valid_fraction`` of its training dates as
    the validation set; training rows whose labels end on or after the first
    validation date are purged. Validation rows are always training rows of
    the split: test rows are never seen before the model predicts them.
Metrics (out of sample, from the test folds' predictions)
    ``ic``: the mean over dates of the cross-sectional Pearson correlation
    between prediction and the simple forward return
    (:attr:`LearningData.forward_return`); ``rank_ic``: the same with
    Spearman correlation; ``icir``: mean / standard deviation of the per-date
    IC (per date, not annualized); ``ic_tstat``: ``icir * sqrt(n_dates)``,
    ``ic_tstat_hac``: Newey-West t-statistic with at least ``horizon - 1`` lags
    (overlapping labels). Dates with fewer than 5 scored assets (or all the
    data's assets, if fewer) are skipped. Classifiers add ``accuracy``
    (probability > 0.5 vs the 0/1 label) and ``auc`` (ROC AUC). ``in_sample_ic``
    is the per-date IC of each fold's model on the rows it was fitted on.
Hyperparameter search
    Optuna's TPE sampler (seeded) with a median pruner. A trial is scored by
    the mean rank IC over ``HPO_INNER_SPLITS`` walk-forward splits of the
    *training* rows it is given (a fold's training rows, or all rows for the
    final model); it may be pruned after any inner split. Parameters passed
    in ``params`` are held fixed; the search tunes the others of
    :data:`SEARCH_SPACES`. ``hpo_timeout`` (seconds, per search) makes the
    number of trials depend on the machine, hence the result non-deterministic.
Rows
    Rows without a label (``y`` NaN) are neither trained nor scored. Sequence
    families use windows of ``sequence_window`` dates
    (:meth:`LearningData.sequences`); rows without a complete window are
    left out. Left-out and never-tested rows get NaN out-of-sample predictions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from alphaloop.factors.analysis.ic import information_coefficient, summarize_ic
from alphaloop.jsonsafe import json_number
from alphaloop.models.dataset import LearningData, ModelError
from alphaloop.models.estimators import SEQUENCE_FAMILIES, TASKS, Estimator, make_estimator
from alphaloop.validation.splits import PurgedKFold, SplitError, WalkForward

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HPO_INNER_SPLITS",
    "SEARCH_SPACES",
    "FitRecord",
    "SearchSummary",
    "TrainingPeriod",
    "TrainingResult",
    "prediction_metrics",
    "train",
]

Splitter = Literal["walk_forward", "purged_kfold"]
SPLITTERS: tuple[str, ...] = ("walk_forward", "purged_kfold")
HPO_INNER_SPLITS = 3
DEFAULT_SEQUENCE_WINDOW = 10
MIN_ASSETS = 5
_EMPTY = np.empty(0, dtype=np.int64)

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
}
"""Per family: the hyperparameters the search tunes and their ranges."""


@dataclass(frozen=True, eq=False)
class FitRecord:
    """The rows one model fit used, passed to ``train``'s ``on_fit`` before the fit.

    Attributes
    ----------
    stage : {"cv", "hpo", "final"}
        An outer fold's model, a search trial's model, or the final model.
    fold : int or None
        Outer fold number (None for the final model and its search).
    trial : int or None
        Optuna trial number for ``"hpo"``, else None.
    fit_rows, valid_rows, eval_rows : ndarray of int64
        Positions in the ``LearningData``: rows fitted on, early-stopping
        rows, and the rows then predicted and scored (the outer test fold for
        ``"cv"``, an inner test block for ``"hpo"``, empty for ``"final"``).
    """

    stage: Literal["cv", "hpo", "final"]
    fold: int | None
    trial: int | None
    fit_rows: np.ndarray
    valid_rows: np.ndarray
    eval_rows: np.ndarray


@dataclass(frozen=True)
class TrainingPeriod:
    """What the final model learned from: decision times and the last label end (UTC)."""

    first_decision: pd.Timestamp
    last_decision: pd.Timestamp
    last_label_end: pd.Timestamp


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


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """The final model, its out-of-sample record and how it was made.

    Attributes
    ----------
    estimator : Estimator
        Fitted on all usable rows (tail validation for early stopping): the
        artifact to register.
    family, task : str
    oos_predictions : ndarray of float64, shape (n,)
        Each row's prediction by the fold model that tested it; NaN where
        never tested.
    folds : pandas.DataFrame
        One row per outer fold: ``fold``, ``train_start`` / ``train_end``
        (the fitted rows), ``valid_start`` / ``valid_end`` (early stopping),
        ``test_start`` / ``test_end``, ``n_train`` / ``n_valid`` / ``n_test``,
        ``best_iteration`` (rounds or epochs kept; None for forests and
        linear models), the out-of-sample metrics of
        :func:`prediction_metrics`, ``in_sample_ic`` and, with a search,
        ``hpo_trials``, ``hpo_pruned``, ``hpo_best`` and the fold's ``params``.
    metrics : dict of str to float
        Out-of-sample metrics over all test folds together (module
        conventions), plus ``in_sample_ic`` (mean over folds), ``n_oos``
        (rows predicted) and ``n_folds``.
    params : dict
        The final estimator's parameters (after the search, if any).
    seed : int
    period : TrainingPeriod
    feature_names : tuple of str
    settings : dict
        Splitter, folds, embargo, validation fraction, window and search budget.
    search : SearchSummary or None
        The final model's hyperparameter search.
    """

    estimator: Estimator
    family: str
    task: str
    oos_predictions: np.ndarray
    folds: pd.DataFrame
    metrics: dict[str, float]
    params: dict[str, Any]
    seed: int
    period: TrainingPeriod
    feature_names: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    search: SearchSummary | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-able provenance: everything but the estimator and the predictions."""
        folds = self.folds.astype(object).where(self.folds.notna(), None)
        return {
            "family": self.family,
            "task": self.task,
            "params": dict(self.params),
            "seed": self.seed,
            "period": {k: v.isoformat() for k, v in asdict(self.period).items()},
            "feature_names": list(self.feature_names),
            "metrics": {k: json_number(v) for k, v in self.metrics.items()},
            "folds": [
                {
                    k: v.isoformat() if isinstance(v, pd.Timestamp) else json_number(v)
                    for k, v in row.items()
                }
                for row in folds.to_dict("records")
            ],
            "settings": dict(self.settings),
            "search": None if self.search is None else asdict(self.search),
        }


# ------------------------------------------------------------------------ metrics


def prediction_metrics(
    data: LearningData,
    predictions: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    task: str | None = None,
) -> dict[str, float]:
    """Out-of-sample metrics of predictions on ``rows`` (default: every row with a prediction).

    Parameters
    ----------
    data : LearningData
    predictions : ndarray of shape (n,)
        One per row of ``data``; NaN rows are not scored.
    rows : ndarray of int, optional
        Positions to score.
    task : {"regression", "classification"}, optional
        Default ``data.label.kind``. Classification adds ``accuracy`` and
        ``auc`` against the 0/1 label.

    Returns
    -------
    dict
        ``ic``, ``rank_ic``, ``icir``, ``ic_tstat``, ``ic_tstat_hac``,
        ``n_dates`` (see the module conventions), and for classifiers
        ``accuracy`` and ``auc`` (NaN when one class is absent).
    """
    pred = np.asarray(predictions, dtype=np.float64)
    if pred.shape != (len(data),):
        raise ModelError(f"predictions must have shape ({len(data)},), got {pred.shape}")
    if rows is not None:
        scored = np.full(len(data), np.nan)
        scored[rows] = pred[rows]
        pred = scored
    out = _ic_metrics(data, pred)
    if (task or data.label.kind) == "classification":
        from sklearn.metrics import roc_auc_score

        ok = np.isfinite(pred) & np.isfinite(data.y)
        labels, probs = data.y[ok], pred[ok]
        out["accuracy"] = float(np.mean((probs > 0.5) == (labels > 0.5))) if ok.any() else math.nan
        both = len(np.unique(labels)) == 2
        out["auc"] = float(roc_auc_score(labels, probs)) if both else math.nan
    return out


def _per_date_ic(data: LearningData, pred: np.ndarray, method: str) -> pd.Series:
    min_assets = min(MIN_ASSETS, max(2, len(data.assets)))
    return information_coefficient(
        data.to_panel(pred),
        data.to_panel(data.forward_return),
        method,  # type: ignore[arg-type]
        index=data.panel_index,
        min_assets=min_assets,
    )


def _ic_metrics(data: LearningData, pred: np.ndarray) -> dict[str, float]:
    summary = summarize_ic(_per_date_ic(data, pred, "pearson"), horizon=data.label.horizon)
    rank = _per_date_ic(data, pred, "spearman")
    return {
        "ic": summary.mean,
        "rank_ic": float(rank.mean()) if rank.notna().any() else math.nan,
        "icir": summary.ir,
        "ic_tstat": summary.t_stat,
        "ic_tstat_hac": summary.t_stat_hac,
        "n_dates": float(summary.n_periods),
    }


# ------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class _Rows:
    """Per row: the decision's panel row (date code), decision time and label end (ns, UTC)."""

    date: np.ndarray  # panel row of the decision time (non-decreasing)
    start_ns: np.ndarray
    end_ns: np.ndarray


def _date_splits(
    rows_info: _Rows, rows: np.ndarray, splitter: str, n_splits: int, embargo: float, what: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``rows`` into (train, test) blocks of whole dates, purged by label end times."""
    codes = rows_info.date[rows]
    dates, first = np.unique(codes, return_index=True)
    position = np.searchsorted(dates, codes)
    end = np.full(len(dates), np.iinfo(np.int64).min)
    np.maximum.at(end, position, rows_info.end_ns[rows])
    t1 = pd.Series(
        pd.to_datetime(end, utc=True),
        index=pd.to_datetime(rows_info.start_ns[rows][first], utc=True),
    )
    cv_type = WalkForward if splitter == "walk_forward" else PurgedKFold
    try:
        cv = cv_type(n_splits, t1=t1, embargo=embargo)
        splits = list(cv.split(np.empty((len(dates), 0))))
    except SplitError as exc:
        raise ModelError(
            f"cannot make {n_splits} {what} splits from {len(dates)} dates: {exc.message}",
            hint=exc.hint or "use fewer splits or more data",
        ) from exc
    return [(rows[np.isin(position, tr)], rows[np.isin(position, te)]) for tr, te in splits]


def _tail_validation(
    rows_info: _Rows, rows: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, valid): the last ``fraction`` of the dates of ``rows`` for validation, purged fit."""
    if fraction <= 0:
        return rows, _EMPTY
    start = rows_info.start_ns[rows]
    dates = np.unique(start)
    n_valid = math.floor(len(dates) * fraction)
    if n_valid < 1 or n_valid >= len(dates):
        return rows, _EMPTY
    cutoff = dates[-n_valid]
    valid = rows[start >= cutoff]
    fit = rows[(start < cutoff) & (rows_info.end_ns[rows] < cutoff)]
    if fit.size == 0:
        return rows, _EMPTY
    return fit, valid


# -------------------------------------------------------------------------- fitting


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

    def x(self, rows: np.ndarray) -> np.ndarray:
        return self.features[self.feature_row[rows]]

    def fit(
        self,
        params: Mapping[str, Any],
        rows: np.ndarray,
        *,
        stage: Literal["cv", "hpo", "final"],
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
        if valid_rows.size:
            estimator.fit(
                self.x(fit_rows), y[fit_rows], X_valid=self.x(valid_rows), y_valid=y[valid_rows]
            )
        else:
            estimator.fit(self.x(fit_rows), y[fit_rows])
        return estimator, fit_rows, valid_rows

    def predict(self, estimator: Estimator, rows: np.ndarray) -> np.ndarray:
        out = np.full(len(self.data), np.nan)
        if rows.size:
            out[rows] = estimator.predict(self.x(rows))
        return out


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


# ---------------------------------------------------------------------------- train


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
) -> TrainingResult:
    """Cross-validate ``family`` on ``data`` out of sample, then fit the final model on all of it.

    Parameters
    ----------
    data : LearningData
    family : str
        A model family (:data:`~alphaloop.models.estimators.FAMILIES`).
    task : {"regression", "classification"}, optional
        Default ``data.label.kind``.
    params : mapping, optional
        Estimator parameters; with a search, these are held fixed.
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
        Seconds per search.
    sequence_window : int, optional
        Dates per sequence for ``"lstm"``, ``"gru"``, ``"transformer"``
        (default 10); not allowed for other families.
    on_fit : callable, optional
        Called with a :class:`FitRecord` before every model fit (audits, tests).

    Returns
    -------
    TrainingResult

    Raises
    ------
    ModelError
        For bad settings, a label that does not fit the task, or data too
        short for the splits.
    """
    task = data.label.kind if task is None else task
    _check_settings(family, task, splitter, n_splits, valid_fraction, hpo_trials, sequence_window)
    fixed = dict(params or {})
    make_estimator(family, task, fixed, seed)  # validates the family and parameters early
    if task == "classification" and not np.isin(data.y[np.isfinite(data.y)], (0.0, 1.0)).all():
        raise ModelError(
            "task='classification' needs 0/1 labels, but the data's labels are returns",
            hint="build the data with LabelSpec(kind='classification') or use task='regression'",
        )
    if hpo_trials and not SEARCH_SPACES[family]:
        raise ModelError(
            f"family {family!r} has no hyperparameters to search",
            hint="use hpo_trials=0, or the 'ridge' family for a tuned linear model",
        )
    window = None
    if family in SEQUENCE_FAMILIES:
        window = DEFAULT_SEQUENCE_WINDOW if sequence_window is None else sequence_window
    ctx, usable = _context(data, family, task, seed, valid_fraction, embargo, window, on_fit)

    oos = np.full(len(data), np.nan)
    fold_rows = []
    outer = _date_splits(ctx.rows_info, usable, splitter, n_splits, embargo, "outer")
    for k, (train_rows, test_rows) in enumerate(outer):
        fold_params, search = dict(fixed), None
        if hpo_trials:
            fold_params, search = _search(ctx, train_rows, fixed, hpo_trials, hpo_timeout, k)
        estimator, fit_rows, valid_rows = ctx.fit(
            fold_params, train_rows, stage="cv", fold=k, eval_rows=test_rows
        )
        pred = ctx.predict(estimator, test_rows)
        oos[test_rows] = pred[test_rows]
        in_sample = _ic_metrics(data, ctx.predict(estimator, fit_rows))["ic"]
        fold_rows.append(
            _fold_row(ctx, k, fit_rows, valid_rows, test_rows, estimator, pred, in_sample, search)
        )

    final_params, search = dict(fixed), None
    if hpo_trials:
        final_params, search = _search(ctx, usable, fixed, hpo_trials, hpo_timeout, None)
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


def _check_settings(
    family: str,
    task: str,
    splitter: str,
    n_splits: int,
    valid_fraction: float,
    hpo_trials: int,
    sequence_window: int | None,
) -> None:
    if task not in TASKS:
        raise ModelError(f"task must be one of {TASKS}, got {task!r}")
    if splitter not in SPLITTERS:
        raise ModelError(f"splitter must be one of {SPLITTERS}, got {splitter!r}")
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 2:
        raise ModelError(f"n_splits must be an integer >= 2, got {n_splits!r}")
    if not 0.0 <= valid_fraction < 1.0:
        raise ModelError(f"valid_fraction must be in [0, 1), got {valid_fraction!r}")
    if isinstance(hpo_trials, bool) or not isinstance(hpo_trials, int) or hpo_trials < 0:
        raise ModelError(f"hpo_trials must be an integer >= 0, got {hpo_trials!r}")
    if sequence_window is not None and family not in SEQUENCE_FAMILIES:
        raise ModelError(
            f"sequence_window applies to sequence families only, not {family!r}",
            hint=f"sequence families: {', '.join(sorted(SEQUENCE_FAMILIES))}",
        )


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
