"""The response cache: use, replay (no HTTP call, misses raise), off; keys and durability."""

from __future__ import annotations

import sqlite3

import pytest

from alphaloop.llm import LLMConfigError, LLMReplayMissError, ResponseCache, ask_structured
from alphaloop.llm.cache import request_key
from tests.llm.servers import Reply, openai_body
from tests.llm.support import VALID, VALID_TEXT, Idea, make_client

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "an idea"}]


def session(client) -> list[Idea]:
    """A tiny 'session': three questions, one asked twice."""
    questions = ["momentum", "reversal", "momentum"]
    return [
        ask_structured(client, [{"role": "user", "content": q}], Idea, seed=7) for q in questions
    ]


def test_use_then_replay_makes_no_http_call(openai_server, sleeps, tmp_path):
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    path = tmp_path / "cache" / "llm.sqlite"
    first = make_client(openai_server, sleeps, cache=ResponseCache(path, "use"))
    recorded = session(first)
    assert len(openai_server.requests) == 2  # the repeated question was served by the cache
    assert first.account.calls == 2
    assert first.account.cached_calls == 1

    openai_server.default = Reply(status=500)  # any HTTP call would now fail
    replay = make_client(openai_server, sleeps, cache=ResponseCache(path, "replay"))
    assert session(replay) == recorded
    assert len(openai_server.requests) == 2  # still: replay made no request
    assert replay.account.calls == 0
    assert replay.account.cached_calls == 3


def test_replay_miss_raises_without_calling(openai_server, sleeps, tmp_path):
    client = make_client(
        openai_server, sleeps, cache=ResponseCache(tmp_path / "c.sqlite", "replay")
    )
    with pytest.raises(LLMReplayMissError):
        client.complete(MESSAGES)
    assert openai_server.requests == []


def test_off_neither_reads_nor_writes(openai_server, sleeps, tmp_path):
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    path = tmp_path / "off.sqlite"
    client = make_client(openai_server, sleeps, cache=ResponseCache(path, "off"))
    client.complete(MESSAGES)
    client.complete(MESSAGES)
    assert len(openai_server.requests) == 2
    assert not path.exists()


def test_key_depends_on_every_request_field(openai_server, sleeps):
    client = make_client(openai_server, sleeps)
    base = client.request_for(MESSAGES)
    variants = [
        client.request_for(MESSAGES, temperature=0.5),
        client.request_for(MESSAGES, seed=1),
        client.request_for(MESSAGES, max_tokens=99),
        client.request_for(MESSAGES, schema={"type": "object"}),
        client.request_for([*MESSAGES, {"role": "user", "content": "more"}]),
        make_client(openai_server, sleeps, model="other").request_for(MESSAGES),
        make_client(openai_server, sleeps, base_url="http://x/v1").request_for(MESSAGES),
    ]
    keys = {request_key(v) for v in variants}
    assert request_key(base) not in keys
    assert len(keys) == len(variants)


def test_key_does_not_depend_on_api_key(openai_server, sleeps, monkeypatch):
    monkeypatch.setenv("KEY_A", "sk-aaaa")
    monkeypatch.setenv("KEY_B", "sk-bbbb")
    a = make_client(openai_server, sleeps, api_key_env="KEY_A").request_for(MESSAGES)
    b = make_client(openai_server, sleeps, api_key_env="KEY_B").request_for(MESSAGES)
    assert request_key(a) == request_key(b)


def test_stored_entries_survive_a_new_connection(openai_server, sleeps, tmp_path):
    openai_server.default = Reply(body=openai_body(VALID_TEXT, prompt_tokens=40))
    path = tmp_path / "c.sqlite"
    make_client(openai_server, sleeps, cache=ResponseCache(path)).complete(MESSAGES)
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM llm_responses").fetchone()
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert count == 1
    answer = make_client(openai_server, sleeps, cache=ResponseCache(path, "replay")).complete(
        MESSAGES
    )
    assert answer.text == VALID_TEXT
    assert answer.prompt_tokens == 40


def test_failed_answers_are_not_cached(openai_server, sleeps, tmp_path):
    openai_server.script = [Reply(status=400)]
    openai_server.default = Reply(body=openai_body(VALID_TEXT))
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = make_client(openai_server, sleeps, cache=cache)
    with pytest.raises(Exception, match="HTTP 400"):
        client.complete(MESSAGES)
    assert len(cache) == 0
    assert client.complete(MESSAGES).text == VALID_TEXT
    assert len(cache) == 1


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(LLMConfigError, match="cache mode"):
        ResponseCache(tmp_path / "c.sqlite", "sometimes")  # type: ignore[arg-type]


def test_valid_constant_is_what_the_model_sends():
    assert Idea.model_validate(VALID).name == "mom"


def test_entries_written_before_a_crash_survive(tmp_path):
    """A process that dies right after its writes (no close, no cleanup) loses nothing."""
    import subprocess
    import sys

    path = tmp_path / "c.sqlite"
    code = (
        "import os, sys\n"
        "from alphaloop.llm.cache import ResponseCache\n"
        "cache = ResponseCache(sys.argv[1])\n"
        "for i in range(5):\n"
        "    cache.put(f'k{i}', {'i': i}, {'text': str(i)})\n"
        "os._exit(1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], check=False)
    assert done.returncode == 1
    cache = ResponseCache(path, "replay")
    assert len(cache) == 5
    assert cache.get("k4") == {"text": "4"}
    assert cache.get("k5") is None


@pytest.mark.parametrize(
    "message",
    [{"role": "tool", "content": "x"}, {"role": "user"}, {"role": "user", "content": 3}, "hi"],
)
def test_bad_messages_are_refused_before_any_call(openai_server, sleeps, message):
    with pytest.raises(LLMConfigError, match="bad chat message"):
        make_client(openai_server, sleeps).complete([message])
    assert openai_server.requests == []
