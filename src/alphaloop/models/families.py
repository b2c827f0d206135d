"""Model families: the explicit mapping from a family name to its estimator class.

:data:`FAMILIES` maps each name a spec or a registry row may hold to a
loader of its class; :func:`estimator_class` resolves a name and
:func:`make_estimator` builds an unfitted estimator with validated
parameters. The torch families are loaded on first use, so importing this
module does not import torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alphaloop.models.boosting import LightGBMEstimator, XGBoostEstimator
from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import TASKS, Estimator, Task
from alphaloop.models.sklearn_models import (
    LinearEstimator,
    RandomForestEstimator,
    RidgeEstimator,
)

__all__ = ["FAMILIES", "SEQUENCE_FAMILIES", "estimator_class", "make_estimator"]

SEQUENCE_FAMILIES = frozenset({"lstm", "gru", "transformer", "tft"})


def _torch_family(name: str) -> Callable[[], type[Estimator]]:
    """Loader for a torch family; torch is imported only when the family is used."""

    def load() -> type[Estimator]:
        from alphaloop.models import tft, torch_models

        classes: dict[str, type[Estimator]] = {
            "mlp": torch_models.MLPEstimator,
            "lstm": torch_models.LSTMEstimator,
            "gru": torch_models.GRUEstimator,
            "transformer": torch_models.TransformerEstimator,
            "tft": tft.TFTEstimator,
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
    "tft": _torch_family("tft"),
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
