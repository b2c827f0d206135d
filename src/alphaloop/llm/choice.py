"""One value among literal options, written by a grammar-bound model after a prefilled answer.

A chat answer in JSON spends most of its tokens on what the schema already
fixes: braces, key names, quotes. A model on a CPU writes a token at a time
(one forward pass each) but reads a prompt many tokens per pass, so the
cheapest way to get ``{"side": "long_only", "k": 5}`` is to *write* the
forced parts into the prompt and let the model write only the values.
:func:`ask_choice` does that over a plain ``/completions`` request: the
prompt is a rendered chat (:func:`chatml`) that ends inside the assistant's
answer, right where a value begins, and a GBNF grammar
(:func:`choice_grammar`) lets the model write one of the options and
nothing else. The answer is checked against the options in code too (a
server that ignores the grammar is caught).

The chat is rendered in ChatML (``<|im_start|>role ... <|im_end|>``), the
template of SmolLM2 and of most small instruct models; a served model with
another template still answers one of the options (the grammar sees to
that), only with a prompt it was not trained on.

A server that keeps the previous prompt's computed prefix (llama.cpp does)
evaluates only what is new: a conversation asked value after value costs
the new key and the value each time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alphaloop.llm.errors import LLMAnswerError, LLMConfigError

__all__ = ["ask_choice", "chatml", "choice_grammar"]


def chatml(messages: Sequence[dict[str, str]], *, answer_prefix: str | None = None) -> str:
    """``messages`` rendered in ChatML; with ``answer_prefix``, the assistant's answer begun.

    Parameters
    ----------
    messages : sequence of dict
        ``{"role": system|user|assistant, "content": text}``, oldest first.
    answer_prefix : str, optional
        Text the assistant's next answer starts with (the model continues
        it); None: the rendering ends after the last message.
    """
    parts = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise LLMConfigError(f"bad chat message {str(m)[:80]!r}")
        parts.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    if answer_prefix is not None:
        parts.append(f"<|im_start|>assistant\n{answer_prefix}")
    return "".join(parts)


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def choice_grammar(options: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are ``options``."""
    if not options or any(not isinstance(o, str) or not o for o in options):
        raise LLMConfigError(f"a choice needs non-empty text options, got {list(options)!r}")
    return "root ::= " + " | ".join(_literal(o) for o in options)


def ask_choice(
    client: Any,
    prompt: str,
    options: Sequence[str],
    *,
    what: str = "the answer",
    seed: int = 0,
) -> str:
    """The option the model writes after ``prompt`` (one ``/completions`` request).

    Parameters
    ----------
    client : LLMClient
        An OpenAI-compatible client (its cache and account apply).
    prompt : str
        The text the option continues (see :func:`chatml`).
    options : sequence of str
        What the model may write.
    what : str
        What is asked, for error messages ("the family").
    seed : int
        Sent with the request (temperature is 0).

    Raises
    ------
    LLMAnswerError
        The answer is not one of the options: cut at ``max_tokens`` (the
        longest option's length in characters, an upper bound on its
        tokens), or written by a server that ignored the grammar.
    LLMTransportError, LLMConfigError
    """
    grammar = choice_grammar(options)
    max_tokens = max(len(o) for o in options)
    answer = client.complete_text(
        prompt,
        grammar=grammar,
        temperature=0.0,
        seed=seed,
        max_tokens=max_tokens,
    )
    text = answer.text
    if text in options:
        return text
    if answer.finish_reason == "length":
        raise LLMAnswerError(
            f"the model's answer for {what} was cut at max_tokens {max_tokens}: {text[:40]!r}",
            hint="the server should stop at the end of an option; check that it honours grammars",
        )
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    raise LLMAnswerError(
        f"the model answered {text[:40]!r} for {what}, not one of {shown}",
        hint="the server ignored the grammar: serve the model with llama.cpp",
    )
