"""Factor hypotheses from a model: portable schemas, the parser as the only gate, repair, replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.llm import LLMClient, LLMSettings, ResponseCache, portable_schema, schema_keywords
from alphaloop.llm.hypotheses import (
    FactorHypotheses,
    LibraryFact,
    MiningFacts,
    hypothesis_messages,
    propose_hypotheses,
)
from alphaloop.llm.ideas import ImprovementIdeas
from alphaloop.llm.schema import PORTABLE_KEYWORDS, PORTABLE_TYPES
from tests.llm.servers import Reply, anthropic_body, openai_body
from tests.llm.support import make_client as _make_client

FACTS = MiningFacts(
    dataset="planted",
    fields=("close", "volume"),
    start="2001-01-02",
    end="2003-05-30",
    n_bars=600,
    n_assets=30,
    horizon=5,
    operators=("CsRank", "Mean", "Corr", "Ref"),
    windows=(5, 10, 20),
    library=(LibraryFact("alpha158-close-core/ROC5", "Ref($close,5)/$close", 0.0123, 410),),
)


def make_client(server, sleeps, **kwargs):
    """A client of the local server with a timeout no loaded machine reaches."""
    return _make_client(server, sleeps, timeout_s=30.0, **kwargs)


def hyp(name: str, expression: str, **over: object) -> dict[str, object]:
    return {
        "name": name,
        "expression": expression,
        "rationale": "volume confirms price",
        "expected_sign": "negative",
        "horizon": 5,
        **over,
    }


def answer(*items: dict[str, object]) -> Reply:
    return Reply(body=openai_body(json.dumps({"hypotheses": list(items)})))


def _types(schema: object) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), str):
            found.add(schema["type"])
        for value in schema.values():
            found |= _types(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _types(value)
    return found


@pytest.mark.parametrize("model", [FactorHypotheses, ImprovementIdeas])
def test_answer_schemas_are_portable(model) -> None:
    schema = portable_schema(model)
    assert schema_keywords(schema) <= PORTABLE_KEYWORDS
    assert _types(schema) <= PORTABLE_TYPES
    item = schema["properties"][next(iter(schema["properties"]))]["items"]
    assert item["additionalProperties"] is False
    assert set(item["required"]) == set(item["properties"])


def test_the_prompt_carries_the_facts_it_is_given() -> None:
    system, user = hypothesis_messages(FACTS, 3)
    assert system["role"] == "system"
    text = user["content"]
    for piece in ("$close", "$volume", "2001-01-02", "2003-05-30", "Ref($close,5)/$close"):
        assert piece in text
    assert "+0.0123 over 410 days" in text
    assert "Propose 3 new factors" in text


def test_valid_hypotheses_are_accepted_in_canonical_form(openai_server, sleeps) -> None:
    openai_server.script = [
        answer(hyp("pv", "Corr($close, $volume, 10)"), hyp("m", "Mean($close,5)"))
    ]
    with make_client(openai_server, sleeps) as client:
        out = propose_hypotheses(client, FACTS, n=2, seed=3)
    assert out.fallback is None
    assert [h.expression for h in out.accepted] == ["Corr($close,$volume,10)", "Mean($close,5)"]
    assert {h.source for h in out.accepted} == {"llm:local-model"}
    assert out.rejected == ()
    body = openai_server.requests[0]["body"]
    assert body["seed"] == 3
    assert body["response_format"]["json_schema"]["name"] == "FactorHypotheses"
    assert openai_server.protocol_errors == []


def test_injections_and_bad_expressions_are_refused_by_the_parser(openai_server, sleeps) -> None:
    prose = (
        "Here are my ideas!\n```json\n"
        + json.dumps(
            {
                "hypotheses": [
                    hyp("inject", "__import__('os')"),
                    hyp("chain", "__import__('os').system('echo pwned')"),
                    hyp("dunder", "$close.__class__"),
                    hyp("unknown_field", "Mean($open, 5)"),
                    hyp("peek", "Ref($close, -5)"),
                    hyp("good", "CsRank(Corr($close, $volume, 10))"),
                    hyp("same", "CsRank(Corr($close,$volume,10))"),
                ]
            }
        )
        + "\n```\nHope this helps."
    )
    openai_server.script = [Reply(body=openai_body(prose))]
    with make_client(openai_server, sleeps) as client:
        out = propose_hypotheses(client, FACTS, n=5)
    assert [h.name for h in out.accepted] == ["good"]
    reasons = {r.hypothesis.name: r.reason for r in out.rejected}
    assert set(reasons) == {"inject", "chain", "dunder", "unknown_field", "peek", "same"}
    assert "unknown operator '__import__'" in reasons["inject"]
    assert "unexpected character '.'" in reasons["chain"]
    assert "unknown field $open" in reasons["unknown_field"]
    assert "lookahead" in reasons["peek"]
    assert reasons["same"].startswith("duplicate of good")
    assert len(openai_server.requests) == 1  # one usable hypothesis: no repair round


def test_no_usable_expression_gets_one_repair_round_then_falls_back(openai_server, sleeps) -> None:
    bad = answer(hyp("x", "__import__('os')"), hyp("y", "Mean($nope, 5)"))
    openai_server.script = [bad, bad]
    with make_client(openai_server, sleeps) as client:
        out = propose_hypotheses(client, FACTS)
    assert out.accepted == ()
    assert out.attempts == 2
    assert "repair round" in (out.fallback or "")
    assert len(out.rejected) == 4
    assert len(openai_server.requests) == 2
    repair = openai_server.requests[1]["body"]["messages"][-1]["content"]
    assert "unknown operator '__import__'" in repair
    assert "unknown field $nope" in repair


def test_the_repair_round_can_succeed(openai_server, sleeps) -> None:
    openai_server.script = [answer(hyp("x", "Mean($nope, 5)")), answer(hyp("y", "Mean($close, 5)"))]
    with make_client(openai_server, sleeps) as client:
        out = propose_hypotheses(client, FACTS)
    assert [h.expression for h in out.accepted] == ["Mean($close,5)"]
    assert out.attempts == 2
    assert out.fallback is None
    assert [r.hypothesis.name for r in out.rejected] == ["x"]


def test_a_schema_violation_after_its_repair_round_falls_back(openai_server, sleeps) -> None:
    wrong = answer(hyp("x", "Mean($close,5)", expected_sign="sideways"))
    openai_server.script = [wrong, wrong]
    with make_client(openai_server, sleeps) as client:
        out = propose_hypotheses(client, FACTS)
    assert out.accepted == ()
    assert out.fallback is not None
    assert out.fallback.startswith("LLMAnswerError")
    assert len(openai_server.requests) == 2


def test_an_unreachable_model_falls_back(sleeps) -> None:
    settings = LLMSettings(
        base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, timeout_s=0.5
    )
    with LLMClient(settings, sleep=sleeps.append) as client:
        out = propose_hypotheses(client, FACTS)
    assert out.accepted == ()
    assert out.fallback is not None
    assert out.fallback.startswith("LLMTransportError")


def test_replay_from_the_cache_needs_no_server(openai_server, sleeps, tmp_path: Path) -> None:
    openai_server.script = [answer(hyp("pv", "Corr($close, $volume, 10)"))]
    path = tmp_path / "cache.sqlite"
    with make_client(openai_server, sleeps, cache=ResponseCache(path, "use")) as client:
        first = propose_hypotheses(client, FACTS, seed=1)
    offline = LLMSettings(base_url=openai_server.url, model="local-model", max_retries=0)
    openai_server.stop()
    with LLMClient(offline, cache=ResponseCache(path, "replay")) as client:
        again = propose_hypotheses(client, FACTS, seed=1)
        assert client.account.cached_calls == 1
    assert again.accepted == first.accepted
    # another question is not in the cache: replay refuses it without a network call
    with LLMClient(offline, cache=ResponseCache(path, "replay")) as client:
        miss = propose_hypotheses(client, FACTS, seed=2)
    assert miss.fallback is not None
    assert miss.fallback.startswith("LLMReplayMissError")


def test_the_anthropic_protocol_gives_the_same_hypotheses(anthropic_server, sleeps) -> None:
    tool_input = {"hypotheses": [hyp("pv", "Corr($close, $volume, 10)"), hyp("x", "os.system")]}
    anthropic_server.script = [
        Reply(body=anthropic_body(tool_input=tool_input, tool_name="FactorHypotheses"))
    ]
    with make_client(anthropic_server, sleeps) as client:
        out = propose_hypotheses(client, FACTS)
    assert [h.expression for h in out.accepted] == ["Corr($close,$volume,10)"]
    assert [r.hypothesis.name for r in out.rejected] == ["x"]
    body = anthropic_server.requests[0]["body"]
    assert body["tools"][0]["name"] == "FactorHypotheses"
    assert anthropic_server.protocol_errors == []
