"""Template recipes: a strategy template with parameters on its grid, as a research recipe.

A template recipe names a registered strategy template instead of a signal::

    {"strategy": {"template": "pairs", "params": {"entry": 2.0, "formation": 252}},
     "indicators": [], "models": [],     # the signal of a template that reads one
     "overlay": None,                    # or {"target": 0.1, "window": 63}
     "rebalance": None}                  # daily | weekly | monthly | quarterly, or None

and, only where they apply:

- a template whose output is a signal (cross-sectional momentum) is turned
  into a book by the portfolio rule, so its recipe has ``logic`` (top-k on
  a long-only goal, a quantile long-short book otherwise), ``weighting``
  and ``exits`` as an indicator recipe;
- a template that reads a signal (a factor portfolio) has ``indicators``
  (and ``combine`` for several), drawn from the indicator families, so the
  two kinds of family combine;
- ``rebalance`` is a choice for templates that trade on the calendar
  (:func:`~alphaloop.research.template_families.calendar_driven`); it is
  None for templates that decide on every bar by their own rules (their
  default rebalancing is kept).

Parameters are canonical (:func:`~alphaloop.research.template_families.canonical_params`):
every grid parameter present, others only when set off their defaults, so
equal recipes give equal spec hashes. The spec carries the template's
:meth:`~alphaloop.strategies.TemplateParams.spec_defaults` (limits,
rebalancing, ...) with the goal's side and horizon applied over them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from alphaloop.errors import SpecError
from alphaloop.research import space
from alphaloop.research.goal import Constraints
from alphaloop.research.template_families import (
    OVERLAYS,
    calendar_driven,
    canonical_params,
    long_only_params,
    make_template,
    overlay_supported,
    random_params,
    spec_base,
)
from alphaloop.research.templates import template as indicator_template
from alphaloop.strategies import TEMPLATES

__all__ = [
    "canonical",
    "classify",
    "conform",
    "describe",
    "is_template_recipe",
    "random_recipe",
    "spec_dict",
    "template_of",
]

_SIGNAL_KEYS = ("indicators", "models", "combine", "combiner")
_BOOK_KEYS = ("logic", "weighting", "exits")


def is_template_recipe(recipe: Mapping[str, Any] | None) -> bool:
    """Whether ``recipe`` names a strategy template (``strategy:``)."""
    return bool(recipe) and bool(recipe.get("strategy"))  # type: ignore[union-attr]


def template_of(recipe: Mapping[str, Any]) -> str:
    """The template name of a template recipe."""
    return str(recipe["strategy"]["template"])


def _overlay(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    return {"target": round(float(value["target"]), 6), "window": int(value.get("window", 63))}


def canonical(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of a template recipe (keys sorted; only the keys that apply).

    Raises
    ------
    ValueError
        An unknown template, a parameter off its grid or refused by the template.
    """
    name = template_of(recipe)
    if name not in TEMPLATES:
        raise ValueError(
            f"no strategy template {name!r}; registered: {', '.join(sorted(TEMPLATES))}"
        )
    cls = TEMPLATES[name]
    params = canonical_params(name, recipe["strategy"].get("params") or {})
    rest = {k: recipe[k] for k in (*_SIGNAL_KEYS, *_BOOK_KEYS) if k in recipe}
    base = space.canonical_recipe(rest)
    out: dict[str, Any] = {
        "strategy": {"template": name, "params": params},
        "indicators": [],
        "models": [],
        "overlay": _overlay(recipe.get("overlay")),
        "rebalance": None,
    }
    if cls.USES_SIGNAL:
        out.update(indicators=base["indicators"], models=base["models"], combine=base["combine"])
        if "combiner" in base:
            out["combiner"] = base["combiner"]
    if cls.OUTPUT == "signal":
        out.update(logic=base["logic"], weighting=base["weighting"], exits=base["exits"])
    if calendar_driven(name, params):
        given = recipe.get("rebalance")
        default = (make_template(name, params).spec_defaults().get("rebalance") or {}).get(
            "frequency", "monthly"
        )
        frequency = str(given or default)
        out["rebalance"] = frequency if frequency in space.REBALANCES else "monthly"
    return json.loads(json.dumps(out, sort_keys=True))


def classify(recipe: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(kind, family, logic)``: family is the template's name; logic the portfolio
    rule's label for a signal output, else the template's name (it builds its own book, as
    :func:`~alphaloop.research.strategy_records.spec_logic` says)."""
    name = template_of(recipe)
    kind = "hybrid_ml" if recipe.get("models") else "pure_technical"
    cls = TEMPLATES.get(name)
    if cls is not None and cls.OUTPUT != "signal":
        return kind, name, name
    method = str((recipe.get("logic") or {}).get("method", "top_k"))
    return kind, name, space._LOGIC_NAMES.get(method, method)


def conform(
    recipe: Mapping[str, Any], constraints: Constraints, *, n_assets: int | None = None
) -> dict[str, Any]:
    """The canonical template recipe made consistent with ``constraints``.

    A long-only goal makes the parameters long-only
    (:func:`~alphaloop.research.template_families.long_only_params`); a
    signal output gets a top-k book (long-only) or a quantile long-short
    book; a horizon fixes the rebalancing of a calendar template, and a
    turnover limit rules out daily rebalancing; the overlay is dropped where
    the spec has no ``overlay`` field.

    Raises
    ------
    SpecError
        The kind is not allowed, the template always shorts on a long-only
        goal, it decides on every bar under a goal with a horizon, or the
        universe is smaller than the template needs with these parameters
        (:meth:`~alphaloop.strategies.TemplateParams.min_assets`).
    """
    out = canonical(recipe)
    name = template_of(out)
    cls = TEMPLATES[name]
    kind, _, _ = classify(out)
    if kind not in constraints.kinds:
        raise SpecError(
            f"recipe: a {kind} strategy is not allowed by the goal (kinds: "
            f"{', '.join(constraints.kinds)})"
        )
    params = out["strategy"]["params"]
    if constraints.long_only:
        fixed = long_only_params(name, params)
        if fixed is None:
            raise SpecError(f"recipe: template {name} takes short positions; the goal is long-only")
        out["strategy"]["params"] = canonical_params(name, fixed)
    need = int(make_template(name, out["strategy"]["params"]).min_assets())
    if n_assets and n_assets < need:
        raise SpecError(
            f"recipe: template {name} with these parameters needs at least {need} assets; "
            f"the universe has {n_assets}"
        )
    if cls.OUTPUT == "signal":
        logic = dict(out["logic"])
        if not constraints.long_only:
            quantile = logic.get("quantile", 0.2)
            logic = {"method": "quantile_long_short", "quantile": quantile}
        elif logic["method"] != "top_k":
            logic = {"method": "top_k", "k": 5}
        if n_assets and logic["method"] == "top_k" and logic["k"] >= n_assets:
            logic["k"] = max(1, n_assets // 2)
        out["logic"] = logic
    if out["rebalance"] is not None:
        if constraints.horizon is not None:
            out["rebalance"] = constraints.horizon
        elif constraints.max_turnover is not None and out["rebalance"] == "daily":
            out["rebalance"] = "weekly"
    elif constraints.horizon is not None:
        raise SpecError(
            f"recipe: template {name} trades by its own rules on every bar; the goal fixes a "
            f"{constraints.horizon} horizon"
        )
    if not overlay_supported(name):
        out["overlay"] = None
    return canonical(out)


def _signal(r: Mapping[str, Any]) -> dict[str, Any]:
    """The ``signal:`` a template that reads one gets from its recipe's indicators."""
    tpls = [(indicator_template(i["family"], i["template"]), i["params"]) for i in r["indicators"]]
    if len(tpls) == 1 and not r["models"]:
        return {"expr": tpls[0][0].expression(tpls[0][1])}
    if not tpls and len(r["models"]) == 1:
        return {"model": r["models"][0]}
    if not tpls and not r["models"]:
        raise SpecError(f"recipe: template {template_of(r)} reads a signal; the recipe has none")
    components = [tpl.component(p) for tpl, p in tpls]
    components += [{"model": m, "normalize": "rank", "sign": 1} for m in r["models"]]
    out = {"components": components, "combine": r["combine"]}
    if r["combine"] == "model":
        out["combiner"] = r["combiner"]
    return out


def spec_dict(
    recipe: Mapping[str, Any],
    *,
    dataset: str,
    constraints: Constraints,
    name: str | None = None,
    fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The strategy spec of a template recipe as a mapping.

    Starts from the template's ``spec_defaults()``; sets the template, the
    universe, the side (``limits.allow_short``: the goal's), the rebalancing
    (a calendar template's recipe choice), the portfolio rule of a signal
    output, the signal of a template that reads one, the overlay, and
    next-close fills where the data has no ``open``.
    """
    r = conform(recipe, constraints)
    tname = template_of(r)
    cls = TEMPLATES[tname]
    inst = make_template(tname, r["strategy"]["params"])
    out = spec_base(inst)
    limits = dict(out.get("limits") or {})
    limits["allow_short"] = not constraints.long_only
    rebalance = dict(out.get("rebalance") or {})
    if r["rebalance"] is not None:
        rebalance["frequency"] = r["rebalance"]
        rebalance.pop("every", None)
    out.update(
        name=name or describe(r),
        data=dataset,
        universe=constraints.universe,
        template=inst.model_dump(mode="json"),
        limits=limits,
    )
    if rebalance:
        out["rebalance"] = rebalance
    if cls.OUTPUT == "signal":
        logic = dict(r["logic"])
        method = logic.pop("method")
        out["portfolio"] = {"method": method, **logic, "weighting": r["weighting"], "gross": 1.0}
        if r["exits"]:
            out["exits"] = dict(r["exits"])
    if cls.USES_SIGNAL:
        out["signal"] = _signal(r)
    if r["overlay"] is not None:
        out["overlay"] = dict(r["overlay"])
    if fields is not None and "open" not in fields:
        out["fills"] = "next_close"
    return out


def describe(recipe: Mapping[str, Any]) -> str:
    """A short name: ``pairs(entry=2.0,formation=252) vt10 daily``."""
    params = ",".join(f"{k}={v}" for k, v in recipe["strategy"]["params"].items())
    parts = [f"{template_of(recipe)}({params})"]
    if recipe.get("indicators"):
        parts.append(
            "on "
            + "+".join(
                f"{i['template']}({','.join(str(v) for _, v in sorted(i['params'].items()))})"
                for i in recipe["indicators"]
            )
        )
    logic = recipe.get("logic")
    if logic:
        parts.append(
            f"top{logic.get('k')}"
            if logic["method"] == "top_k"
            else f"ls{round(100 * logic.get('quantile', 0.2))}"
        )
    if recipe.get("overlay"):
        parts.append(f"vt{round(100 * recipe['overlay']['target'])}")
    if recipe.get("rebalance"):
        parts.append(str(recipe["rebalance"]))
    return " ".join(parts)[:200]


def random_recipe(
    rng: np.random.Generator,
    name: str,
    *,
    constraints: Constraints,
    fields: Collection[str],
    n_assets: int | None = None,
) -> dict[str, Any]:
    """A random canonical recipe of template ``name``: grid parameters, and what applies of a
    signal (one indicator), a book (top-k or long-short), a rebalancing and an overlay (a
    quarter of the time)."""
    cls = TEMPLATES[name]
    params = random_params(name, rng, long_only=constraints.long_only, n_assets=n_assets)
    recipe: dict[str, Any] = {"strategy": {"template": name, "params": params}}
    if cls.USES_SIGNAL:
        tech = constraints.model_copy(update={"kinds": ("pure_technical",)})
        families = space.available_families(fields, tech)
        family = families[int(rng.integers(len(families)))]
        recipe["indicators"] = [space.random_indicator(rng, family, fields)]
    if cls.OUTPUT == "signal":
        if constraints.long_only:
            recipe["logic"] = {"method": "top_k", "k": int(rng.choice(space.TOP_K))}
        else:
            recipe["logic"] = space.random_logic(rng, constraints)
        recipe["weighting"] = str(rng.choice(space.WEIGHTINGS))
    if calendar_driven(name, params):
        recipe["rebalance"] = space.random_rebalance(rng, constraints)
    if rng.random() < 0.25 and overlay_supported(name):
        recipe["overlay"] = dict(OVERLAYS[int(rng.integers(len(OVERLAYS)))])
    return conform(recipe, constraints, n_assets=n_assets)
