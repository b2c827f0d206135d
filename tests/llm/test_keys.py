"""API keys: read from the environment at request time, never shown, logged or cached."""

from __future__ import annotations

import logging

import pytest

from alphaloop.llm import LLMConfigError, LLMHTTPError, LLMSettings, ResponseCache, ask_structured
from tests.llm.servers import Reply, anthropic_body, openai_body
from tests.llm.support import VALID, VALID_TEXT, Idea, make_client

SECRET = "sk-test-9f8e7d6c5b4a-SECRET"
MESSAGES = [{"role": "user", "content": "an idea"}]


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", SECRET)
    return SECRET


def test_key_is_sent_in_the_protocol_header(openai_server, anthropic_server, sleeps, secret):
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    anthropic_server.default = Reply(body=anthropic_body(tool_input=VALID))
    make_client(openai_server, sleeps, api_key_env="TEST_LLM_KEY").complete(MESSAGES)
    make_client(anthropic_server, sleeps, api_key_env="TEST_LLM_KEY").complete(MESSAGES)
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {secret}"
    assert anthropic_server.requests[0]["headers"]["x-api-key"] == secret
    assert anthropic_server.protocol_errors == []


def test_key_is_read_at_request_time(openai_server, sleeps, monkeypatch):
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    client = make_client(openai_server, sleeps, api_key_env="TEST_LLM_KEY")
    monkeypatch.setenv("TEST_LLM_KEY", "sk-first")
    client.complete(MESSAGES)
    monkeypatch.setenv("TEST_LLM_KEY", "sk-second")
    client.complete([{"role": "user", "content": "another"}])
    sent = [r["headers"]["authorization"] for r in openai_server.requests]
    assert sent == ["Bearer sk-first", "Bearer sk-second"]


def test_missing_key_variable_names_it_and_calls_nothing(openai_server, sleeps, monkeypatch):
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    client = make_client(openai_server, sleeps, api_key_env="TEST_LLM_KEY")
    with pytest.raises(LLMConfigError, match="TEST_LLM_KEY"):
        client.complete(MESSAGES)
    assert openai_server.requests == []


def test_key_never_in_repr_errors_logs_or_cache(openai_server, sleeps, secret, tmp_path, caplog):
    # the server echoes the key back in its error body, as some proxies do
    openai_server.script = [Reply(status=401, body=f'{{"error": "bad key {secret}"}}'.encode())]
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = make_client(openai_server, sleeps, api_key_env="TEST_LLM_KEY", cache=cache)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LLMHTTPError) as info:
        client.complete(MESSAGES)
    error = info.value
    assert "[redacted]" in str(error)
    ask_structured(client, MESSAGES, Idea)
    shown = [
        str(error),
        repr(error),
        str(error.to_dict()),
        repr(client),
        repr(client.settings),
        client.settings.model_dump_json(),
        repr(cache),
        str(client.account.to_dict()),
        caplog.text,
    ]
    assert all(secret not in text for text in shown)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert len(cache) == 1
    assert secret.encode() not in stored


def test_settings_hold_the_variable_name_not_the_key(secret):
    settings = LLMSettings(api_key_env="TEST_LLM_KEY")
    assert secret not in repr(settings)
    assert secret not in str(settings.model_dump())


def test_settings_refuse_a_key_as_variable_name_without_echoing_it():
    with pytest.raises(ValueError, match="api_key_env") as info:
        LLMSettings(api_key_env=SECRET)
    assert SECRET not in str(info.value)
