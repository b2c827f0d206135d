"""The ML quant agent: find a registered model that meets a strategy's requirements, or train one.

A strategy that uses a model states what it needs as :class:`ModelRequirements`:
the dataset, the date its model must not have seen (``train_end``), the label
horizon, the feature family, optionally the estimator family and a minimum
validation IC. :meth:`MLQuantAgent.get_or_create_model` looks in the registry
first and trains only when nothing registered qualifies.

Conventions
-----------
Time
    A version qualifies only if its labels end strictly before ``train_end``
    (``label_end < train_end`` at 00:00 UTC): every price its training rows
    used is known before the first bar the strategy trades with it. A model
    the agent trains loads data up to the day before ``train_end`` (the
    spec's ``end``), so its features *and* labels end before it.
Validation IC
    The ``ic`` metric the registry holds for a version: the mean per-date
    information coefficient of its cross-validated out-of-sample predictions
    (the purged folds of :func:`alphaloop.models.training.train`, inside the
    search span). The holdout is never part of it.
Choice
    Among qualifying versions, the highest validation IC wins; ties go to
    the newest version (highest registry id). Archived versions never qualify.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alphaloop.errors import ConfigError
from alphaloop.models.errors import ModelError
from alphaloop.models.registry import ModelRegistry
from alphaloop.models.registry_records import ModelVersion
from alphaloop.models.spec import ModelSpec

__all__ = [
    "DEFAULT_FAMILY",
    "FAMILY_ALIASES",
    "MLQuantAgent",
    "ModelRequirements",
    "ModelRequirementsError",
    "Trainer",
]

Trainer = Callable[[ModelSpec], ModelVersion]
"""Trains, validates and registers the model a spec describes; returns the new version."""

DEFAULT_FAMILY = "lightgbm"
"""The estimator family trained when the requirements leave it open."""

FAMILY_ALIASES: dict[str, str] = {"lgbm": "lightgbm", "xgb": "xgboost", "rf": "random_forest"}
"""Short names accepted for estimator families."""


class ModelRequirementsError(ConfigError):
    """Model requirements name a family or feature family that does not exist."""


class ModelRequirements(BaseModel):
    """What a strategy needs from a model.

    Attributes
    ----------
    dataset : str
        The dataset the model is trained on.
    train_end : date
        The first date the model must not have seen: its training data and
        labels end before it. At most the end of the dataset's search span.
    horizon : int, default 5
        Label horizon in bars (forward return over ``horizon`` bars, entered
        one bar after the decision).
    feature_family : str, default "alpha158-close"
        A factor library name (built-in or in the workspace's ``libraries/``).
    family : str, optional
        Estimator family (``lightgbm``, ``xgboost``, ``ridge``, ...; ``lgbm``,
        ``xgb``, ``rf`` are accepted). None: any family qualifies, and
        :data:`DEFAULT_FAMILY` is trained.
    min_valid_ic : float, optional
        Minimum validation IC (unitless) a registered version must have.
    seed : int, default 0
        Seed of a model trained for these requirements.
    name : str, optional
        Registry name of a trained model; default
        ``<dataset>-<feature_family>-<family>-h<horizon>`` (made a valid name).
    start : date, optional
        First decision date of a trained model's rows (features still use
        earlier history). Not a search criterion.
    params : dict
        Estimator parameters of a trained model. Not a search criterion.
    n_splits : int, default 5
        Purged walk-forward folds of a trained model's validation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(min_length=1)
    train_end: date
    horizon: int = Field(5, ge=1, le=1000)
    feature_family: str = Field("alpha158-close", min_length=1)
    family: str | None = None
    min_valid_ic: float | None = Field(None, allow_inf_nan=False)
    seed: int = Field(0, ge=0)
    name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)
    start: date | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    n_splits: int = Field(5, ge=2, le=50)

    @field_validator("family")
    @classmethod
    def _alias(cls, v: str | None) -> str | None:
        return None if v is None else FAMILY_ALIASES.get(v, v)

    @property
    def train_family(self) -> str:
        """The family a model trained for these requirements uses."""
        return self.family or DEFAULT_FAMILY

    @property
    def model_name(self) -> str:
        """The registry name of a model trained for these requirements."""
        if self.name is not None:
            return self.name
        raw = f"{self.dataset}-{self.feature_family}-{self.train_family}-h{self.horizon}"
        clean = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-_")
        return clean[:100] or "model"

    @property
    def cutoff(self) -> pd.Timestamp:
        """``train_end`` at 00:00 UTC: labels must end strictly before it."""
        return pd.Timestamp(self.train_end, tz="UTC")


def check_requirements(req: ModelRequirements, library_root: Path | None) -> None:
    """Refuse an unknown estimator family or feature family, before any work.

    Raises
    ------
    ModelRequirementsError
        Naming the bad value and what is allowed.
    """
    from alphaloop.factors import list_libraries
    from alphaloop.models.families import FAMILIES

    if req.family is not None and req.family not in FAMILIES:
        raise ModelRequirementsError(
            f"model requirements: family {req.family!r} is not known",
            hint=f"use one of {', '.join(FAMILIES)} (or lgbm, xgb, rf)",
        )
    names = [lib.name for lib in list_libraries(library_root)]
    if req.feature_family not in names:
        raise ModelRequirementsError(
            f"model requirements: feature family {req.feature_family!r} is not a factor library",
            hint=f"libraries: {', '.join(names)}",
        )


def qualifies(version: ModelVersion, req: ModelRequirements) -> bool:
    """Whether a registered version meets ``req`` (see the module conventions)."""
    if version.dataset != req.dataset or version.stage == "archived":
        return False
    if (
        version.target != "forward_return"
        or version.label.get("kind", "regression") != "regression"
    ):
        return False
    if version.label.get("horizon") != req.horizon:
        return False
    if version.feature_family != req.feature_family:
        return False
    if req.family is not None and version.family != req.family:
        return False
    if version.label_end is None or pd.Timestamp(version.label_end) >= req.cutoff:
        return False
    if req.min_valid_ic is not None:
        ic = version.metrics.get("ic")
        return ic is not None and ic >= req.min_valid_ic
    return True


def _rank_key(version: ModelVersion) -> tuple[float, int]:
    ic = version.metrics.get("ic")
    return (float("-inf") if ic is None else float(ic), version.id)


class MLQuantAgent:
    """Finds or trains the model a strategy asks for.

    Parameters
    ----------
    registry : ModelRegistry
        Where versions are searched (and where the trainer registers).
    trainer : callable
        ``trainer(spec) -> ModelVersion``: trains, validates and registers
        (:func:`alphaloop.app.research_models.workspace_trainer`).
    library_root : Path, optional
        Workspace root whose ``libraries/`` hold user factor libraries;
        default the registry's workspace root.
    """

    def __init__(
        self, registry: ModelRegistry, trainer: Trainer, *, library_root: Path | None = None
    ) -> None:
        self.registry = registry
        self.trainer = trainer
        self.library_root = library_root if library_root is not None else registry.models_dir.parent

    def find(self, req: ModelRequirements) -> ModelVersion | None:
        """The best registered version meeting ``req``, or None."""
        found = [
            v
            for v in self.registry.search(
                target="forward_return", feature_family=req.feature_family
            )
            if qualifies(v, req)
        ]
        return max(found, key=_rank_key) if found else None

    @staticmethod
    def spec_for(req: ModelRequirements) -> ModelSpec:
        """The spec of a model trained for ``req``: data and labels end the day before
        ``train_end``."""
        return ModelSpec(
            name=req.model_name,
            data=req.dataset,
            start=req.start,
            end=req.train_end - timedelta(days=1),
            features=req.feature_family,
            label={"horizon": req.horizon},
            model={"family": req.train_family, "params": dict(req.params)},
            training={"n_splits": req.n_splits},
            seed=req.seed,
            note=f"trained by the ML quant agent for data before {req.train_end.isoformat()}",
        )

    def get_or_create_model(self, req: ModelRequirements) -> tuple[ModelVersion, bool]:
        """A registered version meeting ``req`` (``created=False``), else a new one (``True``).

        A model trained here is returned even if its validation IC falls short
        of ``min_valid_ic``: the caller sees ``version.metrics["ic"]`` and
        decides.

        Raises
        ------
        ModelRequirementsError
            Unknown family or feature family (before any search or training).
        ModelError
            The trained version's labels reach ``train_end`` (a trainer that
            ignored the spec's ``end``).
        """
        check_requirements(req, self.library_root)
        existing = self.find(req)
        if existing is not None:
            return existing, False
        version = self.trainer(self.spec_for(req))
        if version.label_end is None or pd.Timestamp(version.label_end) >= req.cutoff:
            raise ModelError(
                f"{version.ref} was trained with labels ending {version.label_end}, not before "
                f"{req.train_end}",
                hint="the trainer must load data up to the spec's end only",
            )
        return version, True
