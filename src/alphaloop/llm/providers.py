"""The two wire protocols: OpenAI-compatible chat completions and Anthropic Messages.

Each protocol turns a request (messages, schema, sampling) into a URL, headers
and a JSON body, and an answer's JSON body into its text and token usage. The
API key header is added by :mod:`alphaloop.llm.client` at send time only.

Structured output:

- OpenAI-compatible: ``response_format = {"type": "json_schema", "json_schema":
  {"name", "schema", "strict": true}}``; the answer is the message content.
  With the request's ``json_mode`` = ``json_object_schema`` (llama-cpp-python's
  server, which compiles the schema into a grammar and refuses the form
  above): ``response_format = {"type": "json_object", "schema": ...}``.
- Anthropic: one tool whose ``input_schema`` is the schema, forced with
  ``tool_choice = {"type": "tool", "name": ...}``; the answer is the tool
  call's ``input``, re-serialized as JSON text. A tool is used (not an
  instruction) because the API then returns parsed JSON and the schema
  constrains the model; text answers are still accepted (no tool call).

Plain text completions (a request with a ``prompt`` instead of ``messages``)
go to an OpenAI-compatible ``/completions`` endpoint; a ``grammar`` (GBNF,
the llama.cpp servers' extension) travels as is. Anthropic has no such
endpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alphaloop.llm.errors import LLMAnswerError, LLMConfigError

__all__ = [
    "ANTHROPIC_VERSION",
    "Answer",
    "build_request",
    "key_header",
    "parse_answer",
    "parse_text_answer",
]

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header sent with every Messages request."""


@dataclass(frozen=True)
class Answer:
    """What a model answered: its text (JSON text for a tool call) and token usage."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


def key_header(provider: str, key: str) -> dict[str, str]:
    """The header that carries the API key for ``provider``."""
    if provider == "anthropic":
        return {"x-api-key": key}
    return {"Authorization": f"Bearer {key}"}


def build_request(
    provider: str, base_url: str, request: dict[str, Any]
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers (without the key) and JSON body of a canonical request.

    ``request`` has ``model``, ``messages`` (``role``/``content`` dicts),
    ``schema`` (dict or None), ``schema_name``, ``temperature``, ``seed`` and
    ``max_tokens``, and ``json_mode`` when it is not ``json_schema``.
    """
    headers = {"content-type": "application/json", "accept": "application/json"}
    if "prompt" in request:  # a plain text completion
        if provider == "anthropic":
            raise LLMConfigError(
                "the Anthropic Messages API has no plain text completions",
                hint="text completions need an OpenAI-compatible server (llama.cpp)",
            )
        return f"{base_url}/completions", headers, _openai_text_body(request)
    if provider == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION
        return f"{base_url}/v1/messages", headers, _anthropic_body(request)
    return f"{base_url}/chat/completions", headers, _openai_body(request)


def _openai_body(request: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request["model"],
        "messages": request["messages"],
        "temperature": request["temperature"],
        "max_tokens": request["max_tokens"],
        "seed": request["seed"],
    }
    if request["schema"] is not None and request.get("json_mode") == "json_object_schema":
        body["response_format"] = {"type": "json_object", "schema": request["schema"]}
    elif request["schema"] is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request["schema_name"],
                "schema": request["schema"],
                "strict": True,
            },
        }
    return body


def _openai_text_body(request: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request["model"],
        "prompt": request["prompt"],
        "temperature": request["temperature"],
        "max_tokens": request["max_tokens"],
        "seed": request["seed"],
    }
    if request.get("grammar") is not None:
        body["grammar"] = request["grammar"]
    return body


def _anthropic_body(request: dict[str, Any]) -> dict[str, Any]:
    system = [m["content"] for m in request["messages"] if m["role"] == "system"]
    body: dict[str, Any] = {
        "model": request["model"],
        "max_tokens": request["max_tokens"],
        "temperature": request["temperature"],
        "messages": [m for m in request["messages"] if m["role"] != "system"],
    }
    if system:
        body["system"] = "\n\n".join(system)
    if request["schema"] is not None:
        name = request["schema_name"]
        body["tools"] = [
            {
                "name": name,
                "description": "Answer by calling this tool with the requested object.",
                "input_schema": request["schema"],
            }
        ]
        body["tool_choice"] = {"type": "tool", "name": name}
    return body


def parse_answer(provider: str, payload: Any) -> Answer:
    """The :class:`Answer` in a decoded JSON body, or :class:`LLMAnswerError`."""
    if not isinstance(payload, dict):
        raise LLMAnswerError(f"the {provider} answer is not a JSON object")
    if provider == "anthropic":
        return _anthropic_answer(payload)
    return _openai_answer(payload)


def parse_text_answer(payload: Any) -> Answer:
    """The :class:`Answer` in a decoded ``/completions`` body, or :class:`LLMAnswerError`."""
    if not isinstance(payload, dict):
        raise LLMAnswerError("the completions answer is not a JSON object")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMAnswerError("the completions answer has no choices")
    text = choices[0].get("text")
    if not isinstance(text, str):
        raise LLMAnswerError("the completions choice has no text")
    prompt, completion = _tokens(payload.get("usage"), "prompt_tokens", "completion_tokens")
    reason = choices[0].get("finish_reason")
    return Answer(text, prompt, completion, reason if isinstance(reason, str) else None)


def _tokens(usage: Any, prompt: str, completion: str) -> tuple[int, int]:
    if not isinstance(usage, dict):
        return 0, 0
    values = []
    for field in (prompt, completion):
        value = usage.get(field, 0)
        values.append(value if isinstance(value, int) and value >= 0 else 0)
    return values[0], values[1]


def _openai_answer(payload: dict[str, Any]) -> Answer:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMAnswerError("the chat-completions answer has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise LLMAnswerError("the chat-completions answer has no message")
    if message.get("refusal"):
        raise LLMAnswerError("the model refused to answer")
    content = message.get("content")
    if not isinstance(content, str):
        raise LLMAnswerError("the chat-completions message has no text content")
    prompt, completion = _tokens(payload.get("usage"), "prompt_tokens", "completion_tokens")
    reason = choices[0].get("finish_reason")
    return Answer(content, prompt, completion, reason if isinstance(reason, str) else None)


def _anthropic_answer(payload: dict[str, Any]) -> Answer:
    if payload.get("type") == "error":
        raise LLMAnswerError("the Messages API answered with an error object")
    blocks = payload.get("content")
    if not isinstance(blocks, list) or not blocks:
        raise LLMAnswerError("the Messages answer has no content blocks")
    text = None
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            if not isinstance(block.get("input"), dict):
                raise LLMAnswerError("the tool call has no input object")
            text = json.dumps(block["input"], ensure_ascii=False)
            break
    if text is None:
        parts = [
            b["text"]
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if not parts:
            raise LLMAnswerError("the Messages answer has neither a tool call nor text")
        text = "".join(parts)
    prompt, completion = _tokens(payload.get("usage"), "input_tokens", "output_tokens")
    reason = payload.get("stop_reason")
    return Answer(text, prompt, completion, reason if isinstance(reason, str) else None)
