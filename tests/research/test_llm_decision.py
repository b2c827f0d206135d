"""Recipe drafts: every recipe the search can draw survives the round trip through its draft;
drafts are conformed to the goal; bad ones are refused with every reason, never run."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from alphaloop.research.goal import Constraints
from alphaloop.research.llm_decision import (
    DraftError,
    RecipeDraft,
    ResearchDecision,
    draft_recipe,
    recipe_draft,
)
from alphaloop.research.space import available_families, random_recipe, recipe_spec
from alphaloop.strategies import TEMPLATES

FIELDS = ("close", "high", "low", "volume", "open")
TEMPLATE_NAMES = tuple(sorted(TEMPLATES))


def _convert(draft: dict, constraints: Constraints | None = None, **kw) -> dict:
    return draft_recipe(
        RecipeDraft.model_validate(draft),
        constraints=constraints or Constraints(),
        fields=kw.get("fields", FIELDS),
        models=kw.get("models", ("edge/v1", "edge/v2")),
        templates=kw.get("templates", TEMPLATE_NAMES),
        n_assets=20,
    )


def _indicator(family="momentum", template="mom", **params) -> dict:
    params = params or {"lookback": 126}
    return {
        "family": family,
        "template": template,
        "params": [{"name": k, "value": v} for k, v in params.items()],
    }


@pytest.mark.parametrize("long_only", [True, False])
def test_every_drawn_recipe_round_trips_through_its_draft(long_only: bool) -> None:
    constraints = Constraints(long_only=long_only)
    models = ("edge/v1",)
    families = available_families(
        FIELDS, constraints, models, templates=TEMPLATE_NAMES, n_assets=20
    )
    rng = np.random.default_rng(4)
    for i in range(120):
        family = families[i % len(families)]
        recipe = random_recipe(
            rng,
            family=family,
            constraints=constraints,
            fields=FIELDS,
            models=models,
            n_assets=20,
            templates=TEMPLATE_NAMES,
        )
        back = _convert(recipe_draft(recipe), constraints, models=models)
        assert back == recipe, family


def test_a_draft_is_conformed_to_the_goal() -> None:
    draft = {
        "indicators": [_indicator()],
        "logic": {"method": "top_k", "k": 5},
        "rebalance": "daily",
    }
    long_short = _convert(draft, Constraints(long_only=False, horizon="weekly"))
    assert long_short["logic"] == {"method": "quantile_long_short", "quantile": 0.2}
    assert long_short["rebalance"] == "weekly"
    spec = recipe_spec(long_short, dataset="d", constraints=Constraints(long_only=False))
    assert spec.portfolio.shorts


def test_refused_drafts_name_every_problem() -> None:
    draft = {
        "indicators": [
            _indicator("momentum", "mom", lookback=127),
            _indicator("astrology", "moon", window=28),
            _indicator("trend", "__import__('os').system('touch /tmp/x')", window=5),
        ],
        "models": ["secret/v9"],
        "logic": {"method": "threshold", "entry_long": 0.8},
    }
    with pytest.raises(DraftError) as info:
        _convert(draft)
    text = str(info.value)
    assert "lookback=127 is not on its grid" in text
    assert "unknown indicator family 'astrology'" in text
    assert "no such template" in text
    assert "unknown model version(s) secret/v9" in text
    assert "logic threshold needs exit_long" in text
    assert len(info.value.reasons) == 5


def test_templates_only_those_searched_and_feasible() -> None:
    with pytest.raises(DraftError, match="not searched here"):
        _convert({"strategy_template": "pairs", "template_params": []}, templates=("rsi",))
    with pytest.raises(DraftError, match="needs fields"):
        _convert(
            {"indicators": [_indicator("volume", "volume_trend", fast=5, slow=60)]},
            fields=("close",),
        )
    with pytest.raises(DraftError, match="at least one indicator or model"):
        _convert({})
    with pytest.raises(DraftError, match="not allowed by the goal"):
        _convert({"models": ["edge/v1"]}, Constraints(kinds=("pure_technical",)))


def test_the_answer_model_rejects_extra_fields_and_bad_literals() -> None:
    base = {
        "decision": "explore",
        "rationale": "why",
        "parent": None,
        "recipe": {"indicators": [_indicator()]},
    }
    ResearchDecision.model_validate(base)
    with pytest.raises(ValidationError):
        ResearchDecision.model_validate({**base, "decision": "yolo"})
    with pytest.raises(ValidationError):
        ResearchDecision.model_validate({**base, "code": "import os"})
    with pytest.raises(ValidationError):
        ResearchDecision.model_validate({**base, "recipe": {"weighting": "leverage_10x"}})
