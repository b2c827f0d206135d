"""scikit-learn families: random forest, ridge and unpenalized linear models.

Each builds its scikit-learn model in ``_make_model`` and is saved with
joblib (loading runs pickle: only load directories you wrote). None of them
stops early; the validation set passed to ``fit`` is ignored. Linear models
standardize features with the training mean and standard deviation and
fill NaN with 0, the training mean; forests take NaN natively.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alphaloop.models.estimators import Estimator, Task

__all__ = ["LinearEstimator", "RandomForestEstimator", "RidgeEstimator"]


class _SklearnEstimator(Estimator):
    """A scikit-learn model saved with joblib; subclasses build it in ``_make_model``."""

    def _make_model(self) -> Any:
        raise NotImplementedError

    def _fit(self, x, y, valid):
        model = self._make_model()
        model.fit(x, y.astype(np.int64) if self.task == "classification" else y)
        self.model_ = model

    def _predict(self, x):
        if self.task == "classification":
            classes = list(self.model_.classes_)
            return self.model_.predict_proba(x)[:, classes.index(1)]
        return self.model_.predict(x)

    def _save_model(self, directory):
        import joblib

        joblib.dump(self.model_, directory / "model.joblib")

    def _load_model(self, directory, state):
        import joblib

        self.model_ = joblib.load(directory / "model.joblib")


class RandomForestEstimator(_SklearnEstimator):
    """Random forest from scikit-learn (``family="random_forest"``); no early stopping.

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
    n_estimators : int, default=100
    max_depth : int, default=6
    min_samples_leaf : int, default=50
    max_features : float, default=0.5
        Fraction of features tried per split.
    max_samples : float, default=0.5
        Fraction of rows bootstrapped per tree.
    n_jobs : int, default=1
    seed : int, default=0

    Attributes
    ----------
    model_ : RandomForestRegressor or RandomForestClassifier
    """

    family = "random_forest"

    def __init__(
        self,
        task: Task = "regression",
        *,
        n_estimators: int = 100,
        max_depth: int = 6,
        min_samples_leaf: int = 50,
        max_features: float = 0.5,
        max_samples: float = 0.5,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_samples = max_samples
        self.n_jobs = n_jobs
        self.seed = seed

    def _make_model(self):
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        forest = RandomForestClassifier if self.task == "classification" else RandomForestRegressor
        return forest(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            max_samples=self.max_samples,
            n_jobs=self.n_jobs,
            random_state=self.seed,
        )


def _standardized(model: Any) -> Any:
    """``model`` after standardizing features and filling NaN with 0 (the training mean)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fill = SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)
    return make_pipeline(StandardScaler(), fill, model)


class RidgeEstimator(_SklearnEstimator):
    """L2-penalized linear model on standardized features (``family="ridge"``).

    Regression: :class:`~sklearn.linear_model.Ridge`; classification:
    :class:`~sklearn.linear_model.LogisticRegression` with ``C = 1 / alpha``.

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
    alpha : float, default=1.0
        Penalty strength (on standardized features).
    seed : int, default=0
        Unused (the fit is deterministic); kept for a uniform signature.
    """

    family = "ridge"

    def __init__(self, task: Task = "regression", *, alpha: float = 1.0, seed: int = 0) -> None:
        self.task = task
        self.alpha = alpha
        self.seed = seed

    def _make_model(self):
        from sklearn.linear_model import LogisticRegression, Ridge

        if self.task == "classification":
            return _standardized(LogisticRegression(C=1.0 / self.alpha, max_iter=1000))
        return _standardized(Ridge(alpha=self.alpha))


class LinearEstimator(_SklearnEstimator):
    """Unpenalized linear model on standardized features (``family="linear"``).

    Regression: ordinary least squares; classification: logistic regression
    without penalty.

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
    seed : int, default=0
        Unused (the fit is deterministic); kept for a uniform signature.
    """

    family = "linear"

    def __init__(self, task: Task = "regression", *, seed: int = 0) -> None:
        self.task = task
        self.seed = seed

    def _make_model(self):
        from sklearn.linear_model import LinearRegression, LogisticRegression

        if self.task == "classification":
            return _standardized(LogisticRegression(C=np.inf, max_iter=1000))
        return _standardized(LinearRegression())
