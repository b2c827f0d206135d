"""Benchmark: what reading the policy store costs the risk engine's checks.

Workload: a RiskEngine over 100 assets with position and book limits
(weight, gross, net, notional, daily loss, drawdown), 20,000 seeded orders
of random assets, sides and sizes (each passing order is canceled again, so
the book stays small), checked by ``RiskEngine.submit``:

- without a policy (the engine as a backtest uses it: the reference);
- with a policy store on the workspace's SQLite database, re-reading its
  version at every check (``poll_interval_s=0``, the default: a change is
  applied at the next check);
- with ``poll_interval_s=1`` (a change is applied within a second);
- on PostgreSQL (``ALPHALOOP_BENCH_POSTGRES_URL``, default the test server
  at 127.0.0.1:5432, a schema of its own; left out when none answers), where
  a check looks at the ``NOTIFY`` messages on a listening connection.

A mode change in the middle of each run checks that the change is applied
(the defensive mode's 10% cap refuses orders the normal mode passed). Per
check latency is the median and p99 of ``time.perf_counter_ns`` around each
``submit``.

Usage::

    python bench/bench_policy.py          # writes docs/benchmarks.md
    python bench/bench_policy.py --quick  # 2,000 orders, no docs
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

import numpy as np

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path
from alphaloop.app import Workspace
from alphaloop.app.policy import policy_store
from alphaloop.execution import RiskEngine, RiskLimits

START, END = "<!-- bench_policy:start -->", "<!-- bench_policy:end -->"
N_ASSETS = 100
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CAPITAL = 10_000_000.0


def run(policy: object, n: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    assets = [f"A{j:03d}" for j in range(N_ASSETS)]
    limits = RiskLimits(max_order_notional=2_000_000, max_weight=0.2, max_gross=1.5,
                        max_net=1.0, max_daily_loss=0.05, max_drawdown=0.2)  # fmt: skip
    engine = RiskEngine(limits, assets, CAPITAL, policy=policy, strategy="bench")  # type: ignore[arg-type]
    prices = rng.uniform(10, 500, N_ASSETS)
    engine.mark(prices.tolist(), now=0, new_day=True)
    idx = rng.integers(0, N_ASSETS, n)
    frac = rng.uniform(0.05, 0.15, n) * np.where(rng.random(n) < 0.5, 1, -1)
    qty = np.round(frac * CAPITAL / prices[idx])
    names = [assets[j] for j in idx]
    lat: list[int] = []
    refused_after = 0
    clock = time.perf_counter_ns
    t0 = time.perf_counter()
    for k in range(n):
        if k == n // 2 and policy is not None:
            policy.set_mode("defensive", actor="bench", reason="mid-run switch")  # type: ignore[attr-defined]
        a = clock()
        refusal = engine.submit(k, names[k], float(qty[k]), now=float(k))
        lat.append(clock() - a)
        if refusal is None:
            engine.on_done(k)
        elif k >= n // 2 and refusal.limit == "max_weight":
            refused_after += 1
    wall = time.perf_counter() - t0
    lat.sort()
    return {"per_s": n / wall, "p50_us": lat[len(lat) // 2] / 1e3,
            "p99_us": lat[int(len(lat) * 0.99)] / 1e3, "refused_after_switch": refused_after,
            "mode": engine.policy_mode or "-"}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = 2_000 if args.quick else 20_000
    rows = []
    pg_url = os.environ.get("ALPHALOOP_BENCH_POSTGRES_URL", PG_URL)
    schema = f"bench_policy_{os.getpid()}"
    cases = [
        ("no policy (reference)", None, {}),
        ("SQLite, poll 0 s", 0.0, {}),
        ("SQLite, poll 1 s", 1.0, {}),
        ("PostgreSQL, poll 0 s", 0.0, {"database_url": pg_url, "database_schema": schema}),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for label, interval, settings in cases:
            try:
                ws = Workspace(Path(tmp) / f"ws{len(rows)}", **settings)
                store = None if interval is None else policy_store(ws, poll_interval_s=interval)
                res = run(store, n, args.seed)
            except Exception as exc:  # no PostgreSQL server: say so and carry on
                print(f"{label}: left out ({type(exc).__name__}: {str(exc)[:100]})")
                continue
            rows.append((label, res))
            print(label, {k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()})
            if store is not None:
                store.close()
            ws.close()
    if any(label.startswith("PostgreSQL") for label, _ in rows):
        import sqlalchemy as sa

        engine = sa.create_engine(pg_url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
    if args.quick:
        return
    load = os.getloadavg()[0]
    table = "\n".join(
        f"| {label} | {r['per_s']:,.0f} | {r['p50_us']:.1f} | {r['p99_us']:.1f} | "
        f"{r['mode']} | {r['refused_after_switch']:,} |"
        for label, r in rows
    )
    text = f"""{START}
## Policy store: the risk engine's checks with the policy (bench/bench_policy.py)

{n:,} seeded orders over {N_ASSETS} assets checked by `RiskEngine.submit` (a passing order is
canceled again), without a policy and with the policy store of a workspace; the mode
switches to defensive half-way (its 10% cap then refuses orders the normal mode passed:
last column, the same in every row with a policy).

| engine | checks per second | p50 (µs) | p99 (µs) | final mode | refused after the switch |
| --- | ---: | ---: | ---: | --- | ---: |
{table}

On SQLite, with `poll_interval_s=0`, every check looks at the signal file next to the
database (one `stat`) and queries the version only when the file changed, or once a
second: a change is applied at the very next check. `poll_interval_s=1` looks once a
second. On PostgreSQL a check looks at the `NOTIFY` messages that arrived on a listening
connection and queries only when one did, or once a second.

Machine: {cpu_name()}, {os.cpu_count()} cores, {memory_total()}, {platform.system()},
Python {platform.python_version()}; load average {load:.2f}; run {dt.date.today()}.
Figures were measured on a shared machine and vary between runs.
{END}"""
    write_docs_section(text, START, END)


if __name__ == "__main__":
    sys.exit(main())
