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
           hpo_trials: 0}        # or {schedule: rolling, retrain_every: 63, window: 756,
                                 #     min_train: 252}
augment: {generator: bootstrap, paths: 4, seed: 7}   # optional: synthetic training rows
seed: 0
supersedes: lgbm-close5/v1        # optional lineage
note: "more trees"
```

A bad file fails at load with the field, the value and what is allowed
(the same messages as :class:`~alphaloop.backtest.spec.StrategySpec`),
before any data is read: the estimator family must exist, and each of
``model.params`` must be one of the family's parameters, of its declared type
(an integer where the estimator takes ``int``, a number where it takes
``float``, one of the choices of a ``Literal``) and inside its range
(:data:`PARAM_BOUNDS`, or the estimator class's own ``param_bounds``).
``task`` and ``seed`` come from ``label.kind`` and ``seed``, never from params.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alphaloop.errors import AlphaloopError, SpecError
from alphaloop.specfile import describe_validation_error, load_spec_file

__all__ = [
    "PARAM_BOUNDS",
    "AugmentSpec",
    "Bound",
    "LabelConfig",
    "ModelConfig",
    "ModelSpec",
    "TrainingConfig",
    "check_estimator_params",
    "load_model_spec",
]


class Bound(NamedTuple):
    """An interval a parameter must lie in; None is unbounded on that side."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)


_COUNT = Bound(1)
_FRACTION = Bound(0, 1, low_open=True)
_POSITIVE = Bound(0, low_open=True)
_NON_NEGATIVE = Bound(0)

PARAM_BOUNDS: Mapping[str, Bound] = {
    # counts and sizes
    "n_estimators": _COUNT,
    "num_leaves": Bound(2),
    "max_depth": _COUNT,
    "min_child_samples": _COUNT,
    "min_samples_leaf": _COUNT,
    "early_stopping_rounds": _COUNT,
    "n_threads": _COUNT,
    "hidden_size": _COUNT,
    "n_layers": _COUNT,
    "d_model": _COUNT,
    "n_heads": _COUNT,
    "dim_feedforward": _COUNT,
    "batch_size": _COUNT,
    "max_epochs": _COUNT,
    "patience": _COUNT,
    # fractions of rows or features
    "subsample": _FRACTION,
    "colsample": _FRACTION,
    "max_features": _FRACTION,
    "max_samples": _FRACTION,
    "dropout": Bound(0, 1, high_open=True),
    # step sizes and penalties
    "learning_rate": _POSITIVE,
    "alpha": _POSITIVE,
    "reg_lambda": _NON_NEGATIVE,
    "min_child_weight": _NON_NEGATIVE,
    "weight_decay": _NON_NEGATIVE,
    # per item of a list
    "quantiles": Bound(0, 1, low_open=True, high_open=True),
    "static_features": Bound(0),
}
"""Ranges of estimator parameters by name: a name means the same in every family
that takes it (an estimator class may declare ``param_bounds`` to refine them)."""


def _check_value(name: str, value: Any, hint: Any, bound: Bound | None) -> str | None:
    """Why ``value`` is not acceptable for parameter ``name``, or None.

    ``X | None`` accepts None or what ``X`` accepts; ``tuple[X, ...]`` a list
    (or tuple) whose every item ``X`` accepts, each item within ``bound``.
    """
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        arms = typing.get_args(hint)
        if value is None and type(None) in arms:
            return None
        problems = [_check_value(name, value, arm, bound) for arm in arms if arm is not type(None)]
        return None if None in problems else problems[0]
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return f"params.{name} must be a list, got {value!r}"
        item = typing.get_args(hint)[0]
        for i, v in enumerate(value):
            if (problem := _check_value(f"{name}[{i}]", v, item, bound)) is not None:
                return problem
        return None
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            return f"params.{name}: {value!r} is not allowed; use one of {list(choices)}"
        return None
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"params.{name} must be a whole number, got {value!r}"
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            extra = ""
            if isinstance(value, str):
                extra = " (YAML reads 1e-3 as text: write 1.0e-3)"
            return f"params.{name} must be a number, got {value!r}{extra}"
        if not math.isfinite(value):
            return f"params.{name} must be finite, got {value!r}"
    elif hint is str:
        if not isinstance(value, str):
            return f"params.{name} must be text, got {value!r}"
    elif hint is bool and not isinstance(value, bool):
        return f"params.{name} must be true or false, got {value!r}"
    if bound is not None and isinstance(value, int | float) and not bound.contains(value):
        return f"params.{name} must be {bound.describe()}, got {value!r}"
    return None


def check_estimator_params(family: str, params: Mapping[str, Any]) -> None:
    """Refuse parameters the family's estimator does not take, or values it cannot use.

    Names come from the estimator's constructor, types from its annotations
    (``int``, ``float``, ``str``, ``bool``, ``Literal``), ranges from the
    class's ``param_bounds`` or else :data:`PARAM_BOUNDS`. Loads the family's
    class (torch families import torch).

    Raises
    ------
    ValueError
        Naming the family, the parameter, the value and what is allowed (a
        spec turns it into a :class:`~alphaloop.errors.SpecError`).
    """
    from alphaloop.models.families import FAMILIES, estimator_class

    if family not in FAMILIES:
        raise ValueError(f"family {family!r} is not known; use one of {', '.join(FAMILIES)}")
    try:
        cls = estimator_class(family)
    except AlphaloopError as exc:
        raise ValueError(str(exc)) from None
    reserved = sorted({"task", "seed"} & set(params))
    if reserved:
        raise ValueError(
            f"params.{reserved[0]} is set by the spec (label.kind sets the task, seed the "
            "seed), not inside model.params"
        )
    hints = typing.get_type_hints(cls.__init__)
    allowed = sorted(set(cls._get_param_names()) - {"task", "seed"})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        verb = "is not a parameter" if len(unknown) == 1 else "are not parameters"
        raise ValueError(
            f"{', '.join(map(repr, unknown))} {verb} of family {family!r}; "
            f"its parameters: {', '.join(allowed) or 'none'}"
        )
    bounds = {**PARAM_BOUNDS, **getattr(cls, "param_bounds", {})}
    problems = [
        p
        for name, value in params.items()
        if (p := _check_value(name, value, hints.get(name), bounds.get(name))) is not None
    ]
    if problems:
        raise ValueError(f"family {family!r}: " + "; ".join(problems))


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

    @model_validator(mode="after")
    def _known_params(self) -> ModelConfig:
        check_estimator_params(self.family, self.params)
        return self


_CV_ONLY = ("splitter", "n_splits", "embargo", "hpo_trials", "hpo_timeout")
_ROLLING_ONLY = ("retrain_every", "window", "min_train")


class TrainingConfig(_Frozen):
    """How the model is trained and evaluated out of sample.

    ``schedule: cv`` (default): purged cross-validation, then one final model
    on all rows (:func:`alphaloop.models.training.train`; ``splitter``,
    ``n_splits``, ``embargo``, ``hpo_trials``, ``hpo_timeout``).
    ``schedule: rolling``: a model retrained every ``retrain_every`` dates on
    the last ``window`` dates (or ``expanding``: all earlier dates) after
    ``min_train`` dates (:func:`alphaloop.models.rolling.rolling_train`).
    A field of one schedule set to other than its default is refused with the other.
    """

    schedule: Literal["cv", "rolling"] = "cv"
    splitter: Literal["walk_forward", "purged_kfold"] = "walk_forward"
    n_splits: int = Field(5, ge=2, le=50)
    embargo: float = Field(0.01, ge=0, lt=0.5)
    valid_fraction: float = Field(0.2, ge=0, lt=0.9)
    hpo_trials: int = Field(0, ge=0, le=10_000)
    hpo_timeout: float | None = Field(None, gt=0)
    sequence_window: int | None = Field(None, ge=2, le=1000)
    retrain_every: int = Field(63, ge=1, le=100_000)
    window: int | Literal["expanding"] = 756
    min_train: int = Field(252, ge=1, le=100_000)

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        if v == "expanding" and isinstance(v, str):
            return v
        if isinstance(v, bool) or not isinstance(v, int) or v < 2:
            raise ValueError(f"must be a whole number of dates >= 2, or 'expanding', got {v!r}")
        return v

    @model_validator(mode="after")
    def _schedule_fields(self) -> TrainingConfig:
        # a field of the other schedule is refused when given a value other than its
        # default (a dumped spec holds every field, and loads again)
        defaults = type(self).model_fields
        changed = [
            f for f in (*_CV_ONLY, *_ROLLING_ONLY) if getattr(self, f) != defaults[f].default
        ]
        if self.schedule == "cv":
            wrong = [f for f in changed if f in _ROLLING_ONLY]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)} applies to schedule: rolling only; "
                    "add schedule: rolling or remove it"
                )
        else:
            if self.hpo_trials > 0:
                raise ValueError(
                    "hpo_trials is not supported with schedule: rolling; tune with schedule: cv, "
                    "then set the chosen model.params"
                )
            wrong = [f for f in changed if f in _CV_ONLY]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)} applies to schedule: cv only; schedule: rolling uses "
                    "retrain_every, window and min_train"
                )
        return self

    @property
    def rolling_window(self) -> int | None:
        """``window`` for :func:`~alphaloop.models.rolling.rolling_train`: None when expanding."""
        return None if self.window == "expanding" else int(self.window)


class AugmentSpec(_Frozen):
    """Opt-in data augmentation: ``paths`` synthetic panels from ``generator`` per training fit.

    The generator is fitted on each fit's training span only and its paths'
    rows join that fit's training rows; validation, tests and metrics stay
    on real data (:mod:`alphaloop.models.augment`).
    """

    generator: str = "bootstrap"
    paths: int = Field(4, ge=1, le=64)
    seed: int = Field(0, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_generator(self) -> AugmentSpec:
        self.config()
        return self

    def config(self) -> Any:
        """The :class:`~alphaloop.synth.augment.AugmentConfig` (generator and params checked)."""
        from alphaloop.synth.augment import AugmentConfig

        try:
            return AugmentConfig(self.generator, self.paths, self.seed, dict(self.params))
        except AlphaloopError as exc:
            raise ValueError(str(exc)) from None


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
    augment: AugmentSpec | None = None
    seed: int = Field(0, ge=0)
    supersedes: str | None = None
    note: str = ""

    @field_validator("features")
    @classmethod
    def _features(cls, v: Any) -> Any:
        if isinstance(v, list | dict) and not v:
            raise ValueError("features must name a library or list at least one expression")
        return v

    @model_validator(mode="after")
    def _augment_schedule(self) -> ModelSpec:
        if self.augment is not None and self.training.schedule != "cv":
            raise ValueError("augment applies to training schedule: cv only")
        return self

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
