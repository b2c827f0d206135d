"""Shared pieces of the search-core tests: spec checks that hold before and after the
composite-signal fields exist, and a simulated evaluation loop for the policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from alphaloop.backtest.spec import Signal, StrategySpec
from alphaloop.research.goal import Constraints
from alphaloop.research.policy import BanditPolicy, Candidate, ModelInfo, ResearchView
from alphaloop.research.space import classify, recipe_key, recipe_spec, spec_dict

#: whether Signal.components / StrategySpec.exits exist (they arrive with composite signals)
COMPOSITE = "components" in Signal.model_fields
EXITS = "exits" in StrategySpec.model_fields


def needs_unmerged(recipe: Mapping[str, Any]) -> bool:
    """Whether the recipe's spec uses fields this StrategySpec does not have yet."""
    composite = len(recipe["indicators"]) + len(recipe["models"]) > 1
    return (composite and not COMPOSITE) or (bool(recipe["exits"]) and not EXITS)


def hasher(recipe: Mapping[str, Any], view: ResearchView) -> str:
    """The spec hash when the spec can be built here; else the canonical recipe key."""
    if needs_unmerged(recipe):
        return "recipe:" + recipe_key(recipe)
    return recipe_spec(recipe, dataset=view.dataset, constraints=view.constraints).hash


def assert_respects(
    recipe: Mapping[str, Any], constraints: Constraints, dataset: str = "d"
) -> None:
    """The recipe's spec (dict, and validated spec when possible) keeps to the constraints."""
    kind, _, _ = classify(recipe)
    assert kind in constraints.kinds
    d = spec_dict(recipe, dataset=dataset, constraints=constraints)
    method = d["portfolio"]["method"]
    if constraints.long_only:
        assert method in ("top_k", "threshold")
        assert d["limits"]["allow_short"] is False
        assert "entry_short" not in d["portfolio"]
    else:
        assert method == "quantile_long_short"
        assert d["limits"]["allow_short"] is True
    if constraints.horizon is not None:
        assert d["rebalance"]["frequency"] == constraints.horizon
    elif constraints.max_turnover is not None:
        assert d["rebalance"]["frequency"] != "daily"
    assert d["universe"] == constraints.universe
    assert d["portfolio"]["gross"] == 1.0
    assert d["limits"]["max_leverage"] == 1.0
    n = len(recipe["indicators"]) + len(recipe["models"])
    assert 1 <= n <= 4
    if not needs_unmerged(recipe):
        spec = StrategySpec.from_dict(d)
        assert spec.portfolio.shorts == (not constraints.long_only)


def simulate(
    outcome: Callable[[dict[str, Any], Candidate | None, int], float | None],
    *,
    constraints: Constraints | None = None,
    batches: int = 6,
    size: int = 8,
    seed: int = 0,
    models: tuple[ModelInfo, ...] = (),
    fields: tuple[str, ...] = ("close",),
    policy: BanditPolicy | None = None,
) -> list[list[Any]]:
    """Run the policy for ``batches`` batches, scoring each proposal with ``outcome``
    (recipe, first parent or None, ordinal) -> search Sharpe; the proposals per batch."""
    policy = policy or BanditPolicy(hasher=hasher)
    constraints = constraints or Constraints()
    history: list[Candidate] = []
    out = []
    ordinal = 0
    for b in range(batches):
        view = ResearchView(
            "d",
            fields,
            20,
            constraints,
            tuple(history),
            models,
            b,
            frozenset(c.hash for c in history),
        )
        proposals = policy.propose(view, size, np.random.default_rng([seed, b]))
        by_hash = {c.hash: c for c in history}
        for p in proposals:
            ordinal += 1
            parent = by_hash.get(p.parents[0]) if p.parents else None
            sharpe = outcome(p.recipe, parent, ordinal)
            kind, family, logic = classify(p.recipe)
            history.append(
                Candidate(
                    hasher(p.recipe, view),
                    p.recipe,
                    kind,
                    family,
                    logic,
                    tuple(p.recipe["models"]),
                    "ok" if sharpe is not None else "failed",
                    sharpe,
                    None,
                    b,
                    p.action,
                    p.context["arm"],
                    p.parents,
                )
            )
        out.append(proposals)
    return out
