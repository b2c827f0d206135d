"""Benchmark: the vectorized simulator next to vectorbt 1.2.0, in the same run.

Cases (from the project's issue), configured identically in both libraries:
fees of 10 bps of the notional on every fill and nothing else (alphaloop:
``CostModel.zero()`` with ``commission_bps=10``), initial cash 100,000,
orders decided after a bar's close and filled on the next bar (vectorbt gets
the same signals shifted one bar later, with the fill price we use).

- **(a) one asset x 100,000 bars**: a synthetic hourly OHLC random walk
  (``synthetic.ohlc_walk``) with sparse random entries and exits (1% of the
  bars each). alphaloop ``simulate_signals(panel, entries, exits)``, fills at
  the next open; vectorbt ``Portfolio.from_signals(close, entries, exits,
  price=open)`` then ``.value()``.
- **(b) 1,000 assets x 1,000 bars**: one portfolio of 1,000 assets sharing
  its cash; sparse random entries and exits per asset (1% each), every entry
  targeting 0.09% of equity (``size=0.9/1000``). alphaloop
  ``simulate_signals(..., size=0.0009)``; vectorbt ``Portfolio.from_orders``
  with the same sparse target weights (``size_type="targetpercent"``,
  ``price=val_price=open``, ``group_by=True, cash_sharing=True``), then
  ``.value()``. vectorbt's ``from_signals`` cannot size by target percent.
- **(c) a 10,000-combination moving-average crossover sweep** on the bundled
  S&P 500 index (8,313 daily closes, no open: fills at the next close): fast
  windows 2..101 x slow windows 105..303 (step 2). Both get the same
  precomputed entry/exit arrays; alphaloop ``simulate_signals`` with (10,000,
  T, 1) arrays (a ``SweepResult``), vectorbt ``from_signals`` with 10,000
  columns and ``price=close``, then ``.value()``.

Measurements, all in this process after a warm-up call: end to end through
each public API (best of ``--repeats``); alphaloop's time split into
``signals_to_targets``, the kernel and the Python around them; the kernel
alone (``kernel.run_many`` re-run on the arguments the API prepared) with all
numba threads and with one, in bar-updates per second (portfolios x bars x
assets) per core. JIT compile time is measured in fresh subprocesses: the
first call with the on-disk numba cache (warm) and with ``NUMBA_CACHE_DIR``
pointing to an empty directory (cold). The final equities of the two
libraries must agree to 1e-9 relative or the script exits non-zero.

Goals (from the project's issue): end to end at least 2x vectorbt's
throughput; the kernel alone at least 200M bar-updates per second per core on
sparse signals.

Usage::

    python bench/bench_backtest.py               # full size
    python bench/bench_backtest.py --quick       # small sizes, warm compile only
    python bench/bench_backtest.py --write-docs  # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import (  # bench/ is on the path when a script runs
    cpu_name,
    memory_total,
    write_docs_section,
)
from synthetic import moving_average_crossovers, ohlc_walk, sparse_signals

ROOT = Path(__file__).resolve().parent.parent
DOC_START = "<!-- bench_backtest:start -->"
DOC_END = "<!-- bench_backtest:end -->"
FEES = 0.001
CASH = 100_000.0
RTOL = 1e-9
SPEEDUP_GOAL = 2.0
KERNEL_GOAL = 200e6  # bar-updates per second per core


# ------------------------------------------------------------------- cases
@dataclass
class Case:
    """One workload, ready for both libraries (signals already computed)."""

    key: str
    title: str
    panel: Any  # alphaloop Panel
    ours: Callable[[], Any]  # -> an object with the final values
    theirs: Callable[[], np.ndarray]  # -> vectorbt's final values
    ours_final: Callable[[Any], np.ndarray]
    cells: int  # portfolios x bars x assets


@dataclass
class Figures:
    """What was measured for one case."""

    case: Case
    ours_s: list[float] = field(default_factory=list)
    theirs_s: list[float] = field(default_factory=list)
    split: dict[str, float] = field(default_factory=dict)
    kernel: dict[int, float] = field(default_factory=dict)  # threads -> seconds
    max_rel_diff: float = np.nan

    @property
    def ours_best(self) -> float:
        return min(self.ours_s)

    @property
    def theirs_best(self) -> float:
        return min(self.theirs_s)

    @property
    def speedup(self) -> float:
        return self.theirs_best / self.ours_best


def _costs() -> Any:
    from alphaloop.execution.costs import CostModel

    return CostModel.zero().model_copy(update={"commission_bps": FEES * 1e4})


def _later(signals: np.ndarray, axis: int = 0) -> np.ndarray:
    """Signals moved one bar later along ``axis`` (the fill bar of a decision)."""
    out = np.zeros_like(signals)
    index = [slice(None)] * signals.ndim
    index[axis] = slice(1, None)
    source = [slice(None)] * signals.ndim
    source[axis] = slice(None, -1)
    out[tuple(index)] = signals[tuple(source)]
    return out


def case_one_asset(n_bars: int, seed: int) -> Case:
    import vectorbt as vbt

    from alphaloop.backtest.vectorized import simulate_signals
    from alphaloop.data.panel import Panel

    rng = np.random.default_rng(seed)
    open_, high, low, close = ohlc_walk(rng, (n_bars, 1), 20.0, 200.0)
    index = pd.date_range("2010-01-04", periods=n_bars, freq="1h", tz="UTC")
    panel = Panel(index, ["S0000"], {"open": open_, "high": high, "low": low, "close": close})
    entries, exits = sparse_signals(rng, (n_bars, 1), 0.01)
    v_entries, v_exits = _later(entries), _later(exits)
    costs = _costs()

    def ours() -> Any:
        return simulate_signals(panel, entries, exits, costs=costs, initial_capital=CASH)

    def theirs() -> np.ndarray:
        pf = vbt.Portfolio.from_signals(
            close, v_entries, v_exits, price=open_, fees=FEES, init_cash=CASH
        )
        return pf.value().to_numpy()[-1]

    return Case(
        "a",
        f"(a) 1 asset x {n_bars:,} bars, next-open fills",
        panel,
        ours,
        theirs,
        lambda res: np.array([res.final_value]),
        n_bars,
    )


def case_many_assets(n_assets: int, n_bars: int, seed: int) -> Case:
    import vectorbt as vbt

    from alphaloop.backtest import kernel
    from alphaloop.backtest.vectorized import simulate_signals
    from alphaloop.data.panel import Panel

    rng = np.random.default_rng(seed)
    open_, high, low, close = ohlc_walk(rng, (n_bars, n_assets), 20.0, 200.0)
    index = pd.bdate_range("2015-01-02", periods=n_bars, tz="UTC")
    assets = [f"S{j:04d}" for j in range(n_assets)]
    panel = Panel(index, assets, {"open": open_, "high": high, "low": low, "close": close})
    entries, exits = sparse_signals(rng, (n_bars, n_assets), 0.01)
    size = 0.9 / n_assets
    # vectorbt's input: the same sparse target weights, one bar later (prepared untimed)
    targets = np.empty((1, n_bars, n_assets))
    none = np.zeros((1, n_bars, n_assets), dtype=bool)
    kernel.signals_to_targets(entries[None], exits[None], none, none, size, targets)
    v_targets = _later(targets[0])
    v_targets[0] = np.nan
    costs = _costs()

    def ours() -> Any:
        return simulate_signals(panel, entries, exits, size=size, costs=costs, initial_capital=CASH)

    def theirs() -> np.ndarray:
        pf = vbt.Portfolio.from_orders(
            close, v_targets, size_type="targetpercent", price=open_, val_price=open_,
            fees=FEES, init_cash=CASH, group_by=True, cash_sharing=True,
        )  # fmt: skip
        return np.atleast_1d(pf.value().to_numpy()[-1])

    return Case(
        "b",
        f"(b) {n_assets:,} assets x {n_bars:,} bars, one portfolio, next-open fills",
        panel,
        ours,
        theirs,
        lambda res: np.array([res.final_value]),
        n_assets * n_bars,
    )


def case_sweep(n_fast: int, n_slow: int) -> Case:
    import vectorbt as vbt

    from alphaloop.app import Workspace
    from alphaloop.backtest.vectorized import simulate_signals

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        panel = ws.data.load("sp500-index")
        ws.close()
    close = np.ascontiguousarray(panel["close"])
    fast = np.arange(2, 2 + n_fast)
    slow = np.arange(105, 105 + 2 * n_slow, 2)
    entries, exits = moving_average_crossovers(close[:, 0], fast, slow)  # (P, T)
    ours_in = [np.ascontiguousarray(s[:, :, None]) for s in (entries, exits)]
    theirs_in = [np.ascontiguousarray(_later(s, axis=1).T) for s in (entries, exits)]
    costs = _costs()

    def ours() -> Any:
        return simulate_signals(
            panel, *ours_in, fills="next_close", costs=costs, initial_capital=CASH
        )

    def theirs() -> np.ndarray:
        pf = vbt.Portfolio.from_signals(close, *theirs_in, fees=FEES, init_cash=CASH)
        return pf.value().to_numpy()[-1]

    n_port = len(fast) * len(slow)
    return Case(
        "c",
        f"(c) {n_port:,} moving-average pairs x {panel.n_times:,} bars of sp500-index, "
        "next-close fills",
        panel,
        ours,
        theirs,
        lambda res: res.final_value,
        n_port * panel.n_times,
    )


# ------------------------------------------------------------- measuring
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of ``repeats`` calls after one warm-up call, and the last result."""
    out = fn()
    runs = []
    for _ in range(repeats):
        seconds, out = timed(fn)
        runs.append(seconds)
    return runs, out


def split_and_capture(case: Case) -> tuple[dict[str, float], tuple]:
    """Time alphaloop's pieces in one call; capture the kernel's arguments.

    Wraps the numba entry points the vectorized module calls (signals to
    targets, then the simulation: the parallel ones for sweeps, the serial ones
    for a single portfolio) with timers; the rest is Python around them.
    """
    from alphaloop.backtest import vectorized

    kernel = vectorized.K
    names = {
        "signal_targets": "signals_to_targets",
        "signals_to_targets": "signals_to_targets",
        "run_serial": "kernel (run_many)",
        "run_many": "kernel (run_many)",
    }
    spent = dict.fromkeys(names.values(), 0.0)
    captured: list[tuple] = []
    originals = {name: getattr(kernel, name) for name in names}

    def wrap(name: str) -> Callable[..., Any]:
        def timed_call(*args: Any) -> Any:
            if name.startswith("run"):
                captured.append(args)
            seconds, out = timed(lambda: originals[name](*args))
            spent[names[name]] += seconds
            return out

        return timed_call

    for name in names:
        setattr(kernel, name, wrap(name))
    try:
        total, _ = timed(case.ours)
    finally:
        for name, fn in originals.items():
            setattr(kernel, name, fn)
    spent["Python around them"] = total - sum(spent.values())
    spent["total"] = total
    return spent, captured[0]


def kernel_alone(args: tuple, repeats: int) -> dict[int | str, float]:
    """Best seconds of ``run_many`` on prepared arguments, with all threads and with one.

    With one portfolio more threads cannot help, and ``simulate`` also asks
    for per-bar detail (turnover, gross exposure, costs) and fill records:
    key ``"equity only"`` is one thread without them, as sweeps run.
    """
    import inspect

    import numba

    from alphaloop.backtest import kernel

    out: dict[int | str, float] = {}
    default = numba.get_num_threads()
    single = args[0].shape[0] == 1
    for threads in sorted({1} if single else {default, 1}, reverse=True):
        numba.set_num_threads(threads)
        runs, _ = best_of(lambda: kernel.run_many(*args), repeats)
        out[threads] = min(runs)
    names = list(inspect.signature(kernel.run_many.py_func).parameters)
    lean = list(args)
    lean[names.index("detail")] = lean[names.index("record")] = False
    runs, _ = best_of(lambda: kernel.run_many(*lean), repeats)
    out["equity only"] = min(runs)
    numba.set_num_threads(default)
    return out


def measure(case: Case, repeats: int) -> Figures:
    fig = Figures(case)
    print(f"{case.title}: vectorbt ...", file=sys.stderr)
    fig.theirs_s, theirs = best_of(case.theirs, repeats)
    print(f"{case.title}: alphaloop ...", file=sys.stderr)
    fig.ours_s, ours = best_of(case.ours, repeats)
    mine = case.ours_final(ours)
    fig.max_rel_diff = float(np.max(np.abs(mine / theirs - 1.0)))
    fig.split, args = split_and_capture(case)
    fig.kernel = kernel_alone(args, repeats)
    return fig


# ---------------------------------------------------------- compile time
COMPILE_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import pandas as pd
    lib = sys.argv[1]
    t0 = time.perf_counter()
    if lib == "alphaloop":
        from alphaloop.execution.costs import CostModel
        from alphaloop.backtest.vectorized import simulate_signals
        from alphaloop.data.panel import Panel
    else:
        import vectorbt as vbt
    t1 = time.perf_counter()
    n = 50
    close = np.linspace(10.0, 20.0, n)[:, None]
    entries = np.zeros((n, 2), dtype=bool)
    exits = np.zeros((n, 2), dtype=bool)
    entries[[5, 25], :] = True
    exits[[15, 35], :] = True

    def call():
        if lib == "alphaloop":
            index = pd.date_range("2024-01-01", periods=n, tz="UTC")
            panel = Panel(index, ["A"], {"open": close, "close": close})
            costs = CostModel.zero().model_copy(update={"commission_bps": 10.0})
            sweep = np.ascontiguousarray(entries.T[:, :, None])
            out = np.ascontiguousarray(exits.T[:, :, None])
            simulate_signals(panel, entries[:, :1], exits[:, :1], costs=costs)
            simulate_signals(panel, sweep, out, costs=costs)
        else:
            pf = vbt.Portfolio.from_signals(
                np.repeat(close, 2, axis=1), entries, exits, fees=0.001
            )
            pf.value()

    first = time.perf_counter()
    call()
    t2 = time.perf_counter()
    call()
    t3 = time.perf_counter()
    print("RESULT " + json.dumps(
        {"import_s": t1 - t0, "first_s": t2 - first, "second_s": t3 - t2}
    ))
    """
)


def compile_times(libraries: list[str], cold: bool) -> dict[tuple[str, str], dict[str, float]]:
    """First and second call in fresh subprocesses, warm cache and (optionally) cold."""
    out = {}
    modes = ["warm", "cold"] if cold else ["warm"]
    for lib in libraries:
        for mode in modes:
            env = dict(os.environ)
            with tempfile.TemporaryDirectory() as cache:
                if mode == "cold":
                    env["NUMBA_CACHE_DIR"] = cache
                print(f"compile time: {lib}, {mode} cache ...", file=sys.stderr)
                proc = subprocess.run(
                    [sys.executable, "-c", COMPILE_CHILD, lib],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
            line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
            out[(lib, mode)] = json.loads(line[len("RESULT ") :])
    return out


# ------------------------------------------------------------- reporting
def machine() -> dict[str, str]:
    """CPU, cores, memory, Python and library versions."""
    import numba
    import vectorbt

    import alphaloop

    cpu, mem = cpu_name(), memory_total()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "threads": str(numba.get_num_threads()),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": (
            f"alphaloop {alphaloop.__version__}, numba {numba.__version__}, "
            f"numpy {np.__version__}, vectorbt {vectorbt.__version__} (numba engine; the "
            "optional vectorbt-rust engine is not installed)"
        ),
    }


def _rate(cells: int, seconds: float) -> str:
    return f"{cells / seconds / 1e6:,.0f}M"


def _runs(runs: list[float]) -> str:
    return f"{min(runs):.3f} (max {max(runs):.3f})"


def main_table(figs: list[Figures]) -> str:
    lines = [
        "| case | vectorbt, best (s) | alphaloop, best (s) | speedup | "
        "vectorbt bar-updates/s | alphaloop bar-updates/s | final values, max rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figs:
        lines.append(
            f"| {f.case.title} | {_runs(f.theirs_s)} | {_runs(f.ours_s)} | "
            f"{f.speedup:.2f}x | {_rate(f.case.cells, f.theirs_best)} | "
            f"{_rate(f.case.cells, f.ours_best)} | {f.max_rel_diff:.1e} |"
        )
    return "\n".join(lines)


def split_table(figs: list[Figures]) -> str:
    lines = [
        "| case | signals_to_targets (s) | kernel (s) | Python around them (s) | total (s) "
        "| kernel alone, all threads | kernel alone, 1 thread | 1 thread, equity only |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figs:
        s = f.split
        threads = max(k for k in f.kernel if isinstance(k, int))
        one, lean = f.kernel[1], f.kernel["equity only"]
        many = "— (one portfolio)"
        if threads > 1:
            seconds = f.kernel[threads]
            many = (
                f"{seconds:.3f} s = {_rate(f.case.cells, seconds)}/s on {threads} threads "
                f"({_rate(f.case.cells, seconds * threads)}/s per core)"
            )
        lines.append(
            f"| ({f.case.key}) | {s['signals_to_targets']:.3f} | {s['kernel (run_many)']:.3f} "
            f"| {s['Python around them']:.3f} | {s['total']:.3f} | {many} "
            f"| {one:.4f} s = {_rate(f.case.cells, one)}/s "
            f"| {lean:.4f} s = {_rate(f.case.cells, lean)}/s |"
        )
    return "\n".join(lines)


def compile_table(times: dict[tuple[str, str], dict[str, float]]) -> str:
    lines = [
        "| library | numba cache | import (s) | first call (s) | second call (s) |",
        "|---|---|---:|---:|---:|",
    ]
    for (lib, mode), t in times.items():
        lines.append(
            f"| {lib} | {mode} | {t['import_s']:.2f} | {t['first_s']:.2f} | {t['second_s']:.3f} |"
        )
    return "\n".join(lines)


def goals(figs: list[Figures]) -> list[tuple[str, bool, str]]:
    speed = [f"({f.case.key}) {f.speedup:.2f}x" for f in figs]
    kernel_rates = {  # sparse signals, one thread, equity only (as sweeps run)
        f.case.key: f.case.cells / f.kernel["equity only"] for f in figs if f.case.key in ("a", "c")
    }
    return [
        (
            f"end to end at least {SPEEDUP_GOAL:g}x vectorbt's throughput",
            all(f.speedup >= SPEEDUP_GOAL for f in figs),
            ", ".join(speed),
        ),
        (
            f"kernel alone at least {KERNEL_GOAL / 1e6:.0f}M bar-updates/s per core "
            "on sparse signals (one thread, equity only)",
            all(r >= KERNEL_GOAL for r in kernel_rates.values()),
            ", ".join(f"({k}) {v / 1e6:,.0f}M/s" for k, v in kernel_rates.items()),
        ),
    ]


def section(info: dict[str, str], body: str) -> str:
    command = " ".join(["python bench/bench_backtest.py", *sys.argv[1:]])
    return f"""{DOC_START}
## Backtest: the vectorized simulator next to vectorbt (`bench/bench_backtest.py`)

Run on {dt.date.today().isoformat()} with `{command}`.

**Machine:** {info["cpu"]}, {info["cores"]} cores ({info["threads"]} numba threads),
{info["memory"]} memory, {info["os"]}, Python {info["python"]}; {info["versions"]}.
Load average (1 min): {info.get("load", "not recorded")}.

{body}
{DOC_END}"""


def write_docs(text: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md."""
    write_docs_section(text, DOC_START, DOC_END)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes; warm compile time only")
    p.add_argument("--repeats", type=int, default=5, help="timed calls after the warm-up")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--skip-compile", action="store_true", help="no compile-time subprocesses")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    if args.quick:
        cases = [
            case_one_asset(10_000, args.seed),
            case_many_assets(200, 500, args.seed),
            case_sweep(20, 20),
        ]
    else:
        cases = [
            case_one_asset(100_000, args.seed),
            case_many_assets(1_000, 1_000, args.seed),
            case_sweep(100, 100),
        ]
    figs = [measure(case, args.repeats) for case in cases]
    times = (
        {} if args.skip_compile else compile_times(["alphaloop", "vectorbt"], cold=not args.quick)
    )
    info = machine() | {"load": f"{load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after"}
    goal_rows = goals(figs)
    agree = all(f.max_rel_diff <= RTOL for f in figs)
    parts = [
        "**End to end** (seconds, best of "
        f"{args.repeats} after a warm-up; bar-updates = portfolios x bars x assets):",
        main_table(figs),
        "**Where alphaloop's time goes** (one call, timed around the numba functions), "
        "and the kernel alone on the same prepared arrays:",
        split_table(figs),
    ]
    if times:
        parts += [
            "**JIT compile** (fresh subprocess; a single-asset run and a 2-portfolio sweep "
            "for alphaloop, a 2-column `from_signals` + `value()` for vectorbt; cold = "
            "empty `NUMBA_CACHE_DIR`):",
            compile_table(times),
        ]
    parts.append(
        "**Goals:**\n\n"
        + "\n".join(
            f"- {'met' if ok else '**not met**'}: {goal} — {text}" for goal, ok, text in goal_rows
        )
    )
    parts.append(
        "**Agreement:** "
        + (
            f"final values equal to {RTOL:g} relative in every case"
            if agree
            else "**the libraries disagree**: "
            + ", ".join(f"({f.case.key}) {f.max_rel_diff:.1e}" for f in figs)
        )
    )
    body = "\n\n".join(parts)
    print(f"machine: {json.dumps(info)}")
    print()
    print(body)
    if args.write_docs:
        write_docs(section(info, body))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
