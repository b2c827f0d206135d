"""The search space: templates compile and evaluate on bundled data, recipes are canonical,
specs keep to the constraints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.backtest.spec import StrategySpec
from alphaloop.data.bundled import load_bundled
from alphaloop.errors import GoalError, SpecError
from alphaloop.factors import compile_expression
from alphaloop.factors.evaluate import evaluate
from alphaloop.factors.library import BUILTIN
from alphaloop.research.goal import Constraints
from alphaloop.research.space import (
    FAMILIES,
    available_families,
    canonical_recipe,
    classify,
    conform,
    random_recipe,
    recipe_spec,
    spec_dict,
)
from tests.research.search_support import COMPOSITE, assert_respects

ALL_FIELDS = ("open", "high", "low", "close", "volume", "vwap")
TEMPLATES = [t for ts in FAMILIES.values() for t in ts]


def _corners(tpl):
    return [{p: v[0] for p, v in tpl.grid}, {p: v[-1] for p, v in tpl.grid}]


@pytest.fixture(scope="module")
def stocks():
    return load_bundled("sp500-stocks").to_panel().iloc(slice(-600, None))


@pytest.fixture(scope="module")
def ohlcv():
    return load_bundled("sp500-ohlcv").to_panel().iloc(slice(-600, None))


def test_required_families_exist() -> None:
    for family in (
        "momentum",
        "mean_reversion",
        "volatility",
        "trend",
        "breakout",
        "volume",
        "quality",
        "library",
    ):
        assert FAMILIES[family], family


@pytest.mark.parametrize("tpl", TEMPLATES, ids=[f"{t.family}/{t.name}" for t in TEMPLATES])
def test_every_template_compiles_with_its_fields(tpl) -> None:
    for params in _corners(tpl):
        expr = compile_expression(tpl.expression(params), fields=tpl.fields)
        assert set(expr.fields) <= set(tpl.fields)
        assert all(isinstance(v, int) for v in params.values())
    for _, values in tpl.grid:
        assert list(values) == sorted(set(values))
        assert len(values) >= 2
    if tpl.factor:
        for params in _corners(tpl):
            name = tpl.factor_name(params)
            text = BUILTIN["alpha158"].factors[name]
            assert tpl.expression(params) in (text, f"-({text})")


@pytest.mark.parametrize("tpl", TEMPLATES, ids=[f"{t.family}/{t.name}" for t in TEMPLATES])
def test_every_template_evaluates_on_bundled_data(tpl, stocks, ohlcv) -> None:
    panel = stocks if set(tpl.fields) <= {"close"} else ohlcv
    assert set(tpl.fields) <= set(panel.field_names)
    exprs = {f"p{i}": tpl.expression(p) for i, p in enumerate(_corners(tpl))}
    values = evaluate(panel, exprs)
    for name, v in values.items():
        assert v.shape == panel.shape
        assert np.isfinite(v[-1]).any(), (tpl.name, name)


def test_volume_family_needs_volume() -> None:
    c = Constraints()
    assert "volume" not in available_families(("close",), c)
    assert "volume" in available_families(("close", "volume"), c)
    assert "ml" not in available_families(("close",), c)
    assert "ml" in available_families(("close",), c, ["m/v1"])
    assert available_families(("close",), Constraints(kinds=("pure_ml",))) == []
    with pytest.raises(GoalError, match="no strategy can be drawn"):
        random_recipe(
            np.random.default_rng(0), constraints=Constraints(kinds=("pure_ml",)), fields=("close",)
        )


def test_random_recipe_is_deterministic_and_canonical() -> None:
    c = Constraints()
    a = [random_recipe(np.random.default_rng(7), constraints=c, fields=ALL_FIELDS) for _ in "ab"]
    assert a[0] == a[1]
    assert canonical_recipe(a[0]) == a[0]
    assert list(a[0]) == sorted(a[0])


def test_equal_recipes_give_equal_hashes() -> None:
    c = Constraints()
    base = {
        "indicators": [{"family": "momentum", "template": "mom", "params": {"lookback": 126}}],
        "models": [],
        "logic": {"method": "top_k", "k": 5},
        "weighting": "equal",
        "rebalance": "monthly",
    }
    same = {
        **base,
        "indicators": [
            {"params": {"lookback": np.int64(126)}, "template": "mom", "family": "momentum"}
        ],
        "logic": {"k": np.int32(5), "method": "top_k"},
        "exits": None,
        "combine": "ic",
    }
    assert canonical_recipe(base) == canonical_recipe(same)
    h1 = recipe_spec(base, dataset="d", constraints=c).hash
    h2 = recipe_spec(same, dataset="d", constraints=c).hash
    assert h1 == h2
    other = {**base, "indicators": [{**base["indicators"][0], "params": {"lookback": 63}}]}
    assert recipe_spec(other, dataset="d", constraints=c).hash != h1


def test_parameters_off_the_grid_are_refused() -> None:
    bad = {"indicators": [{"family": "momentum", "template": "mom", "params": {"lookback": 50}}]}
    with pytest.raises(ValueError, match="not on its grid"):
        canonical_recipe(bad)
    with pytest.raises(ValueError, match="no indicator template"):
        canonical_recipe({"indicators": [{"family": "x", "template": "y", "params": {}}]})


def test_single_indicator_spec() -> None:
    r = {
        "indicators": [
            {"family": "momentum", "template": "mom_skip", "params": {"lookback": 126, "skip": 21}}
        ],
        "logic": {"method": "top_k", "k": 5},
        "rebalance": "weekly",
        "weighting": "inverse_volatility",
    }
    spec = recipe_spec(r, dataset="sp500-stocks", constraints=Constraints(), name="m")
    assert isinstance(spec, StrategySpec)
    assert spec.signal.expr == "Ref($close, 21)/Ref($close, 126)-1"
    assert spec.portfolio.method == "top_k"
    assert spec.portfolio.k == 5
    assert spec.portfolio.weighting == "inverse_volatility"
    assert spec.rebalance.frequency == "weekly"
    assert not spec.limits.allow_short
    assert spec.costs is None
    assert spec.name == "m"
    thr = recipe_spec(
        {**r, "logic": {"method": "threshold", "entry_long": 0.8, "exit_long": 0.6}},
        dataset="d",
        constraints=Constraints(),
    )
    assert thr.signal.expr.startswith("CsRank(")


def test_long_short_and_horizon_override_the_recipe() -> None:
    r = random_recipe(np.random.default_rng(3), constraints=Constraints(), fields=("close",))
    c = Constraints(long_only=False, horizon="quarterly", universe=["A", "B", "C", "D"])
    spec = recipe_spec(r, dataset="d", constraints=c)
    assert spec.portfolio.method == "quantile_long_short"
    assert spec.limits.allow_short
    assert spec.rebalance.frequency == "quarterly"
    assert spec.universe == ["A", "B", "C", "D"]
    back = conform(
        {**r, "logic": {"method": "quantile_long_short", "quantile": 0.2}}, Constraints()
    )
    assert back["logic"]["method"] == "top_k"


def test_kind_outside_the_goal_is_refused() -> None:
    r = random_recipe(
        np.random.default_rng(0),
        family="ml",
        constraints=Constraints(),
        fields=("close",),
        models=["m/v1"],
    )
    assert classify(r) == (
        "pure_ml",
        "ml",
        r["logic"]["method"].replace("quantile_long_short", "long_short"),
    )
    assert recipe_spec(r, dataset="d", constraints=Constraints()).signal.model == "m/v1"
    with pytest.raises(SpecError, match="pure_ml strategy is not allowed"):
        recipe_spec(r, dataset="d", constraints=Constraints(kinds=("pure_technical",)))


def _multi():
    return {
        "indicators": [
            {"family": "momentum", "template": "mom", "params": {"lookback": 126}},
            {"family": "library", "template": "roc", "params": {"window": 20}},
        ],
        "models": ["lgbm/v2"],
        "combine": "ic",
        "logic": {"method": "top_k", "k": 5},
        "rebalance": "monthly",
        "weighting": "equal",
        "exits": {"hold_bars": 5, "exit_on_flip": True},
    }


def test_multi_indicator_spec_dict_shape() -> None:
    d = spec_dict(_multi(), dataset="d", constraints=Constraints())
    sig = d["signal"]
    assert set(sig) == {"components", "combine"}
    assert sig["combine"] == "ic"
    assert sig["components"] == [
        {"factor": "ROC20", "normalize": "rank", "sign": -1},
        {"expr": "$close/Ref($close, 126)-1", "normalize": "rank", "sign": 1},
        {"model": "lgbm/v2", "normalize": "rank", "sign": 1},
    ]
    assert d["exits"] == {"hold_bars": 5, "exit_on_flip": True}
    assert classify(_multi()) == ("hybrid_ml", "composite", "top_k")


def test_multi_indicator_spec_validates() -> None:
    if not COMPOSITE:
        pytest.skip("composite signals not merged")
    spec = recipe_spec(_multi(), dataset="d", constraints=Constraints())
    assert len(spec.signal.components) == 3
    assert spec.signal.combine == "ic"
    assert spec.exits.hold_bars == 5


@given(
    seed=st.integers(0, 10_000),
    long_only=st.booleans(),
    horizon=st.sampled_from([None, "daily", "weekly", "monthly", "quarterly"]),
    turnover=st.sampled_from([None, 1.0]),
    kinds=st.sampled_from(
        [
            ("pure_technical",),
            ("hybrid_ml",),
            ("pure_ml",),
            ("pure_technical", "hybrid_ml", "pure_ml"),
        ]
    ),
    volume=st.booleans(),
)
def test_random_recipes_respect_constraints(seed, long_only, horizon, turnover, kinds, volume):
    c = Constraints(long_only=long_only, horizon=horizon, max_turnover=turnover, kinds=kinds)
    fields = ("close", "volume") if volume else ("close",)
    r = random_recipe(
        np.random.default_rng(seed),
        constraints=c,
        fields=fields,
        models=["a/v1", "b/v3"],
        n_assets=6,
    )
    assert r == canonical_recipe(r)
    assert_respects(r, c)
    if r["logic"]["method"] == "top_k":
        assert r["logic"]["k"] < 6
    if not volume:
        assert all(i["family"] != "volume" for i in r["indicators"])
