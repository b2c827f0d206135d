"""ALPHALOOP_LLM_JSON_MODE: how an OpenAI-compatible request asks for a schema-shaped answer."""

from __future__ import annotations

import pytest

from alphaloop.llm import LLMSettings, ask_structured, portable_schema, request_key
from tests.llm.servers import Reply, anthropic_body, openai_body
from tests.llm.support import VALID, VALID_TEXT, Idea, make_client

MESSAGES = [{"role": "user", "content": "an idea"}]


def test_json_object_schema_mode_sends_llama_cpp_form(openai_server, sleeps):
    openai_server.script = [
        Reply(body=openai_body('{"name": ""}')),
        Reply(body=openai_body(VALID_TEXT)),
    ]
    client = make_client(openai_server, sleeps, json_mode="json_object_schema")
    assert ask_structured(client, MESSAGES, Idea).model_dump() == VALID
    first, repair = (r["body"]["response_format"] for r in openai_server.requests)
    assert first == {"type": "json_object", "schema": portable_schema(Idea)}
    assert repair == first  # the repair round asks for the same schema
    assert openai_server.protocol_errors == []


def test_default_mode_is_strict_json_schema(openai_server, sleeps):
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    ask_structured(make_client(openai_server, sleeps), MESSAGES, Idea)
    fmt = openai_server.requests[0]["body"]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True


def test_plain_requests_carry_no_response_format_in_either_mode(openai_server, sleeps):
    openai_server.default = Reply(body=openai_body("hello"))
    make_client(openai_server, sleeps, json_mode="json_object_schema").complete(MESSAGES)
    assert "response_format" not in openai_server.requests[0]["body"]


def test_mode_joins_the_cache_key_only_when_not_default(openai_server, sleeps):
    default = make_client(openai_server, sleeps).request_for(MESSAGES)
    explicit = make_client(openai_server, sleeps, json_mode="json_schema").request_for(MESSAGES)
    other = make_client(openai_server, sleeps, json_mode="json_object_schema").request_for(MESSAGES)
    assert "json_mode" not in default  # keys recorded before the setting existed still hit
    assert request_key(default) == request_key(explicit)
    assert request_key(other) != request_key(default)


def test_anthropic_ignores_the_mode(anthropic_server, sleeps):
    anthropic_server.default = Reply(body=anthropic_body(tool_input=VALID))
    client = make_client(anthropic_server, sleeps, json_mode="json_object_schema")
    assert "json_mode" not in client.request_for(MESSAGES)
    assert ask_structured(client, MESSAGES, Idea).model_dump() == VALID
    body = anthropic_server.requests[0]["body"]
    assert "response_format" not in body
    assert body["tool_choice"] == {"type": "tool", "name": "Idea"}
    assert anthropic_server.protocol_errors == []


def test_mode_from_environment(monkeypatch):
    monkeypatch.setenv("ALPHALOOP_LLM_JSON_MODE", "json_object_schema")
    assert LLMSettings().json_mode == "json_object_schema"


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="json_mode"):
        LLMSettings(json_mode="grammar")
