"""Benchmark: probability of backtest overfitting (CSCV), alphaloop next to purgedcv.

Workload (default): 1,000 strategies x 5,000 days of seeded random daily
returns (normal, 1% volatility, per-strategy drifts drawn from N(0, 0.02%)),
``S = 16`` blocks, i.e. C(16, 8) = 12,870 in-sample/out-of-sample
combinations, Sharpe ratio as the selection metric.

Routes, timed in the same process on the same matrix:

- **alphaloop**: ``probability_of_backtest_overfitting(returns, 16)`` with
  ``returns`` shaped (days, strategies). numba's on-disk cache is pointed at
  a fresh temporary directory, so the first call includes the JIT compile;
  the warm figure is the median of ``--repeats`` further calls.
- **purgedcv**: ``purgedcv.probability_of_backtest_overfitting(returns.T,
  n_splits=16)`` (it takes (strategies, days)); run ``--peer-repeats`` times
  (once by default: it takes minutes at full size).

Both must give the same PBO and the same logits (purgedcv lists the
combinations in reverse order; see ``alphaloop.validation.pbo``), and the same
performance-degradation slope to 1e-10, or the script exits non-zero.

Goal (from the project's issue): PBO with S=16 on 1,000 strategies x 5,000
days in at most 5 s.

Usage::

    python bench/bench_validation.py            # full size (purgedcv takes ~10 min)
    python bench/bench_validation.py --quick    # 100 strategies x 1,000 days, S=10
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from math import comb
from typing import Any

import numpy as np

from _common import cpu_name, memory_total  # bench/ is on the path when a script runs

GOAL_S = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--strategies", type=int, default=1000)
    p.add_argument("--days", type=int, default=5000)
    p.add_argument("--partitions", type=int, default=16, help="S, even")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeats", type=int, default=5, help="warm alphaloop calls")
    p.add_argument("--peer-repeats", type=int, default=1, help="purgedcv calls")
    p.add_argument("--quick", action="store_true", help="100 strategies x 1,000 days, S=10")
    args = p.parse_args(argv)
    if args.quick:
        args.strategies, args.days, args.partitions = 100, 1000, 10
        args.peer_repeats = max(args.peer_repeats, 3)
    return args


def make_returns(n_days: int, n_strategies: int, seed: int) -> np.ndarray:
    """(days, strategies) daily returns: 1% volatility, small random drifts."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0, 0.0002, n_strategies)
    return drift + rng.normal(0.0, 0.01, (n_days, n_strategies))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` (after a garbage collection) and its result."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def machine() -> dict[str, str]:
    """CPU, cores, memory, OS, Python and library versions."""
    import numba
    import purgedcv

    import alphaloop

    cpu, mem = cpu_name(), memory_total()
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} cores (numba threads: {numba.get_num_threads()})",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": (
            f"alphaloop {alphaloop.__version__}, numpy {np.__version__}, "
            f"numba {numba.__version__}, purgedcv {getattr(purgedcv, '__version__', '?')}"
        ),
    }


def spread(runs: list[float]) -> str:
    """Median, range and count of several timings."""
    if len(runs) == 1:
        return f"{runs[0]:.2f}"
    return f"{statistics.median(runs):.3f} ({min(runs):.3f}–{max(runs):.3f}, n={len(runs)})"


def agreement(ours: Any, theirs: Any) -> list[str]:
    """Differences between the two results (empty when they agree)."""
    problems = []
    if ours.pbo != theirs.pbo:
        problems.append(f"PBO differs: {ours.pbo} vs {theirs.pbo}")
    if not np.array_equal(ours.logits, theirs.logits[::-1]):
        bad = int(np.sum(ours.logits != theirs.logits[::-1]))
        problems.append(f"logits differ in {bad} of {ours.logits.size} combinations")
    if not np.isclose(ours.slope, theirs.slope, rtol=1e-10, atol=0.0):
        problems.append(f"slope differs: {ours.slope!r} vs {theirs.slope!r}")
    perf = theirs.is_oos_performance[::-1]
    worst = max(
        float(np.max(np.abs(ours.is_performance - perf[:, 0]))),
        float(np.max(np.abs(ours.oos_performance - perf[:, 1]))),
    )
    if worst > 1e-12:
        problems.append(f"IS/OOS Sharpe of the selected strategy differ by up to {worst:.2e}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # a fresh numba cache: the first call compiles instead of loading a cached kernel
    cache_dir = tempfile.mkdtemp(prefix="alphaloop-numba-")
    os.environ["NUMBA_CACHE_DIR"] = cache_dir
    import purgedcv

    from alphaloop.validation.pbo import probability_of_backtest_overfitting

    n_days, n_strat, s = args.days, args.strategies, args.partitions
    n_comb = comb(s, s // 2)
    x = make_returns(n_days, n_strat, args.seed)
    load_before = os.getloadavg()[0]
    print(
        f"workload: {n_strat:,} strategies x {n_days:,} days, S={s} "
        f"({n_comb:,} combinations), seed {args.seed}",
        file=sys.stderr,
    )

    first_s, ours = timed(lambda: probability_of_backtest_overfitting(x, s))
    warm = [
        timed(lambda: probability_of_backtest_overfitting(x, s))[0] for _ in range(args.repeats)
    ]
    print(f"alphaloop: first call {first_s:.2f} s, warm {spread(warm)} s", file=sys.stderr)

    print(
        f"purgedcv: {args.peer_repeats} call(s), "
        f"roughly {n_comb * 2 * n_strat * 22e-6:,.0f} s each",
        file=sys.stderr,
    )
    peer = []
    theirs = None
    for _ in range(args.peer_repeats):
        seconds, theirs = timed(
            lambda: purgedcv.probability_of_backtest_overfitting(x.T, n_splits=s)
        )
        peer.append(seconds)
        print(f"purgedcv: {seconds:.1f} s", file=sys.stderr)
    load = f"{load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after"
    problems = agreement(ours, theirs)

    info = machine()
    warm_median = statistics.median(warm)
    print(f"## PBO by CSCV (`bench/bench_validation.py`), {dt.date.today().isoformat()}")
    print()
    print(
        f"**Machine:** {info['cpu']}, {info['cores']}, {info['memory']} memory, "
        f"{info['os']}, Python {info['python']}; {info['versions']}. "
        f"Load average (1 min): {load}."
    )
    print()
    print(
        f"**Workload:** {n_strat:,} strategies x {n_days:,} days of seeded random returns "
        f"(seed {args.seed}), S = {s}, {n_comb:,} combinations, metric: Sharpe ratio."
    )
    print()
    print("| route | first call (s) | warm, median (s) | speed-up vs purgedcv |")
    print("|---|---:|---:|---:|")
    peer_median = statistics.median(peer)
    print(
        f"| alphaloop `probability_of_backtest_overfitting` | {first_s:.2f} "
        f"(JIT compile ≈ {first_s - warm_median:.2f}) | {spread(warm)} "
        f"| {peer_median / warm_median:,.0f}x |"
    )
    print(
        f"| purgedcv `probability_of_backtest_overfitting` | {peer[0]:.2f} | {spread(peer)} | 1x |"
    )
    print()
    print(f"PBO {ours.pbo:.4f}, performance-degradation slope {ours.slope:.4f}")
    if (n_strat, n_days, s) == (1000, 5000, 16):
        ok = warm_median <= GOAL_S and first_s <= GOAL_S
        print(
            f"{'met' if ok else 'NOT MET'}: PBO with S=16 on 1,000 x 5,000 in at most "
            f"{GOAL_S:.0f} s — warm {warm_median:.2f} s, first call with compile {first_s:.2f} s"
        )
    print(
        "agreement: "
        + (
            "same PBO, logits, selected strategies' IS/OOS Sharpe and slope"
            if not problems
            else "FAILED"
        )
    )
    for line in problems:
        print(f"  {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
