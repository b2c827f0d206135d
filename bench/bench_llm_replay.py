"""Benchmark: record an LLM research session, then replay it from the response cache offline.

Workload: ``alphaloop research --policy llm`` on the bundled 20 US stocks
(``sp500-stocks``, the sealed holdout the last 20%), technical candidates,
against a local server that speaks the OpenAI chat-completions protocol
(``tests/research/llm_support.py``: a scripted researcher that reads the
prompt's templates and top recipes and answers a valid research decision;
the first answer and its repair are malformed, so one proposal falls back to
the bandit). The same session is then run in a fresh copy of the workspace
with the cache in ``replay`` mode and the server stopped; every attempt to
send a request is counted (and refused).

Reported: wall time of the recording and of the replay, requests sent,
answers served by the cache, prompt size, whether the two databases hold the
same rows (strategies, genealogy, evaluations, trial counts, decisions;
wall-clock columns aside), and a bandit session of the same budget for
reference.

Usage::

    python bench/bench_llm_replay.py               # 64 candidates
    python bench/bench_llm_replay.py --quick       # 16 candidates
    python bench/bench_llm_replay.py --write-docs  # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, cpu_name, memory_total, write_docs_section  # bench/ is on the path

sys.path.insert(0, str(ROOT))  # the local protocol server lives with the tests

DOC_START = "<!-- bench_llm_replay:start -->"
DOC_END = "<!-- bench_llm_replay:end -->"
GOAL = "technical only, long-only, monthly rebalancing"
DATA = "sp500-stocks"
TABLES = ("strategies", "strategy_parents", "evaluations", "dataset_trials", "agent_decisions")


def _contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with sqlite3.connect(db) as conn:
        for table in TABLES:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c not in {"created_at", "updated_at", "finished_at"}]
            rows = conn.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def _session(root: Path, config: Any, policy: Any) -> tuple[float, Any]:
    from alphaloop.app import Workspace
    from alphaloop.app.research import start_research

    with Workspace(root, holdout_fraction=0.2) as ws:
        t0 = time.perf_counter()
        result = start_research(ws, GOAL, DATA, config, policy=policy)
        return time.perf_counter() - t0, result


def run(budget: int, batch: int, workers: int) -> dict[str, Any]:
    from tests.llm.servers import Reply, openai_body
    from tests.research.llm_support import researcher, settings_for

    from alphaloop.app import Workspace
    from alphaloop.llm import LLMClient, ResponseCache
    from alphaloop.research.llm_policy import LLMPolicy
    from alphaloop.research.session import SessionConfig

    tmp = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    base = tmp / "base"
    with Workspace(base, holdout_fraction=0.2) as ws:
        ws.data.ensure_bundled()
    for name in ("record", "replay", "bandit"):
        shutil.copytree(base, tmp / name)
    common = {"budget": budget, "batch_size": batch, "workers": workers, "seed": 7}
    config = SessionConfig(**common, ml=False, picks=0, policy="llm")
    cache = tmp / "responses.sqlite"
    cutoff = dt.date(2012, 1, 1)

    with researcher() as server:
        server.script = [Reply(body=openai_body("no JSON")), Reply(body=openai_body("{}"))]
        settings = settings_for(server.url, knowledge_cutoff=cutoff)
        client = LLMClient(settings, cache=ResponseCache(cache, "use"))
        record_s, recorded = _session(tmp / "record", config, LLMPolicy(client, seed=7))
    requests = len(server.requests)
    prompt_chars = max(len(m["content"]) for r in server.requests for m in r["body"]["messages"])

    sent: list[int] = []
    real_send = LLMClient._send

    def counting_send(self: LLMClient, request: dict[str, Any]) -> Any:
        sent.append(1)
        raise AssertionError("replay tried to send a request")

    LLMClient._send = counting_send  # type: ignore[method-assign]
    try:
        replay_client = LLMClient(settings, cache=ResponseCache(cache, "replay"))
        replay_s, replayed = _session(tmp / "replay", config, LLMPolicy(replay_client, seed=7))
    finally:
        LLMClient._send = real_send  # type: ignore[method-assign]
    bandit_config = SessionConfig(**common, ml=False, picks=0)
    bandit_s, _ = _session(tmp / "bandit", bandit_config, None)
    same = _contents(tmp / "record" / "alphaloop.db") == _contents(tmp / "replay" / "alphaloop.db")
    reasons: dict[str, int] = {}
    with Workspace(tmp / "record", holdout_fraction=0.2) as ws:
        for d in ws.strategies.decisions(recorded.session_id):
            why = str(d.context.get("fallback_reason") or "")
            if d.context.get("origin") == "fallback":
                kind = (
                    "no valid answer"
                    if why.startswith("no valid answer")
                    else "a repeat"
                    if "already evaluated" in why
                    else "refused draft"
                )
                reasons[kind] = reasons.get(kind, 0) + 1
    origins = recorded.summary["llm"]["origins"]
    span = recorded.summary["llm"]["span"]
    out = {
        "budget": budget,
        "batch": batch,
        "workers": workers,
        "record_s": record_s,
        "replay_s": replay_s,
        "bandit_s": bandit_s,
        "requests": requests,
        "replay_http": len(sent),
        "cache_hits": replay_client.account.cached_calls,
        "cache_entries": len(ResponseCache(cache, "replay")),
        "prompt_chars": prompt_chars,
        "origins": origins,
        "fallbacks": dict(sorted(reasons.items())),
        "same": same,
        "span": span,
        "evaluated": recorded.summary["counts"]["evaluated"],
        "replay_evaluated": replayed.summary["counts"]["evaluated"],
    }
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    budget, batch = (16, 8) if args.quick else (64, 16)
    r = run(budget, batch, args.workers)
    for k, v in r.items():
        print(f"{k}: {v}")
    if not r["same"] or r["replay_http"]:
        print("FAILED: the replay differs or reached the network", file=sys.stderr)
        return 1
    if args.write_docs:
        origins = ", ".join(f"{k} {v}" for k, v in r["origins"].items())
        span = r["span"]
        body = "\n".join(
            [
                DOC_START,
                "## LLM research session: record, then replay offline (`bench_llm_replay.py`)",
                "",
                f"`alphaloop research --policy llm` on `{DATA}` (20 stocks, sealed holdout the "
                f"last 20%), {r['budget']} technical candidates in batches of {r['batch']}, "
                f"{r['workers']} evaluation workers, seed 7, against a local OpenAI-protocol "
                "server answering with a scripted researcher (the first answer and its repair "
                "malformed: one proposal falls back to the bandit). The replay runs the same "
                "session in a fresh copy of the workspace with `--llm-cache replay` and the "
                "server stopped.",
                "",
                "| | recording | replay | bandit (reference) |",
                "| --- | ---: | ---: | ---: |",
                f"| wall time (s) | {r['record_s']:.1f} | {r['replay_s']:.1f} | "
                f"{r['bandit_s']:.1f} |",
                f"| HTTP requests | {r['requests']} | {r['replay_http']} | 0 |",
                f"| answers from the cache | 0 | {r['cache_hits']} | – |",
                f"| candidates evaluated | {r['evaluated']} | {r['replay_evaluated']} | "
                f"{r['budget']} |",
                "",
                f"- identical database rows (strategies, genealogy, evaluations, trial counts, "
                f"decisions; wall-clock columns aside): **{'yes' if r['same'] else 'no'}**",
                f"- proposals by origin: {origins} (fallbacks after: "
                f"{', '.join(f'{k} {v}' for k, v in r['fallbacks'].items()) or 'none'}); "
                f"{r['cache_entries']} cached answers; "
                f"longest prompt {r['prompt_chars']:,} characters",
                f"- memorisation guard (cut-off 2012-01-01): post-cut-off span {span['start']} "
                f"to {span['end']} ({span['n_bars']} bars of the search span)",
                f"- machine: {cpu_name()}, {os.cpu_count()} CPUs, {memory_total()}; Python "
                f"{platform.python_version()}; {dt.date.today().isoformat()}",
                "",
                "Almost all of the time is the evaluation of candidates (lookahead scan, "
                "walk-forward backtest, gate); the model's answers are local and instant here, "
                "so the recording measures the policy's own overhead (prompt, validation, "
                "drafts, cache writes), not a hosted model's latency. The scripted researcher "
                "is simple (it repeats itself; a repeat it cannot fix in one round goes to the "
                "bandit), so the fallback count says nothing about a real model. Wall times "
                "were measured on a shared machine and vary between runs.",
                DOC_END,
            ]
        )
        write_docs_section(body, DOC_START, DOC_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
