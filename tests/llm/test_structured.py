"""extract_json, the repair round and the token account."""

from __future__ import annotations

import json

import pytest

from alphaloop.llm import LLMAnswerError, TokenAccount, ask_structured, extract_json
from tests.llm.servers import Reply, openai_body
from tests.llm.support import VALID, VALID_TEXT, Idea, make_client


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('The answer is {"a": {"b": [1, 2]}} as asked.', {"a": {"b": [1, 2]}}),
        ('{"s": "brace } inside \\" quote {"}', {"s": 'brace } inside " quote {'}),
        ('{not json} then {"a": 2}', {"a": 2}),
        ('{"a": 1} and {"b": 2}', {"a": 1}),
    ],
)
def test_extract_json(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "no json here", '{"a": 1', "[1, 2]", '{"a": Infinity}', "}{"]
)
def test_extract_json_refuses(text):
    with pytest.raises(LLMAnswerError):
        extract_json(text)


def test_extract_json_size_cap():
    text = json.dumps({"a": "x" * 100})
    assert extract_json(text, max_chars=len(text)) == {"a": "x" * 100}
    with pytest.raises(LLMAnswerError, match="limit"):
        extract_json(text, max_chars=len(text) - 1)


def test_repair_round_sends_the_errors_back(openai_server, sleeps):
    openai_server.script = [Reply(body=openai_body(json.dumps({**VALID, "window": "soon"})))]
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    client = make_client(openai_server, sleeps)
    idea = ask_structured(client, [{"role": "user", "content": "an idea"}], Idea)
    assert idea.window == VALID["window"]
    assert len(openai_server.requests) == 2
    repair = openai_server.requests[1]["body"]["messages"]
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert "window" in repair[-1]["content"]
    assert "soon" in repair[1]["content"]  # the bad answer itself, as the assistant turn
    assert client.account.calls == 2


def test_no_repair_round_when_zero(openai_server, sleeps):
    openai_server.default = Reply(body=openai_body("{}"))
    with pytest.raises(LLMAnswerError, match="1 attempt"):
        ask_structured(
            make_client(openai_server, sleeps),
            [{"role": "user", "content": "x"}],
            Idea,
            repair_rounds=0,
        )
    assert len(openai_server.requests) == 1


def test_request_carries_the_strict_schema(openai_server, sleeps):
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    ask_structured(
        make_client(openai_server, sleeps),
        [{"role": "user", "content": "x"}],
        Idea,
        seed=5,
        temperature=0.2,
    )
    body = openai_server.requests[0]["body"]
    fmt = body["response_format"]["json_schema"]
    assert fmt["name"] == "Idea"
    assert fmt["strict"] is True
    assert set(fmt["schema"]["required"]) == set(Idea.model_fields)
    assert (body["seed"], body["temperature"]) == (5, 0.2)
    assert openai_server.protocol_errors == []


def test_token_account_and_cost(openai_server, sleeps):
    openai_server.default = Reply(
        body=openai_body(VALID_TEXT, prompt_tokens=1000, completion_tokens=500)
    )
    client = make_client(openai_server, sleeps, price_input_per_1k=0.5, price_output_per_1k=1.5)
    client.complete([{"role": "user", "content": "a"}])
    client.complete([{"role": "user", "content": "b"}])
    acct = client.account
    assert (acct.calls, acct.prompt_tokens, acct.completion_tokens) == (2, 2000, 1000)
    assert acct.cost_usd == pytest.approx(2 * (0.5 + 0.75))
    assert acct.to_dict()["total_tokens"] == 3000


def test_cost_is_none_without_prices():
    acct = TokenAccount()
    acct.record(10, 5, cached=False)
    assert acct.cost_usd is None
    assert acct.total_tokens == 15
