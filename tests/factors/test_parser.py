"""The expression parser: structure, canonical form, and clear errors with positions."""

from __future__ import annotations

import pytest

from alphaloop.errors import ExpressionError
from alphaloop.factors.ast import Call, Const, Field
from alphaloop.factors.library import BUILTIN
from alphaloop.factors.parser import MAX_DEPTH, parse
from alphaloop.factors.validate import compile_expression, lookahead, warmup

FIELDS = ("open", "high", "low", "close", "volume", "vwap")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Mean($close, 5) / $close", "Div(Mean($close,5),$close)"),
        ("Corr($close, Log($volume + 1), 10)", "Corr($close,Log(Add($volume,1)),10)"),
        ("If($close > Ref($close, 1), 1, -1)", "If(Gt($close,Ref($close,1)),1,-1)"),
        ("1 + 2 * 3", "Add(1,Mul(2,3))"),
        ("(1 + 2) * 3", "Mul(Add(1,2),3)"),
        ("10 - 4 - 3", "Sub(Sub(10,4),3)"),
        ("-$close", "Neg($close)"),
        ("- -3", "3"),
        ("+$close", "$close"),
        ("~($close > 1)", "Not(Gt($close,1))"),
        ("$a > 1 | $b", "Gt($a,Or(1,$b))"),
        ("$a + 1 > $b & 2", "Gt(Add($a,1),And($b,2))"),
        ("($a > 1) | ($b < 2)", "Or(Gt($a,1),Lt($b,2))"),
        ("Rank($close, 5)", "TsRank($close,5)"),
        ("$CLOSE", "$close"),
        ("1e-12 + .5", "Add(1e-12,0.5)"),
        ("CsNeutralize($f, Group($sector), $size)", "CsNeutralize($f,Group($sector),$size)"),
        ("Quantile($close, 20, 0.8)", "Quantile($close,20,0.8)"),
        ("EMA($close, 0.3)", "EMA($close,0.3)"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical


def test_tree_structure_and_spans() -> None:
    node = parse("Mean($close, 5) / $close")
    assert isinstance(node, Call)
    assert node.op == "Div"
    mean, close = node.args
    assert mean == Call("Mean", (Field("close"), Const(5.0)))
    assert close == Field("close")
    assert (mean.span.start, mean.span.end) == (0, 15)
    assert (close.span.start, close.span.end) == (18, 24)


def test_equal_subtrees_are_equal_and_hashable() -> None:
    a = parse("Mean($close, 5) + 1").args[0]
    b = parse("  Mean( $close ,5 ) / 3").args[0]
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_all_builtin_library_formulas_parse() -> None:
    for lib in BUILTIN.values():
        for name, text in lib.factors.items():
            compile_expression(text, fields=FIELDS)  # raises on any problem
            assert name


def test_warmup_and_lookahead() -> None:
    assert warmup(parse("Mean($close, 5)")) == 4
    assert warmup(parse("Ref($close, 3)")) == 3
    assert warmup(parse("Delta($close, 3)")) == 3
    assert warmup(parse("Mean(Ref($close, 1), 20) / Std($close, 60)")) == 59
    assert warmup(parse("Mean(Mean($close, 5), 5)")) == 8
    assert warmup(parse("$close + 5")) == 0
    assert lookahead(parse("Ref($close, -5) / $close - 1")) == 5
    assert lookahead(parse("Ref(Ref($close, -2), -1)")) == 3
    assert lookahead(parse("Ref($close, 5)")) == 0


def test_labels_may_read_the_future() -> None:
    e = compile_expression("Ref($close, -5) / $close - 1", fields=FIELDS, label=True)
    assert e.label
    assert e.fields == ("close",)


# ---------------------------------------------------------------- bad input
BAD = [
    # (text, message fragment, 0-based position or None)
    ("", "empty", None),
    ("   ", "empty", None),
    ("Mean($close, 5", "unbalanced '(' of Mean", 4),
    ("Mean($close, 5))", "unbalanced ')'", 15),
    ("(($close)", "unbalanced '('", 0),
    ("$close)", "unbalanced ')'", 6),
    ("Mena($close, 5)", "unknown operator 'Mena'", 0),
    ("mean($close, 5)", "unknown operator 'mean'", 0),
    ("Foo($close)", "unknown operator 'Foo'", 0),
    ("close + 1", "unknown name 'close'", 0),
    ("$clsoe + 1", "unknown field $clsoe", 0),
    ("Mean($close, 0)", "must be positive", 13),
    ("Mean($close, -3)", "must be positive", 13),
    ("Mean($close, 2.5)", "whole number", 13),
    ("Mean($close, $open)", "must be a number written in the expression", 13),
    ("Mean($close)", "takes 2 arguments", 0),
    ("Mean($close, 5, 6)", "takes 2 arguments", 0),
    ("Abs()", "takes 1 argument", 0),
    ("Ref($close, -1)", "lookahead", 0),
    ("$close / Ref($close, -5) - 1", "reads 5 bars into the future", 9),
    ("Ref($close, 0)", "is x itself", 12),
    ("Skew($close, 2)", "at least 3", 13),
    ("Kurt($close, 3)", "at least 4", 13),
    ("Quantile($close, 5, 1.5)", "must be in [0, 1]", 20),
    ("EMA($close, 1.5)", "span of EMA", 12),
    ("$close +", "ends where a value was expected", 8),
    ("* $close", "unexpected '*'", 0),
    ("$close $open", "unexpected '$open' after a complete expression", 7),
    ("Mean($close 5)", "expected ',' or ')'", 12),
    ("$close ** 2", "'**' is not an operator", 7),
    ("$close = 2", "unexpected character '='", 7),
    ("$close # comment", "unexpected character '#'", 7),
    ("Mean[$close, 5]", "unexpected character '['", 4),
    ("$ close", "unexpected character '$'", 0),
    ("1 < $close < 2", "chained comparison", 11),
    ("Mean", "is an operator; call it as Mean(x, N)", 0),
    ("Group($close)", "only allowed as a target of CsNeutralize", 0),
    ("$a > 1 | $b < 2 & $c == 3", "chained comparison", 12),
    ("Mean(Group($x), 5)", "only allowed as a target of CsNeutralize", 5),
    ("(" * (MAX_DEPTH + 5) + "$close" + ")" * (MAX_DEPTH + 5), "nested more than", None),
    ("Abs(" * (MAX_DEPTH + 5) + "$close" + ")" * (MAX_DEPTH + 5), "nested more than", None),
    ("-" * (MAX_DEPTH + 5) + "$close", "nested more than", None),
    ("+".join(["$close"] * 5000), "characters long", None),
]


@pytest.mark.parametrize(("text", "fragment", "position"), BAD)
def test_malformed_expressions_give_clear_errors(
    text: str, fragment: str, position: int | None
) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, fields=(*FIELDS, "f", "x", "a", "b", "c", "sector"))
    err = info.value
    assert fragment in str(err)
    if position is not None:
        assert err.position == position, str(err)
        assert f"column {position + 1}" in str(err)
        # the caret sits under the reported column
        lines = str(err).splitlines()
        snippet, caret = lines[1][2:], lines[2][2:].split(" (")[0]
        assert caret.index("^") <= len(snippet)


def test_at_least_twenty_malformed_cases() -> None:
    assert len(BAD) >= 20


def test_group_needs_to_be_a_call_target() -> None:
    with pytest.raises(ExpressionError, match="Group"):
        compile_expression("Group($close)", fields=FIELDS)


def test_error_hints_suggest_a_fix() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("Mena($close, 5)")
    assert info.value.hint == "did you mean Mean?"
    with pytest.raises(ExpressionError) as info:
        compile_expression("$clse", fields=FIELDS)
    assert "did you mean $close?" in (info.value.hint or "")


def test_non_text_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be text"):
        parse(42)  # type: ignore[arg-type]
