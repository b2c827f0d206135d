"""Benchmark: paper trading on a replayed feed, with a strategy and the risk engine.

Workload (default): 1,000,000 one-minute bars of one asset (a seeded random
walk with open, high, low, close and volume), replayed as fast as possible
through a :class:`~alphaloop.live.PaperSession`. The strategy is a moving
average crossover (10 and 50 bars, running sums) that sends a market order
to flip between +100 and -100 shares at each cross; every order passes the
risk engine (order notional, weight, gross exposure, order rate) before the
simulated venue takes it. A wrapper in front of the venue (where approvals
or a kill switch would sit) stamps each order with ``time.perf_counter_ns``:
**bar-to-order latency** is the time from the feed handing out a bar to the
strategy's order reaching the broker, on every bar that produced an order.

Two runs: without persistence (all bars), and with per-bar persistence to
SQLite (one transaction per bar: orders, fills, positions, the account and
the feed position; the first ``--persist-bars`` bars, default 20,000, since
each commit waits for the disk).

Goal (from the project's issue): p99 bar-to-order latency under 1 ms in process.

Usage::

    python bench/bench_paper.py --write-docs   # full size, writes docs/benchmarks.md
    python bench/bench_paper.py --quick        # 100,000 bars, no docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path
from alphaloop.backtest.event import Context, Strategy
from alphaloop.data import Panel
from alphaloop.execution import BrokerConfig, ReplayFeed, RiskLimits, SimulatedBroker
from alphaloop.live import PaperSession, PaperStore, StoreRecorder
from alphaloop.store import Database

START, END = "<!-- bench_paper:start -->", "<!-- bench_paper:end -->"
GOAL_P99_MS = 1.0


class Crossover(Strategy):
    """Flip between +q and -q shares when the fast average crosses the slow one."""

    def __init__(self, fast: int = 10, slow: int = 50, q: float = 100.0) -> None:
        self.fast, self.slow, self.q = fast, slow, q

    def on_start(self, ctx: Context) -> None:
        self.closes: list[float] = []
        self.sum_fast = self.sum_slow = 0.0
        self.side = 0
        self.asset = ctx.assets[0]

    def on_bar(self, ctx: Context, row: int) -> None:
        c = ctx.price(self.asset)
        closes = self.closes
        closes.append(c)
        self.sum_fast += c
        self.sum_slow += c
        n = len(closes)
        if n > self.fast:
            self.sum_fast -= closes[n - 1 - self.fast]
        if n > self.slow:
            self.sum_slow -= closes[n - 1 - self.slow]
        if n < self.slow:
            return
        side = 1 if self.sum_fast / self.fast > self.sum_slow / self.slow else -1
        if side != self.side:
            ctx.order(self.asset, side * self.q - self.side * self.q)
            self.side = side


class Stamped:
    """In front of the venue: every order passes here (and is timed) on its way in."""

    def __init__(self, venue: SimulatedBroker) -> None:
        self._venue = venue
        self.bar_ns = 0
        self.latencies: list[int] = []

    def submit(self, command: Any) -> None:
        self.latencies.append(time.perf_counter_ns() - self.bar_ns)
        self._venue.submit(command)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)


def panel(n: int, seed: int) -> Panel:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.0005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.0005, n))
    volume = rng.uniform(5e3, 5e4, n)
    index = pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC")
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return Panel(index, ["SYN"], {k: v.reshape(n, 1) for k, v in fields.items()})


def config() -> BrokerConfig:
    limits = RiskLimits(
        max_order_notional=100_000, max_weight=0.5, max_gross=1.0, max_orders=1_000_000,
        rate_window=1.0,
    )  # fmt: skip
    return BrokerConfig(fills="next_open", initial_capital=1e6, allow_short=True, risk=limits)


def run(bars: Panel, recorder_for: Any = None) -> dict[str, Any]:
    venue = SimulatedBroker(bars, config())
    gate = Stamped(venue)
    feed = ReplayFeed(bars, name="replay:synthetic")
    session = PaperSession(Crossover(), feed, venue, broker=gate)  # type: ignore[arg-type]
    if recorder_for is not None:
        session.recorder = recorder_for(session)
    session.start()
    gc.collect()
    t0 = time.perf_counter()
    for bar in feed.bars():
        gate.bar_ns = bar.received_ns
        session.step(bar)
    seconds = time.perf_counter() - t0
    lat = np.array(gate.latencies, dtype=np.float64) / 1e3  # microseconds
    result = session.finish()
    return {
        "bars": bars.n_times,
        "seconds": seconds,
        "events_per_second": bars.n_times / seconds,
        "orders": len(lat),
        "fills": len(result.trades),
        "refused": len(result.risk_refusals),
        "p50_us": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p99_us": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "max_us": float(lat.max()) if len(lat) else float("nan"),
    }


def sqlite_recorder(tmp: str):  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp}/paper.db")
    store = PaperStore(db)

    def make(session: PaperSession) -> StoreRecorder:
        sid = store.create(
            name="bench", spec={}, spec_hash="bench", dataset="synthetic", data_version=1,
            data_hash="-", feed="replay:synthetic", speed=None,
            n_bars=session.feed.panel.n_times, first_row=0, cash=1e6, equity=1e6,
        )  # fmt: skip
        return StoreRecorder(store, sid)

    return make


def render(plain: dict[str, Any], persisted: dict[str, Any], seed: int) -> str:
    ok = plain["p99_us"] / 1e3 < GOAL_P99_MS
    rows = []
    for name, r in (("no persistence", plain), ("per-bar persistence (SQLite)", persisted)):
        rows.append(
            f"| {name} | {r['bars']:,} | {r['events_per_second']:,.0f} | {r['orders']:,} | "
            f"{r['p50_us']:,.1f} | {r['p99_us']:,.1f} | {r['max_us']:,.0f} |"
        )
    return "\n".join(
        [
            START,
            "## Paper trading: replay through a strategy and the risk engine",
            "",
            f"Measured {dt.date.today():%Y-%m-%d} on {cpu_name()}, {memory_total()}, "
            f"{os.cpu_count()} logical CPUs (shared with other work), Python "
            f"{platform.python_version()}; seed {seed}. "
            "`python bench/bench_paper.py --write-docs`.",
            "",
            "One-minute bars of one asset replayed as fast as possible through a paper "
            "session: a 10/50-bar moving-average crossover flips between +100 and -100 "
            "shares with market orders; every order passes the risk engine (order "
            "notional, weight, gross exposure, order rate) and a wrapper in front of the "
            "simulated venue that stamps it. Latency: from the feed handing out the bar "
            "to the order reaching the broker (bars with an order only), in microseconds.",
            "",
            "| run | bar events | events / s | orders | p50 µs | p99 µs | max µs |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Goal: p99 bar-to-order latency under {GOAL_P99_MS:g} ms in process: "
            f"{'met' if ok else 'NOT met'} ({plain['p99_us'] / 1e3:.3f} ms). With per-bar "
            "persistence every bar is one database transaction (orders, fills, positions, "
            "account, feed position), committed after the bar's orders have left: the "
            "throughput is the database's commit rate.",
            END,
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bars", type=int, default=1_000_000)
    p.add_argument("--persist-bars", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="100,000 bars, 5,000 persisted")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args()
    n, m = (100_000, 5_000) if args.quick else (args.bars, args.persist_bars)
    bars = panel(n, args.seed)
    plain = run(bars)
    print(f"no persistence: {plain}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        persisted = run(bars.iloc(slice(0, m)), sqlite_recorder(tmp))
    print(f"per-bar persistence: {persisted}", file=sys.stderr)
    text = render(plain, persisted, args.seed)
    print(text)
    if args.write_docs and not args.quick:
        write_docs_section(text, START, END)


if __name__ == "__main__":
    main()
