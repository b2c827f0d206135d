"""StrategyDraft: validation of what a model may answer, and its conversion to a spec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alphaloop.errors import DraftError
from alphaloop.llm import portable_schema, schema_keywords
from alphaloop.llm.schema import PORTABLE_KEYWORDS, PORTABLE_TYPES
from alphaloop.research.draft import (
    DraftExits,
    ExpressionSignal,
    StrategyDraft,
    TemplateSignal,
    draft_to_spec,
    template_expression,
)
from alphaloop.research.templates import FAMILIES

OHLCV = ("open", "high", "low", "close", "volume")
ASSETS = tuple(f"S{i:02d}" for i in range(10))


def _draft(**fields) -> StrategyDraft:
    base = {"name": "d", "signal": {"kind": "template", "family": "momentum", "template": "mom"}}
    return StrategyDraft.model_validate(base | fields)


def _walk(schema):
    yield schema
    for value in schema.values():
        if isinstance(value, dict):
            yield from _walk(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _walk(item)


def test_the_draft_has_a_portable_schema() -> None:
    schema = portable_schema(StrategyDraft)
    assert schema_keywords(schema) <= PORTABLE_KEYWORDS
    for sub in _walk(schema):
        kind = sub.get("type")
        if isinstance(kind, str) and kind in PORTABLE_TYPES | {"object"}:
            continue
        assert kind is None or kind in PORTABLE_TYPES
    assert schema["additionalProperties"] is False
    templates = schema["properties"]["signal"]["anyOf"][0]["properties"]["template"]["enum"]
    assert sorted(templates) == sorted(t.name for ts in FAMILIES.values() for t in ts)


@pytest.mark.parametrize(
    "bad",
    [
        {"k": 0},
        {"k": 501},
        {"quantile": 0.9},
        {"rebalance": "hourly"},
        {"weighting": "magic"},
        {"side": "short_only"},
        {"exits": {"stop_loss": 0.9}},
        {"exits": {"hold_bars": -1}},
        {"leverage": 3},
        {"signal": {"kind": "template", "family": "momentum", "template": "mom", "lookback": 0}},
        {"signal": {"kind": "template", "family": "momentum", "template": "mom", "lookback": 900}},
        {"signal": {"kind": "template", "family": "astrology", "template": "mom"}},
        {"signal": {"kind": "expression", "expr": ""}},
        {"assumptions": ["x"] * 21},
    ],
)
def test_out_of_range_or_unknown_values_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        _draft(**bad)


def test_conversion_fills_honest_defaults_and_says_so() -> None:
    made = draft_to_spec(
        _draft(signal={"family": "momentum", "template": "mom", "lookback": 20}),
        "synth",
        fields=OHLCV,
        assets=ASSETS,
        intent="twenty-day momentum",
    )
    spec = made.spec
    assert spec.signal.expr == "$close/Ref($close, 20)-1"
    assert spec.fills.value == "next_open"
    assert spec.costs is None  # the dataset's preset: costs on
    assert spec.portfolio.method == "top_k"
    assert spec.portfolio.k == 5
    assert not spec.limits.allow_short
    assert spec.description == "twenty-day momentum"
    joined = " | ".join(made.assumptions)
    assert "k not given" in joined
    assert "next bar's open" in joined
    assert "costs on" in joined


def test_close_only_data_fills_at_the_next_close() -> None:
    made = draft_to_spec(_draft(), "synth", fields=("close",), assets=ASSETS)
    assert made.spec.fills.value == "next_close"
    assert any("no opens" in a for a in made.assumptions)
    # a missing parameter takes the middle of the template's grid, said so
    assert made.spec.signal.expr == "$close/Ref($close, 126)-1"
    assert any("lookback not given" in a for a in made.assumptions)


def test_side_decides_the_book() -> None:
    made = draft_to_spec(_draft(side="long_short"), "synth", fields=OHLCV, assets=ASSETS)
    assert made.spec.portfolio.method == "quantile_long_short"
    assert made.spec.portfolio.quantile == 0.2
    assert made.spec.limits.allow_short
    long_only = _draft(method="quantile_long_short", quantile=0.3)
    made = draft_to_spec(long_only, "synth", fields=OHLCV, assets=ASSETS)
    assert made.spec.portfolio.method == "top_k"
    assert made.spec.portfolio.k == 3  # 30% of 10 assets
    big = draft_to_spec(_draft(k=10), "synth", fields=OHLCV, assets=ASSETS)
    assert big.spec.portfolio.k == 5
    assert any("k reduced to 5" in a for a in big.assumptions)


def test_library_and_expression_signals() -> None:
    expr, _ = template_expression(TemplateSignal(family="library", template="roc", window=60))
    assert expr.startswith("-(")  # a library ROC is signed: a lower past return ranks better
    made = draft_to_spec(
        _draft(signal={"kind": "expression", "expr": "Mean($close, 5)/$close",
                       "higher_is_better": False}),
        "synth", fields=OHLCV, assets=ASSETS,
    )  # fmt: skip
    assert made.spec.signal.expr == "-(Mean($close, 5)/$close)"


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        ({"kind": "expression", "expr": "Mean($close, 5"}, "signal:"),
        ({"kind": "expression", "expr": "$earnings / $close"}, "unknown field $earnings"),
        ({"kind": "expression", "expr": "Ref($close, -1) / $close"}, "signal:"),
        ({"kind": "expression", "expr": "__import__('os').system('x')"}, "signal:"),
        ({"family": "momentum", "template": "ma_cross"}, "no template 'ma_cross'"),
        ({"family": "momentum", "template": "mom", "window": 5}, "takes lookback, not window"),
        ({"family": "momentum", "template": "mom_skip", "lookback": 63, "skip": 63}, "below"),
        ({"family": "trend", "template": "ma_cross", "fast": 50, "slow": 20}, "below slow"),
    ],
)
def test_bad_signals_are_typed_errors(signal: dict, message: str) -> None:
    with pytest.raises(DraftError, match=message.replace("$", r"\$").replace("(", r"\(")):
        draft_to_spec(_draft(signal=signal), "synth", fields=OHLCV, assets=ASSETS)


def test_stops_need_high_and_low_and_universe_must_exist() -> None:
    stops = _draft(exits=DraftExits(stop_loss=0.05).model_dump())
    with pytest.raises(DraftError, match="high and low"):
        draft_to_spec(stops, "synth", fields=("close",), assets=ASSETS)
    assert draft_to_spec(stops, "synth", fields=OHLCV, assets=ASSETS).spec.stops.stop_loss == 0.05
    with pytest.raises(DraftError, match="ZZZ not in dataset"):
        draft_to_spec(_draft(universe=["S01", "ZZZ"]), "synth", fields=OHLCV, assets=ASSETS)
    made = draft_to_spec(_draft(universe=["S01", "S02", "S03"]), "s", fields=OHLCV, assets=ASSETS)
    assert made.spec.universe == ["S01", "S02", "S03"]
    assert made.spec.portfolio.k == 1  # below the three assets


def test_expression_signal_model_is_data_only() -> None:
    sig = ExpressionSignal(expr="Std($close, 20)")
    assert sig.kind == "expression"
    with pytest.raises(ValidationError):
        ExpressionSignal(expr="x", code="print(1)")
