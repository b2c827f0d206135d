"""Benchmark: the temporal convolutional GAN on the 20 bundled stocks, beside bootstrap and GARCH.

Workload: skfolio's S&P 500 dataset (20 stocks, 1990-2022 daily closes, 8,312
complete log-return rows). Each generator is fitted once on the CPU (wall
and CPU time reported): the stationary bootstrap, the GARCH-t with a Gaussian
copula and the GAN (default configuration: 1,500 generator steps, 2 critic
steps each, batches of 32 windows of 128 days, ``--threads`` torch threads).
Then ``sample_returns(--paths, 2,520, seed)`` is timed once per generator,
and every generator's stylized facts are scored on ``--score-paths`` paths as
long as the real data, in the same run, beside the real data's own.

Usage::

    python bench/bench_gan.py --write-docs   # full size, writes docs/benchmarks.md
    python bench/bench_gan.py --quick        # 100 GAN steps, no docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

START, END = "<!-- bench_gan:start -->", "<!-- bench_gan:end -->"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1500, help="GAN generator steps")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the GAN")
    p.add_argument("--lr", type=float, default=5e-4, help="GAN step size")
    p.add_argument("--paths", type=int, default=200, help="paths of the timed draw")
    p.add_argument("--length", type=int, default=2_520)
    p.add_argument("--score-paths", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="100 GAN steps, 20 paths; no docs")
    p.add_argument("--write-docs", action="store_true", help="write docs/benchmarks.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.steps, args.paths, args.score_paths, args.write_docs = 100, 20, 5, False
    from skfolio.datasets import load_sp500_dataset

    import alphaloop
    from alphaloop.data import Panel
    from alphaloop.synth import FACTS, log_returns, make_generator, stylized_facts

    panel = Panel.from_frames({"close": load_sp500_dataset()})
    real, _ = log_returns(panel)
    generators = (
        ("bootstrap (stationary)", "bootstrap", {}),
        ("GARCH-t, Gaussian copula", "garch", {}),
        (
            "GAN (TCN, WGAN-GP)",
            "gan",
            {"steps": args.steps, "n_threads": args.threads, "lr": args.lr},
        ),
        ("normal baseline", "normal", {}),
    )
    rows, reports = [], {}
    for label, kind, params in generators:
        t0, c0 = time.perf_counter(), time.process_time()
        gen = make_generator(kind, params).fit(panel)
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        gen.sample_returns(2, 50, seed=0)  # warm-up: compile, import
        t0 = time.perf_counter()
        x = gen.sample_returns(args.paths, args.length, seed=args.seed)
        draw_s = time.perf_counter() - t0
        assert x.shape == (args.paths, args.length, panel.n_assets)
        del x
        rows.append((label, fit_s, fit_cpu, draw_s))
        print(f"{label:28s} fit {fit_s:7.1f} s (cpu {fit_cpu:7.1f})  draw {draw_s:6.2f} s",
              file=sys.stderr)  # fmt: skip
        paths = gen.sample_returns(args.score_paths, real.shape[0], seed=args.seed)
        reports[label] = stylized_facts(paths, reference=real, label=label)
        if kind == "gan":
            losses = gen.losses_
    reports = {"real data": stylized_facts(real, reference=real), **reports}
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines = [
        START,
        "## Synthetic data: the GAN beside bootstrap and GARCH (bench/bench_gan.py)",
        "",
        f"skfolio's S&P 500 dataset, 20 stocks, {real.shape[0]:,} complete daily log-return "
        f"rows (1990-2022), fitted on the CPU. GAN: temporal convolutional generator and "
        f"critic (6 dilated layers, receptive field 64 days, 32 channels), WGAN-GP, "
        f"{args.steps:,} generator steps x 2 critic steps on batches of 32 windows of 128 days, "
        f"lr {args.lr:g}, empirical marginals, {args.threads} torch thread(s); last losses: "
        f"critic {losses['critic']:.3f}, generator {losses['generator']:.3f}. "
        f"Draw: `sample_returns` of {args.paths:,} paths x "
        f"{args.length:,} days x 20 assets, once after a warm-up.",
        "",
        "| generator | fit, wall (s) | fit, CPU (s) | draw, wall (s) |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.2f} |" for r in rows),
        "",
        f"Stylized facts in the same run: each generator's {args.score_paths} paths of "
        f"{real.shape[0]:,} days (median over paths, mean over assets), the rules of "
        "docs/synth.md; the real data is judged by the same rules.",
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
    lines += [
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, {memory_total()}, "
        f"{platform.system()}, Python {platform.python_version()}, alphaloop "
        f"{alphaloop.__version__}; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        f"(1 / 5 / 15 min) at the end; run {dt.date.today()}. The machine is shared: wall "
        "times stretch with the load, CPU times much less.",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        write_docs_section(text, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
