"""Variation operators on recipes: mutate, crossover, upgrade.

Every operator returns a :class:`Variation`: the child recipe (canonical and
consistent with the constraints), the operator's name, the parents' hashes
and an exploration vector saying what changed against the parent(s)::

    {"new_indicator": bool, "new_parameter": bool, "upgraded_model": bool,
     "crossover": bool, "new_logic": bool, "changed": ["indicators[0].params.lookback"]}

``changed`` holds recipe paths of the parent (the first parent for a
crossover). Mutation operators: ``param`` (one parameter moves to a
neighbour on its grid), ``indicator`` (replace, add or remove an indicator),
``logic`` (another book of the same side: top-k size, threshold levels,
long-short quantile), ``rebalance``, ``weighting``, ``exit`` (minimum
holding period, exit on a sign flip), ``regime`` (gate the book by a causal
market regime, :data:`~alphaloop.research.space.REGIME_GATES`: add one,
switch to another, or remove it).

Template recipes (a strategy template with grid parameters, see
:mod:`alphaloop.research.template_recipes`) have their own operators
(:mod:`alphaloop.research.template_operators`: ``param``, ``redraw``,
``overlay``, ...); a crossover of two template recipes keeps their template
and mixes their parameters.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphaloop.research.goal import Constraints
from alphaloop.research.space import (
    COMBINES,
    HOLD_BARS,
    MAX_COMPONENTS,
    REBALANCES,
    REGIME_GATES,
    WEIGHTINGS,
    available_families,
    canonical_recipe,
    classify,
    conform,
    random_indicator,
    random_logic,
)
from alphaloop.research.template_recipes import is_template_recipe
from alphaloop.research.templates import template

__all__ = [
    "MUTATIONS",
    "Variation",
    "canonical_json",
    "crossover",
    "mutate",
    "mutation_operators",
    "upgrade",
]

MUTATIONS: tuple[str, ...] = (
    "param",
    "indicator",
    "logic",
    "rebalance",
    "weighting",
    "exit",
    "regime",
)
_TRIES = 12


@dataclass(frozen=True)
class Variation:
    """A child recipe and how it was made.

    Attributes
    ----------
    recipe : dict
        Canonical child recipe, consistent with the constraints.
    operator : str
        ``param``, ``indicator``, ``logic``, ``rebalance``, ``weighting``,
        ``exit``, ``crossover`` or ``upgrade``.
    parents : tuple of str
        Hashes of the parent strategies (empty when not given).
    exploration : dict
        What changed (see the module docstring).
    """

    recipe: dict[str, Any]
    operator: str
    parents: tuple[str, ...] = ()
    exploration: dict[str, Any] = field(default_factory=dict)


def _exploration(changed: list[str], **flags: bool) -> dict[str, Any]:
    keys = ("new_indicator", "new_parameter", "upgraded_model", "crossover", "new_logic")
    return {**{k: bool(flags.get(k, False)) for k in keys}, "changed": list(changed)}


def _technical_families(fields: Collection[str], constraints: Constraints) -> list[str]:
    tech = constraints.model_copy(update={"kinds": ("pure_technical",)})
    return available_families(fields, tech)


def mutation_operators(
    recipe: Mapping[str, Any],
    constraints: Constraints,
    fields: Collection[str],
    n_assets: int | None = None,
) -> list[str]:
    """The mutation operators that can change ``recipe`` under ``constraints``."""
    if is_template_recipe(recipe):
        from alphaloop.research.template_operators import template_operators

        return template_operators(recipe, constraints, fields, n_assets)
    kind, _, _ = classify(recipe)
    ops = []
    if recipe.get("indicators"):
        ops.append("param")
    can_add = "hybrid_ml" in constraints.kinds if kind == "pure_ml" else True
    if can_add and _technical_families(fields, constraints):
        ops.append("indicator")
    ops.append("logic")
    if constraints.horizon is None:
        ops.append("rebalance")
    ops += ["weighting", "exit", "regime"]
    return ops


def mutate(
    recipe: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    constraints: Constraints,
    fields: Collection[str],
    operator: str | None = None,
    parent: str | None = None,
    n_assets: int | None = None,
) -> Variation:
    """A child differing from ``recipe`` by one operator (drawn when ``operator`` is None).

    Raises
    ------
    ValueError
        ``operator`` cannot change this recipe under these constraints.
    """
    base = conform(recipe, constraints, n_assets=n_assets)
    ops = mutation_operators(base, constraints, fields, n_assets)
    if operator is None:
        operator = ops[int(rng.integers(len(ops)))]
    elif operator not in ops:
        raise ValueError(f"mutation {operator!r} cannot change this recipe; possible: {ops}")
    if is_template_recipe(base):
        from alphaloop.research.template_operators import template_step

        step = template_step(operator, n_assets)
    else:
        step = _STEPS[operator]
    child, changed, flags = base, [], {}
    for _ in range(_TRIES):
        draft, changed, flags = step(dict(base), rng, constraints, fields)
        child = conform(draft, constraints, n_assets=n_assets)
        if child != base:
            break
    return Variation(child, operator, (parent,) if parent else (), _exploration(changed, **flags))


Step = tuple[dict[str, Any], list[str], dict[str, bool]]


def _param(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    indicators = [dict(i) for i in r["indicators"]]
    i = int(rng.integers(len(indicators)))
    tpl = template(indicators[i]["family"], indicators[i]["template"])
    name, grid = tpl.grid[int(rng.integers(len(tpl.grid)))]
    pos = grid.index(indicators[i]["params"][name])
    moves = [p for p in (pos - 1, pos + 1) if 0 <= p < len(grid)]
    new = grid[moves[int(rng.integers(len(moves)))]]
    indicators[i] = {**indicators[i], "params": {**indicators[i]["params"], name: int(new)}}
    return (
        {**r, "indicators": indicators},
        [f"indicators[{i}].params.{name}"],
        {"new_parameter": True},
    )


def _indicator(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    indicators = list(r["indicators"])
    families = _technical_families(fields, c)
    n_components = len(indicators) + len(r["models"])
    actions = ["replace"] if indicators else []
    if n_components < MAX_COMPONENTS:
        actions.append("add")
    if len(indicators) >= 2:
        actions.append("remove")
    action = actions[int(rng.integers(len(actions)))]
    if action == "remove":
        i = int(rng.integers(len(indicators)))
        del indicators[i]
        return {**r, "indicators": indicators}, [f"indicators[{i}]"], {}
    new = random_indicator(rng, families[int(rng.integers(len(families)))], fields)
    if action == "add":
        combine = r["combine"] if n_components > 1 else str(rng.choice(COMBINES))
        path = f"indicators[{len(indicators)}]"
        return (
            {**r, "indicators": [*indicators, new], "combine": combine},
            [path],
            {"new_indicator": True},
        )
    i = int(rng.integers(len(indicators)))
    indicators[i] = new
    return {**r, "indicators": indicators}, [f"indicators[{i}]"], {"new_indicator": True}


def _logic(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    kind, _, _ = classify(r)
    return {**r, "logic": random_logic(rng, c, kind=kind)}, ["logic"], {"new_logic": True}


def _rebalance(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    choices = [x for x in REBALANCES if x != r["rebalance"]]
    if c.max_turnover is not None:
        choices = [x for x in choices if x != "daily"]
    new = choices[int(rng.integers(len(choices)))]
    return {**r, "rebalance": new}, ["rebalance"], {"new_logic": True}


def _weighting(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    new = next(w for w in WEIGHTINGS if w != r["weighting"])
    return {**r, "weighting": new}, ["weighting"], {"new_logic": True}


def _exit(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    exits = r["exits"] or {"hold_bars": 0, "exit_on_flip": False}
    if r["exits"] is None or rng.random() < 0.5:
        hold = [h for h in HOLD_BARS if h != exits["hold_bars"]]
        exits = {**exits, "hold_bars": int(hold[int(rng.integers(len(hold)))])}
        path = "exits.hold_bars"
    else:
        exits = {**exits, "exit_on_flip": not exits["exit_on_flip"]}
        path = "exits.exit_on_flip"
    return {**r, "exits": exits}, [path], {"new_logic": True}


def _regime(r: dict, rng: np.random.Generator, c: Constraints, fields: Collection[str]) -> Step:
    current = r.get("regime")
    choices: list[dict[str, Any] | None] = [
        g for g in REGIME_GATES if canonical_json(g) != canonical_json(current or {})
    ]
    if current is not None:
        choices.append(None)  # the gate removed
    new = choices[int(rng.integers(len(choices)))]
    child = {k: v for k, v in r.items() if k != "regime"}
    if new is not None:
        child["regime"] = dict(new)
    return child, ["regime"], {"new_logic": True}


_STEPS = {
    "param": _param,
    "indicator": _indicator,
    "logic": _logic,
    "rebalance": _rebalance,
    "weighting": _weighting,
    "exit": _exit,
    "regime": _regime,
}


def crossover(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    constraints: Constraints,
    parents: Sequence[str] = (),
    mode: str | None = None,
    n_assets: int | None = None,
) -> Variation:
    """A child of two parents.

    ``mode="signal"``: a composite of both parents' indicators and models,
    deduplicated, at most four components (a random subset keeping at least
    one of each parent), with parent A's logic. ``mode="logic"``: parent A's
    signal with parent B's logic, weighting, rebalancing and exits. Drawn
    when None (signal two times in three); a mode that would copy parent A
    falls back to the other.
    """
    ra, rb = conform(a, constraints, n_assets=n_assets), conform(b, constraints, n_assets=n_assets)
    if is_template_recipe(ra) or is_template_recipe(rb):
        from alphaloop.research.template_operators import template_crossover

        return template_crossover(ra, rb, rng, constraints, parents, n_assets)
    modes = ["signal", "logic"]
    if mode is None:
        mode = "signal" if rng.random() < 2 / 3 else "logic"
    elif mode not in modes:
        raise ValueError(f"crossover mode {mode!r}; possible: {modes}")
    order = [mode, *(m for m in modes if m != mode)]
    child, changed = ra, []
    for m in order:
        draft, changed = (_mix_signal if m == "signal" else _mix_logic)(ra, rb, rng, constraints)
        child = conform(draft, constraints, n_assets=n_assets)
        if child != ra:
            mode = m
            break
    flags = {"crossover": True, "new_logic": mode == "logic"}
    return Variation(child, "crossover", tuple(parents), _exploration(changed, **flags))


def _mix_signal(
    ra: dict, rb: dict, rng: np.random.Generator, c: Constraints
) -> tuple[dict, list[str]]:
    keys_a = [("i", canonical_json(i)) for i in ra["indicators"]] + [("m", m) for m in ra["models"]]
    keys_b = [("i", canonical_json(i)) for i in rb["indicators"]] + [("m", m) for m in rb["models"]]
    if "hybrid_ml" not in c.kinds:  # keep the child's kind: indicators only, or models only
        keep = "i" if ra["indicators"] else "m"
        keys_b = [k for k in keys_b if k[0] == keep]
    only_b = [k for k in keys_b if k not in keys_a]
    if not only_b:
        return ra, []
    pool = keys_a + only_b
    if len(pool) > MAX_COMPONENTS:
        first = keys_a[int(rng.integers(len(keys_a)))]
        second = only_b[int(rng.integers(len(only_b)))]
        rest = [k for k in pool if k not in (first, second)]
        picks = rng.choice(len(rest), size=MAX_COMPONENTS - 2, replace=False)
        pool = [first, second, *(rest[int(p)] for p in sorted(picks))]
    by_key = {canonical_json(i): i for i in ra["indicators"] + rb["indicators"]}
    indicators = [by_key[k] for t, k in pool if t == "i"]
    models = [k for t, k in pool if t == "m"]
    combine = ra["combine"] if len(ra["indicators"]) + len(ra["models"]) > 1 else rb["combine"]
    if len(pool) > 1 and combine == "equal" and rng.random() < 0.5:
        combine = str(rng.choice(COMBINES))
    changed = [f"indicators[{j}]" for j in range(len(ra["indicators"]), len(indicators))]
    changed += [f"models[{j}]" for j in range(len(ra["models"]), len(models))]
    return {**ra, "indicators": indicators, "models": models, "combine": combine}, changed


def _mix_logic(
    ra: dict, rb: dict, rng: np.random.Generator, c: Constraints
) -> tuple[dict, list[str]]:
    keys = ("logic", "weighting", "rebalance", "exits")
    changed = [k for k in keys if ra[k] != rb[k]]
    return {**ra, **{k: rb[k] for k in keys}}, changed


def canonical_json(item: Mapping[str, Any]) -> str:
    """A sort-keyed JSON text of one indicator (its identity within a recipe)."""
    return json.dumps(item, sort_keys=True)


def upgrade(
    recipe: Mapping[str, Any],
    newer: Mapping[str, str],
    *,
    parent: str | None = None,
) -> Variation | None:
    """The recipe with each model ref in ``newer`` replaced by its newer version.

    Returns None when the recipe uses none of them.
    """
    base = canonical_recipe(recipe)
    models = list(base["models"])
    changed = [f"models[{j}]" for j, m in enumerate(models) if m in newer and newer[m] != m]
    if not changed:
        return None
    child = canonical_recipe({**base, "models": [newer.get(m, m) for m in models]})
    return Variation(
        child,
        "upgrade",
        (parent,) if parent else (),
        _exploration(changed, upgraded_model=True),
    )
