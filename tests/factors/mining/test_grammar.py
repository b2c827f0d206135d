"""Grammar checks, random generation and the typing rules of mined expressions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.errors import MiningError
from alphaloop.factors.ast import Call, Const, Field, Str
from alphaloop.factors.mining.canonical import canonicalize, depth, size
from alphaloop.factors.mining.grammar import Grammar, invalid_reason, is_valid
from alphaloop.factors.operators import OPERATORS
from alphaloop.factors.parser import parse
from alphaloop.factors.validate import compile_expression

FIELDS = ("open", "high", "low", "close", "volume")
GRAMMAR = Grammar(fields=FIELDS)


def literal_args(tree):
    """(operator, literal) for every window, lag and span argument of the tree."""
    out = []
    for n in tree.walk():
        if isinstance(n, Call) and n.op != "Text":
            params = OPERATORS[n.op].params
            out += [(n.op, a) for a, kind in zip(n.args, params, strict=True) if kind != "expr"]
    return out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": ()}, "no fields"),
        ({"fields": ("Close",)}, "not a field name"),
        ({"fields": ("$close",)}, "not a field name"),
        ({"fields": ("close", "close")}, "repeat"),
        ({"unary": ("Foo",)}, "unknown operator 'Foo'"),
        ({"rolling": ("Rank",)}, "unknown operator 'Rank'"),
        ({"binary": ("Corr",)}, "Corr"),
        ({"rolling": ("Quantile",)}, "not a rolling operator"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": 1000}, "max_depth"),
        ({"max_size": 1}, "too small"),
        ({"max_size": 0}, "max_size"),
        ({"windows": ()}, "no windows"),
        ({"windows": (5, 0)}, "positive"),
        ({"windows": (5, -3)}, "positive"),
        ({"windows": (2.5,)}, "positive whole"),
        ({"constants": (float("nan"),)}, "finite"),
        ({"const_prob": 1.5}, "const_prob"),
        (
            {"windows": (1, 2), "rolling": ("Skew",), "pairwise": (), "unary": (), "binary": ()},
            "at least 3",
        ),
        ({"windows": (1,), "rolling": ("Mean",), "pairwise": ("Corr",)}, "Corr needs a window"),
        ({"unary": (), "binary": (), "rolling": (), "pairwise": ()}, "no operators"),
    ],
)
def test_check_refuses_grammars_that_cannot_work(changes, message):
    grammar = Grammar(**{"fields": FIELDS, **changes})
    with pytest.raises(MiningError, match=message):
        grammar.check()
    with pytest.raises(MiningError):  # generation checks first
        grammar.random_tree(np.random.default_rng(0))


def test_alias_gets_a_hint_and_a_good_grammar_passes():
    with pytest.raises(MiningError) as info:
        Grammar(fields=FIELDS, rolling=("Rank",)).check()
    assert "TsRank" in (info.value.hint or "")
    GRAMMAR.check()
    Grammar(fields=("close",), unary=("Neg",), binary=(), rolling=(), pairwise=()).check()


def test_same_rng_state_gives_the_same_trees():
    a = [str(GRAMMAR.random_tree(np.random.default_rng(7))) for _ in range(3)]
    rng1, rng2 = np.random.default_rng(42), np.random.default_rng(42)
    one = [str(GRAMMAR.random_tree(rng1, method=m)) for m in ("grow", "full") * 20]
    two = [str(GRAMMAR.random_tree(rng2, method=m)) for m in ("grow", "full") * 20]
    assert one == two
    assert len(set(a)) == 1
    other = np.random.default_rng(43)
    assert [str(GRAMMAR.random_tree(other, method=m)) for m in ("grow", "full") * 20] != one


@given(
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(["grow", "full"]),
    levels=st.integers(1, 6),
)
def test_random_trees_follow_the_grammar_and_compile(seed, method, levels):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        tree = GRAMMAR.random_tree(rng, method=method, max_depth=levels)
        assert invalid_reason(tree, GRAMMAR) is None
        assert parse(str(tree)) == tree
        compile_expression(str(tree), fields=FIELDS)
        assert size(tree) <= GRAMMAR.max_size
        assert depth(tree) <= min(levels, GRAMMAR.max_depth)
        if levels >= 2:
            assert isinstance(tree, Call)  # the root is an operator call
        for op, lit in literal_args(tree):
            assert isinstance(lit, Const)
            assert lit.value in (GRAMMAR.lags if op in ("Ref", "Delta") else GRAMMAR.windows)
            assert lit.value >= OPERATORS[op].min_window


def test_windows_lags_and_spans_come_from_the_grammar():
    grammar = Grammar(
        fields=FIELDS, windows=(3, 7), lags=(1, 4), rolling=("Ref", "EMA", "Skew", "Std", "Delta")
    )
    rng = np.random.default_rng(3)
    seen: dict[str, set[float]] = {}
    for _ in range(300):
        for op, lit in literal_args(grammar.random_tree(rng)):
            seen.setdefault(op, set()).add(lit.value)
    assert seen["Ref"] == seen["Delta"] == {1.0, 4.0}
    assert seen["EMA"] == {3.0, 7.0}
    assert seen["Skew"] == {3.0, 7.0}
    assert seen["Corr"] == {3.0, 7.0}


def test_skips_windows_below_an_operators_minimum():
    grammar = Grammar(fields=FIELDS, windows=(2, 10), rolling=("Skew", "Mean"), pairwise=())
    rng = np.random.default_rng(5)
    skews = {
        lit.value
        for _ in range(300)
        for op, lit in literal_args(grammar.random_tree(rng))
        if op == "Skew"
    }
    assert skews == {10.0}


def test_a_population_is_mostly_distinct_after_canonicalization():
    rng = np.random.default_rng(0)
    trees = [GRAMMAR.random_tree(rng) for _ in range(300)]
    distinct = {str(canonicalize(t)) for t in trees}
    assert len(distinct) / len(trees) > 0.7
    half = [GRAMMAR.random_tree(rng, method=("grow", "full")[i % 2]) for i in range(300)]
    assert len({str(canonicalize(t)) for t in half}) / 300 > 0.7


def test_full_trees_reach_the_depth_asked_for():
    grammar = Grammar(fields=FIELDS, max_size=60)
    rng = np.random.default_rng(1)
    assert all(depth(grammar.random_tree(rng, method="full", max_depth=3)) == 3 for _ in range(50))


@pytest.mark.parametrize(
    "text",
    [
        "$close",
        "Add(1,$close)",
        "Div($close,0.5)",
        "Mean($close,5)",
        "Ref($close,20)",
        "EMA($volume,20)",
        "Corr($close,$volume,10)",
        "Log($volume)",
        "Log(Abs(Sub($close,$open)))",
        "CsRank(Neg(CsZScore($close)))",
        "Mean(CsRank($close),5)",
    ],
)
def test_valid_expressions(text):
    assert invalid_reason(parse(text), GRAMMAR) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1", "constant"),
        ("$amount", "not a field"),
        ("Add(1,2)", "only constant"),
        ("Add($close,3)", "constants"),
        ("Mean($close,7)", "window"),
        ("Ref($close,3)", "window"),
        ("EMA($close,3)", "window"),
        ("Power($close,2)", "not an operator"),
        ("Mean(1,5)", "constant"),
        ("Neg(1)", "constant"),
        ("CsRank(CsZScore($close))", "under CsRank"),
        ("Log(Mean($close,5))", "under Log"),
        ("Log(Neg($close))", "under Log"),
        ("Neg(Neg($close))", "under Neg"),
        ("Abs(Neg($close))", "under Abs"),
        ("Abs(CsRank($close))", "under Abs"),
        ("Sign(Std($close,5))", "under Sign"),
        ("Abs(Sign($close))", "under Abs"),
        ("Sub($close,$close)", "equal arguments"),
        ("Corr($close,$close,5)", "equal arguments"),
        ("Sub(Add($close,$open),Add($open,$close))", "equal arguments"),
        ("Div(Abs(Neg($close)),Abs($close))", "equal arguments"),
        ("Mean(Mean(Mean(Mean(Mean($close,5),5),5),5),5)", "max_depth"),
        ("Add(Add(Add(Add($close,$open),$low),$high),Add(Add($close,$open),Mean($low,5)))", "ok"),
    ],
)
def test_invalid_expressions(text, reason):
    grammar = Grammar(fields=FIELDS, max_size=12)
    got = invalid_reason(parse(text), grammar)
    if reason == "ok":
        got = invalid_reason(parse(text), Grammar(fields=FIELDS, max_size=11))
        reason = "max_size"
    assert got is not None
    assert reason in got
    assert not is_valid(parse(text), grammar) or reason == "max_size"


def test_a_tree_whose_text_does_not_parse_back_is_invalid():
    odd = Call("Add", (Field("close"), Const(float("nan"))))
    assert not is_valid(odd, Grammar(fields=FIELDS, constants=(0.5,)))


def test_text_fields_are_text_factor_leaves():
    grammar = Grammar(fields=("close", "text:tone"))
    rng = np.random.default_rng(2)
    trees = [grammar.random_tree(rng) for _ in range(100)]
    texts = [t for t in trees if Call("Text", (Str("tone"),)) in t.walk()]
    assert texts
    for tree in texts:
        assert is_valid(tree, grammar)
        expression = compile_expression(str(tree), fields=("close", "text:tone"))
        assert expression.texts == ("tone",)
    assert size(Call("Text", (Str("tone"),))) == 1


def test_dict_round_trip():
    grammar = Grammar(fields=FIELDS, windows=(3, 9), constants=(1.0,), max_depth=4)
    data = json.loads(json.dumps(grammar.to_dict()))
    assert data["windows"] == [3, 9]
    back = Grammar.from_dict(data)
    assert back == grammar
    assert hash(back) == hash(grammar)
    with pytest.raises(MiningError, match="unknown grammar key"):
        Grammar.from_dict({**data, "depth": 3})
    with pytest.raises(MiningError, match="no windows"):
        Grammar.from_dict({**data, "windows": []})
    with pytest.raises(MiningError, match="fields"):
        Grammar.from_dict({"windows": [5]})


def test_negative_and_fractional_constants_round_trip():
    grammar = Grammar(fields=FIELDS, constants=(-1.0, 0.25, 1e-3), const_prob=0.9)
    rng = np.random.default_rng(12)
    trees = [grammar.random_tree(rng) for _ in range(100)]
    used = {n.value for t in trees for n in t.walk() if isinstance(n, Const)} - set(
        map(float, (*grammar.windows, *grammar.lags))
    )
    assert used == {-1.0, 0.25, 1e-3}
    assert all(is_valid(t, grammar) for t in trees)
