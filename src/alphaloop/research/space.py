"""The search space: recipes, and the strategy specs they determine.

A recipe is a JSON-able dict that fully determines a :class:`StrategySpec`::

    {"indicators": [{"family": "momentum", "template": "mom_skip",
                     "params": {"lookback": 126, "skip": 21}}],
     "models": [],                       # "name/vN" refs (hybrid or pure ML)
     "combine": "equal",                 # equal | ic | mean_variance (2+ components)
     "logic": {"method": "top_k", "k": 5},
     "weighting": "equal",               # equal | inverse_volatility
     "rebalance": "monthly",             # daily | weekly | monthly | quarterly
     "exits": None}                      # or {"hold_bars": 5, "exit_on_flip": False}

and, for a regime-gated variant, ``"regime": {"detector": "trend", "allow": ["up"]}``
(one of :data:`REGIME_GATES`; absent when the book is not gated, so recipes
written before regimes existed keep their keys).

Recipes are canonical (:func:`canonical_recipe`: keys sorted, indicators
deduplicated and sorted, parameters plain ints), so equal recipes give equal
spec hashes. :func:`recipe_spec` always makes the spec consistent with the
:class:`~alphaloop.research.goal.Constraints`: long-only goals get ``top_k``
or long-only ``threshold`` books, long-short goals a quantile long-short
book with short selling allowed, a horizon fixes the rebalancing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from alphaloop.backtest.spec import StrategySpec
from alphaloop.errors import GoalError, SpecError
from alphaloop.research.goal import Constraints
from alphaloop.research.templates import FAMILIES, Template, feasible_templates, template

__all__ = [
    "COMBINES",
    "FAMILIES",
    "REBALANCES",
    "REGIME_GATES",
    "WEIGHTINGS",
    "Template",
    "available_families",
    "canonical_recipe",
    "classify",
    "conform",
    "random_logic",
    "random_recipe",
    "recipe_key",
    "recipe_spec",
    "regime_gate_name",
    "spec_dict",
    "strategy_hash",
]

REBALANCES: tuple[str, ...] = ("daily", "weekly", "monthly", "quarterly")
WEIGHTINGS: tuple[str, ...] = ("equal", "inverse_volatility")
COMBINES: tuple[str, ...] = ("equal", "ic", "mean_variance")
TOP_K: tuple[int, ...] = (3, 5, 10)
QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3)
THRESHOLDS: tuple[tuple[float, float], ...] = ((0.9, 0.7), (0.8, 0.6), (0.8, 0.5), (0.7, 0.5))
HOLD_BARS: tuple[int, ...] = (0, 5, 10, 21)
MAX_COMPONENTS = 4
REGIME_GATES: tuple[dict[str, Any], ...] = (
    {"detector": "volatility", "allow": ["calm"]},
    {"detector": "volatility", "scale": {"turbulent": 0.5}},
    {"detector": "trend", "allow": ["up"]},
    {"detector": "trend", "scale": {"down": 0.5}},
)
"""The regime gates the search proposes (a spec's ``regime:``; causal market regimes)."""
ML_FAMILY = "ml"
_LOGIC_NAMES = {"top_k": "top_k", "quantile_long_short": "long_short", "threshold": "threshold"}


# ------------------------------------------------------------------ recipes
def canonical_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form: every key present, sorted; indicators unique and sorted; ints.

    Raises
    ------
    ValueError
        An unknown template, or a parameter off its grid.
    """
    if _is_template(recipe):
        from alphaloop.research import template_recipes

        return template_recipes.canonical(recipe)
    indicators: dict[str, dict[str, Any]] = {}
    for ind in recipe.get("indicators") or ():
        tpl = template(str(ind["family"]), str(ind["template"]))
        item = {"family": tpl.family, "template": tpl.name, "params": tpl.check(ind["params"])}
        indicators[json.dumps(item, sort_keys=True)] = item
    models = sorted({str(m) for m in recipe.get("models") or ()})
    n_components = len(indicators) + len(models)
    logic = {
        k: _plain(v) for k, v in dict(recipe.get("logic") or {"method": "top_k", "k": 5}).items()
    }
    exits = recipe.get("exits")
    if exits and not exits.get("hold_bars") and not exits.get("exit_on_flip"):
        exits = None  # the default: no minimum holding period, no exit on a flip
    out = {
        "indicators": [indicators[k] for k in sorted(indicators)],
        "models": models,
        "combine": str(recipe.get("combine", "equal")) if n_components > 1 else "equal",
        "logic": logic,
        "weighting": str(recipe.get("weighting", "equal")),
        "rebalance": str(recipe.get("rebalance", "monthly")),
        "exits": None if not exits else {k: _plain(v) for k, v in dict(exits).items()},
    }
    if out["combine"] == "model":
        out["combiner"] = str(recipe["combiner"])
    regime = recipe.get("regime")
    if regime:
        out["regime"] = _regime_gate(regime)
    return json.loads(json.dumps(out, sort_keys=True))


def regime_gate_name(gate: Mapping[str, Any]) -> str:
    """A gate's short name: ``trend[flat,up]``, ``volatility[turbulentx0.5]``."""
    how = (
        ",".join(gate["allow"])
        if "allow" in gate
        else ",".join(f"{k}x{v:g}" for k, v in sorted(gate["scale"].items()))
    )
    return f"{gate['detector']}[{how}]"


def _regime_gate(regime: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe's regime gate, checked against :data:`REGIME_GATES`."""
    gate = json.loads(json.dumps(dict(regime), sort_keys=True))
    if "allow" in gate:
        gate["allow"] = sorted(str(a) for a in gate["allow"])
    if gate not in [json.loads(json.dumps(g, sort_keys=True)) for g in REGIME_GATES]:
        raise ValueError(
            f"regime gate {gate} is not one of the search's gates {list(REGIME_GATES)}"
        )
    return gate


def _is_template(recipe: Mapping[str, Any]) -> bool:
    return bool(recipe.get("strategy"))


def _plain(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return round(float(v), 6)
    return v


def recipe_key(recipe: Mapping[str, Any]) -> str:
    """A short stable key of the canonical recipe (for deduplication before hashing)."""
    text = json.dumps(canonical_recipe(recipe), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def classify(recipe: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(kind, family, logic)`` of a recipe.

    kind is ``pure_technical`` (indicators only), ``hybrid_ml`` (indicators
    and models) or ``pure_ml`` (models only); family is the indicators'
    family, ``composite`` when they come from several, ``ml`` for pure ML;
    logic is ``top_k``, ``long_short`` or ``threshold``. A template recipe's
    family is its strategy template's name (see
    :func:`alphaloop.research.template_recipes.classify`).
    """
    if _is_template(recipe):
        from alphaloop.research import template_recipes

        return template_recipes.classify(recipe)
    indicators = recipe.get("indicators") or []
    models = recipe.get("models") or []
    kind = "pure_ml" if not indicators else ("hybrid_ml" if models else "pure_technical")
    families = {str(i["family"]) for i in indicators}
    family = ML_FAMILY if not families else (families.pop() if len(families) == 1 else "composite")
    method = str((recipe.get("logic") or {}).get("method", "top_k"))
    return kind, family, _LOGIC_NAMES.get(method, method)


def conform(
    recipe: Mapping[str, Any], constraints: Constraints, *, n_assets: int | None = None
) -> dict[str, Any]:
    """The canonical recipe made consistent with ``constraints``.

    Long-only goals: a long-short logic becomes top 5 (threshold books stay
    long-only). Long-short goals: every logic becomes a quantile long-short
    book (the recipe's quantile kept if it has one). Pure ML signals cannot
    use thresholds (their scale is the model's): top 5 instead. A horizon
    fixes the rebalancing; a turnover limit rules out daily rebalancing.
    ``k`` is kept below ``n_assets`` when it is given.

    Raises
    ------
    SpecError
        The recipe's kind is not one the constraints allow (template recipes:
        see :func:`alphaloop.research.template_recipes.conform`).
    """
    if _is_template(recipe):
        from alphaloop.research import template_recipes

        return template_recipes.conform(recipe, constraints, n_assets=n_assets)
    out = canonical_recipe(recipe)
    kind, _, _ = classify(out)
    if kind not in constraints.kinds:
        raise SpecError(
            f"recipe: a {kind} strategy is not allowed by the goal (kinds: "
            f"{', '.join(constraints.kinds)})"
        )
    logic = dict(out["logic"])
    method = logic.get("method")
    if constraints.long_only:
        if method == "quantile_long_short" or (method == "threshold" and kind == "pure_ml"):
            logic = {"method": "top_k", "k": 5}
        elif method == "threshold":
            logic = {
                "method": "threshold",
                "entry_long": logic["entry_long"],
                "exit_long": logic["exit_long"],
            }
    elif method != "quantile_long_short":
        logic = {"method": "quantile_long_short", "quantile": 0.2}
    if logic["method"] == "top_k" and n_assets is not None and logic["k"] >= n_assets:
        logic["k"] = max(1, n_assets // 2)
    out["logic"] = logic
    if constraints.horizon is not None:
        out["rebalance"] = constraints.horizon
    elif constraints.max_turnover is not None and out["rebalance"] == "daily":
        out["rebalance"] = "weekly"
    return canonical_recipe(out)


# ------------------------------------------------------------------ specs
def spec_dict(
    recipe: Mapping[str, Any],
    *,
    dataset: str,
    constraints: Constraints,
    name: str | None = None,
    fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The strategy spec of a recipe as a mapping (what :func:`recipe_spec` validates).

    Orders fill at the next bar: at its open, or at its close when ``fields``
    (the dataset's) has no ``open``.

    One indicator and no model: ``signal.expr`` (wrapped in ``CsRank`` for a
    threshold book, so the thresholds are cross-sectional percentiles). One
    model and no indicator: ``signal.model``. Otherwise a composite signal,
    ``signal.components`` (``expr``/``factor``/``model``, rank-normalized)
    combined by ``recipe["combine"]``.

    A template recipe: :func:`alphaloop.research.template_recipes.spec_dict`.
    """
    if _is_template(recipe):
        from alphaloop.research import template_recipes

        return template_recipes.spec_dict(
            recipe, dataset=dataset, constraints=constraints, name=name, fields=fields
        )
    r = conform(recipe, constraints)
    logic = dict(r["logic"])
    method = logic.pop("method")
    threshold = method == "threshold"
    tpls = [(template(i["family"], i["template"]), i["params"]) for i in r["indicators"]]
    if len(tpls) == 1 and not r["models"]:
        text = tpls[0][0].expression(tpls[0][1])
        signal: dict[str, Any] = {"expr": f"CsRank({text})" if threshold else text}
    elif not tpls and len(r["models"]) == 1:
        signal = {"model": r["models"][0]}
    elif not tpls and not r["models"]:
        raise SpecError("recipe: no indicator and no model, so there is no signal")
    else:
        components = [tpl.component(p) for tpl, p in tpls]
        components += [{"model": m, "normalize": "rank", "sign": 1} for m in r["models"]]
        signal = {"components": components, "combine": r["combine"]}
        if r["combine"] == "model":
            signal["combiner"] = r["combiner"]
    portfolio = {"method": method, **logic, "weighting": r["weighting"], "gross": 1.0}
    out: dict[str, Any] = {
        "name": name or describe(r),
        "data": dataset,
        "universe": constraints.universe,
        "signal": signal,
        "portfolio": portfolio,
        "rebalance": {"frequency": r["rebalance"]},
        "limits": {"max_leverage": 1.0, "allow_short": not constraints.long_only},
    }
    if fields is not None and "open" not in fields:
        out["fills"] = "next_close"
    if r["exits"]:
        out["exits"] = dict(r["exits"])
    if r.get("regime"):
        out["regime"] = dict(r["regime"])
    return out


def recipe_spec(
    recipe: Mapping[str, Any],
    *,
    dataset: str,
    constraints: Constraints,
    name: str | None = None,
    fields: Sequence[str] | None = None,
) -> StrategySpec:
    """The validated :class:`StrategySpec` a recipe determines (see :func:`spec_dict`).

    Raises
    ------
    SpecError
        The recipe breaks the constraints' kinds, or the spec is invalid.
    """
    return StrategySpec.from_dict(
        spec_dict(recipe, dataset=dataset, constraints=constraints, name=name, fields=fields),
        source="recipe",
    )


def strategy_hash(
    recipe: Mapping[str, Any],
    *,
    dataset: str,
    constraints: Constraints,
    fields: Sequence[str] | None = None,
) -> str:
    """The spec hash of a recipe (``recipe_spec(...).hash``)."""
    return recipe_spec(recipe, dataset=dataset, constraints=constraints, fields=fields).hash


def describe(recipe: Mapping[str, Any]) -> str:
    """A short name: ``mom_skip(126,21)+low_vol(60) top5 monthly``."""
    if _is_template(recipe):
        from alphaloop.research import template_recipes

        return template_recipes.describe(recipe)
    parts = [
        f"{i['template']}({','.join(str(v) for _, v in sorted(i['params'].items()))})"
        for i in recipe["indicators"]
    ] + list(recipe["models"])
    logic = recipe["logic"]
    book = {
        "top_k": lambda: f"top{logic.get('k')}",
        "quantile_long_short": lambda: f"ls{round(100 * logic.get('quantile', 0.2))}",
        "threshold": lambda: f"thr{round(100 * logic.get('entry_long', 0))}",
    }[logic["method"]]()
    gate = recipe.get("regime")
    if gate:
        book += f" {regime_gate_name(gate)}"
    return f"{'+'.join(parts)} {book} {recipe['rebalance']}"[:200]


# ------------------------------------------------------------------ random recipes
def available_families(
    fields: Collection[str],
    constraints: Constraints,
    models: Sequence[str] = (),
    *,
    templates: Collection[str] = (),
    n_assets: int | None = None,
) -> list[str]:
    """Families a recipe can be drawn from: technical ones the fields allow, ``ml`` with
    models, then the strategy templates among ``templates`` that can run here (fields, number
    of assets, side, horizon: :func:`~alphaloop.research.template_families.feasible_template`),
    each a family of its own, by name."""
    technical = "pure_technical" in constraints.kinds or (
        "hybrid_ml" in constraints.kinds and bool(models)
    )
    out = [f for f in FAMILIES if technical and feasible_templates(f, fields)]
    if "pure_ml" in constraints.kinds and models:
        out.append(ML_FAMILY)
    if templates:
        from alphaloop.research.template_families import feasible_template
        from alphaloop.strategies import TEMPLATES

        signal_ok = any(feasible_templates(f, fields) for f in FAMILIES)
        out += [
            t
            for t in sorted(set(templates))
            if t in TEMPLATES
            and feasible_template(
                t, fields, constraints, n_assets=n_assets or None, signal_ok=signal_ok
            )
        ]
    return out


def random_logic(
    rng: np.random.Generator, constraints: Constraints, *, kind: str = "pure_technical"
) -> dict[str, Any]:
    """A portfolio logic the constraints allow (long-only: top-k or threshold; else long-short)."""
    if not constraints.long_only:
        return {"method": "quantile_long_short", "quantile": float(rng.choice(QUANTILES))}
    if kind != "pure_ml" and rng.random() < 0.3:
        entry, exit_ = THRESHOLDS[int(rng.integers(len(THRESHOLDS)))]
        return {"method": "threshold", "entry_long": entry, "exit_long": exit_}
    return {"method": "top_k", "k": int(rng.choice(TOP_K))}


def random_rebalance(rng: np.random.Generator, constraints: Constraints) -> str:
    """The horizon when the goal sets one; else weekly/monthly most often, daily never under a
    turnover limit."""
    if constraints.horizon is not None:
        return constraints.horizon
    choices, weights = list(REBALANCES), [0.1, 0.35, 0.4, 0.15]
    if constraints.max_turnover is not None:
        choices, weights = choices[1:], weights[1:]
    p = np.asarray(weights) / sum(weights)
    return str(choices[int(rng.choice(len(choices), p=p))])


def random_indicator(
    rng: np.random.Generator, family: str, fields: Collection[str]
) -> dict[str, Any]:
    """A random template of ``family`` the fields allow, with random grid parameters."""
    tpls = feasible_templates(family, fields)
    if not tpls:
        raise ValueError(f"no template of family {family!r} fits the fields {sorted(fields)}")
    tpl = tpls[int(rng.integers(len(tpls)))]
    return {"family": family, "template": tpl.name, "params": tpl.random_params(rng)}


def random_recipe(
    rng: np.random.Generator,
    *,
    family: str | None = None,
    constraints: Constraints,
    fields: Collection[str],
    models: Sequence[str] = (),
    n_assets: int | None = None,
    templates: Collection[str] = (),
) -> dict[str, Any]:
    """A random canonical recipe of ``family`` (any available family when None).

    Technical families give one indicator (plus one model, a hybrid, a
    quarter of the time when both kinds are allowed, always when only
    hybrids are); ``ml`` gives one model as the whole signal; a strategy
    template among ``templates`` gives a template recipe
    (:func:`alphaloop.research.template_recipes.random_recipe`).

    Raises
    ------
    GoalError
        No family is available (e.g. only ML kinds allowed and no model).
    ValueError
        ``family`` is not one of the available families.
    """
    families = available_families(
        fields, constraints, models, templates=templates, n_assets=n_assets
    )
    if not families:
        raise GoalError(
            f"no strategy can be drawn: the goal allows {', '.join(constraints.kinds)} "
            f"and {len(models)} model(s) are available for fields {sorted(fields)}",
            hint="train a model first, or allow technical strategies",
        )
    if family is None:
        family = families[int(rng.integers(len(families)))]
    elif family not in families:
        raise ValueError(f"family {family!r} is not available here; available: {families}")
    if family in templates:
        from alphaloop.research import template_recipes

        return template_recipes.random_recipe(
            rng, family, constraints=constraints, fields=fields, n_assets=n_assets
        )
    models = sorted(models)
    if family == ML_FAMILY:
        chosen = [models[int(rng.integers(len(models)))]]
        indicators: list[dict[str, Any]] = []
        kind = "pure_ml"
    else:
        indicators = [random_indicator(rng, family, fields)]
        hybrid_ok = "hybrid_ml" in constraints.kinds and bool(models)
        tech_ok = "pure_technical" in constraints.kinds
        hybrid = hybrid_ok and (not tech_ok or rng.random() < 0.25)
        chosen = [models[int(rng.integers(len(models)))]] if hybrid else []
        kind = "hybrid_ml" if hybrid else "pure_technical"
    recipe = {
        "indicators": indicators,
        "models": chosen,
        "combine": str(rng.choice(COMBINES)) if len(indicators) + len(chosen) > 1 else "equal",
        "logic": random_logic(rng, constraints, kind=kind),
        "weighting": str(rng.choice(WEIGHTINGS)),
        "rebalance": random_rebalance(rng, constraints),
        "exits": None,
    }
    return conform(recipe, constraints, n_assets=n_assets)
