"""Benchmark: synthetic paths of 20 stocks, 1,000 paths x 2,520 days, and their stylized facts.

Workload: skfolio's S&P 500 dataset (20 stocks, 1990-2022 daily closes, 8,312
complete log-return rows). Each generator is fitted once (time reported),
then ``sample_returns(1000, 2520, seed)`` (log returns, 1,000 x 2,520 x 20
float64, 403 MB) is timed: median of ``--repeats`` calls after one small
warm-up draw (numba compilation, caches). Then each generator's facts are
scored on 20 paths as long as the real data, beside the real data's own.

Goal: bootstrap and GARCH-copula each under 10 s
on 2 cores.

Usage::

    python bench/bench_synth.py --write-docs   # full size, writes docs/benchmarks.md
    python bench/bench_synth.py --quick        # 100 paths, no docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

GOAL_S = 10.0
START, END = "<!-- bench_synth:start -->", "<!-- bench_synth:end -->"

GENERATORS = (
    ("bootstrap (stationary)", "bootstrap", {}),
    ("bootstrap (circular)", "bootstrap", {"method": "circular"}),
    ("GARCH-t, Gaussian copula", "garch", {}),
    ("GJR-t, Student-t copula", "garch", {"vol": "gjr", "copula": "t"}),
    ("regime switching (2)", "regime", {}),
    ("normal baseline", "normal", {}),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paths", type=int, default=1_000)
    p.add_argument("--length", type=int, default=2_520)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--score-paths", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="100 paths; no docs")
    p.add_argument("--write-docs", action="store_true", help="write docs/benchmarks.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.paths, args.repeats, args.write_docs = 100, 1, False
    from skfolio.datasets import load_sp500_dataset

    import alphaloop
    from alphaloop.data import Panel
    from alphaloop.synth import FACTS, log_returns, make_generator, stylized_facts

    panel = Panel.from_frames({"close": load_sp500_dataset()})
    real, _ = log_returns(panel)
    rows, reports = [], {}
    for label, kind, params in GENERATORS:
        t0 = time.perf_counter()
        gen = make_generator(kind, params).fit(panel)
        fit_s = time.perf_counter() - t0
        gen.sample_returns(2, 50, seed=0)  # warm-up: compile, import
        runs, cpu = [], []
        for k in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            x = gen.sample_returns(args.paths, args.length, seed=args.seed + k)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert x.shape == (args.paths, args.length, panel.n_assets)
            del x
        med = statistics.median(runs)
        rows.append((label, fit_s, med, min(runs), max(runs), statistics.median(cpu)))
        print(
            f"{label:28s} fit {fit_s:6.2f} s  sample {med:6.2f} s  cpu {rows[-1][5]:6.2f} s",
            file=sys.stderr,
        )
        paths = gen.sample_returns(args.score_paths, real.shape[0], seed=args.seed)
        reports[label] = stylized_facts(paths, reference=real, label=label)
    reports = {"real data": stylized_facts(real, reference=real), **reports}

    goal = [r for r in rows if r[0].startswith(("bootstrap", "GARCH", "GJR"))]
    met = all(r[2] < GOAL_S for r in goal)
    # on 2 quiet cores a draw's wall time is about half its CPU time over every thread
    met_cpu = all(r[5] / 2 < GOAL_S for r in goal)
    size = f"{args.paths:,} paths x {args.length:,} days x {panel.n_assets} assets"
    lines = [
        START,
        "## Synthetic data: generators and stylized facts (bench/bench_synth.py)",
        "",
        f"skfolio's S&P 500 dataset, 20 stocks, {real.shape[0]:,} complete daily log-return "
        f"rows (1990-2022). Draw: `sample_returns` of {size} (float64), median of "
        f"{args.repeats} draws after a warm-up, one process. Goal: bootstrap and GARCH-copula "
        f"under {GOAL_S:.0f} s each: **{'met' if met else 'NOT met'}** in wall time on this "
        f"run; {'met' if met_cpu else 'NOT met'} by CPU time / 2 (two quiet cores).",
        "",
        "| generator | fit (s) | draw, wall (s) | min-max (s) | draw, CPU (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f}-{r[4]:.2f} | {r[5]:.2f} |"
            for r in rows
        ),
        "",
        "CPU is the process's CPU time over all its threads (draws run on every core): on a "
        "quiet 2-core machine the wall time is about half of it; on a busy one, wall time "
        "stretches with the load while CPU time does not.",
        "",
        f"Stylized facts: each generator's {args.score_paths} paths of {real.shape[0]:,} days "
        "(median over paths, mean over assets), the rule applied to that number; "
        "the real data is judged by the same rules (docs/synth.md).",
        "",
        "| fact | " + " | ".join(reports) + " |",
        "| --- | " + " | ".join("---:" for _ in reports) + " |",
    ]
    for name in FACTS:
        cells = []
        for rep in reports.values():
            f = rep[name]
            mark = "-" if f.passed is None else ("pass" if f.passed else "**fail**")
            cells.append(f"{f.value:.3f} {mark}")
        lines.append(f"| {name.replace('_', ' ')} | " + " | ".join(cells) + " |")
    lines.append(
        "| facts passed | "
        + " | ".join(f"{r.passed} of {r.applicable}" for r in reports.values())
        + " |"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, {memory_total()}, "
        f"{platform.system()}, Python {platform.python_version()}, alphaloop "
        f"{alphaloop.__version__}; load average {load:.2f}; run {dt.date.today()}. "
        "Times were measured on a shared machine and vary between runs.",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        write_docs_section(text, START, END)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
