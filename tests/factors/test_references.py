"""Library factors as building blocks: Factor("library/name") and Text("name") in expressions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphaloop.app.workspace import Workspace
from alphaloop.errors import ExpressionError
from alphaloop.factors import (
    compile_expression,
    parse,
    reference_table,
    text_names,
    use_references,
)
from alphaloop.factors.evaluate import evaluate
from alphaloop.factors.library import FactorLibrary
from tests.research.synthetic import make_panel


def _libs(**factors: dict[str, str]) -> dict[str, str]:
    return reference_table(FactorLibrary(name, "", f) for name, f in factors.items())


def test_a_reference_is_replaced_by_the_factor_tree() -> None:
    table = _libs(mine={"MOM": "Ref($close, 1) / Ref($close, 21) - 1"})
    with use_references(table):
        node = parse('CsRank(Factor("mine/MOM"))')
        bare = parse('CsRank(Factor("MOM"))')
    assert node == bare == parse("CsRank(Ref($close, 1) / Ref($close, 21) - 1)")
    assert str(node) == "CsRank(Sub(Div(Ref($close,1),Ref($close,21)),1))"


def test_builtin_libraries_are_visible_without_a_workspace() -> None:
    assert parse('Factor("alpha158/ROC20")') == parse("Ref($close, 20) / $close")
    # alpha158 and alpha158-close give ROC20 the same formula: the bare name is fine
    assert parse('Factor("ROC20")') == parse("Ref($close, 20) / $close")


def test_nested_references_expand_and_cycles_are_refused() -> None:
    table = _libs(a={"X": "Mean($close, 5)", "Y": 'Factor("a/X") / $close'})
    with use_references(table):
        assert parse('Factor("a/Y")') == parse("Mean($close, 5) / $close")
    loop = _libs(b={"P": 'Factor("b/Q") + 1', "Q": 'Factor("b/P") * 2'})
    with use_references(loop), pytest.raises(ExpressionError, match="cycle: b/P -> b/Q -> b/P"):
        parse('Factor("b/P")')


def test_unknown_and_ambiguous_references_say_what_to_write() -> None:
    table = _libs(one={"F": "$close"}, two={"F": "$open"})
    with use_references(table):
        with pytest.raises(ExpressionError, match="ambiguous: one/F, two/F") as info:
            parse('Factor("F")')
        assert 'Factor("one/F")' in str(info.value)
        with pytest.raises(ExpressionError, match="no library factor named 'one/G'"):
            parse('Mean(Factor("one/G"), 5)')


def test_a_lookahead_inside_a_referenced_factor_is_caught() -> None:
    table = _libs(bad={"PEEK": "Ref($close, -1) / $close"})
    with use_references(table), pytest.raises(ExpressionError, match="lookahead"):
        compile_expression('CsRank(Factor("bad/PEEK"))')


def test_a_broken_referenced_formula_names_the_reference() -> None:
    with (
        use_references({"x/B": "Mean($close, )"}),
        pytest.raises(ExpressionError, match=r"in Factor\('x/B'\)"),
    ):
        parse('Factor("x/B") + 1')


def test_quoted_names_are_only_arguments_of_text_and_factor() -> None:
    for text in ['"tone"', '"a" + 1', 'Mean("a", 5)', "Text($close)", 'Text("")']:
        with pytest.raises(ExpressionError):
            parse(text)
    assert text_names(parse('Text("b") + CsRank(Text("a")) - Text("b")')) == ("a", "b")


def test_text_reads_the_attached_field_and_is_refused_when_missing() -> None:
    panel = make_panel(n_times=30, n_assets=4, seed=3)
    tone = np.arange(panel.n_times * panel.n_assets, dtype=float).reshape(panel.shape)
    with pytest.raises(ExpressionError, match="no text factor 'tone' is attached"):
        evaluate(panel, 'CsRank(Text("tone"))')
    out = evaluate(panel.with_fields({"text:tone": tone}), {"t": 'Text("tone") * 2'})["t"]
    np.testing.assert_array_equal(out, tone * 2)


def test_an_open_workspace_makes_its_libraries_referable(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(
        "name: mined\nfactors:\n  F1: Corr($close, $volume, 10)\n", encoding="utf-8"
    )
    with Workspace(tmp_path / "ws") as ws:
        from alphaloop.factors.library import save_library

        save_library(ws.root, tmp_path / "lib.yaml")
        assert parse('Factor("mined/F1")') == parse("Corr($close, $volume, 10)")
    with pytest.raises(ExpressionError, match="no library factor named 'mined/F1'"):
        parse('Factor("mined/F1")')
