"""Typed answers: ask for JSON matching a pydantic model, validate, repair once, or fail.

The model's text is data only: it is searched for the first balanced JSON
object (:func:`extract_json`, which skips code fences and prose around
it), parsed with :func:`json.loads` and validated by pydantic. No part of it
ever reaches ``eval``, ``exec``, ``compile`` or a shell.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from alphaloop.llm.client import LLMClient, Message
from alphaloop.llm.errors import LLMAnswerError
from alphaloop.llm.schema import portable_schema

__all__ = ["MAX_ANSWER_CHARS", "ask_structured", "extract_json"]

MAX_ANSWER_CHARS = 200_000
"""Longest answer text searched for JSON (characters); a longer one is refused."""

T = TypeVar("T", bound=BaseModel)


def extract_json(text: str, *, max_chars: int = MAX_ANSWER_CHARS) -> dict[str, Any]:
    """The first balanced JSON object in ``text``.

    Parameters
    ----------
    text : str
        A model's answer: bare JSON, JSON in a code fence, or JSON with prose
        around it.
    max_chars : int
        Longest text accepted.

    Raises
    ------
    LLMAnswerError
        Empty or too long text, or no parseable object in it.
    """
    if not isinstance(text, str) or not text.strip():
        raise LLMAnswerError("the answer is empty")
    if len(text) > max_chars:
        raise LLMAnswerError(f"the answer has {len(text):,} characters (limit {max_chars:,})")
    start = text.find("{")
    while start != -1:
        end = _balanced_end(text, start)
        if end is None:
            break  # no closing brace from here on: truncated
        try:
            value = json.loads(text[start:end], parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise LLMAnswerError("no complete JSON object in the answer", hint=f"it starts {text[:80]!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _balanced_end(text: str, start: int) -> int | None:
    """Index after the brace that closes the one at ``start`` (strings respected)."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def ask_structured(
    client: LLMClient,
    messages: Sequence[Message],
    model_cls: type[T],
    *,
    repair_rounds: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    max_tokens: int = 1024,
    schema: dict[str, Any] | None = None,
) -> T:
    """Ask for an answer that validates as ``model_cls``.

    The request carries the model's portable schema
    (:func:`~alphaloop.llm.schema.portable_schema`). An answer with no JSON
    object, or one that fails validation, is sent back with the errors for
    at most ``repair_rounds`` more attempts.

    Parameters
    ----------
    client : LLMClient
        Where to send the request (its cache and account apply).
    messages : sequence of dict
        The conversation so far (``role`` and ``content``).
    model_cls : type of pydantic.BaseModel
        What the answer must be.
    repair_rounds : int
        Extra attempts after an invalid answer (0 = none).
    temperature, seed, max_tokens
        Sampling options sent with every attempt.
    schema : dict, optional
        The JSON Schema sent instead of the portable one (a narrower
        rendering, e.g. for a grammar-bound local server); the answer is
        still validated by ``model_cls``.

    Returns
    -------
    model_cls
        The validated answer.

    Raises
    ------
    LLMAnswerError
        Still invalid after the repair rounds; the caller falls back to its
        offline policy. Transport errors (:class:`LLMTransportError`) and
        replay misses pass through.
    """
    if schema is None:
        schema = portable_schema(model_cls)
    name = model_cls.__name__
    conversation = [dict(m) for m in messages]
    problem = ""
    for attempt in range(repair_rounds + 1):
        answer = client.complete(
            conversation,
            schema=schema,
            schema_name=name,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
        )
        try:
            return model_cls.model_validate(extract_json(answer.text))
        except ValidationError as exc:
            problem = _summarize(exc)
        except LLMAnswerError as exc:
            problem = exc.message
        if attempt < repair_rounds:
            conversation += [
                {"role": "assistant", "content": answer.text[:4000]},
                {
                    "role": "user",
                    "content": (
                        f"That answer is not a valid {name}: {problem}\n"
                        "Answer again with only one JSON object that matches the schema."
                    ),
                },
            ]
    raise LLMAnswerError(
        f"no valid {name} after {repair_rounds + 1} attempt(s): {problem}",
        hint="the caller falls back to its offline policy",
    )


def _summarize(exc: ValidationError, limit: int = 10) -> str:
    """The first ``limit`` validation errors, one short line each (no input echoed)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False)[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"{where}: {err['msg']}")
    more = exc.error_count() - limit
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")
