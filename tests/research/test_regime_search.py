"""Regime-gated candidates in the search: the operator, recipes, drafts, the prompt, the scan."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.backtest.sizing_steps import market_regime_labels
from alphaloop.backtest.spec_sizing import RegimeRule
from alphaloop.research.evaluate import EvalContext, EvaluationProtocol, evaluate_candidate
from alphaloop.research.goal import Constraints
from alphaloop.research.llm_decision import RecipeDraft, draft_recipe, recipe_draft
from alphaloop.research.llm_prompt import research_prompt
from alphaloop.research.operators import mutate
from alphaloop.research.policy import ResearchView
from alphaloop.research.regime_state import search_regimes
from alphaloop.research.space import (
    REGIME_GATES,
    canonical_recipe,
    random_recipe,
    recipe_key,
    recipe_spec,
    regime_gate_name,
    strategy_hash,
)

from .synthetic import Predictor, make_info, make_panel

FIELDS = ("close", "high", "low", "volume")


def _recipe(seed: int = 0, constraints: Constraints | None = None) -> dict:
    return random_recipe(
        np.random.default_rng(seed),
        family="momentum",
        constraints=constraints or Constraints(kinds=("pure_technical",)),
        fields=FIELDS,
    )


@pytest.mark.parametrize("long_only", [True, False])
def test_the_regime_operator_gives_valid_gated_specs(long_only: bool) -> None:
    constraints = Constraints(long_only=long_only)
    gates = {regime_gate_name(g) for g in REGIME_GATES}
    seen: set[str] = set()
    for seed in range(12):
        parent = _recipe(seed, constraints)
        child = mutate(parent, np.random.default_rng(seed), constraints=constraints,
                       fields=FIELDS, operator="regime").recipe  # fmt: skip
        assert {k: v for k, v in child.items() if k != "regime"} == parent
        spec = recipe_spec(child, dataset="d", constraints=constraints)
        assert spec.regime is not None
        name = regime_gate_name(child["regime"])
        assert name in gates
        seen.add(name)
        assert spec.regime.multipliers() == RegimeRule(**child["regime"]).multipliers()
        assert spec.limits.allow_short == (not long_only)
        # again: another gate or none
        again = mutate(child, np.random.default_rng(seed + 100), constraints=constraints,
                       fields=FIELDS, operator="regime").recipe  # fmt: skip
        assert again != child
        recipe_spec(again, dataset="d", constraints=constraints)
    assert len(seen) >= 3


def test_ungated_recipes_keep_their_keys_and_hashes() -> None:
    recipe = _recipe(4)
    assert "regime" not in canonical_recipe(recipe)
    gated = canonical_recipe({**recipe, "regime": dict(REGIME_GATES[2])})
    assert recipe_key(gated) != recipe_key(recipe)
    c = Constraints()
    plain = recipe_spec(recipe, dataset="d", constraints=c)
    assert "regime" not in plain.canonical()
    assert strategy_hash(gated, dataset="d", constraints=c) != plain.hash
    with pytest.raises(ValueError, match="not one of the search's gates"):
        canonical_recipe({**recipe, "regime": {"detector": "hmm", "allow": ["calm"]}})


def test_a_gated_recipe_round_trips_through_its_draft() -> None:
    recipe = canonical_recipe({**_recipe(7), "regime": dict(REGIME_GATES[1])})
    draft = RecipeDraft.model_validate(recipe_draft(recipe))
    assert draft.regime == "volatility[turbulentx0.5]"
    back = draft_recipe(draft, constraints=Constraints(), fields=FIELDS, models=(),
                        templates=())  # fmt: skip
    assert back == recipe


def test_the_prompt_states_the_search_span_regime_and_the_gates() -> None:
    panel = make_panel(n_times=900, n_assets=8)
    state = search_regimes(panel)
    view = ResearchView("d", FIELDS, 8, Constraints(), (), (), 1, frozenset(), regime=state)
    text = research_prompt(view)
    assert "Market regime of the equal-weight universe" in text
    assert f"- volatility: {state['volatility']['current']}" in text
    assert f"({state['as_of']})" in text
    assert "trend[up]" in text
    bare = research_prompt(ResearchView("d", FIELDS, 8, Constraints(), (), (), 1, frozenset()))
    assert "- none computed" in bare


def test_the_search_regime_is_the_last_bars_filtered_label() -> None:
    panel = make_panel(n_times=900, n_assets=8)
    close = np.asarray(panel["close"])
    eligible = np.isfinite(close)
    rule = RegimeRule(detector="volatility", allow=["calm", "turbulent"])
    full = market_regime_labels(close, eligible, rule, panel.index)
    for end in (600, 750, 900):
        state = search_regimes(panel.iloc(slice(0, end)))
        assert state["as_of"] == panel.index[end - 1].date().isoformat()
        assert state["volatility"]["current"] == rule.names[full[end - 1]]
        shares = state["volatility"]["shares"]
        assert sum(shares.values()) == pytest.approx(1.0, abs=2e-3)


def test_a_gated_candidate_is_evaluated_and_its_scan_is_clean() -> None:
    panel = make_panel(n_times=1200, n_assets=10)
    info = make_info(panel)
    ctx = EvalContext(panel, info, EvaluationProtocol(data_hash=info.content_hash), Predictor())
    from .synthetic import spec

    base = spec({"expr": "$edge"}, rebalance="weekly")
    gated = base.replace(regime={"detector": "trend", "allow": ["up"], "fast": 20, "slow": 60})
    res = evaluate_candidate(ctx, gated)
    assert res.status == "ok", res.reason
    assert res.lookahead["clean"] is True
    plain = evaluate_candidate(ctx, base)
    assert res.metrics["sharpe"] != plain.metrics["sharpe"]
