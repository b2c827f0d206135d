"""Benchmark: trading-environment steps per second, alphaloop next to FinRL's StockTradingEnv.

Workload: the bundled ``sp500-stocks`` (20 US large caps, daily closes,
1990-2022, 8,313 bars); the same seeded uniform random actions in [-1, 1]
for every environment (one row of 20 per step).

- **FinRL**: ``StockTradingEnv`` of ``finrl==0.3.7``, in its own venv
  (``bench/.work/finrl-venv``, created when missing: ``pip install
  finrl==0.3.7 --no-deps`` plus the packages its environment module imports:
  gymnasium, matplotlib, numpy, pandas, stable-baselines3, torch), run by
  ``bench/_finrl_env.py``. Its frame holds the closes and the same five past
  log returns per stock that alphaloop observes; ``hmax`` 100 shares, 0.1%
  costs; it fills at the close it observes.
- **alphaloop TradingEnv**: one gymnasium environment (continuous target
  weights projected onto the long-only simplex, fills at the next close
  through the backtester's cost model, five normalized log returns per
  stock), stepped from Python one call per step, as a training loop does.
- **alphaloop VecTradingEnv**: ``--envs`` accounts stepped by one numba call
  on the machine's cores: ``step_arrays`` (arrays in and out) and the
  stable-baselines3 ``step`` (with its per-account info dicts).

Goals (from the project's issue): the single environment at least 50x
FinRL's, the vectorized one at least 1,000,000 steps a second on 2 cores.

Usage::

    python bench/bench_rl_env.py                  # all three, writes nothing
    python bench/bench_rl_env.py --skip-finrl     # alphaloop only
    python bench/bench_rl_env.py --write-docs     # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # idle threads sleep: the machine is shared

import numpy as np
import pandas as pd

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
FINRL_VENV = WORK / "finrl-venv"
FINRL_REQUIREMENTS = ["finrl==0.3.7"]
# FinRL 0.3.7's own era (pandas 2.2, numpy 1.26)
FINRL_DEPENDENCIES = [
    "gymnasium==1.4.0", "stable-baselines3==2.9.2", "torch==2.13.0", "matplotlib==3.9.4",
    "numpy==1.26.4", "pandas==2.2.3", "pyarrow==18.1.0",
]  # fmt: skip
RESULT_TAG = "BENCH-RESULT "
SINGLE_GOAL = 50.0
VEC_GOAL = 1_000_000.0
START = "<!-- bench_rl_env:start -->"
END = "<!-- bench_rl_env:end -->"


def ensure_finrl_venv() -> Path:
    """The FinRL venv's python, created (python3.11 -m venv + pip) when missing."""
    python = FINRL_VENV / "bin" / "python"
    probe = (
        "import importlib.util as u, pandas; "
        "assert u.find_spec('finrl') and pandas.__version__ == '2.2.3'"
    )
    if python.exists():
        found = subprocess.run([python, "-c", probe], capture_output=True, check=False)
        if found.returncode == 0:
            return python
    print(f"creating {FINRL_VENV.relative_to(ROOT)} ...", file=sys.stderr)
    shutil.rmtree(FINRL_VENV, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    base = shutil.which("python3.11") or sys.executable
    subprocess.run([base, "-m", "venv", str(FINRL_VENV)], check=True)
    log = WORK / "finrl-venv-install.log"
    with log.open("w") as fh:
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        subprocess.run([*pip, "--no-deps", *FINRL_REQUIREMENTS], stdout=fh, stderr=fh, check=True)
        subprocess.run([*pip, *FINRL_DEPENDENCIES], stdout=fh, stderr=fh, check=True)
    return python


def load_stocks() -> Any:
    from alphaloop.data.bundled import load_bundled

    return load_bundled("sp500-stocks").to_panel()


def finrl_frame(panel: Any, lags: int) -> pd.DataFrame:
    """Long frame (date, tic, close, logret_k) in FinRL's layout."""
    from alphaloop.rl.features import past_log_returns

    close = np.asarray(panel["close"], dtype=np.float64)
    rets = past_log_returns(close, lags)
    frames = []
    for j, tic in enumerate(panel.assets):
        cols = {"date": panel.index.tz_localize(None), "tic": tic, "close": close[:, j]}
        for k, r in enumerate(rets):
            cols[f"logret_{k}"] = np.nan_to_num(r[:, j])
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames).sort_values(["date", "tic"], kind="stable").reset_index(drop=True)


def run_finrl(panel: Any, actions: np.ndarray, seconds: float, bars: int) -> dict[str, Any]:
    python = ensure_finrl_venv()
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / f"finrl-sp500-{bars}.parquet"
    finrl_frame(panel.iloc(slice(panel.n_times - bars, None)), 5).to_parquet(data)
    acts = WORK / "finrl-actions.npy"
    np.save(acts, actions)
    env = {**os.environ, "PYTHONPATH": "", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [str(python), str(ROOT / "bench" / "_finrl_env.py"), str(data), str(acts), str(seconds)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith(RESULT_TAG)), None)
    if line is None:
        raise SystemExit(f"the FinRL run failed:\n{out.stderr[-3000:]}")
    result = json.loads(line[len(RESULT_TAG) :])
    result["rate"] = result["steps"] / result["seconds"]
    result["bars"] = bars
    return result


def run_single(panel: Any, actions: np.ndarray, repeats: int) -> dict[str, Any]:
    from alphaloop.rl import EnvConfig, TradingEnv

    cfg = EnvConfig(fills="next_close", action="continuous", span="all", episode_length=None,
                    start="first", returns=5)  # fmt: skip
    env = TradingEnv(cfg, panel)
    env.reset(seed=0)
    for k in range(200):  # compile and warm
        env.step(actions[k])
    rates, cpu = [], []
    for _ in range(repeats):
        env.reset(seed=0)
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(len(actions)):
            _, _, term, trunc, _ = env.step(actions[k])
            if term or trunc:
                env.reset()
        rates.append(len(actions) / (time.perf_counter() - t0))
        cpu.append(len(actions) / (time.process_time() - c0))
    return {"rate": statistics.median(rates), "cpu_rate": statistics.median(cpu),
            "rates": rates, "steps": len(actions)}  # fmt: skip


def run_vector(
    panel: Any, actions: np.ndarray, n_envs: int, steps: int, repeats: int, *,
    sb3: bool = False, kind: str = "continuous", assets: tuple[str, ...] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Wall-clock and CPU-time steps per second of ``n_envs`` accounts."""
    from alphaloop.rl import EnvConfig, VecTradingEnv

    cfg = EnvConfig(fills="next_close", action=kind, span="all", episode_length=252,
                    returns=5, assets=assets)  # fmt: skip
    vec = VecTradingEnv(cfg, panel, n_envs=n_envs, parallel=True, seed=0)
    width = vec.market.n_assets
    pool = np.ascontiguousarray(actions[:, :width], dtype=np.float64)
    if kind == "discrete":
        pool = (pool > 0).astype(np.float64)  # level 0 (flat) or 1 (long), as often
    pool = pool[: (len(pool) // n_envs) * n_envs]
    blocks = pool.reshape(-1, n_envs, width)
    step = vec.step if sb3 else vec.step_arrays
    vec.reset()
    for k in range(5):
        step(blocks[k % len(blocks)])
    wall, cpu = [], []
    for _ in range(repeats):
        vec.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(steps):
            step(blocks[k % len(blocks)])
        wall.append(n_envs * steps / (time.perf_counter() - t0))
        cpu.append(n_envs * steps / (time.process_time() - c0))
    return {"rate": statistics.median(wall), "cpu_rate": statistics.median(cpu),
            "rates": wall, "envs": n_envs, "steps": steps}  # fmt: skip


VECTOR_RUNS = {
    "vec": ("20 stocks, continuous", {}),
    "vec_discrete": ("20 stocks, discrete flat/long", {"kind": "discrete"}),
    "vec_one": ("1 stock (AAPL), continuous", {"assets": ("AAPL",)}),
    "vec_sb3": ("20 stocks, continuous, SB3 `step` (info dicts)", {"sb3": True}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20_000, help="single-env steps per repeat")
    parser.add_argument("--envs", type=int, default=4096, help="accounts of the vectorized env")
    parser.add_argument("--vec-steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--finrl-seconds", type=float, default=20.0)
    parser.add_argument("--skip-finrl", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    import numba

    panel = load_stocks()
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.0, 1.0, (max(args.steps, args.envs * 8), panel.n_assets))
    actions = actions.astype(np.float32)
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    if not args.skip_finrl:
        for bars in (panel.n_times, 1000):
            key = "finrl" if bars == panel.n_times else "finrl_short"
            results[key] = run_finrl(panel, actions[: args.steps], args.finrl_seconds, bars)
            print(f"FinRL StockTradingEnv, {bars} bars: {results[key]['rate']:,.0f} steps/s",
                  file=sys.stderr)  # fmt: skip
    results["single"] = run_single(panel, actions[: args.steps], args.repeats)
    print(f"alphaloop TradingEnv: {results['single']['rate']:,.0f} steps/s", file=sys.stderr)
    for key, (label, options) in VECTOR_RUNS.items():
        results[key] = run_vector(panel, actions, args.envs, args.vec_steps, args.repeats,
                                  **options)  # fmt: skip
        print(f"alphaloop VecTradingEnv, {label}: {results[key]['rate']:,.0f} steps/s wall, "
              f"{results[key]['cpu_rate']:,.0f} per CPU-second", file=sys.stderr)  # fmt: skip
    results["load"] = {"before": load_before, "after": os.getloadavg()}
    results["threads"] = numba.get_num_threads()
    results["cores"] = len(os.sched_getaffinity(0))
    print(json.dumps(results, indent=1, default=str))
    if args.write_docs:
        write_docs_section(render(results, args), START, END)


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    single = r["single"]["rate"]
    finrl = r.get("finrl")
    short = r.get("finrl_short")
    busy = r["load"]["before"][0] > 2.0
    machine = (
        "a shared machine, other jobs held most of both cores, so wall-clock rates are a "
        "fraction of what the code does on idle cores"
        if busy
        else "nothing else ran on the machine"
    )
    lines = [
        START,
        "## RL environments: steps per second (`bench/bench_rl_env.py`)",
        "",
        f"Run {dt.date.today():%Y-%m-%d} on {cpu_name()} ({r['cores']} cores, "
        f"{memory_total()}); numba threads {r['threads']}; load average "
        f"{r['load']['before'][0]:.1f} before, {r['load']['after'][0]:.1f} after: {machine}. "
        "Steps per CPU-second (all threads of the process) are given next to the wall rates.",
        "",
        "Workload: the bundled sp500-stocks (20 stocks, 8,313 daily bars), the same seeded "
        "uniform random actions in [-1, 1] for every environment (one row of 20 per step).",
        "",
        "| environment | steps / s (wall) | steps / CPU-second | vs FinRL (wall) |",
        "| --- | ---: | ---: | ---: |",
    ]
    base = finrl["rate"] if finrl else None

    def ratio(x: float) -> str:
        return f"{x / base:,.0f}x" if base else "-"

    for key, label in (("finrl", "all 8,313 bars"), ("finrl_short", "its last 1,000 bars")):
        f = r.get(key)
        if f:
            lines.append(f"| FinRL {f['finrl']} `StockTradingEnv` (own venv), {label} | "
                         f"{f['rate']:,.0f} | - | {ratio(f['rate'])} |")  # fmt: skip
    lines.append(f"| alphaloop `TradingEnv`, 20 stocks (one env, Python loop) | {single:,.0f} | "
                 f"{r['single']['cpu_rate']:,.0f} | {ratio(single)} |")  # fmt: skip
    for key, (label, _) in VECTOR_RUNS.items():
        v = r[key]
        lines.append(f"| alphaloop `VecTradingEnv`, {args.envs} accounts, {label} | "
                     f"{v['rate']:,.0f} | {v['cpu_rate']:,.0f} | {ratio(v['rate'])} |")  # fmt: skip
    lines.append("")
    goals = []
    if finrl:
        goals.append(f"`TradingEnv` {single / finrl['rate']:,.0f}x FinRL on the same data"
                     + (f" ({single / short['rate']:,.0f}x FinRL on 1,000 bars)" if short else "")
                     + f", goal {SINGLE_GOAL:.0f}x: "
                     + ("met" if single / finrl["rate"] >= SINGLE_GOAL else "NOT met"))  # fmt: skip
    vec = r["vec"]
    two = 2 * vec["cpu_rate"]
    goals.append(
        f"`VecTradingEnv` on 20 stocks {vec['rate']:,.0f} steps/s wall "
        f"(goal {VEC_GOAL:,.0f} on 2 cores: "
        + ("met" if vec["rate"] >= VEC_GOAL else "NOT met under this load")
        + f"); {vec['cpu_rate']:,.0f} steps per CPU-second"
        + (
            f", which put two idle cores at about {two:,.0f} (an estimate, not a "
            f"measurement), single-asset accounts at about {2 * r['vec_one']['cpu_rate']:,.0f}"
            if busy
            else ""
        )
    )
    lines += ["Goals: " + "; ".join(goals) + ".", ""]
    lines += [
        "What a step does differs. alphaloop's fills at the next close through the "
        "backtester's sizing and cost model (per-share commission with a minimum, fees, "
        "spread, slippage), rebalances every account to its targets (random actions move "
        "all 20 weights every bar), normalizes observations causally and returns the "
        "reward after costs. FinRL's fills at the close it observed with a flat 0.1% cost, "
        "and each step rescans its whole frame (`df.index.unique()` and `df.tic.unique()`, "
        "most of its time in a profile), so its rate "
        "falls with the data's length; the 1,000-bar row shows it on a shorter frame. "
        f"Medians of {args.repeats} repeats; FinRL ran for up to {args.finrl_seconds:.0f} s "
        "per row. OpenMP threads wait passively (`OMP_WAIT_POLICY=passive`).",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
