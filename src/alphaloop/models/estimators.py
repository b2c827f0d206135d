"""Estimators: one fit / predict / save / load contract over every model family.

Conventions
-----------
- ``fit(X, y, *, X_valid=None, y_valid=None)`` learns from ``(X, y)`` and
  returns ``self``. Early stopping (boosting rounds, torch epochs) watches
  *only* the validation set passed in; without one the model trains its full
  budget (``n_estimators`` or ``max_epochs``). Random forests and linear
  models have nothing to stop early and ignore the validation set.
- Tabular families take ``X`` of shape ``(n, n_features)``. Sequence families
  (``"lstm"``, ``"gru"``, ``"transformer"``) take ``(n, window, n_features)``:
  ``X[i, -1]`` holds the features at row ``i``'s decision time and
  ``X[i, 0]`` those ``window - 1`` periods earlier.
- ``predict(X)`` returns float64 of shape ``(n,)``: the predicted label for
  ``task="regression"``, the probability that the label is 1 for
  ``task="classification"`` (labels are 0/1).
- Missing features (NaN): LightGBM, XGBoost and random forests handle them
  natively; linear and torch models standardize with the training mean and
  standard deviation and fill NaN with 0, i.e. with the training mean.
  Infinite values are refused.
- Deterministic: the same ``seed`` and ``n_jobs`` / ``n_threads`` give
  bit-identical predictions on the same machine and library versions.
- ``save(path)`` writes a directory atomically: ``estimator.json`` (format,
  family, parameters, fitted metadata, library versions) and the model in
  its library's native format (LightGBM text, XGBoost UBJSON, torch
  ``state_dict``) or, for scikit-learn models, joblib. Loading a joblib file
  runs pickle: only load directories you wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
from sklearn.base import BaseEstimator

from alphaloop.files import create_temp_dir
from alphaloop.models.dataset import ModelError

__all__ = [
    "FAMILIES",
    "SEQUENCE_FAMILIES",
    "Estimator",
    "LightGBMEstimator",
    "LinearEstimator",
    "RandomForestEstimator",
    "RidgeEstimator",
    "XGBoostEstimator",
    "estimator_class",
    "make_estimator",
]

Task = Literal["regression", "classification"]
TASKS: tuple[str, ...] = ("regression", "classification")
SEQUENCE_FAMILIES = frozenset({"lstm", "gru", "transformer"})
MANIFEST = "estimator.json"
FORMAT = "alphaloop-estimator/1"
# library -> the distributions that may provide it, recorded in each manifest
_VERSIONED: Mapping[str, tuple[str, ...]] = {
    "alphaloop": ("alphaloop",),
    "numpy": ("numpy",),
    "scikit-learn": ("scikit-learn",),
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost-cpu", "xgboost"),
    "torch": ("torch",),
}


class Estimator(BaseEstimator):
    """Base class: input checks, ``params``, and atomic ``save`` / ``load``.

    Subclasses store their constructor arguments unchanged (scikit-learn's
    contract) and implement ``_fit``, ``_predict``, ``_save_model`` and
    ``_load_model``.

    Attributes
    ----------
    family : str
        Registry name of the family (class attribute).
    n_features_in_ : int
        Features seen in ``fit``.
    window_ : int or None
        Steps per sequence for sequence families, else None.
    """

    family: ClassVar[str] = ""
    is_sequence: ClassVar[bool] = False

    task: str
    seed: int

    @property
    def params(self) -> dict[str, Any]:
        """Constructor parameters, including ``task`` and ``seed``."""
        return self.get_params(deep=False)

    def fit(
        self,
        X: np.ndarray,  # noqa: N803 (scikit-learn's name)
        y: np.ndarray,
        *,
        X_valid: np.ndarray | None = None,  # noqa: N803
        y_valid: np.ndarray | None = None,
    ) -> Self:
        """Fit on ``(X, y)``, early-stopping on ``(X_valid, y_valid)`` when given.

        Parameters
        ----------
        X : ndarray of shape (n, n_features) or (n, window, n_features)
            Features (see the module conventions for sequence families).
        y : ndarray of shape (n,)
            Labels: any finite floats for regression, 0/1 for classification.
        X_valid, y_valid : ndarray, optional
            Validation rows for early stopping; both or neither. Pass only
            rows that come after (and are purged from) the training rows,
            never test rows.

        Returns
        -------
        self

        Raises
        ------
        ModelError
            If shapes, values or the task are invalid.
        """
        if self.task not in TASKS:
            raise ModelError(f"task must be one of {TASKS}, got {self.task!r}")
        x = self._check_x(X, "X", fitted=False)
        target = _check_y(y, len(x), self.task, "y")
        valid = None
        if (X_valid is None) != (y_valid is None):
            raise ModelError("pass both X_valid and y_valid for early stopping, or neither")
        if X_valid is not None:
            xv = self._check_x(X_valid, "X_valid", fitted=False, like=x)
            valid = (xv, _check_y(y_valid, len(xv), self.task, "y_valid", need_both=False))
        self._fit(x, target, valid)
        self.n_features_in_ = int(x.shape[-1])
        self.window_ = int(x.shape[1]) if self.is_sequence else None
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 (scikit-learn's name)
        """Predicted label (regression) or probability of label 1 (classification).

        Parameters
        ----------
        X : ndarray of shape (n, n_features) or (n, window, n_features)
            Same layout and feature count as in ``fit``.

        Returns
        -------
        ndarray of float64, shape (n,)
        """
        self._check_fitted()
        x = self._check_x(X, "X", fitted=True)
        return np.asarray(self._predict(x), dtype=np.float64).reshape(len(x))

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to the directory ``path``, atomically.

        An existing estimator directory at ``path`` is replaced; any other
        existing non-empty path is refused.

        Returns
        -------
        Path
            The directory written.
        """
        self._check_fitted()
        target = Path(path)
        manifest = {
            "format": FORMAT,
            "family": self.family,
            "params": self.params,
            "n_features_in": self.n_features_in_,
            "window": self.window_,
            "state": self._fitted_state(),
            "versions": _library_versions(),
        }

        def write(directory: Path) -> None:
            self._save_model(directory)
            text = json.dumps(manifest, indent=2, sort_keys=True, default=_json_default)
            (directory / MANIFEST).write_text(text + "\n")

        _write_directory_atomically(target, write)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Estimator:
        """Read an estimator written by :meth:`save`.

        ``Estimator.load`` returns whichever family the directory holds; a
        family class (e.g. ``LightGBMEstimator.load``) refuses the others.

        Raises
        ------
        ModelError
            If ``path`` is not an estimator directory, holds another family, or
            was written in an unknown format.
        """
        directory = Path(path)
        manifest = _read_manifest(directory)
        family = manifest.get("family")
        target = estimator_class(str(family))
        if cls.family and target is not cls:
            raise ModelError(
                f"{directory} holds a {family!r} model, not a {cls.family!r} model",
                hint=f"load it with Estimator.load or {target.__name__}.load",
            )
        try:
            estimator = target(**manifest["params"])
        except TypeError as exc:
            raise ModelError(
                f"{directory} has parameters this {target.__name__} does not take: {exc}",
                hint="load it with the alphaloop version that saved it (see its manifest)",
            ) from exc
        estimator.n_features_in_ = int(manifest["n_features_in"])
        window = manifest.get("window")
        estimator.window_ = None if window is None else int(window)
        estimator._load_model(directory, manifest.get("state") or {})
        return estimator

    # -- to implement ------------------------------------------------------------------

    def _fit(self, x: np.ndarray, y: np.ndarray, valid: tuple[np.ndarray, np.ndarray] | None):
        raise NotImplementedError

    def _predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _save_model(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_model(self, directory: Path, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _fitted_state(self) -> dict[str, Any]:
        """Fitted metadata kept in the manifest (JSON-able)."""
        return {}

    # -- checks --------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_features_in_"):
            raise ModelError(
                f"this {type(self).__name__} is not fitted yet", hint="call fit(X, y) first"
            )

    def _check_x(
        self, values: Any, name: str, *, fitted: bool, like: np.ndarray | None = None
    ) -> np.ndarray:
        x = np.asarray(values)
        if x.dtype.kind not in "fiub":
            raise ModelError(f"{name} must be numeric, got dtype {x.dtype}")
        x = x.astype(np.float32 if x.dtype.kind != "f" else x.dtype, copy=False)
        ndim = 3 if self.is_sequence else 2
        if x.ndim != ndim:
            layout = "(n, window, n_features)" if self.is_sequence else "(n, n_features)"
            raise ModelError(
                f"{self.family} expects {name} of shape {layout}, got shape {x.shape}",
                hint="sequence families take LearningData.sequences(window)"
                if self.is_sequence
                else None,
            )
        if len(x) == 0 or x.shape[-1] == 0:
            raise ModelError(f"{name} is empty (shape {x.shape})")
        if np.isinf(x).any():
            raise ModelError(f"{name} has infinite values", hint="replace them with NaN or clip")
        expected = like.shape[1:] if like is not None else None
        if fitted:
            expected = (
                (self.n_features_in_,)
                if not self.is_sequence
                else (
                    self.window_,
                    self.n_features_in_,
                )
            )
        if expected is not None and x.shape[1:] != tuple(expected):
            raise ModelError(
                f"{name} has shape {x.shape}, but the model expects (n, "
                f"{', '.join(str(d) for d in expected)})"
            )
        return x


def _check_y(y: Any, n: int, task: str, name: str, *, need_both: bool = True) -> np.ndarray:
    target = np.asarray(y, dtype=np.float64)
    if target.ndim != 1 or len(target) != n:
        raise ModelError(f"{name} must have shape ({n},) to match the features, got {target.shape}")
    if not np.isfinite(target).all():
        raise ModelError(
            f"{name} has {int((~np.isfinite(target)).sum())} missing or infinite labels",
            hint="drop those rows before fitting",
        )
    if task == "classification":
        values = np.unique(target)
        if not np.isin(values, (0.0, 1.0)).all():
            raise ModelError(f"classification labels must be 0 or 1; {name} has {values[:5]}")
        if need_both and len(values) < 2:
            raise ModelError(
                f"{name} has only label {values[0]:g}; a classifier needs both 0 and 1"
            )
    return target


# -- gradient boosting -------------------------------------------------------------------


class LightGBMEstimator(Estimator):
    """Gradient-boosted trees with LightGBM (``family="lightgbm"``).

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
        Squared-error regression, or binary log-loss with probabilities out.
    n_estimators : int, default=300
        Maximum boosting rounds.
    learning_rate : float, default=0.05
    num_leaves : int, default=15
    min_child_samples : int, default=50
        Minimum rows per leaf.
    subsample : float, default=0.8
        Row fraction bagged each round (1.0 disables bagging).
    colsample : float, default=0.8
        Feature fraction per tree.
    reg_lambda : float, default=1.0
        L2 penalty on leaf values.
    early_stopping_rounds : int, default=30
        Stop when the validation loss has not improved for this many rounds.
    n_jobs : int, default=1
        Threads; results are reproducible for a fixed value.
    seed : int, default=0

    Attributes
    ----------
    booster_ : lightgbm.Booster
    best_iteration_ : int
        Rounds used for prediction.
    """

    family = "lightgbm"

    def __init__(
        self,
        task: Task = "regression",
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 30,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(self, x, y, valid):
        import lightgbm as lgb

        params = {
            "objective": "binary" if self.task == "classification" else "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": self.colsample,
            "lambda_l2": self.reg_lambda,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }
        train_set = lgb.Dataset(x, label=y)
        kwargs: dict[str, Any] = {}
        if valid is not None:
            kwargs["valid_sets"] = [lgb.Dataset(valid[0], label=valid[1], reference=train_set)]
            kwargs["valid_names"] = ["valid"]
            kwargs["callbacks"] = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        booster = lgb.train(params, train_set, num_boost_round=self.n_estimators, **kwargs)
        best = booster.best_iteration if valid is not None else 0
        self.best_iteration_ = int(best) if best > 0 else booster.current_iteration()
        self.booster_ = booster

    def _predict(self, x):
        return self.booster_.predict(x, num_iteration=self.best_iteration_)

    def _fitted_state(self):
        return {"best_iteration": self.best_iteration_}

    def _save_model(self, directory):
        self.booster_.save_model(str(directory / "model.txt"), num_iteration=self.best_iteration_)

    def _load_model(self, directory, state):
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(directory / "model.txt"))
        self.best_iteration_ = int(state["best_iteration"])


class XGBoostEstimator(Estimator):
    """Gradient-boosted trees with XGBoost's ``hist`` method (``family="xgboost"``).

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
        ``reg:squarederror``, or ``binary:logistic`` with probabilities out.
    n_estimators : int, default=300
        Maximum boosting rounds.
    learning_rate : float, default=0.05
    max_depth : int, default=4
    min_child_weight : float, default=5.0
    subsample : float, default=0.8
    colsample : float, default=0.8
        Feature fraction per tree.
    reg_lambda : float, default=1.0
    early_stopping_rounds : int, default=30
    n_jobs : int, default=1
        Threads; results are reproducible for a fixed value.
    seed : int, default=0

    Attributes
    ----------
    booster_ : xgboost.Booster
        Cut to the best round when early stopping ran.
    best_iteration_ : int
        Rounds kept.
    """

    family = "xgboost"

    def __init__(
        self,
        task: Task = "regression",
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 30,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(self, x, y, valid):
        import xgboost as xgb

        classify = self.task == "classification"
        params = {
            "objective": "binary:logistic" if classify else "reg:squarederror",
            "eval_metric": "logloss" if classify else "rmse",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample,
            "lambda": self.reg_lambda,
            "tree_method": "hist",
            "nthread": self.n_jobs,
            "seed": self.seed,
            "verbosity": 0,
        }
        train = xgb.DMatrix(x, label=y, nthread=self.n_jobs)
        kwargs: dict[str, Any] = {"verbose_eval": False}
        if valid is not None:
            kwargs["evals"] = [
                (xgb.DMatrix(valid[0], label=valid[1], nthread=self.n_jobs), "valid")
            ]
            kwargs["early_stopping_rounds"] = self.early_stopping_rounds
        booster = xgb.train(params, train, num_boost_round=self.n_estimators, **kwargs)
        if valid is not None:
            booster = booster[: booster.best_iteration + 1]
        self.booster_ = booster
        self.best_iteration_ = int(booster.num_boosted_rounds())

    def _predict(self, x):
        import xgboost as xgb

        return self.booster_.predict(xgb.DMatrix(x, nthread=self.n_jobs))

    def _fitted_state(self):
        return {"best_iteration": self.best_iteration_}

    def _save_model(self, directory):
        self.booster_.save_model(str(directory / "model.ubj"))

    def _load_model(self, directory, state):
        import xgboost as xgb

        booster = xgb.Booster(params={"nthread": self.n_jobs})
        booster.load_model(str(directory / "model.ubj"))
        self.booster_ = booster
        self.best_iteration_ = int(state["best_iteration"])


# -- scikit-learn models -----------------------------------------------------------------


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


# -- registry ----------------------------------------------------------------------------


def _torch_family(name: str) -> Callable[[], type[Estimator]]:
    """Loader for a torch family; torch is imported only when the family is used."""

    def load() -> type[Estimator]:
        from alphaloop.models import torch_models

        classes: dict[str, type[Estimator]] = {
            "mlp": torch_models.MLPEstimator,
            "lstm": torch_models.LSTMEstimator,
            "gru": torch_models.GRUEstimator,
            "transformer": torch_models.TransformerEstimator,
        }
        return classes[name]

    return load


FAMILIES: Mapping[str, Callable[[], type[Estimator]]] = {
    "lightgbm": lambda: LightGBMEstimator,
    "xgboost": lambda: XGBoostEstimator,
    "random_forest": lambda: RandomForestEstimator,
    "ridge": lambda: RidgeEstimator,
    "linear": lambda: LinearEstimator,
    "mlp": _torch_family("mlp"),
    "lstm": _torch_family("lstm"),
    "gru": _torch_family("gru"),
    "transformer": _torch_family("transformer"),
}
"""Family name -> loader of its estimator class (torch classes load on first use)."""


def estimator_class(family: str) -> type[Estimator]:
    """The estimator class registered for ``family``.

    Raises
    ------
    ModelError
        If the family is unknown, or its library is not installed.
    """
    if family not in FAMILIES:
        raise ModelError(
            f"unknown model family {family!r}", hint=f"choose one of {', '.join(FAMILIES)}"
        )
    try:
        return FAMILIES[family]()
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ModelError(
            f"model family {family!r} needs a library that is not installed: {exc}",
            hint="pip install 'alphaloop[ml]'",
        ) from exc


def make_estimator(
    family: str,
    task: Task = "regression",
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> Estimator:
    """Build an unfitted estimator of ``family`` with small, fast defaults.

    Parameters
    ----------
    family : str
        A key of :data:`FAMILIES`.
    task : {"regression", "classification"}, default="regression"
    params : mapping, optional
        Constructor parameters overriding the defaults (not ``task`` or ``seed``).
    seed : int, default=0

    Raises
    ------
    ModelError
        For an unknown family, task or parameter.
    """
    if task not in TASKS:
        raise ModelError(f"task must be one of {TASKS}, got {task!r}")
    cls = estimator_class(family)
    given = dict(params or {})
    reserved = sorted({"task", "seed"} & set(given))
    if reserved:
        raise ModelError(f"pass {' and '.join(reserved)} as arguments, not inside params")
    allowed = sorted(set(cls._get_param_names()) - {"task", "seed"})
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ModelError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for family {family!r}",
            hint=f"allowed: {', '.join(allowed)}",
        )
    return cls(task=task, seed=seed, **given)


# -- files -------------------------------------------------------------------------------


def _library_versions() -> dict[str, str]:
    versions = {}
    for library, distributions in _VERSIONED.items():
        for distribution in distributions:
            try:
                versions[library] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _read_manifest(directory: Path) -> dict[str, Any]:
    file = directory / MANIFEST
    if not file.is_file():
        raise ModelError(
            f"{directory} is not an estimator directory (no {MANIFEST})",
            hint="pass a directory written by Estimator.save",
        )
    try:
        manifest = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {file}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ModelError(f"{file} has format {found!r}; this alphaloop reads {FORMAT!r}")
    return manifest


def _write_directory_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Fill a fresh sibling directory with ``write``, then move it to ``target``."""
    if target.exists() and not target.is_dir():
        raise ModelError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise ModelError(
            f"{target} exists and is not an estimator directory; refusing to replace it",
            hint="choose an empty or new directory",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = create_temp_dir(target)
    try:
        write(staging)
        if target.exists():
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
