"""Benchmark: pre-trade check throughput and latency of the RiskEngine.

Workload (default): 500 assets, every limit of the engine on (notional,
weight, collar, lot size, min notional, restricted list, gross, net,
concentration, 10 sector caps, daily loss, drawdown, order rate,
consecutive rejects), 1,000,000 seeded orders of random assets, sides and
sizes (1 to 5% of equity; a tenth are limit orders with a price within 3%
of the last price). Each order is checked by ``RiskEngine.submit``; an order
that passes is taken off the book again by ``on_done`` (a cancel), so the
book stays small and the mix of passes and refusals stays the same
throughout. Throughput counts ``submit`` calls only (the loop with
``on_done`` is timed separately); latency is measured per ``submit`` with
``time.perf_counter_ns`` on a sample of 200,000 orders (timer overhead
included, subtracted as its own median).

Goal (from the project's issue): at least 200,000 order checks per second
on one core.

Usage::

    python bench/bench_risk_engine.py          # full size, writes docs/benchmarks.md
    python bench/bench_risk_engine.py --quick  # 100,000 orders, no docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import sys
import time
from collections import Counter

import numpy as np

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path
from alphaloop.execution import RiskEngine, RiskLimits

GOAL = 200_000
START, END = "<!-- bench_risk_engine:start -->", "<!-- bench_risk_engine:end -->"
N_ASSETS = 500
CAPITAL = 10_000_000.0


def build(seed: int) -> tuple[RiskEngine, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    assets = [f"A{j:03d}" for j in range(N_ASSETS)]
    groups = {a: f"S{j % 10}" for j, a in enumerate(assets)}
    limits = RiskLimits(
        max_order_notional=600_000, max_weight=0.05, price_collar=0.05, lot_size=1,
        min_notional=1_000, restricted=tuple(assets[:5]), max_gross=1.5, max_net=0.5,
        max_concentration=0.2, groups=groups, group_caps={f"S{k}": 0.3 for k in range(10)},
        max_daily_loss=0.05, max_drawdown=0.2, max_orders=1_000_000, rate_window=1.0,
        max_consecutive_rejects=1_000_000,
    )  # fmt: skip
    prices = rng.uniform(10, 500, N_ASSETS)
    engine = RiskEngine(limits, assets, CAPITAL)
    engine.mark(prices.tolist(), now=0.0, new_day=True)
    return engine, assets, prices


def orders(n: int, assets: list[str], prices: np.ndarray, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed + 1)
    j = rng.integers(0, N_ASSETS, n)
    notional = rng.uniform(0.01, 0.05, n) * CAPITAL
    sign = rng.choice([-1.0, 1.0], n)
    qty = np.maximum(1.0, np.round(notional / prices[j])) * sign
    limit = np.where(rng.random(n) < 0.1, prices[j] * (1 + rng.uniform(-0.03, 0.03, n)), np.nan)
    return [
        (k + 1, assets[jj], float(q), None if np.isnan(lp) else float(lp))
        for k, (jj, q, lp) in enumerate(zip(j.tolist(), qty.tolist(), limit.tolist(), strict=True))
    ]


def run_throughput(n: int, seed: int) -> tuple[float, float, Counter, int]:
    engine, assets, prices = build(seed)
    batch = orders(n, assets, prices, seed)
    submit = engine.submit
    outcome: Counter = Counter()
    gc.disable()
    t0 = time.perf_counter()
    for oid, asset, q, lp in batch:
        submit(oid, asset, q, limit_price=lp, now=oid * 1e-6)
    check_s = time.perf_counter() - t0
    gc.enable()
    outcome.update(r.limit for r in engine.refusals)
    outcome["passed"] = n - len(engine.refusals)
    passed_cycle = n
    # the same orders again, each passing order canceled at once (book kept small)
    engine, _, _ = build(seed)
    submit, done = engine.submit, engine.on_done
    gc.disable()
    t0 = time.perf_counter()
    for oid, asset, q, lp in batch:
        if submit(oid, asset, q, limit_price=lp, now=oid * 1e-6) is None:
            done(oid)
    cycle_s = time.perf_counter() - t0
    gc.enable()
    passed_cycle -= len(engine.refusals)
    return check_s, cycle_s, outcome, passed_cycle


def run_latency(n: int, seed: int) -> tuple[float, float, float, float]:
    engine, assets, prices = build(seed)
    batch = orders(n, assets, prices, seed + 7)
    submit, done, clock = engine.submit, engine.on_done, time.perf_counter_ns
    overhead = []
    for _ in range(10_000):
        a = clock()
        overhead.append(clock() - a)
    base = statistics.median(overhead)
    lat = np.empty(n)
    gc.disable()
    for k, (oid, asset, q, lp) in enumerate(batch):
        a = clock()
        r = submit(oid, asset, q, limit_price=lp, now=oid * 1e-6)
        lat[k] = clock() - a
        if r is None:
            done(oid)
    gc.enable()
    lat = np.maximum(lat - base, 0.0) / 1e3  # microseconds
    return tuple(float(np.percentile(lat, p)) for p in (50, 90, 99, 99.9))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    n = 100_000 if args.quick else 1_000_000
    runs = [run_throughput(n, args.seed) for _ in range(args.repeats)]
    check_s = statistics.median(r[0] for r in runs)
    cycle_s = statistics.median(r[1] for r in runs)
    outcome, passed_cycle = runs[0][2], runs[0][3]
    p50, p90, p99, p999 = run_latency(min(n, 200_000), args.seed)
    rate, cycle_rate = n / check_s, n / cycle_s
    mix = ", ".join(f"{k} {v:,}" for k, v in outcome.most_common())
    print(f"checks/s {rate:,.0f} (submit+cancel {cycle_rate:,.0f}); "
          f"latency us p50 {p50:.2f} p90 {p90:.2f} p99 {p99:.2f} p99.9 {p999:.2f}")  # fmt: skip
    print(f"outcomes: {mix}; with cancels {passed_cycle:,} passed")
    if args.quick:
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = f"""{START}
## Risk engine: pre-trade checks (`bench_risk_engine.py`)

`RiskEngine.submit` on {n:,} seeded orders over {N_ASSETS} assets with every limit on
(notional, weight, price collar, lot size, min notional, restricted list, gross, net,
concentration, 10 sector caps, daily loss, drawdown, order rate, consecutive rejects);
orders of 1 to 5% of equity on random assets and sides, a tenth of them limit orders.
Median of {args.repeats} runs, one process, one core, garbage collector paused in the loop.

| | figure |
| --- | ---: |
| order checks per second (`submit` only) | {rate:,.0f} |
| checks per second with a cancel after each pass (`submit` + `on_done`) | {cycle_rate:,.0f} |
| latency per check, p50 (µs) | {p50:.2f} |
| latency per check, p90 (µs) | {p90:.2f} |
| latency per check, p99 (µs) | {p99:.2f} |
| latency per check, p99.9 (µs) | {p999:.2f} |
| goal (order checks per second) | {GOAL:,} ({"met" if rate >= GOAL else "NOT met"}) |

- outcomes of the `submit`-only run: {mix}; with a cancel after each pass
  {passed_cycle:,} of {n:,} passed
- latency: {min(n, 200_000):,} checks timed one by one with `perf_counter_ns` (the timer's own
  median cost subtracted), each passing order canceled at once
- machine: {cpu_name()}, {os.cpu_count()} CPUs, {memory_total()};
  Python {platform.python_version()}; load average {load:.2f}; {dt.date.today().isoformat()}

In the `submit`-only run the passing orders stay open, so the book fills up within the
first few dozen orders and nearly every later order is refused (mostly by the net
exposure limit, checked after the weight and gross limits); a refusal builds its record,
so that run is no faster than the one with a cancel after each pass, where the book
stays near empty and nearly every order passes every check. The check path is plain
Python over lists of floats with the limits precomputed at construction (no pydantic,
no numpy per order).
Figures were measured on a shared machine and vary between runs.
{END}"""
    write_docs_section(text, START, END)


if __name__ == "__main__":
    sys.exit(main())
