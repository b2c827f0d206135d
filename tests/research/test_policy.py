"""The bandit policy: deterministic, never repeats, keeps to the goal, learns from outcomes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.research.goal import Constraints
from alphaloop.research.policy import (
    BanditPolicy,
    Candidate,
    ModelInfo,
    Policy,
    Proposal,
    ResearchView,
)
from alphaloop.research.space import available_families, classify
from tests.research.search_support import assert_respects, hasher, simulate

FIELDS = ("close",)


def _view(history=(), *, constraints=None, models=(), seen=None, batch=0) -> ResearchView:
    history = tuple(history)
    return ResearchView(
        "d",
        FIELDS,
        20,
        constraints or Constraints(),
        history,
        tuple(models),
        batch,
        frozenset(c.hash for c in history) if seen is None else seen,
    )


def _flat(outcome_batches):
    return [p for batch in outcome_batches for p in batch]


def _momentum_wins(recipe, parent, ordinal):
    good = any(i["family"] == "momentum" for i in recipe["indicators"])
    return 1.0 + 0.01 * ordinal if good else -0.5 - 0.01 * ordinal


def test_candidate_and_view_have_no_holdout_fields() -> None:
    for cls in (Candidate, ResearchView, Proposal, ModelInfo):
        names = [f.name for f in dataclasses.fields(cls)]
        assert not any("holdout" in n or "test" in n for n in names), (cls, names)
    assert isinstance(BanditPolicy(), Policy)


def test_first_batch_seeds_one_recipe_per_family() -> None:
    view = _view()
    families = available_families(FIELDS, view.constraints)
    props = BanditPolicy(hasher=hasher).propose(view, len(families) + 3, np.random.default_rng(0))
    assert len(props) == len(families) + 3
    assert all(p.action == "seed" for p in props)
    seeded = [classify(p.recipe)[1] for p in props[: len(families)]]
    assert sorted(seeded) == sorted(families)
    assert all(p.rationale.startswith("seed:") for p in props)
    assert all(p.context["arm"].startswith("explore/") for p in props)


def test_same_seed_same_proposals() -> None:
    a = simulate(_momentum_wins, batches=4, seed=3)
    b = simulate(_momentum_wins, batches=4, seed=3)
    assert [[(p.recipe, p.rationale, p.parents) for p in x] for x in a] == [
        [(p.recipe, p.rationale, p.parents) for p in x] for x in b
    ]
    c = simulate(_momentum_wins, batches=4, seed=4)
    assert [p.recipe for p in _flat(a)] != [p.recipe for p in _flat(c)]


def test_never_proposes_seen_or_repeated_hashes() -> None:
    batches = simulate(_momentum_wins, batches=6, size=10, seed=1)
    hashes = [hasher(p.recipe, _view()) for p in _flat(batches)]
    assert len(hashes) == len(set(hashes))  # across batches: history is seen
    view = _view()
    first = BanditPolicy(hasher=hasher).propose(view, 5, np.random.default_rng(0))
    seen = frozenset(hasher(p.recipe, view) for p in first)
    again = BanditPolicy(hasher=hasher).propose(_view(seen=seen), 5, np.random.default_rng(0))
    assert not seen & {hasher(p.recipe, view) for p in again}


def test_smaller_batch_when_the_space_is_exhausted() -> None:
    # a hasher that maps every recipe to one hash: one proposal, then none once it is seen
    one = BanditPolicy(hasher=lambda r, v: "same", max_tries=5)
    assert len(one.propose(_view(), 4, np.random.default_rng(0))) == 1
    assert one.propose(_view(seen=frozenset({"same"})), 4, np.random.default_rng(0)) == []


def test_bandit_shifts_toward_the_family_that_succeeds() -> None:
    batches = simulate(_momentum_wins, batches=8, size=8, seed=0)

    def share(batch):
        return np.mean(
            [any(i["family"] == "momentum" for i in p.recipe["indicators"]) for p in batch]
        )

    early, late = share(batches[0]), np.mean([share(b) for b in batches[-3:]])
    assert early <= 0.25
    assert late >= 0.6
    exploit = [p for p in _flat(batches[-3:]) if p.action == "exploit"]
    assert exploit
    assert any("posterior mean" in p.rationale for p in exploit)
    # and toward nothing when no family is better: the share stays low
    flat = simulate(lambda r, p, i: float(np.sin(i)), batches=8, size=8, seed=0)
    assert np.mean([share(b) for b in flat[-3:]]) < late


def test_rationale_and_context_say_why() -> None:
    batches = simulate(_momentum_wins, batches=3, size=8, seed=2)
    for p in _flat(batches[1:]):
        assert p.action in ("exploit", "explore", "upgrade")
        assert p.rationale.startswith(p.action + ":")
        assert p.context["arm"].split("/")[0] == p.action
        assert p.context["arm"] in p.context["posterior"]
        if p.action == "exploit":
            assert "search Sharpe" in p.rationale
            assert p.parents
        if p.action == "explore":
            assert "least-explored" in p.rationale


def test_upgrade_only_when_a_newer_version_exists() -> None:
    c = Constraints(kinds=("hybrid_ml",))
    v1 = ModelInfo("lgbm/v1", "lgbm", 1)
    old = simulate(_momentum_wins, constraints=c, batches=3, models=(v1,))
    assert all(p.action != "upgrade" for p in _flat(old))
    v2 = ModelInfo("lgbm/v2", "lgbm", 2)
    history = []
    for p in _flat(old):
        kind, fam, logic = classify(p.recipe)
        history.append(
            Candidate(
                hasher(p.recipe, _view()),
                p.recipe,
                kind,
                fam,
                logic,
                tuple(p.recipe["models"]),
                "ok",
                0.5,
                None,
                0,
                p.action,
                p.context["arm"],
                p.parents,
            )
        )
    view = _view(history, constraints=c, models=(v1, v2), batch=3)
    props = BanditPolicy(hasher=hasher).propose(view, 40, np.random.default_rng(0))
    upgrades = [p for p in props if p.action == "upgrade"]
    assert upgrades
    for p in upgrades:
        assert p.recipe["models"] == ["lgbm/v2"]
        assert p.exploration["upgraded_model"]
        assert "lgbm/v1 -> lgbm/v2" in p.rationale
    # new recipes use the newest version
    assert all("lgbm/v1" not in p.recipe["models"] for p in props if p.action == "explore")


@settings(max_examples=15)
@given(
    seed=st.integers(0, 1000),
    long_only=st.booleans(),
    horizon=st.sampled_from([None, "weekly", "quarterly"]),
    kinds=st.sampled_from([("pure_technical",), ("pure_technical", "hybrid_ml", "pure_ml")]),
)
def test_every_proposal_respects_the_constraints(seed, long_only, horizon, kinds) -> None:
    c = Constraints(long_only=long_only, horizon=horizon, kinds=kinds, max_turnover=3.0)
    models = (ModelInfo("m/v1", "m", 1),)
    for p in _flat(
        simulate(_momentum_wins, constraints=c, batches=3, size=6, seed=seed, models=models)
    ):
        assert_respects(p.recipe, c)


def test_failed_candidates_are_never_parents() -> None:
    def fail_momentum(recipe, parent, ordinal):
        return (
            None
            if recipe["indicators"] and recipe["indicators"][0]["family"] == "momentum"
            else 0.1 * (ordinal % 5)
        )

    batches = simulate(fail_momentum, batches=4, size=8, seed=5)
    for p in _flat(batches[1:]):
        if p.action == "exploit":
            assert not p.context["arm"].endswith("/momentum")


@pytest.mark.parametrize("n", [0, 1])
def test_small_batches(n: int) -> None:
    assert len(BanditPolicy(hasher=hasher).propose(_view(), n, np.random.default_rng(0))) == n
