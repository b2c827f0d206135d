"""What training reports: the fits it made, the final model's period, and the result.

:class:`FitRecord` is passed to ``train``'s ``on_fit`` before every fit;
:class:`TrainingResult` holds the final model with its out-of-sample record
and provenance (:meth:`TrainingResult.summary` is JSON-able).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_number

if TYPE_CHECKING:
    from alphaloop.models.estimators import Estimator
    from alphaloop.models.tuning import SearchSummary

__all__ = ["FitRecord", "TrainingPeriod", "TrainingResult"]


@dataclass(frozen=True, eq=False)
class FitRecord:
    """The rows one model fit used, passed to ``train``'s ``on_fit`` before the fit.

    Attributes
    ----------
    stage : {"cv", "hpo", "final", "rolling"}
        An outer fold's model, a search trial's model, the final model, or a
        segment's model of rolling retraining
        (:func:`~alphaloop.models.rolling.rolling_train`).
    fold : int or None
        Outer fold number, or segment number for ``"rolling"`` (None for the
        final model and its search).
    trial : int or None
        Optuna trial number for ``"hpo"``, else None.
    fit_rows, valid_rows, eval_rows : ndarray of int64
        Positions in the ``LearningData``: rows fitted on, early-stopping
        rows, and the rows then predicted and scored (the outer test fold for
        ``"cv"``, an inner test block for ``"hpo"``, empty for ``"final"``, the
        segment's period for ``"rolling"``).
    """

    stage: Literal["cv", "hpo", "final", "rolling"]
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
        :func:`~alphaloop.models.metrics.prediction_metrics`, ``in_sample_ic`` and, with a search,
        ``hpo_trials``, ``hpo_pruned``, ``hpo_best`` and the fold's ``params``.
    metrics : dict of str to float
        Out-of-sample metrics over all test folds together (see
        :mod:`alphaloop.models.metrics`), plus ``in_sample_ic`` (mean over folds), ``n_oos``
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
