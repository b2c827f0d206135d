"""The two-step local draft: what each question allows, and that every allowed answer drafts."""

from __future__ import annotations

import itertools
import json

import pytest

from alphaloop.llm import LLMAnswerError, LLMClient, LLMSettings
from alphaloop.research import FAMILIES, ask_local_draft, draft_to_spec
from alphaloop.research.draft_local import (
    FAMILY_NOTES,
    ParamsAnswer,
    compose_draft,
    family_messages,
    family_schema,
    params_messages,
    params_schema,
)
from tests.llm.servers import Reply, openai_body, running

CLOSE_ONLY = ("close",)
OHLCV = ("open", "high", "low", "close", "volume")
ASSETS = [f"S{i}" for i in range(20)]


def _branches(schema: dict) -> list[dict]:
    return schema.get("anyOf", [schema])


def test_the_first_question_offers_only_the_families_the_fields_allow() -> None:
    close = family_schema(CLOSE_ONLY)["properties"]["family"]["enum"]
    full = family_schema(OHLCV)["properties"]["family"]["enum"]
    assert "volume" not in close
    assert set(full) == set(FAMILIES)
    assert set(FAMILY_NOTES) == set(FAMILIES)  # every family has its one-line definition
    system = family_messages("buy winners", CLOSE_ONLY)[0]["content"]
    assert all(f"- {f}: {FAMILY_NOTES[f]}" in system for f in close)
    assert "volume:" not in system


@pytest.mark.parametrize("fields", [CLOSE_ONLY, OHLCV])
def test_every_answer_the_second_schema_allows_makes_a_spec(fields: tuple[str, ...]) -> None:
    """Each template branch, at the ends of every enum, composes into a draft and a spec."""
    n = 0
    for family in family_schema(fields)["properties"]["family"]["enum"]:
        for branch in _branches(params_schema(family, fields)):
            props = branch["properties"]
            assert branch["required"] == list(props)
            assert branch["additionalProperties"] is False
            ends = {k: (v["enum"][0], v["enum"][-1]) for k, v in props.items()}
            for values in itertools.product(*ends.values()):
                answer = ParamsAnswer.model_validate(dict(zip(ends, values, strict=True)))
                draft = compose_draft("an idea", family, answer)
                made = draft_to_spec(draft, "data", fields=fields, assets=ASSETS)
                assert made.spec.signal.expr
                n += 1
    assert n > 100


def test_the_second_question_extends_the_first_whose_system_message_lists_templates() -> None:
    first = family_messages("golden cross", CLOSE_ONLY)
    second = params_messages("golden cross", "trend", CLOSE_ONLY)
    assert second[:2] == first
    assert json.loads(second[2]["content"]) == {"family": "trend"}
    assert "trend template" in second[3]["content"]
    system = first[0]["content"]
    assert "ma_cross = fast simple average above the slow one (fast [5, 10, 20]" in system
    assert "volume_trend" not in system  # needs a volume field


def _ask(*answers: dict) -> tuple[object, list]:
    with running("openai") as server:
        server.script = [Reply(body=openai_body(json.dumps(a))) for a in answers]
        settings = LLMSettings(base_url=server.url, model="m", max_retries=0, timeout_s=5)
        with LLMClient(settings) as client:
            try:
                result: object = ask_local_draft(client, "idea", CLOSE_ONLY, repair_rounds=0)
            except LLMAnswerError as exc:
                result = exc
    return result, server.requests


def test_code_fills_what_the_model_no_longer_writes() -> None:
    draft, requests = _ask(
        {"family": "mean_reversion"},
        {"template": "zscore", "window": 20, "side": "long_short", "k": 5, "rebalance": "weekly"},
    )
    assert len(requests) == 2
    assert draft.signal.family == "mean_reversion"
    assert draft.signal.window == 20
    assert draft.method == "quantile_long_short"
    assert draft.name == "idea"
    assert draft.weighting == "equal"
    assert "set by code" in draft.assumptions[0]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (({"family": "volume"},), "unknown family 'volume'"),  # not allowed on close only
        (
            (
                {"family": "momentum"},
                {"template": "low_vol", "window": 20, "side": "long_only", "k": 5,
                 "rebalance": "daily"},
            ),
            "not one of momentum's",
        ),
    ],
)  # fmt: skip
def test_answers_outside_the_question_are_refused(answers, message: str) -> None:
    error, _ = _ask(*answers)
    assert isinstance(error, LLMAnswerError)
    assert message in str(error)
