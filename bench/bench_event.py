"""Benchmark: the event engine next to backtrader 1.9.78.123, on the same strategy.

Cases, on driftless synthetic OHLCV random walks (``synthetic.ohlcv_driftless``,
0.2% volatility per bar, minute bars), configured identically in both
libraries: a simple-moving-average crossover (fast 10, slow 30 bars) per
asset, buying 100 shares with a market order when the fast average crosses
above the slow one while flat and selling the position on the opposite
cross; market orders fill at the next bar's open; a commission of 0.1% of
the notional on every fill and no other cost (alphaloop: ``CostModel.zero()``
with ``commission_bps=10``; backtrader: ``setcommission(commission=0.001)``);
cash 1,000,000.

- **(a) one asset x 100,000 bars.**
- **(b) 20 assets x 10,000 bars** (200,000 asset-bars, one account).
- **(c) built-in protection orders, one asset x 1,000,000 bars** (alphaloop
  only): entries on the same up-crosses, each position protected by a 1%
  stop loss, a 1.5% trailing stop and a 2% take profit (``Protection``: stop
  and limit orders the broker keeps next to the position); no exit signal.
  Each route runs twice: with the protection orders matched bar by bar
  (``compiled_protection=False``, what paper and live sessions do) and by the
  compiled kernel (the backtest default); both must give the same final
  value, trades and orders or the script exits non-zero.

The alphaloop strategy is run three ways:

- ``next()``-style: ``on_bar`` on every bar keeps the moving averages
  itself from ``ctx.price`` (what backtrader's ``next`` does with
  ``runonce=False``);
- indicators: the crossover signal is computed once from the closes (a
  causal rolling mean, as backtrader's default ``runonce`` mode computes its
  indicators before the bar loop) and ``on_bar`` reads it on every bar;
- scheduled: the same signal, with ``Strategy.schedule`` so ``on_bar`` runs
  only on signal bars; the broker still visits every bar on which an order
  works (between touches it skips resting orders with a compiled scan).

Case (c) has no backtrader run: its bracket orders fill by other rules, so
the final values could not be compared (and 1M bars take it minutes).

backtrader runs its defaults (``runonce=True``, ``preload=True``, no
observers: ``stdstats=False``). Both must end with the same account value
(1e-9 relative) or the script exits non-zero. Timing: best of ``--repeats``
runs after a warm-up run, in this process.

Goals (from the project's issue): at least 20 times backtrader's speed on
the same strategy, and at least 1M bars per second with built-in order types.

Usage::

    python bench/bench_event.py                # full size
    python bench/bench_event.py --quick        # small sizes
    python bench/bench_event.py --write-docs   # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from _common import (  # bench/ is on the path when a script runs
    cpu_name,
    memory_total,
    write_docs_section,
)
from synthetic import ohlcv_driftless  # bench/ is on the path when a script runs

FAST, SLOW, SIZE, CASH, COMMISSION = 10, 30, 100.0, 1_000_000.0, 0.001
REL = 1e-9
SPEED_GOAL = 20.0
BARS_GOAL = 1e6
DOC_START, DOC_END = "<!-- bench_event:start -->", "<!-- bench_event:end -->"
NOTE = """The same moving-average crossover with market orders in both engines, same
fill price and commission. "next-style" keeps the indicators bar by bar in
`on_bar` as a backtrader strategy does; "indicators" precomputes them;
"scheduled" calls `on_bar` only on signal bars. Case (c) attaches stop-loss,
trailing-stop and take-profit orders to every position (about 3 orders, 9
events and 2 fills per round trip, each an `Order` with its event history
in the result), matched "bar by bar" (the path of paper and live sessions)
or by the "compiled" kernel (the backtest default; the same orders, events,
fills and final value, checked in the run). The crossover signal (and its
index of signal bars) is computed before the timed runs, as backtrader
computes its indicators before its bar loop. Rates are asset-bars per second
of wall time, best of the runs, on a machine shared with other work (see the
load average): on a busy machine they are lower than on an idle one. The CPU-time column divides by
this process's CPU time instead (best of the runs): it leaves out the time
the process waited for a core, not the slowdown of sharing one."""


# ------------------------------------------------------------------ data
def make_data(n_bars: int, n_assets: int, seed: int) -> tuple[Any, np.ndarray]:
    """A Panel of ``n_assets`` minute-bar walks, and the crossover signal (+1/-1/0)."""
    from alphaloop.data.panel import Panel

    fields = ohlcv_driftless(np.random.default_rng(seed), (n_bars, n_assets), volatility=0.002)
    index = pd.date_range("2000-01-03", periods=n_bars, freq="min", tz="UTC")
    assets = [f"A{j:03d}" for j in range(n_assets)]
    return Panel(index, assets, fields), crossovers(fields["close"])


def crossovers(close: np.ndarray) -> np.ndarray:
    """+1 where the fast average crosses above the slow one, -1 below, else 0 (causal)."""
    sums = np.vstack([np.zeros((1, close.shape[1])), np.cumsum(close, axis=0)])

    def average(window: int) -> np.ndarray:
        out = np.full(close.shape, np.nan)
        out[window - 1 :] = (sums[window:] - sums[:-window]) / window
        return out

    diff = average(FAST) - average(SLOW)
    out = np.zeros(close.shape, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        out[1:][(diff[:-1] < 0) & (diff[1:] > 0)] = 1
        out[1:][(diff[:-1] > 0) & (diff[1:] < 0)] = -1
    return out


_ROWS: dict[int, dict[int, list[int]]] = {}


def signal_rows(signal: np.ndarray) -> dict[int, list[int]]:
    """Bar -> assets with a crossover on it; built once per signal array (with the
    signal itself, outside the timed runs)."""
    key = id(signal)
    if key not in _ROWS:
        rows: dict[int, list[int]] = {}
        for t, j in zip(*np.nonzero(signal), strict=True):
            rows.setdefault(int(t), []).append(int(j))
        _ROWS[key] = rows
    return _ROWS[key]


# ------------------------------------------------------ alphaloop strategies
def alphaloop_strategies() -> dict[str, Callable[..., Any]]:
    from alphaloop.backtest.event import Strategy
    from alphaloop.execution import Protection

    class NextStyle(Strategy):
        """Keeps both moving averages per asset from ``ctx.price``, bar by bar."""

        def on_start(self, ctx: Any) -> None:
            n = len(ctx.assets)
            self.window: list[list[float]] = [[] for _ in range(n)]
            self.sums = [[0.0, 0.0] for _ in range(n)]
            self.prev: list[float | None] = [None] * n

        def on_bar(self, ctx: Any, row: int) -> None:
            for j, asset in enumerate(ctx.assets):
                x = ctx.price(asset)
                window, sums = self.window[j], self.sums[j]
                window.append(x)
                sums[0] += x
                sums[1] += x
                n = len(window)
                if n > FAST:
                    sums[0] -= window[-FAST - 1]
                if n > SLOW:
                    sums[1] -= window.pop(0)
                if n < SLOW:
                    continue
                d = sums[0] / FAST - sums[1] / SLOW
                prev, self.prev[j] = self.prev[j], d
                if prev is None:
                    continue
                if prev < 0 < d:
                    if ctx.position(asset) == 0:
                        ctx.order(asset, SIZE)
                elif prev > 0 > d:
                    pos = ctx.position(asset)
                    if pos > 0:
                        ctx.order(asset, -pos)

    class Signals(Strategy):
        """Reads the precomputed crossover signal on every bar (or only on signal bars)."""

        def __init__(self, signal: np.ndarray, scheduled: bool, protect: bool = False) -> None:
            self.rows = signal_rows(signal)
            self.signal = signal
            self.mask = signal.any(axis=1) if scheduled else None
            self.protection = (
                Protection(stop_loss=0.01, take_profit=0.02, trailing_stop=0.015)
                if protect
                else None
            )

        def schedule(self, ctx: Any) -> np.ndarray | None:
            return self.mask

        def on_bar(self, ctx: Any, row: int) -> None:
            for j in self.rows.get(row, ()):
                asset = ctx.assets[j]
                pos = ctx.position(asset)
                if self.signal[row, j] > 0:
                    if pos == 0:
                        ctx.order(asset, SIZE, protection=self.protection)
                elif pos > 0 and self.protection is None:
                    ctx.order(asset, -pos)

    return {
        "next-style": lambda signal: NextStyle(),
        "indicators": lambda signal: Signals(signal, scheduled=False),
        "scheduled": lambda signal: Signals(signal, scheduled=True),
        "protected, every bar": lambda signal: Signals(signal, scheduled=False, protect=True),
        "protected, scheduled": lambda signal: Signals(signal, scheduled=True, protect=True),
    }


PATHS = {"bar by bar": False, "compiled": True}


def run_alphaloop(
    panel: Any, strategy: Any, cash: float = CASH, compiled: bool = True, digest: bool = False
) -> tuple[float, str]:
    """The run's final value, and (``digest``) a fingerprint of its trades and orders."""
    from alphaloop.backtest.event import EventEngine
    from alphaloop.execution.costs import CostModel

    costs = CostModel.zero().model_copy(update={"commission_bps": COMMISSION * 1e4})
    result = EventEngine(
        panel, strategy, costs=costs, initial_capital=cash, compiled_protection=compiled
    ).run()
    return result.final_value, fingerprint(result) if digest else ""


def fingerprint(result: Any) -> str:
    """A digest of every trade and every order with its events (outside the timing)."""
    import hashlib

    digest = hashlib.sha256(result.trades.to_csv().encode())
    for order in result.orders:
        digest.update(repr((order, order.avg_price, order.events)).encode())
    return digest.hexdigest()[:16]


# ------------------------------------------------------------- backtrader
def run_backtrader(panel: Any) -> float:
    import backtrader as bt

    class Cross(bt.Strategy):
        def __init__(self) -> None:
            self.cross = [
                bt.ind.CrossOver(bt.ind.SMA(d.close, period=FAST), bt.ind.SMA(d.close, period=SLOW))
                for d in self.datas
            ]

        def next(self) -> None:
            for d, x in zip(self.datas, self.cross, strict=True):
                pos = self.getposition(d).size
                if x[0] > 0 and pos == 0:
                    self.buy(data=d, size=SIZE)
                elif x[0] < 0 and pos > 0:
                    self.close(data=d)

    cerebro = bt.Cerebro(stdstats=False)
    index = panel.index.tz_convert(None)
    for j, asset in enumerate(panel.assets):
        frame = pd.DataFrame(
            {f: np.asarray(panel[f])[:, j] for f in ("open", "high", "low", "close", "volume")},
            index=index,
        )
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, timeframe=bt.TimeFrame.Minutes),
                        name=asset)  # fmt: skip
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=COMMISSION)
    cerebro.run()
    return float(cerebro.broker.getvalue())


# ----------------------------------------------------------------- timing
@dataclass
class Row:
    """One measured route of one case."""

    case: str
    route: str
    cells: int
    runs_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    final_value: float = float("nan")
    fingerprint: str = ""

    @property
    def best_s(self) -> float:
        return min(self.runs_s)

    @property
    def rate(self) -> float:
        return self.cells / self.best_s

    @property
    def cpu_rate(self) -> float:
        """Asset-bars per second of this process's CPU time (less sensitive to load)."""
        return self.cells / min(self.cpu_s)


def measure(row: Row, fn: Callable[[], Any], repeats: int, digest: Callable[[], Any]) -> Row:
    """Warm up once (``digest``: the run, fingerprinted outside the timing), then
    time ``repeats`` runs of ``fn`` (after a garbage collection each)."""
    row.final_value, row.fingerprint = digest()
    for _ in range(repeats):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        row.runs_s.append(time.perf_counter() - t0)
        row.cpu_s.append(time.process_time() - c0)
        assert value == row.final_value, "a run is not deterministic"
    return row


def run_case(
    name: str,
    n_bars: int,
    n_assets: int,
    routes: list[str],
    repeats: int,
    with_bt: bool,
    cash: float = CASH,
) -> list[Row]:
    name = name.format(assets=n_assets, bars=n_bars)
    panel, signal = make_data(n_bars, n_assets, seed=7)
    cells = n_bars * n_assets
    makers = alphaloop_strategies()
    rows = []
    if with_bt:
        print(f"{name}: backtrader ...", file=sys.stderr)
        bt_repeats = max(1, repeats // 3)
        rows.append(measure(Row(name, "backtrader", cells), lambda: run_backtrader(panel),
                            bt_repeats, lambda: (run_backtrader(panel), "")))  # fmt: skip
    for route in routes:
        print(f"{name}: alphaloop {route} ...", file=sys.stderr)
        strategy, _, path = route.partition(" / ")
        compiled = PATHS[path] if path else True

        def run(digest: bool, strategy: str = strategy, compiled: bool = compiled) -> Any:
            return run_alphaloop(panel, makers[strategy](signal), cash, compiled, digest)

        rows.append(measure(Row(name, f"alphaloop, {route}", cells),
                            lambda run=run: run(False)[0], repeats,
                            lambda run=run: run(True)))  # fmt: skip
    return rows


# -------------------------------------------------------------- reporting
def machine() -> dict[str, str]:
    """CPU, cores, memory, Python and library versions."""
    import backtrader
    import numba

    import alphaloop

    cpu, mem = cpu_name(), memory_total()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "load average (1 min) at start": f"{load:.2f}",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": (
            f"alphaloop {alphaloop.__version__}, backtrader {backtrader.__version__}, "
            f"numba {numba.__version__}, numpy {np.__version__}, pandas {pd.__version__}"
        ),
    }


def table(rows: list[Row]) -> str:
    lines = [
        "| case | route | best (s) | runs | asset-bars/s | asset-bars/s of CPU time | "
        "vs backtrader | final value | rel. diff to backtrader |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ref = next((x for x in rows if x.case == r.case and x.route == "backtrader"), None)
        speed = f"{ref.best_s / r.best_s:.1f}x" if ref and ref is not r else "—"
        diff = f"{abs(r.final_value / ref.final_value - 1):.1e}" if ref and ref is not r else "—"
        lines.append(
            f"| {r.case} | {r.route} | {r.best_s:.3f} | {len(r.runs_s)} | {r.rate:,.0f} | "
            f"{r.cpu_rate:,.0f} | {speed} | {r.final_value:,.2f} | {diff} |"
        )
    return "\n".join(lines)


def check(rows: list[Row]) -> list[str]:
    """Final values that disagree with backtrader's beyond 1e-9 relative, and
    compiled protection runs whose trades, orders or final value differ at all
    from the same route matched bar by bar."""
    problems = []
    for r in rows:
        ref = next((x for x in rows if x.case == r.case and x.route == "backtrader"), None)
        if ref and ref is not r and abs(r.final_value / ref.final_value - 1) > REL:
            problems.append(f"{r.case} / {r.route}: {r.final_value!r} vs {ref.final_value!r}")
        if r.route.endswith(" / compiled"):
            twin = r.route.replace(" / compiled", " / bar by bar")
            slow = next((x for x in rows if x.case == r.case and x.route == twin), None)
            if slow is not None and (slow.final_value, slow.fingerprint) != (
                r.final_value,
                r.fingerprint,
            ):
                problems.append(f"{r.case} / {r.route}: not identical to {twin}")
    return problems


def machine_busy(info: dict[str, str]) -> str:
    """One sentence on the load: was the machine shared while the benchmark ran?"""
    cores = os.cpu_count() or 1
    loads = [float(info[k]) for k in info if k.startswith("load average")]
    if max(loads) > 0.5 * cores:
        return (
            f"The machine was busy: load average {min(loads):.2f}-{max(loads):.2f} on {cores} "
            "cores (other work shared them), so the wall-time rates are below an idle "
            "machine's; the CPU-time column is less affected."
        )
    return f"The machine was quiet: load average at most {max(loads):.2f} on {cores} cores."


def goals(rows: list[Row]) -> list[str]:
    """One line per alphaloop route: the speed ratio goal, and the bars per second goal."""
    out = []
    for r in rows:
        if r.route == "backtrader":
            continue
        line = f"- {r.case}, {r.route}: {r.rate / 1e6:.2f}M asset-bars/s"
        line += " (1M goal met)" if r.rate >= BARS_GOAL else " (1M goal NOT met)"
        line += f", {r.cpu_rate / 1e6:.2f}M per second of CPU time"
        ref = next((x for x in rows if x.case == r.case and x.route == "backtrader"), None)
        if ref is not None:
            ratio = ref.best_s / r.best_s
            line += f", {ratio:.1f}x backtrader"
            line += " (20x goal met)" if ratio >= SPEED_GOAL else " (20x goal NOT met)"
        out.append(line)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    info = machine()
    basic = ["next-style", "indicators", "scheduled"]
    name = "({}) {{assets}} asset(s) x {{bars:,}} bars"
    rows = run_case(name.format("a"), 100_000 // scale, 1, basic, args.repeats, True)
    rows += run_case(name.format("b"), 10_000 // scale, 20, basic, args.repeats, True)
    rows += run_case(
        name.format("c") + ", protection orders",
        1_000_000 // scale,
        1,
        [f"protected, {how} / {path}" for how in ("every bar", "scheduled") for path in PATHS],
        args.repeats,
        False,
        cash=1e8,  # the stops lose a little on each trade: room for 1M bars of them
    )
    info["load average (1 min) at the end"] = f"{os.getloadavg()[0]:.2f}"
    problems = check(rows)
    verdict = (
        "FINAL VALUES DISAGREE:\n" + "\n".join(problems)
        if problems
        else "Final values agree with backtrader to 1e-9 relative in every case; the "
        "compiled protection runs give the bar-by-bar runs' trades, orders (with every "
        "event) and final value exactly."
    )
    command = "python bench/bench_event.py" + (" --quick" if args.quick else "")
    text = "\n\n".join(
        [
            f"## Event engine next to backtrader (`bench/bench_event.py`, "
            f"{pd.Timestamp.now():%Y-%m-%d})",
            f"Run with `{command}`.",
            "\n".join(f"- {k}: {v}" for k, v in info.items()),
            table(rows),
            "\n".join(goals(rows)),
            verdict,
            machine_busy(info),
            NOTE,
        ]
    )
    print(text)
    if args.write_docs:
        write_docs_section(f"{DOC_START}\n{text}\n{DOC_END}", DOC_START, DOC_END)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
