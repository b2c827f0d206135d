"""Benchmark: Temporal Fusion Transformer training seconds per epoch, next to LSTM and Transformer.

Workload: the bundled 20 US stocks (``sp500-stocks``, adjusted close) from
``--start`` to ``--end`` (default 2012-01-01 to 2016-05-20: inside the
search span before the workspace's default sealed holdout, which starts
2016-05-24, and a run of a few minutes), the close-only Alpha158 features (``alpha158-close``, 75
features, z-scored per date after 1%/99% winsorizing), the 5-day forward
return (``LabelSpec(horizon=5)``), sequences of ``--window`` dates (default
10) of every labeled row with a full window.

Each family trains on every sequence for ``--epochs`` epochs (default 2; no
validation set, so no early stopping) with its default network size
(TFT: ``hidden_size=16``, 2 heads; LSTM: ``hidden_size=16``; Transformer:
``d_model=16``, 2 heads, one layer), ``batch_size=256`` for all, on
``n_threads`` 1 and then 2 (``--threads``; the machine has two cores, and
on a machine busy with other work two threads can be much slower than one,
as they wait for each other). The figure is
the fit's wall time divided by its epochs, next to its CPU time divided by
its epochs (the one-off standardization is
included and is a few milliseconds; a one-epoch fit on 256 sequences
warms torch up first, untimed); each family is fitted ``--repeats``
times (default 1) and the median is reported. The machine is shared with
other work, so the load average before and after is printed with the
figures.

Usage::

    python bench/bench_tft.py                      # 2012 to mid-2016, 2 epochs
    python bench/bench_tft.py --start 2000-01-01   # more years
    python bench/bench_tft.py --write-docs         # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

DOC_START = "<!-- bench_tft:start -->"
DOC_END = "<!-- bench_tft:end -->"
THREADS = 2  # for building the dataset
FAMILIES = ("tft", "lstm", "transformer")


def load_sequences(start: str, end: str, window: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Sequences ``(n, window, 75)``, their labels, and facts about the data."""
    from alphaloop.app import Workspace
    from alphaloop.models import LabelSpec, build_dataset

    root = Path(tempfile.mkdtemp(prefix="bench_tft_"))
    ws = Workspace(root / "ws")
    ws.data.ensure_bundled()
    panel = ws.data.load("sp500-stocks").slice(start, end)
    t0 = time.perf_counter()
    data = build_dataset(panel, "alpha158-close", LabelSpec(horizon=5), n_jobs=THREADS)
    build_s = time.perf_counter() - t0
    labeled = np.flatnonzero(np.isfinite(data.y))
    x, rows = data.sequences(window, rows=labeled)
    facts = {
        "span": f"{data.times[0].date()} to {data.times[-1].date()}",
        "assets": len(data.assets),
        "features": len(data.feature_names),
        "sequences": len(x),
        "window": window,
        "dataset_s": round(build_s, 2),
    }
    return x, data.y[rows], facts


def time_family(
    family: str, x: np.ndarray, y: np.ndarray, epochs: int, threads: int
) -> dict[str, Any]:
    """Wall and CPU seconds per epoch of one fit of ``family`` (default size, batch 256)."""
    from alphaloop.models import make_estimator

    params = {"max_epochs": epochs, "batch_size": 256, "n_threads": threads}
    # warm-up: torch's first calls (kernels, thread pool) are not part of an epoch
    make_estimator(family, params={**params, "max_epochs": 1}, seed=0).fit(x[:256], y[:256])
    est = make_estimator(family, params=params, seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    est.fit(x, y)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    n_params = sum(p.numel() for p in est.network_.parameters())
    return {
        "epoch_s": seconds / epochs,
        "epoch_cpu_s": cpu / epochs,
        "fit_s": seconds,
        "parameters": int(n_params),
    }


def machine() -> dict[str, str]:
    import torch

    import alphaloop

    return {
        "cpu": cpu_name(),
        "cores": str(os.cpu_count()),
        "memory": memory_total(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": f"alphaloop {alphaloop.__version__}, torch {torch.__version__}, "
        f"numpy {np.__version__}",
    }


def report(results: dict[tuple[str, int], list[dict[str, Any]]], facts: dict, epochs: int) -> str:
    lines = [
        "| family | threads | parameters | **wall s per epoch** | CPU s per epoch "
        "| sequences per s | fits x epochs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (family, n_threads), runs in results.items():
        per_epoch = statistics.median(r["epoch_s"] for r in runs)
        cpu = statistics.median(r["epoch_cpu_s"] for r in runs)
        lines.append(
            f"| {family} | {n_threads} | {runs[0]['parameters']:,} "
            f"| **{per_epoch:.2f}** | {cpu:.2f} | {facts['sequences'] / per_epoch:,.0f} "
            f"| {len(runs)} x {epochs} |"
        )
    return "\n".join(lines)


def busy_note(load: float) -> str:
    """A caveat for figures measured while other work kept the cores busy."""
    return (
        f"**Busy machine**: the load average was {load:.1f} on {os.cpu_count()} cores when "
        "this ran, so every figure is several times an idle machine's, and two torch threads "
        "were slower than one (each waits for the other to be scheduled). Compare the "
        "families at one thread setting, not with other sections; rerun on an idle machine for "
        "absolute figures.\n\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2012-01-01")
    parser.add_argument("--end", default="2016-05-20")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--threads", default="1,2", help="torch threads per fit, comma-separated settings"
    )
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    x, y, facts = load_sequences(args.start, args.end, args.window)
    print(json.dumps(facts), file=sys.stderr)
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    threads = [int(t) for t in args.threads.split(",")]
    for n_threads in threads:
        for family in args.families.split(","):
            key = (family, n_threads)
            results[key] = []
            for _ in range(args.repeats):
                run = time_family(family, x, y, args.epochs, n_threads)
                print(family, n_threads, json.dumps(run), file=sys.stderr)
                results[key].append(run)
    info = machine() | {"load": f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"}
    body = report(results, facts, args.epochs)
    print(json.dumps(info))
    print(body)
    if args.write_docs:
        head = (
            f"{DOC_START}\n## TFT training time (`bench/bench_tft.py`)\n\n"
            f"Run on {dt.date.today()} with `python bench/bench_tft.py --write-docs` "
            f"(defaults: {args.start} to {args.end}, window {args.window}, "
            f"{args.epochs} epochs, torch threads {args.threads}).\n\n"
            f"Data: sp500-stocks, {facts['assets']} assets, decisions {facts['span']}, "
            f"alpha158-close ({facts['features']} features), 5-day forward return; "
            f"{facts['sequences']:,} sequences of {facts['window']} dates "
            f"(dataset built in {facts['dataset_s']} s, not counted below). "
            "Every family trains on all sequences without a validation set (no early "
            "stopping), batch 256, its default size; s per epoch = fit wall time / epochs, "
            "CPU s = the process's CPU time / epochs (less sensitive to other work on the "
            "machine, but it counts threads spinning while they wait).\n\n"
            + "\n".join(f"- {k}: {v}" for k, v in info.items())
            + "\n\n"
            + (busy_note(load_before) if load_before > (os.cpu_count() or 1) else "")
        )
        write_docs_section(head + body + f"\n{DOC_END}", DOC_START, DOC_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
