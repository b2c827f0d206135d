"""Canonical forms: rewrites, idempotence, hashes, and values kept (NaN included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.data import Panel
from alphaloop.factors.ast import Call, Const, Field, Str
from alphaloop.factors.evaluate import evaluate_nodes
from alphaloop.factors.mining.canonical import (
    canonical_texts,
    canonicalize,
    depth,
    expression_hash,
    size,
)
from alphaloop.factors.mining.grammar import Grammar
from alphaloop.factors.parser import parse
from tests.research.synthetic import make_panel

FIELDS = ("close", "edge", "noise0", "noise1")


def small_panel() -> Panel:
    """A synthetic panel with missing cells and a few negative prices (Log gives NaN)."""
    base = make_panel(n_times=90, n_assets=7, seed=3)
    rng = np.random.default_rng(4)
    fields = {}
    for name in FIELDS:
        x = np.array(base.field(name), dtype=np.float64)
        x[rng.random(x.shape) < 0.08] = np.nan
        fields[name] = x
    fields["close"][5, 2] = -1.0
    return Panel(base.index, base.assets, fields)


@pytest.mark.parametrize(
    ("text", "n", "levels"),
    [
        ("$close", 1, 1),
        ("Mean($close,5)", 3, 2),
        ("Add(Mean($close,5),$open)", 5, 3),
        ("Corr($close,Neg($open),10)", 5, 3),
        ('Mul(Text("tone"),$close)', 3, 2),
        ("Add($close,1)", 3, 2),
    ],
)
def test_size_and_depth(text, n, levels):
    node = parse(text)
    assert size(node) == n
    assert depth(node) == levels


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Add($b,$a)", "Add($a,$b)"),
        ("Mul(Mean($b,5),$a)", "Mul($a,Mean($b,5))"),
        ("Greater($b,$a)", "Greater($a,$b)"),
        ("Less(2,$a)", "Less($a,2)"),
        ("Corr($b,$a,10)", "Corr($a,$b,10)"),
        ("Cov(Neg($b),$a,10)", "Cov($a,Neg($b),10)"),
        ("Sub($b,$a)", "Sub($b,$a)"),
        ("Div($b,$a)", "Div($b,$a)"),
        ("Neg(Neg($a))", "$a"),
        ("Neg(Neg(Neg($a)))", "Neg($a)"),
        ("Abs(Abs($a))", "Abs($a)"),
        ("Abs(Neg($a))", "Abs($a)"),
        ("Abs(Neg(Abs(Neg($a))))", "Abs($a)"),
        ("Sign(Sign($a))", "Sign($a)"),
        ("CsRank(CsRank(Mean($a,5)))", "CsRank(Mean($a,5))"),
        ("Add(1,2)", "3"),
        ("Mul($a,Add(1,Mul(2,3)))", "Mul($a,7)"),
        ("Neg(Sub(1,3))", "2"),
        ("Log(Abs(Neg(2)))", repr(float(np.log(2.0)))),
        ("Greater(Less(1,2),0.5)", "1"),
        ("Add($a,Div(1,0))", "Add($a,Div(1,0))"),
        ("Log(0)", "Log(0)"),
        ("Neg(Neg(Add($b,$a)))", "Add($a,$b)"),
        ('Add(Text("b"),Text("a"))', 'Add(Text("a"),Text("b"))'),
        ("Mean(Add($b,$a),5)", "Mean(Add($a,$b),5)"),
    ],
)
def test_rewrites(text, canonical):
    node = canonicalize(parse(text))
    assert str(node) == canonical
    assert parse(str(node)) == node
    assert canonicalize(node) == node


def test_hash_is_of_the_canonical_text():
    a, b = parse("Add(Mean($close,5),$open)"), parse("Add($open,Mean($close,5))")
    assert expression_hash(a) == expression_hash(b)
    assert len(expression_hash(a)) == 64
    assert int(expression_hash(a), 16) >= 0
    assert expression_hash(parse("Sub($a,$b)")) != expression_hash(parse("Sub($b,$a)"))
    assert expression_hash(parse("Neg(Neg($a))")) == expression_hash(parse("$a"))


def test_input_tree_is_not_changed_and_spans_do_not_matter():
    node = parse("Add($b,$a)")
    canonicalize(node)
    assert str(node) == "Add($b,$a)"
    assert canonicalize(Call("Add", (Field("b"), Field("a")))) == parse("Add($a,$b)")


def test_deep_trees_do_not_hit_the_recursion_limit():
    node = Field("a")
    for k in range(3000):
        node = Call("Add", (Field(f"f{k % 7}"), node)) if k % 2 else Call("Neg", (node,))
    out = canonicalize(node)
    assert size(out) == size(node)
    assert depth(out) == depth(node)
    assert str(canonicalize(Call("Neg", (Call("Neg", (node,)),)))) == str(out)


@given(seed=st.integers(0, 2**32 - 1))
def test_idempotent_on_random_trees(seed):
    grammar = Grammar(fields=FIELDS, const_prob=0.4)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        tree = grammar.random_tree(rng)
        once = canonicalize(tree)
        assert canonicalize(once) == once
        assert str(canonicalize(once)) == str(once)
        assert parse(str(once)) == once
        assert size(once) <= size(tree)


def test_values_are_kept_exactly_nan_included():
    panel = small_panel()
    # no pairwise operators: every rewrite is exact to the bit
    grammar = Grammar(fields=FIELDS, pairwise=(), const_prob=0.4)
    rng = np.random.default_rng(11)
    trees = [grammar.random_tree(rng) for _ in range(60)]
    trees += [
        parse(t)
        for t in (
            "Neg(Neg(Mean($close,5)))",
            "Abs(Abs(Sub($close,$edge)))",
            "Abs(Neg(Sub($noise0,$edge)))",
            "Sign(Sign($noise1))",
            "CsRank(CsRank(Mean($noise0,5)))",
            "CsRank(CsRank(Sign($noise0)))",
            "Greater($noise1,Less(Neg($noise0),$edge))",
            "Mul(Add(1,2),$close)",
            "Log(Abs(Neg(Sub($close,$edge))))",
        )
    ]
    changed = [t for t in trees if canonicalize(t) != t]
    assert len(changed) >= 20
    nodes = {f"a{i}": t for i, t in enumerate(changed)}
    nodes |= {f"b{i}": canonicalize(t) for i, t in enumerate(changed)}
    values = evaluate_nodes(panel, nodes)
    for i, tree in enumerate(changed):
        a, b = values[f"a{i}"], values[f"b{i}"]
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=str(tree))
        np.testing.assert_array_equal(a, b, err_msg=str(tree))
    assert any(np.isnan(values[f"a{i}"]).any() for i in range(len(changed)))


def test_pairwise_swaps_agree_to_rounding():
    panel = small_panel()
    pairs = ["Corr(Mean($edge,5),$noise0,10)", "Cov(Delta($close,5),$noise1,20)"]
    nodes = {t: parse(t) for t in pairs} | {"c" + t: canonicalize(parse(t)) for t in pairs}
    values = evaluate_nodes(panel, nodes)
    for t in pairs:
        assert str(canonicalize(parse(t))) != t
        np.testing.assert_array_equal(np.isnan(values[t]), np.isnan(values["c" + t]))
        np.testing.assert_allclose(values[t], values["c" + t], rtol=1e-12, atol=1e-14)


def test_quoted_names_are_kept():
    node = Call("Text", (Str("tone"),))
    assert canonicalize(node) == node
    assert isinstance(canonicalize(parse("Add(0.5,0.25)")), Const)


def test_canonical_texts_of_every_subtree():
    node = parse("Sub(Add($b,$a),Neg(Neg($c)))")
    texts = canonical_texts(node)
    assert texts[id(node)] == "Sub(Add($a,$b),$c)"
    assert texts[id(node.args[0])] == "Add($a,$b)"
    assert texts[id(node.args[1])] == "$c"
    assert len(texts) == len(node.walk())
