"""Proposals for a better model: other features, neighbouring hyperparameters, another family.

:func:`propose` turns an incumbent :class:`~alphaloop.models.spec.ModelSpec`
into a deterministic list of :class:`Proposal` s, each one change away:

features
    Swap the feature library for another, or add another library's
    features to the current ones (the union, as expressions).
hyperparameters
    One parameter moved to a neighbour (:data:`NEIGHBOURHOOD`): a learning
    rate halved or doubled, leaves or depth up or down, regularization ten
    times stronger or weaker. The starting value is the spec's, else the
    family's default.
family
    Another estimator family (lightgbm <-> xgboost <-> ridge ...), keeping
    the parameters the new family also takes.

Each kind's candidates are shuffled by ``rng``; the list then takes one of
each kind in turn (features, hyperparameters, family, features, ...) so a
short list still tries every kind. Proposals identical to the incumbent, or
to an earlier proposal, are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from alphaloop.models.spec import ModelSpec

__all__ = ["NEIGHBOURHOOD", "Proposal", "propose"]

ProposalKind = Literal["features", "hyperparameters", "family"]

_Step = Callable[[Any], Any]


def _times(k: float) -> _Step:
    return lambda v: float(v) * k


def _int_times(k: float, low: int) -> _Step:
    return lambda v: max(low, round(int(v) * k))


def _plus(k: int, low: int) -> _Step:
    return lambda v: max(low, int(v) + k)


def _reg(k: float) -> _Step:
    return lambda v: 1.0 if float(v) == 0.0 and k > 1 else float(v) * k


NEIGHBOURHOOD: Mapping[str, Mapping[str, tuple[tuple[str, _Step], ...]]] = {
    "lightgbm": {
        "learning_rate": (("halved", _times(0.5)), ("doubled", _times(2.0))),
        "num_leaves": (("halved", _int_times(0.5, 2)), ("doubled", _int_times(2.0, 2))),
        "reg_lambda": (("x10", _reg(10.0)), ("/10", _reg(0.1))),
        "min_child_samples": (("halved", _int_times(0.5, 1)), ("doubled", _int_times(2.0, 1))),
    },
    "xgboost": {
        "learning_rate": (("halved", _times(0.5)), ("doubled", _times(2.0))),
        "max_depth": (("-1", _plus(-1, 1)), ("+1", _plus(1, 1))),
        "reg_lambda": (("x10", _reg(10.0)), ("/10", _reg(0.1))),
        "min_child_weight": (("halved", _times(0.5)), ("doubled", _times(2.0))),
    },
    "random_forest": {
        "max_depth": (("-2", _plus(-2, 1)), ("+2", _plus(2, 1))),
        "min_samples_leaf": (("halved", _int_times(0.5, 1)), ("doubled", _int_times(2.0, 1))),
    },
    "ridge": {"alpha": (("x10", _times(10.0)), ("/10", _times(0.1)))},
}
"""Family -> parameter -> (label, step) moves tried from the current value."""

DEFAULT_FAMILIES: tuple[str, ...] = ("lightgbm", "xgboost", "ridge")
"""Families a family switch may move to."""

DEFAULT_FEATURE_FAMILIES: tuple[str, ...] = ("alpha158-close", "alpha360-close")
"""Libraries a feature change may use when the caller names none (close-only data)."""


@dataclass(frozen=True)
class Proposal:
    """One change to the incumbent: its ``kind``, a one-line ``description``, the new ``spec``.

    ``source`` says where it came from (``offline``: :func:`propose`;
    ``llm:<model>``: an idea source, :mod:`~alphaloop.research.model_ideas`),
    ``rationale`` why, when the source gave a reason.
    """

    kind: ProposalKind
    description: str
    spec: ModelSpec
    source: str = "offline"
    rationale: str | None = None


def _defaults(family: str) -> dict[str, Any]:
    from alphaloop.models.families import make_estimator

    params = make_estimator(family).get_params()
    return {k: v for k, v in params.items() if k not in ("task", "seed")}


def _with(spec: ModelSpec, **update: Any) -> ModelSpec:
    """A copy with fields replaced, validated again (so a bad parameter fails here)."""
    data = spec.model_dump()
    data.update(update)
    return ModelSpec.model_validate(data)


def _feature_proposals(
    spec: ModelSpec, libraries: Sequence[str], library_root: Path | None
) -> list[Proposal]:
    from alphaloop.models.dataset import resolve_features

    current = spec.features
    out = []
    for lib in libraries:
        if lib == current:
            continue
        out.append(
            Proposal(
                "features", f"features: {spec.feature_family} -> {lib}", _with(spec, features=lib)
            )
        )
        union = {**resolve_features(current, library_root), **resolve_features(lib, library_root)}
        desc = f"features: {spec.feature_family} + {lib}"
        out.append(Proposal("features", desc, _with(spec, features=union)))
    return out


def _hyper_proposals(spec: ModelSpec) -> list[Proposal]:
    family = spec.model.family
    moves = NEIGHBOURHOOD.get(family, {})
    if not moves:
        return []
    current = {**_defaults(family), **spec.model.params}
    out = []
    for param, steps in moves.items():
        if param not in current:
            continue
        for label, step in steps:
            value = step(current[param])
            if value == current[param]:
                continue
            params = {**spec.model.params, param: value}
            desc = f"{family} {param} {label}: {current[param]!r} -> {value!r}"
            try:
                new = _with(spec, model={"family": family, "params": params})
            except ValueError:  # out of the parameter's range
                continue
            out.append(Proposal("hyperparameters", desc, new))
    return out


def _family_proposals(spec: ModelSpec, families: Sequence[str]) -> list[Proposal]:
    from alphaloop.models.families import estimator_class

    out = []
    for family in families:
        if family == spec.model.family:
            continue
        names = set(estimator_class(family)._get_param_names())
        kept = {k: v for k, v in spec.model.params.items() if k in names}
        try:
            new = _with(spec, model={"family": family, "params": kept})
        except ValueError:
            new = _with(spec, model={"family": family, "params": {}})
        out.append(Proposal("family", f"family: {spec.model.family} -> {family}", new))
    return out


def _same_model(a: ModelSpec, b: ModelSpec) -> bool:
    return a.features == b.features and a.model == b.model


def propose(
    spec: ModelSpec,
    rng: np.random.Generator,
    *,
    feature_families: Sequence[str] = DEFAULT_FEATURE_FAMILIES,
    families: Sequence[str] = DEFAULT_FAMILIES,
    library_root: Path | None = None,
    limit: int | None = None,
) -> list[Proposal]:
    """Proposals one change away from ``spec``, in a seeded, deterministic order.

    Parameters
    ----------
    spec : ModelSpec
        The incumbent's spec.
    rng : numpy.random.Generator
        Shuffles each kind's candidates.
    feature_families : sequence of str
        Factor libraries a feature change may swap to or add.
    families : sequence of str
        Estimator families a family change may move to.
    library_root : Path, optional
        Workspace root for user libraries.
    limit : int, optional
        At most this many proposals.
    """
    pools = [
        _feature_proposals(spec, feature_families, library_root),
        _hyper_proposals(spec),
        _family_proposals(spec, families),
    ]
    for pool in pools:
        order = rng.permutation(len(pool)) if pool else []
        pool[:] = [pool[i] for i in order]
    out: list[Proposal] = []
    while any(pools) and (limit is None or len(out) < limit):
        for pool in pools:
            if not pool or (limit is not None and len(out) >= limit):
                continue
            candidate = pool.pop(0)
            seen = [spec, *(p.spec for p in out)]
            if not any(_same_model(candidate.spec, s) for s in seen):
                out.append(candidate)
    return out
