"""Estimators: one fit / predict / save / load contract over every model family.

:class:`Estimator` is the contract; the families implement it in
:mod:`~alphaloop.models.boosting` (LightGBM, XGBoost),
:mod:`~alphaloop.models.sklearn_models` (random forest, ridge, linear) and
:mod:`~alphaloop.models.torch_models` (MLP, LSTM, GRU, Transformer),
:mod:`~alphaloop.models.tft` (Temporal Fusion Transformer), and
:mod:`~alphaloop.models.families` maps family names to them.

Conventions
-----------
- ``fit(X, y, *, X_valid=None, y_valid=None)`` learns from ``(X, y)`` and
  returns ``self``. Early stopping (boosting rounds, torch epochs) watches
  *only* the validation set passed in; without one the model trains its full
  budget (``n_estimators`` or ``max_epochs``). Random forests and linear
  models have nothing to stop early and ignore the validation set.
- Tabular families take ``X`` of shape ``(n, n_features)``. Sequence families
  (``"lstm"``, ``"gru"``, ``"transformer"``, ``"tft"``) take ``(n, window, n_features)``:
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
from alphaloop.models.errors import ModelError

__all__ = ["TASKS", "Estimator", "Task"]

Task = Literal["regression", "classification"]
TASKS: tuple[str, ...] = ("regression", "classification")
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
        from alphaloop.models.families import estimator_class

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


# -- estimator directories ---------------------------------------------------------------


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


def _read_manifest(
    directory: Path,
    name: str = MANIFEST,
    fmt: str = FORMAT,
    kind: str = "an estimator directory",
    writer: str = "Estimator.save",
) -> dict[str, Any]:
    """The JSON manifest ``name`` of a model directory, checked for its format ``fmt``."""
    file = directory / name
    if not file.is_file():
        raise ModelError(
            f"{directory} is not {kind} (no {name})",
            hint=f"pass a directory written by {writer}",
        )
    try:
        manifest = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {file}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ModelError(f"{file} has format {found!r}; this alphaloop reads {fmt!r}")
    return manifest


def _write_directory_atomically(
    target: Path,
    write: Callable[[Path], None],
    manifest: str = MANIFEST,
    kind: str = "an estimator directory",
) -> None:
    """Fill a fresh sibling directory with ``write``, then move it to ``target``.

    An existing ``target`` is replaced only if it holds the file ``manifest``
    (a directory of the same kind) or is empty.
    """
    if target.exists() and not target.is_dir():
        raise ModelError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / manifest).is_file():
        raise ModelError(
            f"{target} exists and is not {kind}; refusing to replace it",
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
