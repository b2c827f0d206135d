"""One value among options after a prefilled answer: ChatML, the grammar, plain completions."""

from __future__ import annotations

import pytest

from alphaloop.llm import (
    LLMAnswerError,
    LLMConfigError,
    LLMReplayMissError,
    ResponseCache,
    ask_choice,
    chatml,
    choice_grammar,
)
from tests.llm.servers import Reply, completion_body
from tests.llm.support import make_client

SIDES = ["long_only", "long_short"]


def test_chatml_renders_the_conversation_and_opens_the_answer() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert chatml(messages) == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
    assert chatml(messages, answer_prefix='{"k": ').endswith(
        '<|im_end|>\n<|im_start|>assistant\n{"k": '
    )
    with pytest.raises(LLMConfigError, match="bad chat message"):
        chatml([{"role": "tool", "content": "x"}])


def test_the_grammar_allows_exactly_the_options_escaped() -> None:
    assert choice_grammar(["a", "b_c", "10"]) == 'root ::= "a" | "b_c" | "10"'
    assert choice_grammar(['say "hi"', "back\\slash"]) == (
        'root ::= "say \\"hi\\"" | "back\\\\slash"'
    )
    for bad in ([], [""]):
        with pytest.raises(LLMConfigError, match="non-empty text options"):
            choice_grammar(bad)


def test_a_choice_is_one_plain_completion_with_the_grammar(openai_server, sleeps) -> None:
    openai_server.script = [Reply(body=completion_body("long_short", completion_tokens=3))]
    client = make_client(openai_server, sleeps)
    assert ask_choice(client, "prompt ends here: ", SIDES, seed=3) == "long_short"
    (request,) = openai_server.requests
    assert request["path"] == "/v1/completions"
    assert request["body"] == {
        "model": "local-model",
        "prompt": "prompt ends here: ",
        "temperature": 0.0,
        "max_tokens": 10,
        "seed": 3,
        "grammar": 'root ::= "long_only" | "long_short"',
    }
    assert not openai_server.protocol_errors
    assert (client.account.calls, client.account.completion_tokens) == (1, 3)


@pytest.mark.parametrize(
    ("text", "reason", "message"),
    [
        ("long_o", "length", "the model's answer for the side was cut at max_tokens 10: 'long_o'"),
        ("short", "stop", "the model answered 'short' for the side, not one of long_only"),
        ("", "stop", "the model answered '' for the side"),
    ],
)
def test_an_answer_outside_the_options_is_an_answer_error(
    openai_server, sleeps, text: str, reason: str, message: str
) -> None:
    openai_server.script = [Reply(body=completion_body(text, finish_reason=reason))]
    client = make_client(openai_server, sleeps)
    with pytest.raises(LLMAnswerError) as info:
        ask_choice(client, "p", SIDES, what="the side")
    assert message in str(info.value)


def test_text_completions_are_cached_and_replayed(openai_server, sleeps, tmp_path) -> None:
    openai_server.default = Reply(body=completion_body("long_only"))
    path = tmp_path / "llm.sqlite"
    first = make_client(openai_server, sleeps, cache=ResponseCache(path, "use"))
    assert ask_choice(first, "p", SIDES) == "long_only"
    assert ask_choice(first, "p", SIDES) == "long_only"
    assert len(openai_server.requests) == 1
    openai_server.default = Reply(status=500)
    replay = make_client(openai_server, sleeps, cache=ResponseCache(path, "replay"))
    assert ask_choice(replay, "p", SIDES) == "long_only"
    with pytest.raises(LLMReplayMissError):  # another prompt is another request
        ask_choice(replay, "q", SIDES)
    assert len(openai_server.requests) == 1


def test_anthropic_has_no_text_completions(anthropic_server, sleeps) -> None:
    client = make_client(anthropic_server, sleeps, api_key_env=None)
    with pytest.raises(LLMConfigError, match="no plain text completions"):
        client.complete_text("p", max_tokens=4)
    assert not anthropic_server.requests


def test_a_completion_body_without_text_is_an_answer_error(openai_server, sleeps) -> None:
    openai_server.script = [Reply(body=b'{"choices": [{"index": 0}]}')]
    client = make_client(openai_server, sleeps)
    with pytest.raises(LLMAnswerError, match="no text"):
        client.complete_text("p")
