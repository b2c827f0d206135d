"""Malformed answers never crash with anything but a typed LLMError and never execute anything.

Each case scripts the local OpenAI-compatible server's reply (every attempt
gets the same one), then asks for an :class:`Idea` with one repair round.
Cases that carry code put a canary path in it: the file must not appear.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.llm import LLMAnswerError, LLMError, LLMHTTPError, LLMTransportError, ask_structured
from tests.llm.servers import Reply, openai_body
from tests.llm.support import VALID, VALID_TEXT, Idea, make_client

CANARY = "CANARY_FILE"
INJECT = f"__import__('os').system('touch {CANARY}')"


def content(text: object) -> Reply:
    return Reply(body=openai_body(text))


def valid_with(**changes: object) -> str:
    return json.dumps({**VALID, **changes})


# (id, reply, expected: an LLMError subclass or "ok", HTTP requests made)
CASES = [
    ("truncated-json", content(VALID_TEXT[:25]), LLMAnswerError, 2),
    ("wrong-type", content(valid_with(window="twenty")), LLMAnswerError, 2),
    ("missing-field", content('{"name": "mom"}'), LLMAnswerError, 2),
    ("extra-field", content(valid_with(evil=1)), LLMAnswerError, 2),
    ("out-of-range", content(valid_with(window=0)), LLMAnswerError, 2),
    ("bad-enum", content(valid_with(side="sideways")), LLMAnswerError, 2),
    ("nan-constant", content(VALID_TEXT.replace("null", "NaN")), LLMAnswerError, 2),
    ("json-array", content(f"[{VALID_TEXT}]"), "ok", 1),  # the object inside is found
    ("bare-array", content("[1, 2, 3]"), LLMAnswerError, 2),
    ("prose-around", content(f"Sure! Here it is:\n{VALID_TEXT}\nHope it helps."), "ok", 1),
    ("code-fence", content(f"```json\n{VALID_TEXT}\n```"), "ok", 1),
    ("injection-in-field", content(valid_with(name=INJECT)), "ok", 1),
    ("injection-as-answer", content(INJECT), LLMAnswerError, 2),
    ("injection-in-extra", content(valid_with(code=INJECT)), LLMAnswerError, 2),
    ("deep-nesting", content("{" * 50_000), LLMAnswerError, 2),
    ("huge-text", content("{" + " " * 250_000 + VALID_TEXT[1:]), LLMAnswerError, 2),
    ("huge-body", Reply(body=openai_body("x" * 2_100_000)), LLMAnswerError, 1),
    ("empty-content", content(""), LLMAnswerError, 2),
    ("null-content", content(None), LLMAnswerError, 1),
    ("empty-body", Reply(body=b""), LLMAnswerError, 1),
    ("html-body", Reply(body=b"<html>oops</html>", content_type="text/html"), LLMAnswerError, 1),
    ("wrong-content-type", Reply(body=openai_body(VALID_TEXT), content_type="text/plain"), "ok", 1),
    ("not-utf8", Reply(body=b"\xff\xfe{}"), LLMAnswerError, 1),
    ("missing-choices", Reply(body=b'{"object": "chat.completion"}'), LLMAnswerError, 1),
    ("empty-choices", Reply(body=b'{"choices": []}'), LLMAnswerError, 1),
    ("body-is-list", Reply(body=b"[]"), LLMAnswerError, 1),
    (
        "refusal",
        Reply(body=b'{"choices":[{"message":{"content":null,"refusal":"no"}}]}'),
        LLMAnswerError,
        1,
    ),
    ("http-400", Reply(status=400, body=b'{"error": "bad request"}'), LLMHTTPError, 1),
    ("http-401", Reply(status=401, body=b'{"error": "bad key"}'), LLMHTTPError, 1),
    ("http-404", Reply(status=404, body=b'{"error": "no model"}'), LLMHTTPError, 1),
    ("http-429", Reply(status=429, headers={"Retry-After": "2"}), LLMHTTPError, 3),
    ("http-500", Reply(status=500, body=b"internal"), LLMHTTPError, 3),
    ("http-503", Reply(status=503), LLMHTTPError, 3),
    ("timeout", Reply(action="hang"), LLMTransportError, 3),
    ("connection-reset", Reply(action="reset"), LLMTransportError, 3),
]


@pytest.mark.parametrize(
    ("reply", "expected", "n_requests"),
    [pytest.param(r, e, n, id=i) for i, r, e, n in CASES],
)
def test_malformed_answer(
    openai_server, sleeps, tmp_path, monkeypatch, reply, expected, n_requests
):
    monkeypatch.chdir(tmp_path)
    openai_server.default = reply
    # only the hanging server needs a short timeout; the others answer at once
    timeout = 0.5 if reply.action == "hang" else 10.0
    client = make_client(openai_server, sleeps, timeout_s=timeout)
    if expected == "ok":
        idea = ask_structured(client, [{"role": "user", "content": "an idea"}], Idea)
        assert isinstance(idea, Idea)
        assert idea.window == VALID["window"]
    else:
        with pytest.raises(expected) as info:
            ask_structured(client, [{"role": "user", "content": "an idea"}], Idea)
        assert isinstance(info.value, LLMError)
        assert str(info.value)  # a message, not an empty exception
    assert len(openai_server.requests) == n_requests
    assert not Path(CANARY).exists()
    assert not list(tmp_path.iterdir())
    assert openai_server.protocol_errors == []


def test_injection_text_is_kept_verbatim(openai_server, sleeps, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    openai_server.default = content(valid_with(name=INJECT[:80]))
    idea = ask_structured(
        make_client(openai_server, sleeps), [{"role": "user", "content": "x"}], Idea
    )
    assert idea.name == INJECT[:80]
    assert not Path(CANARY).exists()


def test_at_least_twenty_cases():
    assert len(CASES) >= 20
