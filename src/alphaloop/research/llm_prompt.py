"""The prompt of the LLM research policy, built from the strategy database's view.

Everything in the prompt comes from a :class:`~alphaloop.research.policy.ResearchView`,
which holds search-span numbers only (no type it is built from has a
holdout field): the goal's constraints, counts and average search Sharpe by
kind, family and logic, the top candidates by search Sharpe with their
recipes, the model versions and their validation IC, the underexplored
families, the indicator and strategy templates with their parameter grids,
and the market's causal regimes over the search span. The text is
deterministic: the same view gives the same prompt,
character for character (sorted keys and rows, fixed number formats), so a
request's cache key is stable and a session replays from its cache.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from alphaloop.research.llm_decision import recipe_draft
from alphaloop.research.policy import Candidate, ResearchView
from alphaloop.research.regime_state import describe_regimes

__all__ = ["SYSTEM_PROMPT", "latest_models", "research_messages", "research_prompt"]

SYSTEM_PROMPT = (
    "You are the strategy agent of a quantitative research system. Each time you are asked, "
    "propose ONE strategy to evaluate next, as a research decision: exploit (improve one of "
    "the top strategies: change a parameter, the logic, the weighting, the rebalancing, or "
    "combine indicators), explore (a family that has been tried little or not at all), or "
    "upgrade (a top strategy with a newer version of its model). Use only the families, "
    "templates, parameter values, models and options listed; a value off its grid is refused. "
    "Every number you are shown comes from the search span, judged with many trials: prefer "
    "robust, economically sensible ideas to chasing the single best figure. Never propose a "
    "strategy already evaluated. Answer with one JSON object matching the schema, nothing else."
)

_TOP_RECIPES = 5  # top candidates whose full recipe (draft form) is shown


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _grouped(history: Sequence[Candidate], key: str) -> list[str]:
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in history:
        groups[str(getattr(c, key))].append(c)
    lines = []
    for name in sorted(groups):
        items = groups[name]
        sharpes = [c.sharpe for c in items if c.sharpe is not None]
        mean = sum(sharpes) / len(sharpes) if sharpes else None
        passed = sum(1 for c in items if c.passed)
        lines.append(
            f"- {name}: {len(items)} evaluated, {len(items) - len(sharpes)} failed, "
            f"{passed} passed the gate, mean search Sharpe {_num(mean)}, "
            f"best {_num(max(sharpes) if sharpes else None)}"
        )
    return lines


def _ranked(history: Iterable[Candidate]) -> list[Candidate]:
    pool = [c for c in history if c.sharpe is not None and c.recipe]
    return sorted(pool, key=lambda c: (-float(c.sharpe or 0.0), c.hash))


def _top(history: Sequence[Candidate], top_n: int) -> list[str]:
    from alphaloop.research.space import describe

    lines = []
    for rank, c in enumerate(_ranked(history)[:top_n], start=1):
        assert c.recipe is not None
        try:
            name = describe(c.recipe)
        except (KeyError, TypeError, ValueError):
            name = c.family
        gate = "passed" if c.passed else ("failed" if c.passed is False else "not gated")
        models = f", models {', '.join(c.models)}" if c.models else ""
        lines.append(
            f"{rank}. {c.hash[:12]} {c.kind}/{c.family}/{c.logic}: {name}; search Sharpe "
            f"{_num(c.sharpe)}, gate {gate}{models}"
        )
        if rank <= _TOP_RECIPES:
            lines.append(f"   recipe: {_json(recipe_draft(c.recipe))}")
    return lines or ["- none yet"]


def _models(view: ResearchView, history: Sequence[Candidate]) -> list[str]:
    newest: dict[str, int] = {}
    for m in view.models:
        newest[m.name] = max(newest.get(m.name, 0), m.version)
    lines = []
    for m in sorted(view.models, key=lambda m: (m.name, m.version)):
        tag = "latest" if m.version == newest[m.name] else f"newer: {m.name}/v{newest[m.name]}"
        users = sum(1 for c in history if m.ref in c.models)
        lines.append(
            f"- {m.ref} ({m.kind or 'model'}, features {m.feature_family or 'n/a'}, "
            f"validation IC {_num(m.valid_ic, 4)}; {tag}; used by {users} candidate(s))"
        )
    return lines or ["- none (signal recipes use indicators only)"]


def latest_models(view: ResearchView) -> list[str]:
    """The newest version (``name/vN``) of each model in the view, sorted."""
    newest: dict[str, Any] = {}
    for m in view.models:
        if m.name not in newest or m.version > newest[m.name].version:
            newest[m.name] = m
    return sorted(m.ref for m in newest.values())


def _families(view: ResearchView, history: Sequence[Candidate]) -> tuple[list[str], list[str]]:
    from alphaloop.research.space import available_families

    latest = latest_models(view)
    families = available_families(
        view.fields,
        view.constraints,
        latest,
        templates=view.templates,
        n_assets=view.n_assets or None,
    )
    counts = {f: 0 for f in families}
    for c in history:
        if c.family in counts:
            counts[c.family] += 1
    under = sorted(families, key=lambda f: (counts[f], f))
    low = [f"- {f}: {counts[f]} candidate(s)" for f in under[:6]]
    return families, low


def _indicator_grids(view: ResearchView, families: Sequence[str]) -> list[str]:
    from alphaloop.research.templates import FAMILIES, feasible_templates
    from alphaloop.strategies import TEMPLATES

    reads = any(TEMPLATES[t].USES_SIGNAL for t in set(view.templates) & set(families))
    lines = []
    for family in FAMILIES:
        if family not in families and not reads:
            continue
        for tpl in feasible_templates(family, view.fields):
            grid = "; ".join(f"{p} in {_json(list(v))}" for p, v in tpl.grid)
            lines.append(f"- {family}/{tpl.name}: {grid}")
    return lines


def _template_grids(view: ResearchView, families: Sequence[str]) -> list[str]:
    from alphaloop.strategies import TEMPLATES

    lines = []
    for name in sorted(set(view.templates) & set(families)):
        cls = TEMPLATES[name]
        grid = "; ".join(f"{p} in {_json(list(v))}" for p, v in sorted(cls.GRID.items()))
        reads = ", reads a signal (give indicators)" if cls.USES_SIGNAL else ""
        book = ", output is a signal (give logic and weighting)" if cls.OUTPUT == "signal" else ""
        lines.append(f"- {name}{reads}{book}: {grid or 'no tunable parameters'}")
    return lines


def _options(view: ResearchView) -> list[str]:
    from alphaloop.research.space import (
        COMBINES,
        QUANTILES,
        REBALANCES,
        REGIME_GATES,
        THRESHOLDS,
        TOP_K,
        WEIGHTINGS,
        regime_gate_name,
    )

    c = view.constraints
    if c.long_only:
        logic = (
            f"top_k with k in {list(TOP_K)}, or threshold with (entry_long, exit_long) in "
            f"{[list(t) for t in THRESHOLDS]}"
        )
    else:
        logic = f"quantile_long_short with quantile in {list(QUANTILES)}"
    rebalance = [c.horizon] if c.horizon else list(REBALANCES)
    return [
        f"- logic: {logic}",
        f"- weighting: {list(WEIGHTINGS)}; combine (2+ components): {list(COMBINES)}",
        f"- rebalance: {rebalance}",
        "- exits: null, or hold_bars in [0, 5, 10, 21] with exit_on_flip true/false",
        "- overlay (strategy templates only): null, or target 0.1 with window 63",
        "- regime (signal recipes only; the book held, halved or flat by the market's causal "
        f"regime): null or one of {[regime_gate_name(g) for g in REGIME_GATES]}",
    ]


def research_prompt(
    view: ResearchView,
    *,
    slot: int = 0,
    n: int = 1,
    made: Sequence[str] = (),
    top_n: int = 10,
) -> str:
    """The user message: the search so far and the task (see the module docstring).

    Parameters
    ----------
    view : ResearchView
        Search-span history, models, goal and templates.
    slot, n : int
        This proposal's place in the batch and the batch size.
    made : sequence of str
        Short descriptions of the proposals already made in this batch.
    top_n : int
        Candidates listed by search Sharpe.
    """
    history = view.history
    families, under = _families(view, history)
    c = view.constraints
    goal = {
        "long_only": c.long_only,
        "kinds": list(c.kinds),
        "horizon": c.horizon,
        "max_turnover": c.max_turnover,
        "max_drawdown": c.max_drawdown,
        "min_sharpe": c.min_sharpe,
        "universe": c.universe,
    }
    evaluated = [x for x in history if x.status != "pending"]
    sections = [
        f"Dataset {view.dataset}: {view.n_assets} assets, fields {', '.join(view.fields)}.",
        f"Goal constraints: {_json(goal)}",
        f"Search so far (search span only): {len(evaluated)} candidates evaluated.",
        "By kind:",
        *(_grouped(evaluated, "kind") or ["- none yet"]),
        "By family:",
        *(_grouped(evaluated, "family") or ["- none yet"]),
        "By logic:",
        *(_grouped(evaluated, "logic") or ["- none yet"]),
        f"Top {top_n} by search Sharpe (hash, type, name, figures; recipes of the first "
        f"{_TOP_RECIPES}):",
        *_top(evaluated, top_n),
        "Underexplored families (fewest candidates first):",
        *under,
        "Market regime of the equal-weight universe (causal labels, search span only):",
        *describe_regimes(view.regime),
        "Model versions:",
        *_models(view, evaluated),
        "Indicator templates (family/template: parameter grids):",
        *_indicator_grids(view, families),
        "Strategy templates (name: parameter grids):",
        *(_template_grids(view, families) or ["- none searched"]),
        "Options:",
        *_options(view),
        f"Already proposed in this batch: {'; '.join(made) if made else 'nothing yet'}.",
        f"Batch {view.batch}, proposal {slot + 1} of {n}: answer with one research decision.",
    ]
    return "\n".join(sections)


def research_messages(
    view: ResearchView,
    *,
    slot: int = 0,
    n: int = 1,
    made: Sequence[str] = (),
    top_n: int = 10,
) -> list[dict[str, str]]:
    """The chat messages of one proposal: :data:`SYSTEM_PROMPT` and :func:`research_prompt`."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": research_prompt(view, slot=slot, n=n, made=made, top_n=top_n),
        },
    ]
