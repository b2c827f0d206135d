"""The alpha pool: least-squares weights on training rows, decisions on validation rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alphaloop.errors import MiningError
from alphaloop.factors.mining import pool as pool_module
from alphaloop.factors.mining.folds import make_folds
from alphaloop.factors.mining.pool import AlphaPool
from alphaloop.factors.mining.scoring import ICScorer

T, N = 500, 40
PLAN = make_folds(T, 1, warmup=10, n_folds=5, n_valid=2)


def world(seed: int = 0):
    """A label driven by three independent signals of falling strength, plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(3, T, N))
    label = 0.6 * z[0] + 0.4 * z[1] + 0.25 * z[2] + rng.normal(size=(T, N))
    label[rng.random((T, N)) < 0.05] = np.nan
    members = rng.random((T, N)) < 0.95
    factors = {"strong": z[0], "medium": z[1], "weak": z[2]}
    for values in factors.values():
        values[rng.random((T, N)) < 0.05] = np.nan
    return label, members, factors, rng


def setup(seed: int = 0, capacity: int = 5):
    label, members, factors, rng = world(seed)
    scorer = ICScorer(label, members, PLAN)
    ranked = {key: scorer.ranked(values) for key, values in factors.items()}
    return scorer, AlphaPool(scorer, capacity), ranked, label, rng


def test_a_planted_factor_enters_an_empty_pool() -> None:
    scorer, pool, ranked, _, _ = setup()
    assert pool.valid_ic() == 0.0
    decision = pool.try_add("strong", "$strong", ranked["strong"])
    assert decision.admitted
    assert decision.replaced is None
    assert decision.previous_valid_ic == 0.0
    assert decision.pool_valid_ic > 0.3
    assert decision.gain == pytest.approx(decision.pool_valid_ic)
    (member,) = pool.members
    assert member.key == "strong"
    assert member.expression == "$strong"
    assert member.weight > 0
    # one member with a positive weight: the pool's IC is the member's own
    assert member.valid_ic == pytest.approx(pool.valid_ic(), abs=1e-12)
    assert member.marginal == pytest.approx(pool.valid_ic(), abs=1e-12)
    valid = scorer.daily_ic(ranked["strong"])[PLAN.valid_rows()]
    assert pool.valid_ic() == pytest.approx(np.nanmean(valid), abs=1e-12)


def test_a_second_independent_signal_raises_the_pool_ic() -> None:
    _, pool, ranked, _, _ = setup()
    pool.try_add("strong", "$strong", ranked["strong"])
    first = pool.valid_ic()
    decision = pool.try_add("medium", "$medium", ranked["medium"])
    assert decision.admitted
    assert pool.valid_ic() > first + 0.02
    by_key = {m.key: m for m in pool.members}
    assert [m.key for m in pool.members] == ["strong", "medium"]  # largest marginal first
    # a member's marginal is the pool IC minus the IC of the other one alone
    assert by_key["strong"].marginal == pytest.approx(
        pool.valid_ic() - by_key["medium"].valid_ic, abs=1e-12
    )
    assert by_key["strong"].weight > by_key["medium"].weight > 0


def test_a_duplicate_of_a_member_does_not_enter() -> None:
    _, pool, ranked, _, rng = setup()
    pool.try_add("strong", "$strong", ranked["strong"])
    before = pool.valid_ic()
    again = pool.try_add("strong", "$strong", ranked["strong"])
    assert not again.admitted
    copy = pool.try_add("copy", "Mul($strong, 2)", ranked["strong"].copy())
    assert not copy.admitted
    nearly = ranked["strong"] + np.float32(1e-3) * rng.normal(size=(T, N)).astype(np.float32)
    near = pool.try_add("near", "Add($strong, 0.001)", nearly)
    assert not near.admitted
    assert near.pool_valid_ic == before
    assert [m.key for m in pool.members] == ["strong"]
    assert pool.valid_ic() == before


def test_a_full_pool_replaces_its_weakest_member() -> None:
    _, pool, ranked, _, _ = setup(capacity=2)
    assert pool.try_add("weak", "$weak", ranked["weak"]).admitted
    assert pool.try_add("medium", "$medium", ranked["medium"]).admitted
    before = pool.valid_ic()
    decision = pool.try_add("strong", "$strong", ranked["strong"])
    assert decision.admitted
    assert decision.replaced == "weak"
    assert decision.pool_valid_ic > before + 0.001
    assert sorted(m.key for m in pool.members) == ["medium", "strong"]
    assert len(pool) == 2


def test_a_full_pool_keeps_the_weakest_candidate_out() -> None:
    _, pool, ranked, _, _ = setup(capacity=2)
    pool.try_add("strong", "$strong", ranked["strong"])
    pool.try_add("medium", "$medium", ranked["medium"])
    before = pool.valid_ic()
    decision = pool.try_add("weak", "$weak", ranked["weak"])
    assert not decision.admitted
    assert decision.replaced is None
    assert pool.valid_ic() == before
    assert sorted(m.key for m in pool.members) == ["medium", "strong"]


def test_validation_rows_decide_not_training_rows() -> None:
    scorer, pool, ranked, label, rng = setup()
    pool.try_add("medium", "$medium", ranked["medium"])
    before = pool.valid_ic()
    # perfect on training rows, pure noise on validation rows
    cheat = rng.normal(size=(T, N))
    train = PLAN.train_rows()
    cheat[train] = label[train]
    score = scorer.score(cheat)
    assert score.ic > 0.95
    assert abs(score.valid_mean) < 0.03
    decision = pool.try_add("cheat", "$cheat", scorer.ranked(cheat))
    assert not decision.admitted
    assert pool.valid_ic() == before
    assert [m.key for m in pool.members] == ["medium"]


def test_weights_are_least_squares_on_training_cells_only() -> None:
    scorer, pool, ranked, label, rng = setup()
    pool.try_add("strong", "$strong", ranked["strong"])
    pool.try_add("medium", "$medium", ranked["medium"])
    rows = PLAN.train_rows()
    y = scorer.label_ranked[rows].astype(np.float64)
    cells = np.isfinite(y)
    x = np.column_stack(
        [np.nan_to_num(ranked[k][rows].astype(np.float64))[cells] for k in ("strong", "medium")]
    )
    expected = np.linalg.lstsq(x, y[cells], rcond=None)[0]
    weights = {m.key: m.weight for m in pool.members}
    np.testing.assert_allclose([weights["strong"], weights["medium"]], expected, rtol=1e-4)
    # changing the label on validation rows leaves the weights alone
    shifted = label.copy()
    shifted[PLAN.valid_rows()] += 0.5 * rng.normal(size=(PLAN.valid_rows().size, N))
    other = AlphaPool(ICScorer(shifted, scorer._members, PLAN), 5)
    assert other.try_add("strong", "$strong", ranked["strong"]).admitted
    assert other.try_add("medium", "$medium", ranked["medium"]).admitted
    assert other.valid_ic() != pool.valid_ic()
    assert {m.key: m.weight for m in other.members} == weights


def test_combined_daily_ic_lives_on_the_chosen_rows() -> None:
    _, pool, ranked, _, _ = setup()
    pool.try_add("strong", "$strong", ranked["strong"])
    pool.try_add("medium", "$medium", ranked["medium"])
    valid, train = PLAN.valid_rows(), PLAN.train_rows()
    daily = pool.combined()
    assert np.isnan(np.delete(daily, valid)).all()
    assert np.nanmean(daily[valid]) == pytest.approx(pool.valid_ic(), abs=1e-12)
    in_sample = pool.combined("train")
    assert np.isnan(np.delete(in_sample, train)).all()
    assert np.nanmean(in_sample[train]) == pytest.approx(pool.train_ic(), abs=1e-12)
    both = pool.combined("all")
    np.testing.assert_array_equal(both[valid], daily[valid])
    with pytest.raises(MiningError, match="rows must be"):
        pool.combined("holdout")  # type: ignore[arg-type]


def test_the_pool_never_reads_rows_outside_the_folds() -> None:
    def run(label, arrays):
        scorer = ICScorer(label, members, PLAN)
        pool = AlphaPool(scorer, 2)
        decisions = [pool.try_add(key, key, arrays[key]) for key in ("weak", "medium", "strong")]
        return decisions, pool.members, pool.combined("all"), pool.train_ic()

    label, members, factors, rng = world(3)
    scorer = ICScorer(label, members, PLAN)
    clean = {key: scorer.ranked(values) for key, values in factors.items()}
    outside = np.setdiff1d(np.arange(T), np.concatenate([PLAN.train_rows(), PLAN.valid_rows()]))
    assert outside.size >= 10 + 2 + 2  # warmup, purged rows, unlabelled tail
    dirty_label = label.copy()
    dirty_label[outside] = rng.normal(size=(outside.size, N)) * 1e6
    dirty = {}
    for key, values in clean.items():
        garbage = values.copy()
        garbage[outside] = np.where(rng.random((outside.size, N)) < 0.3, np.nan, 1e30)
        dirty[key] = garbage
    a, b = run(label, clean), run(dirty_label, dirty)
    assert a[0] == b[0]
    assert a[1] == b[1]
    np.testing.assert_array_equal(a[2], b[2])
    assert a[3] == b[3]
    assert a[0][2].replaced == "weak"  # the runs did something


def test_state_rebuilds_the_pool() -> None:
    scorer, pool, ranked, _, _ = setup(capacity=2)
    for key in ("weak", "medium", "strong"):
        pool.try_add(key, f"${key}", ranked[key])
    state = json.loads(json.dumps(pool.state(), allow_nan=False))
    assert [m["key"] for m in state["members"]] == ["medium", "strong"]
    restored = AlphaPool.from_state(state, scorer, ranked)
    assert restored.members == pool.members
    assert restored.valid_ic() == pool.valid_ic()
    assert restored.capacity == 2
    via_callback = AlphaPool.from_state(state, scorer, lambda key, expression: ranked[key])
    assert via_callback.members == pool.members
    # the rebuilt pool goes on deciding like the original
    assert not restored.try_add("weak", "$weak", ranked["weak"]).admitted


def test_state_that_does_not_match_the_run_is_refused() -> None:
    scorer, pool, ranked, _, _ = setup()
    pool.try_add("strong", "$strong", ranked["strong"])
    state = pool.state()
    with pytest.raises(MiningError, match="do not match"):
        AlphaPool.from_state(state, scorer, {"strong": ranked["medium"]})
    with pytest.raises(MiningError, match="no ranked values"):
        AlphaPool.from_state(state, scorer, {})
    other = ICScorer(scorer._label, scorer._members, make_folds(T, 2, warmup=10))
    with pytest.raises(MiningError, match="does not match this run"):
        AlphaPool.from_state(state, other, ranked)
    with pytest.raises(MiningError, match="not a pool checkpoint"):
        AlphaPool.from_state({"version": 1}, scorer, ranked)


def test_bad_arguments_say_what() -> None:
    scorer, pool, ranked, _, _ = setup()
    with pytest.raises(MiningError, match="capacity"):
        AlphaPool(scorer, 0)
    with pytest.raises(MiningError, match="min_gain"):
        AlphaPool(scorer, 3, min_gain=-1.0)
    with pytest.raises(MiningError, match="expected \\(500, 40\\)"):
        pool.try_add("x", "$x", ranked["strong"][:, :3])


def test_dot_kernel_agrees_with_its_twin_and_numpy() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=257), rng.normal(size=257)
    assert pool_module._dot(a, b) == pytest.approx(float(a @ b), abs=1e-12)
    assert pool_module._dot_jit(a, b) == pytest.approx(pool_module._dot(a, b), abs=1e-12)
