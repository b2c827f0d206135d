"""Library names vs expressions, future references refused at add, and missing fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.panel import Panel
from alphaloop.errors import AlphaloopError, ExpressionError
from alphaloop.factors.evaluate import evaluate
from alphaloop.factors.library import (
    BUILTIN,
    FIELD_PROXIES,
    FactorLibrary,
    UnknownLibraryError,
    get_library,
    load_library_file,
    resolve_factor_source,
    save_library,
    select_factors,
)

OHLCV = ("open", "high", "low", "close", "adj_close", "volume")

# ----------------------------------------------------------------- resolution


def test_a_library_name_resolves_to_the_library() -> None:
    source = resolve_factor_source("  alpha158 ")
    assert source.is_library
    assert source.library is BUILTIN["alpha158"]
    assert len(source.expressions) == 158


def test_an_expression_resolves_to_itself() -> None:
    source = resolve_factor_source("Mean($close, 5) / $close")
    assert not source.is_library
    assert source.expressions == {"Mean($close, 5) / $close": "Mean($close, 5) / $close"}


def test_a_mistyped_library_name_is_not_parsed_as_an_expression() -> None:
    with pytest.raises(UnknownLibraryError) as info:
        resolve_factor_source("alpha185")
    assert str(info.value).startswith(
        "unknown factor library 'alpha185'; did you mean 'alpha158'? known: alpha158, "
        "alpha158-close, alpha158-close-core, alpha360, alpha360-close"
    )
    with pytest.raises(UnknownLibraryError, match="did you mean 'alpha158-close'"):
        resolve_factor_source("alpha158-clsoe")
    with pytest.raises(UnknownLibraryError, match="did you mean 'alpha158'"):
        resolve_factor_source("Alpha158")  # names are case-sensitive


def test_a_bare_field_name_is_refused_with_a_hint_about_dollar_signs() -> None:
    with pytest.raises(UnknownLibraryError) as info:
        resolve_factor_source("close")
    assert "unknown factor library 'close'" in str(info.value)
    assert "'$'" in (info.value.hint or "")


def test_a_bare_operator_name_keeps_the_parsers_advice() -> None:
    with pytest.raises(ExpressionError, match=r"call it as Mean\(x, N\)"):
        resolve_factor_source("Mean")


def test_a_malformed_expression_fails_at_resolution() -> None:
    with pytest.raises(ExpressionError, match="unbalanced"):
        resolve_factor_source("Mean($close, 5")


def test_workspace_libraries_are_found_by_root_or_by_list(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: my-momentum\nfactors:\n  MOM: Ref($close, 1) / Ref($close, 21) - 1\n")
    save_library(tmp_path, mine)
    assert resolve_factor_source("my-momentum", tmp_path).expressions == {
        "MOM": "Ref($close, 1) / Ref($close, 21) - 1"
    }
    with pytest.raises(UnknownLibraryError, match="did you mean 'my-momentum'"):
        resolve_factor_source("my-momentun", tmp_path)
    only = FactorLibrary("tiny", "", {"C": "$close"})
    assert resolve_factor_source("tiny", [only]).library is only
    with pytest.raises(UnknownLibraryError, match="; known: tiny \\("):
        resolve_factor_source("alpha158", [only])


def test_get_library_suggests_the_closest_name() -> None:
    with pytest.raises(AlphaloopError) as info:
        get_library("alpha185")
    assert "no factor library named 'alpha185'" in str(info.value)
    assert "did you mean 'alpha158'?" in (info.value.hint or "")


# ------------------------------------------------------- future references


@pytest.mark.parametrize(
    ("formula", "written", "column"),
    [
        ("Ref($close, -1) / $close", "Ref($close, -1)", 1),
        ("Mean(Ref($close,-2), 5)", "Ref($close,-2)", 6),
        ("$close / Ref( $close , -5 ) - 1", "Ref( $close , -5 )", 10),
    ],
)
def test_adding_a_library_that_reads_the_future_is_refused(
    tmp_path: Path, formula: str, written: str, column: int
) -> None:
    path = tmp_path / "peek.yaml"
    path.write_text(f"name: peek\nfactors:\n  OK: Mean($close, 5)\n  FUT: '{formula}'\n")
    with pytest.raises(ExpressionError) as info:
        save_library(tmp_path / "ws", path)
    message = str(info.value)
    assert "factor 'FUT'" in message
    assert f"reads the future: {written} looks" in message
    assert f"at column {column}:" in message
    assert info.value.position == column - 1
    assert not (tmp_path / "ws" / "libraries" / "peek.yaml").exists()
    # reading the file is still possible (for inspection); using it is refused later
    assert load_library_file(path).factors["FUT"] == formula


def test_a_library_without_future_references_is_added(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("name: ok\nfactors:\n  LAG: Ref($close, 1) / Ref($close, 5)\n")
    lib = save_library(tmp_path / "ws", path)
    assert Path(lib.source).exists()


# ------------------------------------------------------------ missing fields


def test_alpha158_without_vwap_runs_the_rest_and_lists_what_it_skipped() -> None:
    sel = select_factors(BUILTIN["alpha158"].factors, OHLCV, library="alpha158")
    assert len(sel.factors) == 157
    assert sel.skipped == {"VWAP0": ("vwap",)}
    assert sel.skipped_summary() == ["1 factor skipped: needs $vwap (not in dataset)"]
    assert list(sel.factors) == [n for n in BUILTIN["alpha158"].factors if n != "VWAP0"]
    assert sel.proxied == {}
    assert sel.proxy_caveats() == []
    doc = sel.to_dict()
    assert doc["n_factors"] == 158
    assert doc["n_run"] == 157
    assert doc["skipped"] == {"VWAP0": ["$vwap"]}


def test_alpha360_skips_sixty_and_groups_by_missing_fields() -> None:
    sel = select_factors(BUILTIN["alpha360"].factors, OHLCV, library="alpha360")
    assert sel.skipped_summary() == ["60 factors skipped: need $vwap (not in dataset)"]
    close_only = select_factors(BUILTIN["alpha158"].factors, ["close"], library="alpha158")
    assert len(close_only.factors) == 75
    summary = close_only.skipped_summary()
    assert summary[0] == "40 factors skipped: need $volume (not in dataset)"
    assert sum(int(line.split()[0]) for line in summary) == 158 - 75


def test_nothing_runnable_is_an_error_that_says_why() -> None:
    with pytest.raises(AlphaloopError, match=r"no factor of library 'x' can run.*\$vwap"):
        select_factors({"V": "$vwap / $close"}, ["close"], library="x")


def test_the_vwap_proxy_is_opt_in_labelled_and_computes_the_typical_price() -> None:
    sel = select_factors(BUILTIN["alpha158"].factors, OHLCV, proxies=["vwap"], library="alpha158")
    assert len(sel.factors) == 158
    assert sel.skipped == {}
    assert sel.proxied == {"VWAP0": ("vwap",)}
    assert sel.factors["VWAP0"] == "(($high+$low+$close)/3)/$close"
    assert sel.proxies == {"vwap": FIELD_PROXIES["vwap"]}
    (caveat,) = sel.proxy_caveats()
    assert caveat.startswith("proxy: $vwap is not in the dataset; 1 factor (VWAP0) use")
    assert "not those of the published definitions" in caveat
    rng = np.random.default_rng(7)
    close = 100 + rng.standard_normal((6, 2)).cumsum(axis=0)
    high, low = close + 1.5, close - 0.5
    idx = pd.date_range("2024-01-01", periods=6, tz="UTC")
    panel = Panel(idx, ["A", "B"], {"close": close, "high": high, "low": low})
    values = evaluate(panel, {"VWAP0": sel.factors["VWAP0"]})["VWAP0"]
    np.testing.assert_allclose(values, ((high + low + close) / 3) / close, rtol=1e-14)


def test_a_proxy_needs_its_own_fields_and_must_exist() -> None:
    factors = {"V": "$vwap / $close", "C": "$close"}
    sel = select_factors(factors, ["close", "low"], proxies=["vwap"], library="x")  # no $high
    assert sel.factors == {"C": "$close"}
    assert sel.skipped == {"V": ("vwap",)}
    assert sel.proxies == {}
    with pytest.raises(AlphaloopError, match="no proxy for field 'amount'"):
        select_factors({"C": "$close"}, ["close"], proxies=["amount"])


def test_a_present_field_is_never_replaced_by_its_proxy() -> None:
    sel = select_factors({"V": "$vwap / $close"}, (*OHLCV, "vwap"), proxies=["vwap"])
    assert sel.factors == {"V": "$vwap / $close"}
    assert sel.proxied == {}
    assert sel.proxies == {}


def test_an_expression_does_not_read_the_workspace_libraries(tmp_path: Path) -> None:
    (tmp_path / "libraries").mkdir()
    (tmp_path / "libraries" / "broken.yaml").write_text("name: [unclosed\n")
    assert not resolve_factor_source("$close / Ref($close, 5)", tmp_path).is_library
    with pytest.raises(AlphaloopError, match="not valid YAML"):
        resolve_factor_source("broken", tmp_path)  # a bare name needs the list


def test_a_library_name_with_spaces_resolves_by_exact_name(tmp_path: Path) -> None:
    spaced = tmp_path / "spaced.yaml"
    spaced.write_text("name: my lib\nfactors:\n  C: $close\n")
    save_library(tmp_path, spaced)
    assert resolve_factor_source("my lib", tmp_path).expressions == {"C": "$close"}
    lib = FactorLibrary("x y", "", {"C": "$close"})
    assert resolve_factor_source("x y", [lib]).library is lib
    with pytest.raises(ExpressionError):
        resolve_factor_source("x z", [lib])
