"""The operator listing is generated from the table the parser checks, so they agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alphaloop.errors import ExpressionError
from alphaloop.factors.ast import Call
from alphaloop.factors.operators import (
    ALIASES,
    BINARY_SYMBOLS,
    OPERATORS,
    UNARY_SYMBOLS,
    OpSpec,
    operator_listing,
)
from alphaloop.factors.parser import parse

LISTING = {row["name"]: row for row in operator_listing()}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "factors.md"


def _literal(spec: OpSpec, kind: str) -> str:
    return {
        "expr": "$close",
        "window": str(max(spec.min_window, 5)),
        "lag": "1",
        "quantile": "0.5",
        "span": "5",
        "by": "$size",
        "name": '"alpha158/ROC5"' if spec.name == "Factor" else '"tone"',
    }[kind]


def _call(spec: OpSpec, n_args: int) -> str:
    kinds = [spec.params[min(k, len(spec.params) - 1)] for k in range(n_args)]
    text = f"{spec.name}({', '.join(_literal(spec, k) for k in kinds)})"
    if spec.name == "Group":  # accepted only as a target of CsNeutralize
        return f"CsNeutralize($close, {text})"
    return text


def _signature_args(signature: str) -> list[str]:
    inner = re.fullmatch(r"\w+\((.*)\)", signature)
    assert inner is not None, signature
    return [a.strip() for a in inner.group(1).split(",") if a.strip()]


def test_every_operator_of_the_parser_table_is_listed_once() -> None:
    rows = operator_listing()
    assert [r["name"] for r in rows] == list(OPERATORS)
    assert len({r["name"] for r in rows}) == len(rows)


def test_group_and_if_are_listed_with_their_real_signatures() -> None:
    assert LISTING["If"]["signature"] == "If(cond, x, y)"
    assert LISTING["Group"]["signature"] == "Group(g)"
    assert LISTING["Group"]["kind"] == "marker"
    assert "CsNeutralize" in str(LISTING["Group"]["doc"])
    assert LISTING["CsNeutralize"]["signature"] == "CsNeutralize(x, by, ...)"
    assert LISTING["Corr"]["signature"] == "Corr(x, y, N)"
    assert LISTING["TsRank"]["aliases"] == ["Rank"]
    assert LISTING["Add"]["symbols"] == ["+"]
    assert LISTING["Neg"]["symbols"] == ["-"]


@pytest.mark.parametrize("name", list(OPERATORS))
def test_signature_arity_matches_what_the_parser_accepts(name: str) -> None:
    spec = OPERATORS[name]
    row = LISTING[name]
    args = _signature_args(str(row["signature"]))
    fixed = [a for a in args if a != "..."]
    assert len(fixed) == row["min_args"] == len(spec.params)
    assert ("..." in args) == (row["max_args"] is None) == spec.variadic
    # the listed arity parses ...
    node = parse(_call(spec, len(fixed)))
    if name == "Factor":  # a reference is replaced by the library factor's own tree
        assert node == parse("Ref($close, 5) / $close")
    else:
        assert any(isinstance(n, Call) and n.op == name for n in node.walk())
    if spec.variadic:
        parse(_call(spec, len(fixed) + 2))
    # ... one argument fewer or (when not variadic) one more does not
    if fixed:
        with pytest.raises(ExpressionError, match=f"{name} takes"):
            parse(_call(spec, len(fixed) - 1))
    if not spec.variadic:
        with pytest.raises(ExpressionError, match=f"{name} takes"):
            parse(_call(spec, len(fixed) + 1))


def test_every_name_and_symbol_the_parser_accepts_is_listed() -> None:
    listed = set(LISTING)
    aliases = {a for row in LISTING.values() for a in row["aliases"]}  # type: ignore[union-attr]
    assert aliases == set(ALIASES)
    for alias, canonical in ALIASES.items():
        assert canonical in listed
        assert parse(f"{alias}($close, 5)") == parse(f"{canonical}($close, 5)")
    for symbol, canonical in BINARY_SYMBOLS.items():
        assert canonical in listed
        node = parse(f"$a {symbol} $b")
        assert isinstance(node, Call)
        assert node.op == canonical
    for symbol, canonical in UNARY_SYMBOLS.items():
        assert canonical in listed
        node = parse(f"{symbol}$a")
        assert isinstance(node, Call)
        assert node.op == canonical


@pytest.mark.parametrize("name", ["mean", "MEAN", "Rank2", "Grp", "Iff", "Foo"])
def test_names_not_listed_are_refused(name: str) -> None:
    with pytest.raises(ExpressionError, match="unknown operator"):
        parse(f"{name}($close, 5)")


def test_an_arg_name_per_parameter_is_enforced() -> None:
    with pytest.raises(ValueError, match="argument names"):
        OpSpec("Bad", "elementwise", ("expr", "expr"), "doc", arg_names=("x",))


def test_the_docs_name_every_operator() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in OPERATORS if not re.search(rf"\b{name}\b", text)]
    assert missing == []
    assert "If(cond, x, y)" in text
