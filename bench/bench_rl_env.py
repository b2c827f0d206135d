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


def run_finrl(panel: Any, actions: np.ndarray, seconds: float) -> dict[str, Any]:
    python = ensure_finrl_venv()
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / "finrl-sp500.parquet"
    finrl_frame(panel, 5).to_parquet(data)
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
    return result


def run_single(panel: Any, actions: np.ndarray, repeats: int) -> dict[str, Any]:
    from alphaloop.rl import EnvConfig, TradingEnv

    cfg = EnvConfig(fills="next_close", action="continuous", span="all", episode_length=None,
                    start="first", returns=5)  # fmt: skip
    env = TradingEnv(cfg, panel)
    env.reset(seed=0)
    for k in range(200):  # compile and warm
        env.step(actions[k])
    rates = []
    for _ in range(repeats):
        env.reset(seed=0)
        t0 = time.perf_counter()
        for k in range(len(actions)):
            _, _, term, trunc, _ = env.step(actions[k])
            if term or trunc:
                env.reset()
        rates.append(len(actions) / (time.perf_counter() - t0))
    return {"rate": statistics.median(rates), "rates": rates, "steps": len(actions)}


def run_vector(panel: Any, actions: np.ndarray, n_envs: int, steps: int, repeats: int,
               sb3: bool) -> dict[str, Any]:  # fmt: skip
    from alphaloop.rl import EnvConfig, VecTradingEnv

    cfg = EnvConfig(fills="next_close", action="continuous", span="all", episode_length=252,
                    returns=5)  # fmt: skip
    vec = VecTradingEnv(cfg, panel, n_envs=n_envs, parallel=True, seed=0)
    pool = np.ascontiguousarray(actions[: (len(actions) // n_envs) * n_envs], dtype=np.float64)
    blocks = pool.reshape(-1, n_envs, pool.shape[1])
    step = vec.step if sb3 else vec.step_arrays
    vec.reset()
    for k in range(5):
        step(blocks[k % len(blocks)])
    rates = []
    for _ in range(repeats):
        vec.reset()
        t0 = time.perf_counter()
        for k in range(steps):
            step(blocks[k % len(blocks)])
        rates.append(n_envs * steps / (time.perf_counter() - t0))
    return {"rate": statistics.median(rates), "rates": rates, "envs": n_envs, "steps": steps}


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
        results["finrl"] = run_finrl(panel, actions[: args.steps], args.finrl_seconds)
        print(f"FinRL StockTradingEnv: {results['finrl']['rate']:,.0f} steps/s", file=sys.stderr)
    results["single"] = run_single(panel, actions[: args.steps], args.repeats)
    print(f"alphaloop TradingEnv: {results['single']['rate']:,.0f} steps/s", file=sys.stderr)
    for sb3 in (False, True):
        key = "vec_sb3" if sb3 else "vec"
        results[key] = run_vector(panel, actions, args.envs, args.vec_steps, args.repeats, sb3)
        print(f"alphaloop VecTradingEnv ({key}): {results[key]['rate']:,.0f} steps/s",
              file=sys.stderr)  # fmt: skip
    results["load"] = {"before": load_before, "after": os.getloadavg()}
    results["threads"] = numba.get_num_threads()
    results["cores"] = len(os.sched_getaffinity(0))
    print(json.dumps(results, indent=1, default=str))
    if args.write_docs:
        write_docs_section(render(results, args), START, END)


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    single = r["single"]["rate"]
    vec = r["vec"]["rate"]
    finrl = r.get("finrl")
    lines = [
        START,
        "## RL environments: steps per second (`bench/bench_rl_env.py`)",
        "",
        f"Run {dt.date.today():%Y-%m-%d} on {cpu_name()} ({r['cores']} cores, "
        f"{memory_total()}); numba threads {r['threads']}; load average "
        f"{r['load']['before'][0]:.2f} before, {r['load']['after'][0]:.2f} after (a shared "
        "machine: other jobs ran at the same time).",
        "",
        "Workload: the bundled sp500-stocks (20 stocks, 8,313 daily bars), the same seeded "
        "uniform random actions in [-1, 1] for every environment.",
        "",
        "| environment | steps / s | vs FinRL |",
        "| --- | ---: | ---: |",
    ]
    if finrl:
        lines.append(f"| FinRL {finrl['finrl']} `StockTradingEnv` (own venv) | "
                     f"{finrl['rate']:,.0f} | 1x |")  # fmt: skip
    ratio = (lambda x: f"{x / finrl['rate']:,.0f}x") if finrl else (lambda x: "-")
    lines += [
        f"| alphaloop `TradingEnv` (one env, Python loop) | {single:,.0f} | {ratio(single)} |",
        f"| alphaloop `VecTradingEnv.step_arrays`, {args.envs} accounts | {vec:,.0f} | "
        f"{ratio(vec)} |",
        f"| alphaloop `VecTradingEnv.step` (SB3 API, info dicts), {args.envs} accounts | "
        f"{r['vec_sb3']['rate']:,.0f} | {ratio(r['vec_sb3']['rate'])} |",
        "",
    ]
    goals = []
    if finrl:
        goals.append(f"single env {single / finrl['rate']:,.0f}x FinRL (goal {SINGLE_GOAL:.0f}x): "
                     + ("met" if single / finrl["rate"] >= SINGLE_GOAL else "NOT met"))  # fmt: skip
    goals.append(f"vectorized {vec:,.0f} steps/s (goal 1,000,000 on 2 cores): "
                 + ("met" if vec >= VEC_GOAL else "NOT met"))  # fmt: skip
    lines += ["Goals: " + "; ".join(goals) + ".", ""]
    lines += [
        "What a step does differs: alphaloop's fills at the next close through the "
        "backtester's cost model (commission with a minimum, fees, spread, slippage), "
        "sizes every rebalance with the backtester's sizing and normalizes its observations "
        "causally; FinRL's fills at the close it observed with a flat 0.1% cost. Medians of "
        f"{args.repeats} repeats; FinRL ran for up to {args.finrl_seconds:.0f} s.",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
