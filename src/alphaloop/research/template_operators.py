"""Variation operators on template recipes (see :mod:`alphaloop.research.template_recipes`).

:func:`alphaloop.research.operators.mutate` and
:func:`~alphaloop.research.operators.crossover` hand template recipes here.
Mutations: ``param`` (one template parameter, or one indicator parameter of
the signal it reads, moves to a neighbour on its grid), ``redraw`` (one
template parameter drawn again from its grid), ``overlay`` (the
volatility-target overlay on or off), ``rebalance`` (calendar templates
only), ``logic``, ``weighting`` and ``exit`` (templates whose signal the
portfolio rule turns into a book) and ``indicator`` (templates that read a
signal). Every move keeps the template valid and, on a long-only goal,
long-only. A crossover keeps the template and mixes the parents' parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from alphaloop.errors import SpecError
from alphaloop.research.goal import Constraints
from alphaloop.research.operators import (
    Step,
    Variation,
    _exit,
    _exploration,
    _indicator,
    _param,
    _rebalance,
    _technical_families,
    _weighting,
)
from alphaloop.research.space import TOP_K, conform, random_logic
from alphaloop.research.template_families import (
    OVERLAYS,
    calendar_driven,
    grid_moves,
    overlay_supported,
)
from alphaloop.research.template_recipes import is_template_recipe, template_of
from alphaloop.strategies import TEMPLATES

__all__ = [
    "TEMPLATE_MUTATIONS",
    "TEMPLATE_STEPS",
    "template_crossover",
    "template_operators",
    "template_step",
]

TEMPLATE_MUTATIONS: tuple[str, ...] = (
    "param",
    "redraw",
    "overlay",
    "indicator",
    "logic",
    "rebalance",
    "weighting",
    "exit",
)
_TRIES = 12


def template_operators(
    recipe: Mapping[str, Any],
    constraints: Constraints,
    fields: Collection[str],
    n_assets: int | None = None,
) -> list[str]:
    """The mutation operators that can change the template recipe under ``constraints``
    (parameter moves within the ``n_assets`` the universe has, when given)."""
    name = template_of(recipe)
    cls = TEMPLATES[name]
    params = recipe["strategy"]["params"]
    kw = {"long_only": constraints.long_only, "n_assets": n_assets}
    ops = []
    steps = [k for k in cls.GRID if grid_moves(name, params, k, neighbours=True, **kw)]
    if steps or recipe.get("indicators"):
        ops.append("param")
    if any(grid_moves(name, params, k, neighbours=False, **kw) for k in cls.GRID):
        ops.append("redraw")
    if overlay_supported(name):
        ops.append("overlay")
    if cls.USES_SIGNAL and _technical_families(fields, constraints):
        ops.append("indicator")
    if cls.OUTPUT == "signal":
        ops.append("logic")
    if constraints.horizon is None and calendar_driven(name, params):
        ops.append("rebalance")
    if cls.OUTPUT == "signal":
        ops += ["weighting", "exit"]
    return ops


def _template_param(
    r: dict,
    rng: np.random.Generator,
    c: Constraints,
    fields: Collection[str],
    *,
    step: bool,
    n_assets: int | None = None,
) -> Step:
    name = template_of(r)
    params = r["strategy"]["params"]
    moves = {
        k: grid_moves(name, params, k, neighbours=step, long_only=c.long_only, n_assets=n_assets)
        for k in TEMPLATES[name].GRID
    }
    keys = [k for k, values in moves.items() if values]
    pool: list[str | None] = list(keys)
    if step and r.get("indicators"):
        pool.append(None)  # a parameter of the signal's indicators
    pick = pool[int(rng.integers(len(pool)))]
    if pick is None:
        return _param(r, rng, c, fields)
    values = moves[pick]
    new = values[int(rng.integers(len(values)))]
    strategy = {"template": name, "params": {**params, pick: new}}
    return {**r, "strategy": strategy}, [f"strategy.params.{pick}"], {"new_parameter": True}


def _template_step(
    r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str], **kw: Any
) -> Step:
    return _template_param(r, rng, c, fields, step=True, **kw)


def _template_redraw(
    r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str], **kw: Any
) -> Step:
    return _template_param(r, rng, c, fields, step=False, **kw)


def _overlay(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    new = None if r.get("overlay") else dict(OVERLAYS[int(rng.integers(len(OVERLAYS)))])
    return {**r, "overlay": new}, ["overlay"], {"new_logic": True}


def _template_logic(
    r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]
) -> Step:
    if c.long_only:
        choices = [k for k in TOP_K if k != r["logic"].get("k")]
        logic = {"method": "top_k", "k": int(choices[int(rng.integers(len(choices)))])}
    else:
        logic = random_logic(rng, c)
    return {**r, "logic": logic}, ["logic"], {"new_logic": True}


def template_step(operator: str, n_assets: int | None = None) -> Callable[..., Step]:
    """The step of mutation ``operator`` on a template recipe (parameter moves kept within
    ``n_assets`` assets when given)."""
    step = TEMPLATE_STEPS[operator]
    if operator in ("param", "redraw"):
        return functools.partial(step, n_assets=n_assets)
    return step


TEMPLATE_STEPS = {
    "param": _template_step,
    "redraw": _template_redraw,
    "overlay": _overlay,
    "indicator": _indicator,
    "logic": _template_logic,
    "rebalance": _rebalance,
    "weighting": _weighting,
    "exit": _exit,
}


def template_crossover(
    ra: dict,
    rb: dict,
    rng: np.random.Generator,
    c: Constraints,
    parents: Sequence[str],
    n_assets: int | None,
) -> Variation:
    """A child of two canonical recipes of one template.

    Each differing parameter from either parent (at least one from the
    second); parents with equal parameters swap their other settings
    instead. Raises ValueError when they are not recipes of one template.
    """
    if not (is_template_recipe(ra) and is_template_recipe(rb)) or template_of(ra) != template_of(
        rb
    ):
        raise ValueError(
            "a crossover of template recipes needs two recipes of the same template; got "
            f"{template_of(ra) if is_template_recipe(ra) else 'an indicator recipe'} and "
            f"{template_of(rb) if is_template_recipe(rb) else 'an indicator recipe'}"
        )
    pa, pb = ra["strategy"]["params"], rb["strategy"]["params"]
    differ = sorted(k for k in pa if pa[k] != pb.get(k) and k in pb)
    child, changed = ra, []
    for _ in range(_TRIES):
        if differ:
            take = [k for k in differ if rng.random() < 0.5]
            if not take:
                take = [differ[int(rng.integers(len(differ)))]]
            params = {**pa, **{k: pb[k] for k in take}}
            draft = {**ra, "strategy": {"template": template_of(ra), "params": params}}
            changed = [f"strategy.params.{k}" for k in take]
        else:
            keys = [k for k in rb if k != "strategy" and ra.get(k) != rb[k]]
            draft = {**ra, **{k: rb[k] for k in keys}}
            changed = keys
        try:
            child = conform(draft, c, n_assets=n_assets)
        except (SpecError, ValueError):
            continue
        if child != ra:
            break
    flags = {"crossover": True, "new_logic": not differ}
    return Variation(child, "crossover", tuple(parents), _exploration(changed, **flags))
