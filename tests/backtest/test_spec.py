"""StrategySpec: loading, identity, and errors that name the field, value and choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from alphaloop.backtest.spec import StrategySpec, load_spec, quick_spec
from alphaloop.errors import SpecError
from alphaloop.execution.costs import CostModel, FillTiming, cost_preset

BASE = {"data": "sp500-ohlcv", "signal": {"expr": "$close / Ref($close, 20) - 1"}}


def spec(**over: object) -> StrategySpec:
    return StrategySpec.from_dict({**BASE, **over})


def test_defaults_are_the_honest_ones() -> None:
    s = spec()
    assert s.fills is FillTiming.NEXT_OPEN
    # no costs in the spec: the run takes the preset of the dataset's asset class
    assert s.costs is None
    equities = cost_preset("equities")
    assert equities == CostModel()
    assert equities.half_spread_bps > 0
    assert equities.commission_per_share > 0
    assert equities.impact == "sqrt"
    assert s.limits.max_leverage == 1.0
    assert not s.limits.allow_short
    assert s.portfolio.method == "top_k"
    assert s.portfolio.k == 5


def test_hash_ignores_name_and_spelling_of_defaults() -> None:
    a = spec(name="one", description="x")
    b = StrategySpec.from_dict({**BASE, "name": "two", "fills": "next_open", "costs": None})
    assert a.hash == b.hash
    # explicit equity costs are not "the dataset's preset": on FX data they differ
    assert spec(costs=CostModel().model_dump()).hash != a.hash
    assert spec(costs=CostModel().model_dump()).hash == spec(costs="equities").hash
    assert len(a.hash) == 64
    assert spec(fills="next_close").hash != a.hash
    assert spec(portfolio={"k": 6}).hash != a.hash
    assert spec(costs={"half_spread_bps": 2.5}).hash != a.hash


def test_yaml_and_json_round_trip(tmp_path: Path) -> None:
    s = spec(name="rt", rebalance={"frequency": "weekly"}, stops={"stop_loss": 0.1})
    y = tmp_path / "s.yaml"
    y.write_text(s.to_yaml())
    j = tmp_path / "s.json"
    j.write_text(json.dumps(s.model_dump(mode="json")))
    assert load_spec(y) == s
    assert load_spec(j) == s
    assert load_spec(y).hash == s.hash


@pytest.mark.parametrize(
    ("over", "needles"),
    [
        ({"portfolio": {"method": "topk", "k": 3}}, ["portfolio.method", "'topk'", "top_k"]),
        ({"fills": "now"}, ["fills", "'now'", "next_open", "same_close"]),
        ({"capital": -5}, ["capital", "-5", "greater than 0"]),
        ({"costs": {"comission": 1}}, ["costs.comission", "not a known field", "commission_bps"]),
        ({"bogus": 1}, ["bogus", "not a known field", "signal"]),
        ({"portfolio": {"method": "top_k"}}, ["top_k needs k"]),
        ({"portfolio": {"method": "quantile_long_short"}}, ["allow_short is false"]),
        ({"portfolio": {"k": 2, "gross": 2.0}}, ["gross 2.0 exceeds", "max_leverage 1.0"]),
        ({"start": "2020-13-01"}, ["start", "2020-13-01"]),
        ({"start": "2020-02-01", "end": "2020-01-01"}, ["before start"]),
        ({"universe": []}, ["universe", "at least one"]),
        ({"stops": {"stop_loss": 1.5}}, ["stops.stop_loss", "1.5"]),
        ({"signal": {"expr": ""}}, ["signal.expr"]),
        (
            {"portfolio": {"method": "threshold", "entry_long": 0.0, "exit_long": 0.5}},
            ["exit_long must not be above entry_long"],
        ),
    ],
)
def test_bad_fields_are_named(over: dict, needles: list[str]) -> None:
    with pytest.raises(SpecError) as exc:
        spec(**over)
    for needle in needles:
        assert needle in str(exc.value)


def test_missing_required_field() -> None:
    with pytest.raises(SpecError, match="data is required"):
        StrategySpec.from_dict({"signal": {"expr": "$close"}})
    with pytest.raises(SpecError, match="mapping"):
        StrategySpec.from_dict(["not", "a", "mapping"])


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
    badj = tmp_path / "bad.json"
    badj.write_text("{")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(badj)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(binary)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("data: x\nsignal: {expr: $close}\nfills: tomorrow\n")
    with pytest.raises(SpecError, match=r"wrong\.yaml: fills: 'tomorrow' is not allowed"):
        load_spec(wrong)


def test_quick_spec_keeps_defaults() -> None:
    q = quick_spec("$close", "sp500-ohlcv", top_k=3)
    assert q.portfolio.k == 3
    assert q.costs is None
    assert q.fills is FillTiming.NEXT_OPEN
    with pytest.raises(SpecError, match="command line: fills"):
        quick_spec("$close", "x", fills="sometime")


def test_spec_is_frozen() -> None:
    s = spec()
    with pytest.raises(Exception, match="frozen"):
        s.capital = 5.0  # type: ignore[misc]


def test_replace_validates_and_changes_the_hash() -> None:
    s = spec()
    moved = s.replace(fills="next_close")
    assert moved.fills is FillTiming.NEXT_CLOSE
    assert moved.hash != s.hash
    assert moved.replace(fills="next_open").hash == s.hash
    with pytest.raises(SpecError, match="fills: 'tomorrow' is not allowed"):
        s.replace(fills="tomorrow")


# hashes computed before exits and composite signals existed: they must not move
PINNED = {
    "3f874eded172f3d78f5c3b46198b7282a8b028b00f271cea8992e7bd48e90423": dict(BASE),
    "5f0d1015f3e2067a2c3c1100144a9beae1fe20acf195b547fb01d95f42a0fd50": {
        "data": "sp500-ohlcv",
        "signal": {"model": "ridge-mom/v2"},
        "portfolio": {"method": "quantile_long_short", "quantile": 0.3},
        "limits": {"allow_short": True},
        "rebalance": {"frequency": "weekly"},
        "stops": {"stop_loss": 0.1},
    },
    "7e79906c6e31e16c808effb07423887a6e657132d996f87c37d04341e0a2a9eb": {
        "data": "fx",
        "universe": ["A", "B"],
        "start": "2010-01-01",
        "end": "2020-01-01",
        "signal": {"expr": "Mean($close, 5)", "mode": "qlib"},
        "portfolio": {"method": "threshold", "entry_long": 0.5, "weighting": "inverse_volatility"},
        "costs": {"preset": "fx", "half_spread_bps": 0.5},
        "fills": "next_close",
        "capital": 1000,
        "lot_size": 1,
        "benchmark": "spy",
        "periods_per_year": 260,
    },
}


@pytest.mark.parametrize("expected", list(PINNED))
def test_hashes_of_existing_specs_are_pinned(expected: str) -> None:
    s = StrategySpec.from_dict(PINNED[expected])
    assert s.hash == expected
    # the new fields at their defaults, written out, change nothing
    explicit = {**PINNED[expected], "exits": {"hold_bars": 0, "exit_on_flip": False}}
    explicit["signal"] = {
        **explicit["signal"],
        "combine": "equal",
        "window": 252,
        "horizon": 1,
        "components": None,
    }
    assert StrategySpec.from_dict(explicit).hash == expected
    assert "exits" not in s.canonical()
    assert "components" not in s.canonical()["signal"]
    # ... and a round trip through YAML keeps it
    assert StrategySpec.from_dict(yaml.safe_load(s.to_yaml())).hash == expected


def test_exits_and_composites_are_part_of_the_identity() -> None:
    a = spec()
    assert spec(exits={"hold_bars": 5}).hash != a.hash
    assert spec(exits={"exit_on_flip": True}).hash != a.hash
    comps = [{"factor": "ROC20"}, {"expr": "$close / Ref($close, 60) - 1", "sign": -1}]
    c = spec(signal={"components": comps})
    assert c.canonical()["signal"]["combine"] == "equal"
    assert spec(signal={"components": comps, "combine": "ic"}).hash != c.hash
    assert spec(signal={"components": comps, "window": 100}).hash != c.hash
    assert spec(signal={"components": comps[::-1]}).hash != c.hash
