"""ModelSpec: a typed, serializable description of a model to train and register.

```yaml
name: lgbm-close5                 # registry name: [a-z0-9][a-z0-9_-]*
data: sp500-stocks
features: alpha158-close          # a library, a list of expressions, or name: expression
label: {horizon: 5, kind: regression, cost_bps: 0, entry_lag: 1}
normalize: zscore                 # cross-sectional, per timestamp: zscore | rank | null
winsorize: 0.01
model: {family: lightgbm, params: {n_estimators: 200}}
training: {splitter: walk_forward, n_splits: 5, embargo: 0.01, valid_fraction: 0.2,
           hpo_trials: 0}
seed: 0
supersedes: lgbm-close5/v1        # optional lineage
note: "more trees"
```

A bad file fails at load with the field, the value and what is allowed
(the same messages as :class:`~alphaloop.backtest.spec.StrategySpec`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alphaloop.errors import SpecError
from alphaloop.specfile import describe_validation_error, load_spec_file

__all__ = ["LabelConfig", "ModelConfig", "ModelSpec", "TrainingConfig", "load_model_spec"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelConfig(_Frozen):
    """The target: see :class:`alphaloop.models.labels.LabelSpec`."""

    horizon: int = Field(5, ge=1, le=1000)
    kind: Literal["regression", "classification"] = "regression"
    cost_bps: float = Field(0.0, ge=0, allow_inf_nan=False)
    entry_lag: int = Field(1, ge=0, le=100)
    price: str = "close"
    normalize: Literal["zscore", "rank"] | None = None


class ModelConfig(_Frozen):
    """Estimator family and its parameters (see :data:`alphaloop.models.families.FAMILIES`)."""

    family: str = "lightgbm"
    params: dict[str, Any] = Field(default_factory=dict)


class TrainingConfig(_Frozen):
    """Out-of-sample evaluation and the search (see :func:`alphaloop.models.training.train`)."""

    splitter: Literal["walk_forward", "purged_kfold"] = "walk_forward"
    n_splits: int = Field(5, ge=2, le=50)
    embargo: float = Field(0.01, ge=0, lt=0.5)
    valid_fraction: float = Field(0.2, ge=0, lt=0.9)
    hpo_trials: int = Field(0, ge=0, le=10_000)
    hpo_timeout: float | None = Field(None, gt=0)
    sequence_window: int | None = Field(None, ge=2, le=1000)


class ModelSpec(_Frozen):
    """A model: data, features, label, estimator, training protocol, seed and lineage."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)
    data: str = Field(min_length=1)
    version: int | None = Field(None, ge=1)
    universe: Literal["all"] | list[str] = "all"
    start: date | None = None
    end: date | None = None
    features: str | list[str] | dict[str, str] = "alpha158-close"
    label: LabelConfig = LabelConfig()
    normalize: Literal["zscore", "rank"] | None = "zscore"
    winsorize: float | None = Field(0.01, ge=0, lt=0.5)
    mode: Literal["strict", "qlib"] = "strict"
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    seed: int = Field(0, ge=0)
    supersedes: str | None = None
    note: str = ""

    @field_validator("features")
    @classmethod
    def _features(cls, v: Any) -> Any:
        if isinstance(v, list | dict) and not v:
            raise ValueError("features must name a library or list at least one expression")
        return v

    @property
    def feature_family(self) -> str:
        """The library name, or ``custom`` for expressions."""
        return self.features if isinstance(self.features, str) else "custom"

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "model spec") -> ModelSpec:
        """Validate a mapping; errors become one :class:`SpecError` naming each bad field."""
        if not isinstance(data, dict):
            raise SpecError(f"{source}: a model spec must be a mapping of fields")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(f"{source}: {describe_validation_error(exc, cls)}") from None


def load_model_spec(path: str | Path) -> ModelSpec:
    """Read a model spec from a YAML or JSON file (:class:`SpecError` on any problem)."""
    return load_spec_file(path, ModelSpec, "model spec")
