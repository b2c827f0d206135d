"""Benchmark: bar -> signal -> risk check -> paper order, end to end over Redis Streams.

Workload: one-minute bars of one asset (a seeded random walk) published one by one,
at a steady rate, as ``BarClosed`` events on a Redis stream by this process. A
second process consumes them through a ``RedisBus`` consumer group (decoding,
validation, de-duplication by id, acknowledgement) and steps a
:class:`~alphaloop.live.PaperSession` with each bar: a fast moving-average
crossover (3 and 8 bars) decides, every order passes the risk engine (order
notional, weight, gross exposure, order rate) and reaches the simulated venue.

Latencies, on the machine-wide monotonic clock shared by both processes:

- **bar -> handler**: from the publish call to the consumer's handler (the bus);
- **bar -> order**: from the publish call to the order reaching the venue, on every
  bar that produced an order (the whole path the issue names).

Goal (from the project's issue): p99 bar -> order under 5 ms with Redis.

Usage::

    python bench/bench_loop_e2e.py --write-docs   # 2 x 2,500 bars a consumer at 200 bars/s
    python bench/bench_loop_e2e.py --quick        # 2 x 1,000 bars, no docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import sys
import time
import uuid
from typing import Any

import numpy as np
import pandas as pd

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path
from alphaloop.backtest.event import Context, Strategy
from alphaloop.data import Panel
from alphaloop.execution import BrokerConfig, ReplayFeed, RiskLimits, SimulatedBroker
from alphaloop.execution.feeds import BarEvent
from alphaloop.live import PaperSession
from alphaloop.live.bus import Bar, BarClosed, RedisBus

START, END = "<!-- bench_loop_e2e:start -->", "<!-- bench_loop_e2e:end -->"
URL = os.environ.get("ALPHALOOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
GOAL_P99_MS = 5.0
clock = time.monotonic_ns  # CLOCK_MONOTONIC: one clock for both processes


class Crossover(Strategy):
    """Flip between +100 and -100 shares at each cross of a 3- and an 8-bar average."""

    def __init__(self, fast: int = 3, slow: int = 8, q: float = 100.0) -> None:
        self.fast, self.slow, self.q = fast, slow, q
        self.side = 0

    def on_start(self, ctx: Context) -> None:
        self.closes: list[float] = []
        self.asset = ctx.assets[0]

    def on_bar(self, ctx: Context, row: int) -> None:
        self.closes.append(ctx.price(self.asset))
        if len(self.closes) < self.slow:
            return
        fast = sum(self.closes[-self.fast :]) / self.fast
        slow = sum(self.closes[-self.slow :]) / self.slow
        want = 1 if fast > slow else -1
        if want != self.side:
            ctx.order(self.asset, want * self.q - self.side * self.q)
            self.side = want


class Stamped:
    """In front of the venue: each order's arrival time, by the row that sent it."""

    def __init__(self, venue: SimulatedBroker) -> None:
        self._venue = venue
        self.row = -1
        self.orders: dict[int, int] = {}

    def submit(self, command: Any) -> None:
        self.orders.setdefault(self.row, clock())
        self._venue.submit(command)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)


def make_panel(n: int, seed: int = 7) -> Panel:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * 1.0002
    low = np.minimum(open_, close) * 0.9998
    volume = rng.uniform(5e3, 5e4, n)
    index = pd.date_range("2024-01-02 14:30", periods=n, freq="min", tz="UTC")
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return Panel(index, ["SYN"], {k: v.reshape(n, 1) for k, v in fields.items()})


def broker_config() -> BrokerConfig:
    limits = RiskLimits(
        max_order_notional=100_000, max_weight=0.5, max_gross=1.0, max_orders=1_000_000,
        rate_window=1.0,
    )  # fmt: skip
    return BrokerConfig(fills="next_open", initial_capital=1e6, allow_short=True, risk=limits)


def events_of(panel: Panel) -> list[BarClosed]:
    out = []
    f = {k: panel.field(k)[:, 0] for k in ("open", "high", "low", "close", "volume")}
    for i, ts in enumerate(panel.index):
        bar = Bar(symbol="SYN", end=ts.to_pydatetime(), open=f["open"][i], high=f["high"][i],
                  low=f["low"][i], close=f["close"][i], volume=f["volume"][i])  # fmt: skip
        out.append(BarClosed(id=f"{i:032x}", source="bench", payload=bar))
    return out


def warm_up(panel: Panel) -> None:
    """Run the session path once on a throwaway copy (imports, compiled kernels)."""
    venue = SimulatedBroker(panel, broker_config())
    session = PaperSession(Crossover(), ReplayFeed(panel, name="warm"), venue)
    session.start()
    for row in range(min(200, panel.n_times)):
        session.step(BarEvent(row, panel.index[row], time.perf_counter_ns()))


def consumer_process(prefix: str, n: int, conn: Any, carry: bool = True) -> None:
    panel = make_panel(n)
    warm_up(panel)
    venue = SimulatedBroker(panel, broker_config())
    gate = Stamped(venue)
    feed = ReplayFeed(panel, name="replay:synthetic")
    session = PaperSession(Crossover(), feed, venue, broker=gate)  # type: ignore[arg-type]
    session.start()
    handled = np.zeros(n, dtype=np.int64)
    index = panel.index

    def handler(event: Any) -> None:
        row = int(event.id, 16)
        handled[row] = clock()
        gate.row = row
        session.step(BarEvent(row, index[row], time.perf_counter_ns()))

    bus = RedisBus(URL, prefix=prefix)
    consumer = bus.subscribe("bars", "loop", handler, batch_size=64)
    consumer.poll(block_ms=1)  # the group's first read
    conn.send("ready")
    if carry:  # run(): each batch acknowledged with the next read, one round trip
        consumer.run(stop=lambda: consumer.applied >= n, block_ms=1000)
    while consumer.applied < n:  # poll(): read, then acknowledge: two round trips
        consumer.poll(block_ms=1000)
    result = session.finish()
    conn.send((handled, gate.orders, len(result.trades), len(result.risk_refusals)))
    bus.close()


def run(n: int, rate: float, carry: bool = True) -> dict[str, Any]:
    import redis

    prefix = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    events = events_of(make_panel(n))
    bus = RedisBus(URL, prefix=prefix)
    bus.subscribe("bars", "loop", lambda e: None, start="$")  # the group exists first
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=consumer_process, args=(prefix, n, child, carry))
    proc.start()
    try:
        assert parent.recv() == "ready"
        time.sleep(0.2)
        sent = np.zeros(n, dtype=np.int64)
        step = 1e9 / rate
        t0 = clock()
        for i, event in enumerate(events):
            due = t0 + int(i * step)
            while (now := clock()) < due:
                if due - now > 200_000:
                    time.sleep((due - now) / 2e9)
            sent[i] = clock()
            bus.publish(event, "bars")
        handled, orders, fills, refused = parent.recv()
        proc.join(30)
    finally:
        client = redis.Redis.from_url(URL)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        bus.close()
    to_handler = (handled - sent) / 1e6
    rows = np.array(sorted(orders), dtype=np.int64)
    to_order = (np.array([orders[r] for r in rows], dtype=np.int64) - sent[rows]) / 1e6
    return {"bars": n, "rate": rate, "orders": len(rows), "fills": fills, "refused": refused,
            "to_handler": to_handler, "to_order": to_order}  # fmt: skip


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool the latencies of several runs of one mode."""
    h = np.concatenate([r["to_handler"] for r in runs])
    o = np.concatenate([r["to_order"] for r in runs])
    pct = lambda a, q: float(np.percentile(a, q)) if len(a) else float("nan")  # noqa: E731
    return {
        "bars": sum(r["bars"] for r in runs),
        "rate": runs[0]["rate"],
        "orders": sum(r["orders"] for r in runs),
        "fills": sum(r["fills"] for r in runs),
        "refused": sum(r["refused"] for r in runs),
        "handler_p50_ms": pct(h, 50),
        "handler_p99_ms": pct(h, 99),
        "order_p50_ms": pct(o, 50),
        "order_p99_ms": pct(o, 99),
        "order_max_ms": float(o.max()) if len(o) else float("nan"),
    }


def render(res: dict[str, dict[str, Any]], load: tuple[float, float], rounds: int) -> str:
    r = res["run"]
    verdict = "met" if r["order_p99_ms"] < GOAL_P99_MS else "not met"
    rows = []
    for mode, label in (
        ("poll", "`poll()`: read, then acknowledge (2 round trips)"),
        ("run", "`run()`: acknowledge with the next read (1 round trip)"),
    ):
        x = res[mode]
        rows.append(f"| {label} | {x['handler_p50_ms']:.2f} ms | {x['handler_p99_ms']:.2f} ms "
                    f"| {x['order_p50_ms']:.2f} ms | {x['order_p99_ms']:.2f} ms "
                    f"| {x['order_max_ms']:.1f} ms |")  # fmt: skip
    return "\n".join([
        START,
        "### End to end over Redis: bar -> signal -> risk check -> paper order",
        "",
        f"Run on {dt.date.today():%Y-%m-%d}, {cpu_name()}, {os.cpu_count()} cores, "
        f"{memory_total()}, Python {platform.python_version()}, load average "
        f"{load[0]:.1f} at start and {load[1]:.1f} at the end (`bench/bench_loop_e2e.py`).",
        "",
        f"One-minute bars published one by one at {r['rate']:.0f} bars/s on a Redis stream; a "
        "second process consumes them through a `RedisBus` consumer group and steps a paper "
        "session (3/8-bar crossover, the risk engine, the simulated venue; warmed up on a "
        "throwaway copy first). The two ways of consuming ran in alternation, "
        f"{rounds} rounds each, so they met the same load; {r['bars']:,} bars per way, "
        f"{r['orders']:,} of them produced an order ({r['fills']:,} fills, {r['refused']} "
        "refused).",
        "",
        "| consumer | bar -> handler p50 | p99 | bar -> order p50 | p99 | worst |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"Goal p99 bar -> order under {GOAL_P99_MS:g} ms with `run()`: **{verdict}** on this "
        "run. Both processes and the Redis server share the machine's cores with whatever "
        "else runs; on a loaded machine the tail is mostly waiting for a core, which no "
        "round trip saved can remove. At a load average above 10, repeated runs differ by "
        "more than the gap between the two rows.",
        "",
        "Where the time goes (cProfile of publisher and consumer in one process, 3,000 "
        "bars, measured once on 2026-12-05 on the same busy machine): about 75% of the "
        "wall time in socket send and receive, that is round trips and waiting for the "
        "Redis server to get a core; decoding an event takes about 20 us and the paper "
        "session's step about 47 us. Hence the cuts: one round trip a batch for the "
        "consumer (`run()`), one `publish_many` a bar for the live loop.",
        END,
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 bars a round, no docs")
    parser.add_argument("--write-docs", action="store_true", help="write docs/benchmarks.md")
    parser.add_argument("--rate", type=float, default=200.0, help="bars per second")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each consumer")
    args = parser.parse_args()
    n = 1_000 if args.quick else 2_500
    load0 = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {"poll": [], "run": []}
    for _ in range(args.rounds):
        for mode in ("poll", "run"):
            runs[mode].append(run(n, args.rate, carry=mode == "run"))
    res = {mode: summarize(rs) for mode, rs in runs.items()}
    text = render(res, (load0, os.getloadavg()[0]), args.rounds)
    print(text)
    if args.write_docs and not args.quick:
        write_docs_section(text, START, END)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
