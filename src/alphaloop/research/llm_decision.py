"""What a language model answers when it proposes a research candidate, and how code reads it.

:class:`ResearchDecision` is the answer model of the LLM research policy:
a decision (``exploit``, ``explore`` or ``upgrade``), a rationale, the
strategy it builds on (for an exploit or an upgrade) and a
:class:`RecipeDraft`: a typed, portable description of a research recipe
(every field in the JSON Schema subset of :func:`alphaloop.llm.portable_schema`;
parameters are a list of name/value pairs, since a free-form mapping has no
portable schema).

:func:`draft_recipe` turns a draft into a canonical recipe
(:mod:`alphaloop.research.space`) made consistent with the goal's
:class:`~alphaloop.research.goal.Constraints`, or raises
:class:`DraftError` with every reason it was refused (an unknown family,
template, parameter or model, a value off its grid, a kind the goal does
not allow). A model's text is data only: names are looked up in the
registered templates and models, values checked against their grids; no
part of it becomes an expression, code or a command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.errors import SpecError
from alphaloop.research.goal import Constraints

__all__ = [
    "DraftError",
    "ExitsDraft",
    "IndicatorDraft",
    "LogicDraft",
    "OverlayDraft",
    "ParamValue",
    "RecipeDraft",
    "ResearchDecision",
    "draft_recipe",
    "recipe_draft",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ParamValue(BaseModel):
    """One parameter: its name and a value on its grid."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=64, description="Parameter name.")
    value: bool | int | float | str = Field(description="A value from the parameter's grid.")


class IndicatorDraft(BaseModel):
    """One indicator: a template of an indicator family with its parameters."""

    model_config = _STRICT

    family: str = Field(min_length=1, max_length=64, description="Indicator family.")
    template: str = Field(min_length=1, max_length=64, description="Template of that family.")
    params: list[ParamValue] = Field(
        max_length=8, description="Every parameter of the template, each on its grid."
    )


class LogicDraft(BaseModel):
    """How signals become positions; set only the fields of the chosen method."""

    model_config = _STRICT

    method: Literal["top_k", "quantile_long_short", "threshold"]
    k: int | None = Field(None, description="top_k: assets held.")
    quantile: float | None = Field(None, description="quantile_long_short: share of each side.")
    entry_long: float | None = Field(None, description="threshold: rank percentile to enter.")
    exit_long: float | None = Field(None, description="threshold: rank percentile to exit.")


class ExitsDraft(BaseModel):
    """Exit rules on top of the rebalancing."""

    model_config = _STRICT

    hold_bars: int = Field(ge=0, le=252, description="Minimum holding period in bars (0: none).")
    exit_on_flip: bool = Field(description="Exit when the signal changes sign.")


class OverlayDraft(BaseModel):
    """A volatility-target overlay of a strategy template."""

    model_config = _STRICT

    target: float = Field(gt=0, le=1, description="Annualized volatility target.")
    window: int = Field(ge=5, le=252, description="Window of the volatility estimate in bars.")


class RecipeDraft(BaseModel):
    """A research recipe: either indicators and/or models as the signal, or a strategy template."""

    model_config = _STRICT

    strategy_template: str | None = Field(
        None, max_length=64, description="A strategy template's name, or null for a signal recipe."
    )
    template_params: list[ParamValue] = Field(
        default_factory=list, max_length=16, description="The strategy template's parameters."
    )
    indicators: list[IndicatorDraft] = Field(default_factory=list, max_length=4)
    models: list[str] = Field(
        default_factory=list, max_length=4, description="Model versions (name/vN) in the signal."
    )
    combine: Literal["equal", "ic", "mean_variance"] = Field(
        "equal", description="How two or more signal components are combined."
    )
    logic: LogicDraft | None = None
    weighting: Literal["equal", "inverse_volatility"] = "equal"
    rebalance: Literal["daily", "weekly", "monthly", "quarterly"] | None = None
    exits: ExitsDraft | None = None
    overlay: OverlayDraft | None = None
    regime: (
        Literal["volatility[calm]", "volatility[turbulentx0.5]", "trend[up]", "trend[downx0.5]"]
        | None
    ) = Field(
        None,
        description="A gate of a signal recipe's book by the market regime (causal), or null.",
    )


class ResearchDecision(BaseModel):
    """The LLM research policy's answer: one candidate to evaluate next, and why."""

    model_config = _STRICT

    decision: Literal["exploit", "explore", "upgrade"] = Field(
        description="exploit: improve a top strategy; explore: an underexplored family; "
        "upgrade: a top strategy with a newer model version."
    )
    rationale: str = Field(min_length=1, max_length=1500, description="Why, in a few sentences.")
    parent: str | None = Field(
        None,
        max_length=64,
        description="Hash (or its first 8+ characters) of the strategy this builds on; "
        "null for explore.",
    )
    recipe: RecipeDraft


class DraftError(ValueError):
    """A draft that cannot become a recipe; ``reasons`` lists every problem found."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


def _params(items: Sequence[ParamValue], where: str, problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in items:
        if p.name in out:
            problems.append(f"{where}: parameter {p.name!r} given twice")
        out[p.name] = p.value
    return out


def _logic(draft: LogicDraft | None) -> dict[str, Any] | None:
    if draft is None:
        return None
    keys = {
        "top_k": ("k",),
        "quantile_long_short": ("quantile",),
        "threshold": ("entry_long", "exit_long"),
    }[draft.method]
    out: dict[str, Any] = {"method": draft.method}
    for key in keys:
        value = getattr(draft, key)
        if value is None:
            raise DraftError([f"logic {draft.method} needs {key}"])
        out[key] = value
    return out


def _indicators(
    drafts: Sequence[IndicatorDraft], fields: Sequence[str], problems: list[str]
) -> list[dict[str, Any]]:
    from alphaloop.research.templates import FAMILIES, feasible_templates, template

    out = []
    for d in drafts:
        where = f"indicator {d.family}/{d.template}"
        if d.family not in FAMILIES:
            problems.append(f"unknown indicator family {d.family!r}; known: {', '.join(FAMILIES)}")
            continue
        try:
            tpl = template(d.family, d.template)
        except ValueError:
            names = ", ".join(t.name for t in FAMILIES[d.family])
            problems.append(f"{where}: no such template; {d.family} has {names}")
            continue
        if fields and tpl not in feasible_templates(d.family, fields):
            problems.append(f"{where}: needs fields {', '.join(tpl.fields)} the data lacks")
            continue
        params = _params(d.params, where, problems)
        try:
            out.append({"family": d.family, "template": d.template, "params": tpl.check(params)})
        except (ValueError, TypeError) as exc:
            problems.append(str(exc))
    return out


def draft_recipe(
    draft: RecipeDraft,
    *,
    constraints: Constraints,
    fields: Sequence[str],
    models: Sequence[str],
    templates: Sequence[str],
    n_assets: int | None = None,
) -> dict[str, Any]:
    """The canonical recipe of ``draft``, conformed to ``constraints``.

    Parameters
    ----------
    draft : RecipeDraft
    constraints : Constraints
        The goal's; the recipe is made consistent with them
        (:func:`alphaloop.research.space.conform`).
    fields : sequence of str
        The dataset's fields (an indicator must read only these).
    models : sequence of str
        Model versions (``name/vN``) the session may use.
    templates : sequence of str
        Strategy templates the session searches.
    n_assets : int, optional

    Raises
    ------
    DraftError
        With every reason the draft was refused.
    """
    from alphaloop.research.space import available_families, classify, conform

    problems: list[str] = []
    unknown = [m for m in draft.models if m not in models]
    if unknown:
        known = ", ".join(models) or "none"
        problems.append(f"unknown model version(s) {', '.join(unknown)}; available: {known}")
    indicators = _indicators(draft.indicators, fields, problems)
    try:
        logic = _logic(draft.logic)
    except DraftError as exc:
        problems.extend(exc.reasons)
        logic = None
    recipe: dict[str, Any] = {
        "indicators": indicators,
        "models": list(draft.models),
        "combine": draft.combine,
        "weighting": draft.weighting,
        "exits": draft.exits.model_dump() if draft.exits else None,
    }
    if logic is not None:
        recipe["logic"] = logic
    if draft.strategy_template is not None:
        name = draft.strategy_template
        if name not in templates:
            problems.append(
                f"strategy template {name!r} is not searched here; "
                f"available: {', '.join(templates) or 'none'}"
            )
        params = _params(draft.template_params, f"template {name}", problems)
        recipe["strategy"] = {"template": name, "params": params}
        recipe["overlay"] = draft.overlay.model_dump() if draft.overlay else None
        recipe["rebalance"] = draft.rebalance
        if draft.regime is not None:
            problems.append("regime gates apply to signal recipes (indicators or models) only")
    else:
        if draft.template_params or draft.overlay:
            problems.append("template_params and overlay need a strategy_template")
        if draft.regime is not None:
            recipe["regime"] = _gate(draft.regime)
        if not indicators and not draft.models and not problems:
            problems.append("a signal recipe needs at least one indicator or model")
        recipe["rebalance"] = draft.rebalance or "monthly"
    if problems:
        raise DraftError(problems)
    try:
        out = conform(recipe, constraints, n_assets=n_assets)
    except (SpecError, ValueError, TypeError, KeyError) as exc:
        raise DraftError([str(exc)]) from None
    family = classify(out)[1]
    families = available_families(
        fields, constraints, models, templates=templates, n_assets=n_assets
    )
    own = {i["family"] for i in out["indicators"]}
    if family not in families and not (family == "composite" and own <= set(families)):
        raise DraftError(
            [f"family {family!r} is not available here; available: {', '.join(families)}"]
        )
    return out


def _gate(name: str) -> dict[str, Any]:
    """The regime gate of a draft's ``regime`` name."""
    from alphaloop.research.space import REGIME_GATES, regime_gate_name

    return next(dict(g) for g in REGIME_GATES if regime_gate_name(g) == name)


def recipe_draft(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The draft form (JSON) of a canonical recipe: what the prompt shows a model to edit."""
    strategy = recipe.get("strategy")
    logic = recipe.get("logic")
    out: dict[str, Any] = {
        "strategy_template": strategy["template"] if strategy else None,
        "template_params": [
            {"name": k, "value": v} for k, v in sorted((strategy or {}).get("params", {}).items())
        ],
        "indicators": [
            {
                "family": i["family"],
                "template": i["template"],
                "params": [{"name": k, "value": v} for k, v in sorted(i["params"].items())],
            }
            for i in recipe.get("indicators") or ()
        ],
        "models": list(recipe.get("models") or ()),
        "combine": recipe.get("combine", "equal"),
        "logic": None
        if not logic
        else {
            "method": logic["method"],
            **{k: logic.get(k) for k in ("k", "quantile", "entry_long", "exit_long")},
        },
        "weighting": recipe.get("weighting", "equal"),
        "rebalance": recipe.get("rebalance"),
        "exits": recipe.get("exits"),
        "overlay": recipe.get("overlay"),
    }
    if recipe.get("regime"):
        from alphaloop.research.space import regime_gate_name

        out["regime"] = regime_gate_name(recipe["regime"])
    return out
