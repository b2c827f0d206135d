"""Model improvement ideas from a language model: the answer schema, the prompt, the checks.

The model sees the incumbent's spec (features, label, estimator family and
parameters, training scheme) and its mean per-date IC on validation folds of
the search span, the factor libraries and estimator families it may switch
to, and nothing else: no holdout figure, no registry metric. It answers
with a few :class:`ImprovementIdea` s, each one change of one kind
(``features``: another library or the union with one; ``hyperparameters``:
new values of named parameters; ``family``: another estimator family with
optional parameters) and a rationale.

Every idea becomes a :class:`~alphaloop.models.spec.ModelSpec` through
:func:`idea_spec`, which validates it as any spec is validated (unknown
libraries, families or parameters, values out of range, an idea identical
to the incumbent: refused with the reason). Refused ideas are never scored
and are not trials; accepted ones are scored by the improver's paired test
and counted in its Bonferroni ``k`` like every other proposal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alphaloop.llm.client import Message
from alphaloop.models.spec import ModelSpec

__all__ = [
    "IdeaFacts",
    "ImprovementIdea",
    "ImprovementIdeas",
    "ParamChange",
    "idea_description",
    "idea_messages",
    "idea_spec",
]


class ParamChange(BaseModel):
    """One estimator parameter and its new value."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60, description="Parameter name.")
    value: int | float | str | bool = Field(description="Its new value.")


class ImprovementIdea(BaseModel):
    """One change to the incumbent model."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["features", "hyperparameters", "family"] = Field(
        description="features: another feature library; hyperparameters: new parameter "
        "values; family: another estimator family."
    )
    features: str | None = Field(
        description="For kind features: the library to use, one of those listed; else null."
    )
    add_features: bool = Field(
        description="For kind features: true adds the library to the current features, "
        "false replaces them."
    )
    family: str | None = Field(
        description="For kind family: the new estimator family, one of those listed; else null."
    )
    params: list[ParamChange] = Field(
        max_length=10,
        description="For kind hyperparameters or family: parameters to set; else empty.",
    )
    rationale: str = Field(min_length=1, max_length=600, description="Why it should help.")


class ImprovementIdeas(BaseModel):
    """The answer: a list of ideas."""

    model_config = ConfigDict(extra="forbid")

    ideas: list[ImprovementIdea] = Field(min_length=1, max_length=10)


@dataclass(frozen=True)
class IdeaFacts:
    """What an idea prompt may say: the incumbent and its validation score, the choices.

    ``valid_ic`` is the incumbent's mean per-date IC on validation folds of
    the search span (the improver's evaluator), never a holdout figure.
    """

    ref: str
    spec: ModelSpec
    valid_ic: float | None
    feature_families: tuple[str, ...]
    families: tuple[str, ...]


_SYSTEM = (
    "You improve machine-learning models that predict cross-sectional stock returns. "
    "Each idea is one change to the current model: another feature library, new "
    "hyperparameter values, or another estimator family. Ideas are tested on validation "
    "folds and kept only when a paired test says they beat the current model, so propose "
    "few, well-founded changes. Answer with one JSON object matching the schema, nothing else."
)


def _spec_summary(spec: ModelSpec) -> dict[str, Any]:
    features = spec.features if isinstance(spec.features, str) else spec.feature_family
    return {
        "features": features,
        "label": spec.label.model_dump(mode="json"),
        "model": spec.model.model_dump(mode="json"),
        "training": {
            k: v
            for k, v in spec.training.model_dump(mode="json").items()
            if k in ("schedule", "splitter", "n_splits", "embargo", "valid_fraction")
        },
        "normalize": spec.normalize,
    }


def idea_messages(facts: IdeaFacts, n: int) -> list[Message]:
    """The chat messages that ask for ``n`` ideas about ``facts``."""
    ic = "n/a" if facts.valid_ic is None else f"{facts.valid_ic:+.4f}"
    lines = [
        f"Current model {facts.ref}:",
        json.dumps(_spec_summary(facts.spec), sort_keys=True),
        f"Its mean per-date IC on the validation folds: {ic}.",
        f"Feature libraries you may use: {', '.join(facts.feature_families) or 'none'}.",
        f"Estimator families you may use: {', '.join(facts.families) or 'none'}.",
        f"Propose {n} ideas.",
    ]
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": "\n".join(lines)},
    ]


def idea_description(idea: ImprovementIdea, spec: ModelSpec) -> str:
    """A one-line description of the change (as the improver's proposals have)."""
    params = ", ".join(f"{p.name}={p.value!r}" for p in idea.params)
    if idea.kind == "features":
        verb = "+" if idea.add_features else "->"
        return f"llm idea, features: {spec.feature_family} {verb} {idea.features}"
    if idea.kind == "family":
        extra = f" ({params})" if params else ""
        return f"llm idea, family: {spec.model.family} -> {idea.family}{extra}"
    return f"llm idea, {spec.model.family} {params}"


def idea_spec(
    spec: ModelSpec,
    idea: ImprovementIdea,
    *,
    feature_families: Sequence[str],
    families: Sequence[str],
    library_root: Path | None = None,
) -> ModelSpec:
    """The incumbent ``spec`` with ``idea`` applied, validated as any spec.

    Raises
    ------
    ValueError
        The idea names a library or family outside the allowed ones, a
        parameter the family does not take or a value out of its range,
        mixes kinds, or changes nothing.
    """
    data = spec.model_dump()
    params = {p.name: p.value for p in idea.params}
    if len(params) != len(idea.params):
        raise ValueError("a parameter is named twice")
    if idea.kind == "features":
        if idea.features not in feature_families:
            raise ValueError(
                f"features {idea.features!r} is not one of {', '.join(feature_families)}"
            )
        if params or idea.family is not None:
            raise ValueError("a features idea changes the features only")
        if idea.add_features:
            from alphaloop.models.dataset import resolve_features

            data["features"] = {
                **resolve_features(spec.features, library_root),
                **resolve_features(idea.features, library_root),
            }
        else:
            data["features"] = idea.features
    elif idea.kind == "hyperparameters":
        if not params:
            raise ValueError("a hyperparameters idea needs at least one parameter")
        if idea.family not in (None, spec.model.family) or idea.features is not None:
            raise ValueError("a hyperparameters idea changes the parameters only")
        data["model"] = {"family": spec.model.family, "params": {**spec.model.params, **params}}
    else:
        if idea.family not in families or idea.family == spec.model.family:
            raise ValueError(f"family {idea.family!r} is not another of {', '.join(families)}")
        if idea.features is not None:
            raise ValueError("a family idea changes the estimator only")
        data["model"] = {"family": idea.family, "params": params}
    try:
        new = ModelSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "spec"
        raise ValueError(f"{where}: {first['msg']}") from None
    if new.features == spec.features and _effective(new) == _effective(spec):
        raise ValueError("the idea changes nothing")
    return new


def _effective(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """The family and every parameter value the estimator would use (defaults filled in)."""
    from alphaloop.models.families import make_estimator

    params = make_estimator(spec.model.family).get_params()
    merged = {**params, **spec.model.params}
    return spec.model.family, {k: v for k, v in merged.items() if k not in ("task", "seed")}
