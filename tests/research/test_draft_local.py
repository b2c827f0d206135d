"""The local draft, value by value: what each key allows, what each request carries, and that
every allowed answer drafts."""

from __future__ import annotations

import itertools

import pytest

from alphaloop.llm import LLMAnswerError, LLMClient, LLMSettings, chatml, choice_grammar
from alphaloop.research import FAMILIES, ask_local_draft, draft_to_spec
from alphaloop.research.draft_local import (
    FAMILY_NOTES,
    ParamsAnswer,
    compose_draft,
    family_messages,
    family_schema,
    params_schema,
)
from tests.llm.servers import Reply, completion_body, running

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


def test_the_system_message_lists_the_templates_the_fields_allow() -> None:
    system = family_messages("golden cross", CLOSE_ONLY)[0]["content"]
    assert "ma_cross = fast simple average above the slow one (fast [5, 10, 20]" in system
    assert "volume_trend" not in system  # needs a volume field


def _ask(*texts: str, fields: tuple[str, ...] = CLOSE_ONLY) -> tuple[object, list]:
    with running("openai") as server:
        server.script = [Reply(body=completion_body(t)) for t in texts]
        settings = LLMSettings(base_url=server.url, model="m", max_retries=0, timeout_s=5)
        with LLMClient(settings) as client:
            try:
                result: object = ask_local_draft(client, "idea", fields)
            except LLMAnswerError as exc:
                result = exc
    assert not server.protocol_errors
    return result, server.requests


def test_the_model_writes_only_the_values_code_the_rest() -> None:
    draft, requests = _ask("mean_reversion", "zscore", "20", "long_short", "5", "weekly")
    assert len(requests) == 6
    assert {r["path"] for r in requests} == {"/v1/completions"}
    bodies = [r["body"] for r in requests]
    # each prompt is the same conversation with the answer so far and the next key
    head = chatml(family_messages("idea", CLOSE_ONLY), answer_prefix="{")
    assert [b["prompt"].removeprefix(head) for b in bodies] == [
        '"family": "',
        '"family": "mean_reversion","template":"',  # compact after the family: fewer tokens
        '"family": "mean_reversion","template":"zscore","window":',
        '"family": "mean_reversion","template":"zscore","window":20,"side":"',
        '"family": "mean_reversion","template":"zscore","window":20,"side":"long_short","k":',
        '"family": "mean_reversion","template":"zscore","window":20,"side":"long_short","k":5,'
        '"rebalance":"',
    ]
    families = family_schema(CLOSE_ONLY)["properties"]["family"]["enum"]
    assert bodies[0]["grammar"] == choice_grammar(families)
    assert bodies[1]["grammar"] == 'root ::= "reversal" | "ma_distance" | "zscore"'
    assert bodies[2]["grammar"] == 'root ::= "10" | "20" | "50"'
    assert [b["max_tokens"] for b in bodies] == [14, 11, 2, 10, 2, 9]  # longest option's length
    assert all(b["temperature"] == 0.0 for b in bodies)
    assert draft.signal.family == "mean_reversion"
    assert draft.signal.window == 20
    assert draft.method == "quantile_long_short"
    assert (draft.k, draft.rebalance) == (5, "weekly")
    assert draft.name == "idea"
    assert draft.weighting == "equal"
    assert "set by code" in draft.assumptions[0]


def test_a_key_with_one_option_is_written_by_code_not_asked() -> None:
    """Volume alone allows one family with one template: neither is asked."""
    draft, requests = _ask("10", "126", "long_only", "3", "monthly", fields=("volume",))
    assert len(requests) == 5
    assert requests[0]["body"]["prompt"].endswith(
        '{"family": "volume","template":"volume_trend","fast":'
    )
    assert (draft.signal.template, draft.signal.fast, draft.signal.slow) == (
        "volume_trend",
        10,
        126,
    )


def test_the_stop_is_asked_only_when_the_data_has_high_and_low() -> None:
    draft, requests = _ask(
        "breakout", "channel_hl", "55", "long_only", "10", "daily", "0.05", fields=OHLCV
    )
    assert requests[-1]["body"]["prompt"].endswith('"rebalance":"daily","stop":')
    assert draft.exits.stop_loss == 0.05
    assert draft.signal.template == "channel_hl"


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (("volume",), "answered 'volume' for the family, not one of momentum"),  # close only
        (("momentum", "low_vol"), "for the momentum draft's template, not one of mom, mom_skip"),
        (("trend", "ma_cross", "7"), "answered '7' for the trend draft's fast"),
    ],
)
def test_answers_outside_the_options_are_refused(texts: tuple[str, ...], message: str) -> None:
    error, requests = _ask(*texts)
    assert isinstance(error, LLMAnswerError)
    assert message in str(error)
    assert len(requests) == len(texts)  # nothing asked after the bad answer


def test_an_answer_cut_at_max_tokens_says_so() -> None:
    with running("openai") as server:
        server.script = [Reply(body=completion_body("mean_rev", finish_reason="length"))]
        settings = LLMSettings(base_url=server.url, model="m", max_retries=0, timeout_s=5)
        with LLMClient(settings) as client, pytest.raises(LLMAnswerError) as info:
            ask_local_draft(client, "idea", CLOSE_ONLY)
    assert "cut at max_tokens 14: 'mean_rev'" in str(info.value)
