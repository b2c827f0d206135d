"""Benchmark: how long a bar of the live loop holds the database's write lock.

Workload: the bundled replay of ``sp500-stocks`` from 2006-03-01 to 2007-06-29
(334 bars, three styles as sleeves, the meta controller, the lifecycle, the memory
bus) with a ridge model in production and a learning cycle every 42 bars, in a
fresh SQLite workspace. Every bar is one transaction
(:meth:`~alphaloop.store.Database.atomic`, ``BEGIN IMMEDIATE``); the benchmark
times each block from its start to its commit, and, separately, the part of each
learning bar worked out before its transaction (shadow evaluation, monitoring,
training): what the lock would also have covered had the bar trained inside it.

Usage::

    python bench/bench_loop_lock.py --write-docs
    python bench/bench_loop_lock.py --quick        # to 2006-09-29, no docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path
from alphaloop.app import Workspace
from alphaloop.app.loop_learner import LoopLearner
from alphaloop.app.models import promote_model, train_from_spec
from alphaloop.app.run_loop import run_loop
from alphaloop.live.loop_config import LoopConfig
from alphaloop.models.spec import ModelSpec

START, END = "<!-- bench_loop_lock:start -->", "<!-- bench_loop_lock:end -->"
MODEL = {
    "name": "tiny",
    "data": "sp500-stocks",
    "start": "2001-01-01",
    "end": "2005-12-30",
    "features": {"mom20": "$close / Ref($close, 20) - 1", "rev5": "Ref($close, 5) / $close - 1"},
    "label": {"horizon": 5},
    "model": {"family": "ridge"},
    "training": {"n_splits": 3},
}


def run(end: str) -> dict[str, Any]:
    os.environ.setdefault("ALPHALOOP_HOLDOUT_FRACTION", "0")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        ws.data.ensure_bundled()
        v1 = train_from_spec(ws, ModelSpec.model_validate(MODEL)).version
        promote_model(ws, v1.ref, "production")
        holds: list[float] = []
        learning_holds: list[float] = []
        prepares: list[float] = []
        flag = {"learning": False}
        real_atomic = ws.db.atomic

        @contextmanager
        def timed() -> Any:
            t0 = time.perf_counter()
            with real_atomic() as session:
                yield session
            holds.append(time.perf_counter() - t0)
            if flag["learning"]:
                learning_holds.append(holds[-1])
                flag["learning"] = False

        real_prepare = LoopLearner.prepare

        def prepare(self: LoopLearner, at: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real_prepare(self, at)
            finally:
                prepares.append(time.perf_counter() - t0)
                flag["learning"] = True

        ws.db.atomic = timed  # type: ignore[method-assign]
        LoopLearner.prepare = prepare  # type: ignore[method-assign]
        config = LoopConfig.model_validate({
            "name": "lock-bench", "data": "sp500-stocks", "start": "2006-03-01", "end": end,
            "styles": ["momentum", "mean_reversion", "breakout"], "bus": {"backend": "memory"},
            "lifecycle": {"shadow_bars": 42, "review_every": 21, "min_entry_sharpe": -5.0},
            "learning": {"model": "tiny", "every": 42, "policy": {
                "retrain_every_days": 90, "max_age_days": 3650, "shadow_days": 60}},
        })  # fmt: skip
        t0 = time.perf_counter()
        result = run_loop(ws, config)
        total = time.perf_counter() - t0
        LoopLearner.prepare = real_prepare  # type: ignore[method-assign]
        ws.close()
    h = np.array(holds) * 1e3
    return {
        "bars": result.bars,
        "blocks": len(h),
        "learning": [r["action"] for r in result.learning],
        "hold_median_ms": float(np.median(h)),
        "hold_p99_ms": float(np.percentile(h, 99)),
        "hold_max_ms": float(h.max()),
        "hold_max_other_ms": float(np.max(np.setdiff1d(h, np.array(learning_holds) * 1e3))),
        "learning_hold_max_ms": float(max(learning_holds) * 1e3) if learning_holds else 0.0,
        "prepare_max_ms": float(max(prepares) * 1e3) if prepares else 0.0,
        "prepare_median_ms": float(np.median(prepares) * 1e3) if prepares else 0.0,
        "total_s": total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    r = run("2006-09-29" if args.quick else "2007-06-29")
    print(r)
    if not args.write_docs or args.quick:
        return
    text = f"""{START}
## The live loop's lock hold per bar

Bundled replay of `sp500-stocks`, 2006-03-01 to 2007-06-29: {r["bars"]} bars, three
sleeves, a ridge model with a learning cycle every 42 bars ({", ".join(r["learning"])}),
SQLite, memory bus. Each bar is one `BEGIN IMMEDIATE` transaction; time from its start
to its commit ({r["blocks"]} blocks, the start and finish records included):

| lock held per block | median | p99 | longest | longest, learning bars | longest, other |
| --- | ---: | ---: | ---: | ---: | ---: |
| ms | {r["hold_median_ms"]:.1f} | {r["hold_p99_ms"]:.1f} | {r["hold_max_ms"]:.1f} \
| {r["learning_hold_max_ms"]:.1f} | {r["hold_max_other_ms"]:.1f} |

A learning cycle is worked out before its bar's transaction (median
{r["prepare_median_ms"]:.0f} ms, longest {r["prepare_max_ms"]:.0f} ms with the training): a
bar that trained inside its transaction held the lock that much longer, and every other
writer (a person's `alphaloop kill` among them) waited for it. Whole run
{r["total_s"]:.1f} s.

Machine: {cpu_name()}, {os.cpu_count()} cores, {memory_total()}, Python
{platform.python_version()}, {dt.date.today():%Y-%m-%d}; shared with other jobs during the
run (load average {load:.1f} at the start), so the figures are upper bounds.
{END}"""
    write_docs_section(text, START, END)


if __name__ == "__main__":
    main()
