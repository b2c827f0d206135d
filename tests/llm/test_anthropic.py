"""The Anthropic Messages protocol against a local server that speaks it."""

from __future__ import annotations

import pytest

from alphaloop.llm import LLMAnswerError, LLMHTTPError, ask_structured, portable_schema
from alphaloop.llm.providers import ANTHROPIC_VERSION
from tests.llm.servers import Reply, anthropic_body
from tests.llm.support import VALID, Idea, make_client

MESSAGES = [{"role": "system", "content": "You write ideas."}, {"role": "user", "content": "one"}]


def test_structured_answer_through_a_forced_tool(anthropic_server, sleeps):
    anthropic_server.default = Reply(body=anthropic_body(tool_input=VALID, text="Let me think."))
    client = make_client(anthropic_server, sleeps, model="claude-local")
    idea = ask_structured(client, MESSAGES, Idea, max_tokens=300)
    assert idea == Idea.model_validate(VALID)
    assert anthropic_server.protocol_errors == []
    sent = anthropic_server.requests[0]
    assert sent["headers"]["anthropic-version"] == ANTHROPIC_VERSION
    body = sent["body"]
    assert body["model"] == "claude-local"
    assert body["max_tokens"] == 300
    assert body["system"] == "You write ideas."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["tools"][0]["name"] == "Idea"
    assert body["tools"][0]["input_schema"] == portable_schema(Idea)
    assert body["tool_choice"] == {"type": "tool", "name": "Idea"}
    assert client.account.prompt_tokens == 23
    assert client.account.completion_tokens == 5


def test_text_answer_is_accepted(anthropic_server, sleeps):
    anthropic_server.default = Reply(
        body=anthropic_body(text=f"Here: {Idea(**VALID).model_dump_json()}")
    )
    idea = ask_structured(make_client(anthropic_server, sleeps), MESSAGES, Idea)
    assert idea.name == VALID["name"]


def test_repair_round_keeps_roles_alternating(anthropic_server, sleeps):
    anthropic_server.script = [Reply(body=anthropic_body(tool_input={**VALID, "window": -3}))]
    anthropic_server.default = Reply(body=anthropic_body(tool_input=VALID))
    idea = ask_structured(make_client(anthropic_server, sleeps), MESSAGES, Idea)
    assert idea.window == VALID["window"]
    second = anthropic_server.requests[1]["body"]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert "window" in second[-1]["content"]
    assert anthropic_server.protocol_errors == []


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(body=b'{"type": "message", "content": []}'), LLMAnswerError),
        (Reply(body=b'{"type": "error", "error": {"type": "overloaded_error"}}'), LLMAnswerError),
        (Reply(body=anthropic_body(tool_input=None, text=None)), LLMAnswerError),
        (
            Reply(body=b'{"content": [{"type": "tool_use", "name": "Idea", "input": "x"}]}'),
            LLMAnswerError,
        ),
        (Reply(status=529, body=b'{"type": "error"}'), LLMHTTPError),
        (Reply(status=401, body=b'{"type": "error"}'), LLMHTTPError),
    ],
    ids=["no-blocks", "error-object", "empty-content", "tool-input-not-object", "529", "401"],
)
def test_malformed_messages_answers(anthropic_server, sleeps, reply, error):
    anthropic_server.default = reply
    with pytest.raises(error):
        ask_structured(make_client(anthropic_server, sleeps), MESSAGES, Idea)
