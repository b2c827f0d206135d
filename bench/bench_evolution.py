"""Benchmark: an evolution of specialists, and what the spec-hash cache saves.

Workload: the bundled ``sp500-stocks`` research span (20 stocks, daily; the
sealed holdout is not read), three styles (momentum, mean reversion, breakout),
population 12, 5 generations, seed 0. Reported: wall time of the evolution,
distinct genomes backtested (the trials), genome slots over all generations
(what a search without the cache would backtest), backtests per second, and
the best search Sharpe per generation. The reference is the same population
backtested slot by slot without the cache (time estimated from the measured
per-backtest time).

Usage::

    python bench/bench_evolution.py          # writes docs/benchmarks.md
    python bench/bench_evolution.py --quick  # population 6, 3 generations, no docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path
from alphaloop.app import Workspace
from alphaloop.live.evolution import EvolutionConfig, evolve
from alphaloop.live.specialists import run_specialists, standard_specialists

START, END = "<!-- bench_evolution:start -->", "<!-- bench_evolution:end -->"
DATA = "sp500-stocks"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    population, generations = (6, 3) if args.quick else (12, 5)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        ws.data.ensure_bundled()
        info = ws.data.info(DATA)
        panel = ws.data.load(DATA)
        warm, _ = standard_specialists(DATA, panel.iloc(slice(0, 300)))
        run_specialists(warm, info, panel.iloc(slice(0, 300)))  # compile the kernels first
        config = EvolutionConfig(population=population, generations=generations, seed=0)
        t0 = time.perf_counter()
        ev = evolve(DATA, panel, info, config)
        seconds = time.perf_counter() - t0
        ws.close()
    slots = sum(len(g.members) for g in ev.generations)
    per = seconds / ev.n_evaluations
    best = ", ".join(f"{g.best:.2f}" for g in ev.generations)
    rate = ev.n_evaluations / seconds
    load = os.getloadavg()[0]
    text = f"""{START}
## Evolution of specialists (bench/bench_evolution.py)

`{DATA}` research span ({ev.search_start:%Y-%m-%d} .. {ev.tail_end:%Y-%m-%d}, the last 20% kept
as the validation tail), styles momentum, mean reversion and breakout, population
{population}, {generations} generations, seed 0.

| run | backtests | seconds | backtests per second |
| --- | ---: | ---: | ---: |
| evolution, one backtest per spec hash | {ev.n_evaluations} | {seconds:.1f} | {rate:.1f} |
| every genome slot backtested (reference, estimated) | {slots} | {slots * per:.1f} | - |

Best search Sharpe per generation: {best}. Every one of the {ev.n_evaluations} backtests is a
trial the survivors' deflated Sharpe ratio counts.

Machine: {cpu_name()}, {os.cpu_count()} cores, {memory_total()}, {platform.system()},
Python {platform.python_version()}; load average {load:.2f}; run {dt.date.today()}.
Figures were measured on a shared machine and vary between runs.
{END}"""
    print(text)
    if not args.quick:
        write_docs_section(text, START, END)


if __name__ == "__main__":
    sys.exit(main())
