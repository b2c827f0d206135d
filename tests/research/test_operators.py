"""Variation operators: what each changes, grid neighbours, caps, and the constraints kept."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.research.goal import Constraints
from alphaloop.research.operators import (
    MUTATIONS,
    crossover,
    mutate,
    mutation_operators,
    upgrade,
)
from alphaloop.research.space import canonical_recipe, random_recipe
from alphaloop.research.templates import template
from tests.research.search_support import assert_respects

FIELDS = ("close", "high", "low", "volume")
KEYS = {"new_indicator", "new_parameter", "upgraded_model", "crossover", "new_logic", "changed"}


def _recipe(family="momentum", seed=0, c=None, models=()):
    return random_recipe(
        np.random.default_rng(seed),
        family=family,
        constraints=c or Constraints(kinds=("pure_technical",)),
        fields=FIELDS,
        models=models,
    )


@pytest.mark.parametrize("op", MUTATIONS)
def test_each_mutation_changes_what_it_says(op: str) -> None:
    parent = _recipe()
    v = mutate(
        parent,
        np.random.default_rng(1),
        constraints=Constraints(),
        fields=FIELDS,
        operator=op,
        parent="abc",
    )
    assert v.recipe != parent
    assert v.operator == op
    assert v.parents == ("abc",)
    assert set(v.exploration) == KEYS
    assert v.exploration["changed"]
    assert v.exploration["new_parameter"] == (op == "param")
    assert v.exploration["new_logic"] == (
        op in ("logic", "rebalance", "weighting", "exit", "regime")
    )
    touched = {
        "param": "indicators",
        "indicator": "indicators",
        "logic": "logic",
        "rebalance": "rebalance",
        "weighting": "weighting",
        "exit": "exits",
        "regime": "regime",
    }[op]
    for key in parent:
        if key not in (touched, "combine"):
            assert v.recipe[key] == parent[key], key


def test_param_moves_to_a_grid_neighbour() -> None:
    parent = _recipe("trend", seed=4)
    for seed in range(30):
        v = mutate(
            parent,
            np.random.default_rng(seed),
            constraints=Constraints(),
            fields=FIELDS,
            operator="param",
        )
        (old,) = parent["indicators"]
        (new,) = v.recipe["indicators"]
        tpl = template(old["family"], old["template"])
        moved = [p for p in old["params"] if old["params"][p] != new["params"][p]]
        assert len(moved) == 1
        grid = tpl.params[moved[0]]
        i, j = grid.index(old["params"][moved[0]]), grid.index(new["params"][moved[0]])
        assert abs(i - j) == 1
        assert v.exploration["changed"] == [f"indicators[0].params.{moved[0]}"]


def test_mutation_is_deterministic() -> None:
    parent = _recipe()
    a = mutate(parent, np.random.default_rng(9), constraints=Constraints(), fields=FIELDS)
    b = mutate(parent, np.random.default_rng(9), constraints=Constraints(), fields=FIELDS)
    assert a == b


def test_operators_follow_the_constraints() -> None:
    r = _recipe()
    assert "rebalance" not in mutation_operators(r, Constraints(horizon="weekly"), FIELDS)
    ml = _recipe("ml", c=Constraints(), models=("m/v1",))
    assert "param" not in mutation_operators(ml, Constraints(), FIELDS)
    assert "indicator" not in mutation_operators(ml, Constraints(kinds=("pure_ml",)), FIELDS)
    with pytest.raises(ValueError, match="cannot change"):
        mutate(
            ml, np.random.default_rng(0), constraints=Constraints(), fields=FIELDS, operator="param"
        )


def test_crossover_combines_deduplicates_and_caps() -> None:
    c = Constraints(kinds=("pure_technical",))
    a, b = _recipe("momentum", 1), _recipe("volatility", 2)
    v = crossover(a, b, np.random.default_rng(0), constraints=c, parents=("a", "b"), mode="signal")
    assert v.parents == ("a", "b")
    assert v.exploration["crossover"]
    assert not v.exploration["new_indicator"]
    assert {
        canonical_recipe({"indicators": [i]})["indicators"][0]["family"]
        for i in v.recipe["indicators"]
    } == {"momentum", "volatility"}
    assert v.recipe["logic"] == a["logic"]
    big_a = {
        **a,
        "indicators": a["indicators"]
        + _recipe("trend", 3)["indicators"]
        + _recipe("quality", 4)["indicators"],
    }
    big_b = {**b, "indicators": b["indicators"] + _recipe("breakout", 5)["indicators"]}
    for seed in range(10):
        v = crossover(big_a, big_b, np.random.default_rng(seed), constraints=c, mode="signal")
        inds = v.recipe["indicators"]
        assert len(inds) == 4
        assert len({str(i) for i in inds}) == 4
        assert any(i in canonical_recipe(big_a)["indicators"] for i in inds)
        assert any(i in canonical_recipe(big_b)["indicators"] for i in inds)
    same = crossover(a, a, np.random.default_rng(0), constraints=c, mode="signal")
    assert same.recipe == a  # nothing to combine and nothing to swap


def test_crossover_logic_swaps_the_book() -> None:
    c = Constraints(kinds=("pure_technical",))
    a, b = _recipe("momentum", 1), _recipe("volatility", 6)
    v = crossover(a, b, np.random.default_rng(0), constraints=c, mode="logic")
    assert v.recipe["indicators"] == a["indicators"]
    for key in ("logic", "weighting", "rebalance", "exits"):
        assert v.recipe[key] == b[key]
    assert v.exploration["new_logic"]
    assert v.exploration["crossover"]


def test_upgrade_replaces_old_model_versions() -> None:
    r = _recipe("momentum", c=Constraints(kinds=("hybrid_ml",)), models=("lgbm/v1",))
    assert r["models"] == ["lgbm/v1"]
    v = upgrade(r, {"lgbm/v1": "lgbm/v3"}, parent="p")
    assert v is not None
    assert v.recipe["models"] == ["lgbm/v3"]
    assert v.exploration["upgraded_model"]
    assert v.exploration["changed"] == ["models[0]"]
    assert v.operator == "upgrade"
    assert v.parents == ("p",)
    assert upgrade(r, {"ridge/v1": "ridge/v2"}) is None


@given(
    seed=st.integers(0, 10_000),
    long_only=st.booleans(),
    horizon=st.sampled_from([None, "weekly", "monthly"]),
    turnover=st.sampled_from([None, 2.0]),
    kinds=st.sampled_from(
        [("pure_technical",), ("hybrid_ml",), ("pure_technical", "hybrid_ml", "pure_ml")]
    ),
)
def test_children_respect_constraints(seed, long_only, horizon, turnover, kinds) -> None:
    c = Constraints(long_only=long_only, horizon=horizon, max_turnover=turnover, kinds=kinds)
    rng = np.random.default_rng(seed)
    models = ("a/v1", "b/v2")
    a = random_recipe(rng, constraints=c, fields=FIELDS, models=models)
    b = random_recipe(rng, constraints=c, fields=FIELDS, models=models)
    for _ in range(3):
        a = mutate(a, rng, constraints=c, fields=FIELDS).recipe
        assert_respects(a, c)
    child = crossover(a, b, rng, constraints=c).recipe
    assert_respects(child, c)
