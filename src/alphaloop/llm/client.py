"""The HTTP client of a language model: cache, retries, key handling, token account.

:meth:`LLMClient.complete` sends one chat request and returns the model's
text. In order: the request's cache key is looked up (``replay`` mode must
hit, and then no connection is ever opened); the key is read from the
environment variable the settings name; the request is sent with httpx,
retried on connection errors, timeouts, 408, 429 and 5xx with backoff
(:mod:`alphaloop.llm.retry`), honouring ``Retry-After``; any other 4xx fails
at once. Answers are read up to ``max_response_bytes``. The key is never
stored on the client, never cached, and redacted from any text that reaches
an error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from alphaloop.llm.account import TokenAccount
from alphaloop.llm.cache import ResponseCache, request_key
from alphaloop.llm.errors import (
    LLMAnswerError,
    LLMConfigError,
    LLMHTTPError,
    LLMReplayMissError,
    LLMTransportError,
)
from alphaloop.llm.providers import (
    Answer,
    build_request,
    key_header,
    parse_answer,
    parse_text_answer,
)
from alphaloop.llm.retry import RetryPolicy, is_retryable_status, parse_retry_after
from alphaloop.llm.settings import LLMSettings

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_RESPONSE_BYTES", "LLMClient", "Message"]

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

MAX_RESPONSE_BYTES = 2_000_000
"""Largest HTTP answer body read (bytes); a larger one is an :class:`LLMAnswerError`."""

_ROLES = frozenset({"system", "user", "assistant"})


class LLMClient:
    """Chat requests to one model, with a response cache and a token account.

    Parameters
    ----------
    settings : LLMSettings
        Provider, model, endpoint, key variable, timeout, retries, prices.
    cache : ResponseCache, optional
        Where answers are looked up and stored; None: no cache.
    account : TokenAccount, optional
        Where calls and tokens are summed; default a new one (``.account``).
    retry_seed : int
        Seed of the backoff jitter.
    sleep : callable
        Called with the seconds to wait between attempts (``time.sleep``).
    max_response_bytes : int
        Largest answer body read.
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        cache: ResponseCache | None = None,
        account: TokenAccount | None = None,
        retry_seed: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.account = account if account is not None else TokenAccount()
        self.retry = RetryPolicy(max_retries=settings.max_retries, seed=retry_seed)
        self.sleep = sleep
        self.max_response_bytes = max_response_bytes
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"LLMClient(provider={s.provider!r}, model={s.model!r}, base_url={s.endpoint_root!r})"
        )

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool (the client can still be used afterwards)."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def request_for(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        temperature: float = 0.0,
        seed: int = 0,
        max_tokens: int = 1024,
    ) -> dict[str, Any]:
        """The canonical request (what the cache key hashes; never holds the key)."""
        checked = []
        for m in messages:
            if (
                not isinstance(m, dict)
                or m.get("role") not in _ROLES
                or not isinstance(m.get("content"), str)
            ):
                raise LLMConfigError(
                    f"bad chat message {str(m)[:80]!r}",
                    hint="each message is {'role': system|user|assistant, 'content': text}",
                )
            checked.append({"role": m["role"], "content": m["content"]})
        request: dict[str, Any] = {
            "provider": self.settings.provider,
            "model": self.settings.model,
            "base_url": self.settings.endpoint_root,
            "messages": checked,
            "schema": schema,
            "schema_name": schema_name,
            "temperature": float(temperature),
            "seed": int(seed),
            "max_tokens": int(max_tokens),
        }
        # only a non-default mode joins the key, so caches recorded before it existed still hit
        if self.settings.provider == "openai" and self.settings.json_mode != "json_schema":
            request["json_mode"] = self.settings.json_mode
        return request

    def complete(self, messages: Sequence[Message], **options: Any) -> Answer:
        """The model's answer to ``messages``.

        Parameters
        ----------
        messages : sequence of dict
            Chat messages, oldest first.
        **options
            ``schema`` (a portable JSON Schema, see :mod:`alphaloop.llm.schema`),
            ``schema_name``, ``temperature``, ``seed``, ``max_tokens``.

        Returns
        -------
        Answer
            The text (JSON text for a structured answer) and token usage.

        Raises
        ------
        LLMReplayMissError
            Replay mode and the request is not cached (no HTTP call made).
        LLMTransportError
            Unreachable, timed out or a failing status after the retries
            (:class:`LLMHTTPError` carries the status).
        LLMAnswerError
            The body is not the protocol's answer.
        """
        return self._answer(self.request_for(messages, **options))

    def text_request_for(
        self,
        prompt: str,
        *,
        grammar: str | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        max_tokens: int = 16,
    ) -> dict[str, Any]:
        """The canonical plain-completion request (what the cache key hashes)."""
        if not isinstance(prompt, str) or not prompt:
            raise LLMConfigError("a text completion needs a non-empty prompt")
        return {
            "provider": self.settings.provider,
            "model": self.settings.model,
            "base_url": self.settings.endpoint_root,
            "prompt": prompt,
            "grammar": grammar,
            "temperature": float(temperature),
            "seed": int(seed),
            "max_tokens": int(max_tokens),
        }

    def complete_text(self, prompt: str, **options: Any) -> Answer:
        """The model's continuation of ``prompt`` (an OpenAI-compatible ``/completions`` call).

        The prompt is sent as is (the caller renders any chat template), so
        it can end inside the answer: the model then writes only what
        follows. Cache, retries and the token account work as in
        :meth:`complete`.

        Parameters
        ----------
        prompt : str
            The text to continue.
        **options
            ``grammar`` (a GBNF grammar the output must match; llama.cpp
            servers), ``temperature``, ``seed``, ``max_tokens``.

        Raises
        ------
        LLMConfigError
            The provider has no text completions (Anthropic).
        LLMReplayMissError, LLMTransportError, LLMAnswerError
            As :meth:`complete`.
        """
        return self._answer(self.text_request_for(prompt, **options))

    def _answer(self, request: dict[str, Any]) -> Answer:
        """The answer to a canonical request: from the cache, or over HTTP (then cached)."""
        key = request_key(request)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.account.record(0, 0, cached=True)
                return Answer(
                    hit["text"],
                    int(hit["prompt_tokens"]),
                    int(hit["completion_tokens"]),
                    hit.get("finish_reason"),
                )
            if self.cache.mode == "replay":
                raise LLMReplayMissError(
                    f"request {key[:12]} is not in the response cache {self.cache.path}",
                    hint="replay needs the cache of the original session; use mode 'use' to call",
                )
        answer = self._send(request)
        s = self.settings
        self.account.record(
            answer.prompt_tokens,
            answer.completion_tokens,
            cached=False,
            price_input_per_1k=s.price_input_per_1k,
            price_output_per_1k=s.price_output_per_1k,
        )
        if self.cache is not None:
            self.cache.put(
                key,
                request,
                {
                    "text": answer.text,
                    "prompt_tokens": answer.prompt_tokens,
                    "completion_tokens": answer.completion_tokens,
                    "finish_reason": answer.finish_reason,
                },
            )
        return answer

    def _key(self) -> str | None:
        """The API key, read from the environment now (never kept)."""
        name = self.settings.api_key_env
        if name is None:
            return None
        value = os.environ.get(name)
        if not value:
            raise LLMConfigError(
                f"the API key variable {name} is not set",
                hint=f"export {name}=... or set ALPHALOOP_LLM_API_KEY_ENV to another variable",
            )
        return value

    def _client(self) -> httpx.Client:
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=httpx.Timeout(self.settings.timeout_s))
        return self._http

    def _send(self, request: dict[str, Any]) -> Answer:
        import httpx

        s = self.settings
        url, headers, body = build_request(s.provider, s.endpoint_root, request)
        key = self._key()
        if key is not None:
            headers = {**headers, **key_header(s.provider, key)}
        payload = json.dumps(body).encode("utf-8")
        retry = 0
        while True:
            retry_after = None
            try:
                status, data, retry_after = self._post(url, headers, payload)
            except httpx.TimeoutException as exc:
                failure: LLMTransportError = LLMTransportError(
                    f"{s.provider} request to {url} timed out after {s.timeout_s:g} s "
                    f"({type(exc).__name__})",
                    hint="raise ALPHALOOP_LLM_TIMEOUT_S or check the server",
                )
            except httpx.HTTPError as exc:
                failure = LLMTransportError(
                    f"{s.provider} request to {url} failed: {type(exc).__name__}: "
                    f"{_redact(str(exc), key)[:200]}",
                    hint="check that the server runs and ALPHALOOP_LLM_BASE_URL",
                )
            else:
                if status < 400:
                    payload = _decode(data, s.provider)
                    if "prompt" in request:
                        return parse_text_answer(payload)
                    return parse_answer(s.provider, payload)
                failure = _http_error(s.provider, url, status, _redact(_text(data), key))
                if not is_retryable_status(status):
                    raise failure
            if retry >= self.retry.max_retries:
                raise failure
            self.sleep(self.retry.wait_s(retry, retry_after))
            retry += 1

    def _post(
        self, url: str, headers: dict[str, str], payload: bytes
    ) -> tuple[int, bytes, float | None]:
        """Status, body (at most ``max_response_bytes``) and ``Retry-After`` seconds."""
        with self._client().stream("POST", url, headers=headers, content=payload) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise LLMAnswerError(
                        f"the answer from {url} exceeds {self.max_response_bytes:,} bytes"
                    )
                chunks.append(chunk)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return response.status_code, b"".join(chunks), retry_after


def _decode(data: bytes, provider: str) -> Any:
    if not data.strip():
        raise LLMAnswerError(f"the {provider} answer has an empty body")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise LLMAnswerError(
            f"the {provider} answer is not JSON ({type(exc).__name__}): {_text(data)[:120]!r}"
        ) from None


def _text(data: bytes) -> str:
    return data[:400].decode("utf-8", errors="replace")


def _redact(text: str, key: str | None) -> str:
    return text.replace(key, "[redacted]") if key else text


def _http_error(provider: str, url: str, status: int, body: str) -> LLMHTTPError:
    hints = {
        401: "the key was refused: check the variable named by ALPHALOOP_LLM_API_KEY_ENV",
        403: "the key may not use this model",
        404: "check ALPHALOOP_LLM_MODEL and ALPHALOOP_LLM_BASE_URL",
        429: "rate limited: wait, or lower the request rate",
    }
    hint = hints.get(status, "the server failed; try again later" if status >= 500 else None)
    return LLMHTTPError(
        f"{provider} endpoint {url} answered HTTP {status}: {body[:200]!r}",
        status=status,
        hint=hint,
    )
