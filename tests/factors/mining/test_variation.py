"""Variation operators: valid children, determinism, and what each one changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.factors.ast import Call, Const
from alphaloop.factors.mining.canonical import size
from alphaloop.factors.mining.grammar import Grammar, invalid_reason
from alphaloop.factors.mining.variation import (
    constant_mutation,
    crossover,
    hoist_mutation,
    point_mutation,
    subtree_mutation,
)
from alphaloop.factors.parser import parse
from alphaloop.factors.validate import compile_expression

FIELDS = ("open", "high", "low", "close", "volume")
GRAMMAR = Grammar(fields=FIELDS, const_prob=0.3)
MUTATIONS = [subtree_mutation, hoist_mutation, point_mutation, constant_mutation]


def cross(tree, grammar, rng):
    return crossover(tree, grammar.random_tree(rng), grammar, rng)


OPERATORS = [*MUTATIONS, cross]


def check_child(child, grammar=GRAMMAR):
    assert invalid_reason(child, grammar) is None, str(child)
    assert parse(str(child)) == child
    compile_expression(str(child), fields=grammar.fields)


@given(seed=st.integers(0, 2**32 - 1))
def test_children_follow_the_grammar_and_compile(seed):
    rng = np.random.default_rng(seed)
    tree = GRAMMAR.random_tree(rng)
    for _ in range(3):
        for variation in OPERATORS:
            child = variation(tree, GRAMMAR, rng)
            check_child(child)
            tree = child


def test_a_small_grammar_stays_valid():
    grammar = Grammar(
        fields=("close",), windows=(2, 3), max_depth=3, max_size=7, unary=("Neg", "Log")
    )
    rng = np.random.default_rng(9)
    trees = [grammar.random_tree(rng) for _ in range(40)]
    for tree in trees:
        for variation in OPERATORS:
            check_child(variation(tree, grammar, rng), grammar)


@pytest.mark.parametrize("variation", OPERATORS)
def test_same_rng_state_gives_the_same_child(variation):
    trees = [GRAMMAR.random_tree(np.random.default_rng(s)) for s in range(30)]
    one = [str(variation(t, GRAMMAR, np.random.default_rng(5))) for t in trees]
    two = [str(variation(t, GRAMMAR, np.random.default_rng(5))) for t in trees]
    assert one == two
    rng = np.random.default_rng(5)
    streamed = [str(variation(t, GRAMMAR, rng)) for t in trees]
    assert streamed[0] == one[0]


@pytest.mark.parametrize("variation", [subtree_mutation, point_mutation, cross])
def test_children_usually_differ_from_the_parent(variation):
    rng = np.random.default_rng(2)
    trees = [GRAMMAR.random_tree(rng) for _ in range(100)]
    changed = sum(variation(t, GRAMMAR, rng) != t for t in trees)
    assert changed >= 90


def test_hoist_shrinks_and_falls_back_to_the_parent():
    rng = np.random.default_rng(3)
    tree = parse("Mean(Sub(Std($close,10),Abs($open)),20)")
    for _ in range(20):
        child = hoist_mutation(tree, GRAMMAR, rng)
        assert size(child) < size(tree)
        assert str(child) in {"Sub(Std($close,10),Abs($open))", "Std($close,10)", "Abs($open)",
                              "Mean(Std($close,10),20)", "Mean(Abs($open),20)"}  # fmt: skip
    single = parse("Mean($close,5)")
    assert hoist_mutation(single, GRAMMAR, rng) is single


def test_point_mutation_changes_one_node():
    rng = np.random.default_rng(4)
    tree = parse("Sub(Mean($close,20),$open)")
    for _ in range(40):
        child = point_mutation(tree, GRAMMAR, rng)
        assert isinstance(child, Call)
        a, b = tree.walk(), child.walk()
        assert len(a) == len(b)
        differ = [(x, y) for x, y in zip(a, b, strict=True) if _label(x) != _label(y)]
        assert len(differ) == 1


def _label(n):
    return n.op if isinstance(n, Call) else n


def test_point_mutation_keeps_windows_an_operator_accepts():
    grammar = Grammar(fields=FIELDS, windows=(2, 5), rolling=("Mean", "Skew"), pairwise=())
    rng = np.random.default_rng(6)
    tree = parse("Mean($close,2)")
    ops = set()
    for _ in range(30):
        child = point_mutation(tree, grammar, rng)
        check_child(child, grammar)
        ops.add(child.op)
        if child.op == "Skew":
            assert child.args[1] == Const(5.0)
    assert "Skew" in ops


def test_constant_mutation_moves_to_a_neighbour():
    rng = np.random.default_rng(7)
    tree = parse("Mean($close,20)")
    seen = {str(constant_mutation(tree, GRAMMAR, rng)) for _ in range(30)}
    assert seen == {"Mean($close,10)", "Mean($close,40)"}
    edge = parse("Sub($close,0.5)")
    assert {str(constant_mutation(edge, GRAMMAR, rng)) for _ in range(10)} == {"Sub($close,1)"}
    plain = parse("Add($close,$open)")
    assert constant_mutation(plain, GRAMMAR, rng) is plain


def test_crossover_takes_a_subtree_of_the_other_parent():
    rng = np.random.default_rng(8)
    a = parse("Add(Mean($close,5),Std($open,10))")
    b = parse("CsRank(Slope($volume,20))")
    donors = {str(n) for n in b.walk()} - {"20"}
    for _ in range(30):
        child = crossover(a, b, GRAMMAR, rng)
        assert child != a
        assert any(d in str(child) for d in donors)
        check_child(child)


def test_variation_never_exceeds_the_limits():
    grammar = Grammar(fields=FIELDS, max_depth=4, max_size=10)
    rng = np.random.default_rng(10)
    pop = [grammar.random_tree(rng) for _ in range(60)]
    for _ in range(3):
        pop = [
            crossover(t, pop[(i + 7) % len(pop)], grammar, rng) if i % 2 else
            subtree_mutation(t, grammar, rng)
            for i, t in enumerate(pop)
        ]  # fmt: skip
        assert all(invalid_reason(t, grammar) is None for t in pop)
