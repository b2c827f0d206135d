"""Language models as an optional, untrusted brain: providers, structured output, cache, sandbox.

The public names below are importable from ``alphaloop.llm`` directly; each
is loaded from its module on first use, so ``import alphaloop.llm`` stays
cheap (no httpx until a request is sent). The modules:

:mod:`~alphaloop.llm.settings`
    :class:`LLMSettings` (``ALPHALOOP_LLM_*``): provider, model, base URL,
    the NAME of the key variable, timeout, retries, knowledge cut-off, prices.
:mod:`~alphaloop.llm.client`
    :class:`LLMClient`: one chat request over HTTP, with the cache, retries
    and the token account; :mod:`~alphaloop.llm.providers` holds the two
    wire protocols (OpenAI-compatible chat completions, Anthropic Messages),
    :mod:`~alphaloop.llm.retry` the backoff and ``Retry-After`` rules,
    :mod:`~alphaloop.llm.account` the :class:`TokenAccount`.
:mod:`~alphaloop.llm.cache`
    :class:`ResponseCache`: answers by SHA-256 of the canonical request in a
    SQLite file; modes ``use``, ``replay`` (no network), ``off``.
:mod:`~alphaloop.llm.schema`
    :func:`portable_schema`: JSON Schema from a pydantic model in the subset
    OpenAI strict mode, Anthropic tools and llama.cpp grammars all accept.
:mod:`~alphaloop.llm.structured`
    :func:`ask_structured`: a validated pydantic answer, one repair round, or
    :class:`LLMAnswerError`; :func:`extract_json`.
:mod:`~alphaloop.llm.choice`
    :func:`ask_choice`: one value among literal options, written by a
    grammar-bound model after a prefilled answer (:func:`chatml`,
    :func:`choice_grammar`), over a plain ``/completions`` request.
:mod:`~alphaloop.llm.hypotheses`
    :func:`propose_hypotheses`: factor hypotheses for the miner
    (:class:`FactorHypothesis`), from search-span facts (:class:`MiningFacts`),
    kept only when the expression parser accepts them.
:mod:`~alphaloop.llm.ideas`
    :class:`ImprovementIdea`: a change to a model (features, hyperparameters,
    family) for the model improver; :func:`idea_spec` validates it into a spec.
:mod:`~alphaloop.llm.memorisation`
    :func:`post_cutoff_span`: the searchable bars after the model's knowledge
    cut-off, where every LLM-originated result is also reported (shown first).
:mod:`~alphaloop.llm.local`
    :class:`LocalServer`: an offline model (SmolLM2-135M-Instruct from the
    ``local`` extra) on llama-cpp-python's OpenAI-compatible server, run as a
    child process; :class:`LocalServerConfig` gives the settings that reach it.
:mod:`~alphaloop.llm.sandbox`
    :func:`run_strategy_code`, :func:`check_strategy_code` and the sandbox
    errors, re-exported from :mod:`alphaloop.sandbox` (where they live: a
    spec's code signal runs there too, below the backtest layer).

Errors raised on purpose derive from :class:`LLMError` (:mod:`~alphaloop.llm.errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.llm.account import TokenAccount
    from alphaloop.llm.cache import CACHE_MODES, ResponseCache, request_key
    from alphaloop.llm.choice import ask_choice, chatml, choice_grammar
    from alphaloop.llm.client import LLMClient
    from alphaloop.llm.errors import (
        LLMAnswerError,
        LLMConfigError,
        LLMError,
        LLMHTTPError,
        LLMReplayMissError,
        LLMSchemaError,
        LLMTransportError,
    )
    from alphaloop.llm.hypotheses import (
        FactorHypotheses,
        FactorHypothesis,
        HypothesisOutcome,
        LibraryFact,
        MiningFacts,
        hypothesis_messages,
        propose_hypotheses,
    )
    from alphaloop.llm.ideas import (
        IdeaFacts,
        ImprovementIdea,
        ImprovementIdeas,
        ParamChange,
        idea_description,
        idea_messages,
        idea_spec,
    )
    from alphaloop.llm.local import LocalServer, LocalServerConfig, bundled_model_path
    from alphaloop.llm.memorisation import MIN_POST_CUTOFF_BARS, PostCutoffSpan, post_cutoff_span
    from alphaloop.llm.providers import Answer
    from alphaloop.llm.retry import RetryPolicy, parse_retry_after
    from alphaloop.llm.sandbox import run_strategy_code
    from alphaloop.llm.sandbox_ast import check_strategy_code
    from alphaloop.llm.sandbox_errors import (
        SandboxError,
        SandboxInputError,
        SandboxLimitExceeded,
        SandboxOutputError,
        SandboxViolation,
    )
    from alphaloop.llm.schema import portable_schema, schema_keywords
    from alphaloop.llm.settings import LLMSettings
    from alphaloop.llm.structured import ask_structured, extract_json

_HOME: dict[str, str] = {
    # errors
    "LLMAnswerError": "errors",
    "LLMConfigError": "errors",
    "LLMError": "errors",
    "LLMHTTPError": "errors",
    "LLMReplayMissError": "errors",
    "LLMSchemaError": "errors",
    "LLMTransportError": "errors",
    # settings and client
    "LLMSettings": "settings",
    "LLMClient": "client",
    "Answer": "providers",
    "TokenAccount": "account",
    "RetryPolicy": "retry",
    "parse_retry_after": "retry",
    # cache
    "CACHE_MODES": "cache",
    "ResponseCache": "cache",
    "request_key": "cache",
    # structured output
    "portable_schema": "schema",
    "schema_keywords": "schema",
    "ask_structured": "structured",
    "extract_json": "structured",
    "ask_choice": "choice",
    "chatml": "choice",
    "choice_grammar": "choice",
    # factor hypotheses and improvement ideas
    "FactorHypotheses": "hypotheses",
    "FactorHypothesis": "hypotheses",
    "HypothesisOutcome": "hypotheses",
    "LibraryFact": "hypotheses",
    "MiningFacts": "hypotheses",
    "hypothesis_messages": "hypotheses",
    "propose_hypotheses": "hypotheses",
    "IdeaFacts": "ideas",
    "ImprovementIdea": "ideas",
    "ImprovementIdeas": "ideas",
    "ParamChange": "ideas",
    "idea_description": "ideas",
    "idea_messages": "ideas",
    "idea_spec": "ideas",
    # memorisation guard
    "MIN_POST_CUTOFF_BARS": "memorisation",
    "PostCutoffSpan": "memorisation",
    "post_cutoff_span": "memorisation",
    # sandbox
    "run_strategy_code": "sandbox",
    "check_strategy_code": "sandbox_ast",
    "SandboxError": "sandbox_errors",
    "SandboxInputError": "sandbox_errors",
    "SandboxLimitExceeded": "sandbox_errors",
    "SandboxOutputError": "sandbox_errors",
    "SandboxViolation": "sandbox_errors",
    # the offline model server (alphaloop llm serve)
    "LocalServer": "local",
    "LocalServerConfig": "local",
    "bundled_model_path": "local",
}
"""Public name -> the module of this package that defines it."""

_HOMES: dict[str, str] = {name: f"alphaloop.llm.{module}" for name, module in _HOME.items()}

__all__ = [
    "CACHE_MODES",
    "MIN_POST_CUTOFF_BARS",
    "Answer",
    "FactorHypotheses",
    "FactorHypothesis",
    "HypothesisOutcome",
    "IdeaFacts",
    "ImprovementIdea",
    "ImprovementIdeas",
    "LLMAnswerError",
    "LLMClient",
    "LLMConfigError",
    "LLMError",
    "LLMHTTPError",
    "LLMReplayMissError",
    "LLMSchemaError",
    "LLMSettings",
    "LLMTransportError",
    "LibraryFact",
    "LocalServer",
    "LocalServerConfig",
    "MiningFacts",
    "ParamChange",
    "PostCutoffSpan",
    "ResponseCache",
    "RetryPolicy",
    "SandboxError",
    "SandboxInputError",
    "SandboxLimitExceeded",
    "SandboxOutputError",
    "SandboxViolation",
    "TokenAccount",
    "ask_choice",
    "ask_structured",
    "bundled_model_path",
    "chatml",
    "check_strategy_code",
    "choice_grammar",
    "extract_json",
    "hypothesis_messages",
    "idea_description",
    "idea_messages",
    "idea_spec",
    "parse_retry_after",
    "portable_schema",
    "post_cutoff_span",
    "propose_hypotheses",
    "request_key",
    "run_strategy_code",
    "schema_keywords",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access (PEP 562)."""
    value = load_public(__name__, _HOMES, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
