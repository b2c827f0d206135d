"""Benchmark: what participation caps cost the vectorized simulator and the RL environments.

Workloads (seeded synthetic OHLCV random walks with volume, ``synthetic``-free):

- **simulate**: 200 assets x 2,000 daily bars, one portfolio, full rows of
  random long weights every 5 bars, next-open fills, default costs;
  ``simulate`` end to end (best of ``--repeats`` after a warm-up) with no
  cap, with a cap that binds (0.5% of each bar's volume: most rebalances take
  several bars) and with one that never binds (1.0 on a volume a billion
  times larger).
- **TradingEnv**: one environment on 20 of those assets, continuous actions,
  ``--steps`` steps from Python; **VecTradingEnv**: ``--envs`` accounts,
  ``step_arrays`` for ``--vec-steps`` steps; each without a cap and with
  the binding one.

With ``--baseline SRC`` the uncapped measurements also run on the code in
``SRC`` (another checkout's ``src``, for instance the main branch) in
subprocesses, alternating with this checkout's, so the two are compared in
the same minutes of a possibly busy machine.

Usage::

    python bench/bench_participation.py
    python bench/bench_participation.py --baseline /path/to/main/src --write-docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

START = "<!-- bench_participation:start -->"
END = "<!-- bench_participation:end -->"
BINDING = 0.005


def ohlcv(n_rows: int, n_assets: int, seed: int, volume_scale: float = 1.0):
    """A seeded daily OHLCV panel with volume (shares)."""
    from alphaloop.data import Panel

    rng = np.random.default_rng(seed)
    shape = (n_rows, n_assets)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, shape), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0.0, 0.003, shape))
    fields = {
        "open": open_,
        "high": np.maximum(open_, close) * 1.005,
        "low": np.minimum(open_, close) * 0.995,
        "close": close,
        "volume": np.round(rng.uniform(2e4, 2e5, shape)) * volume_scale,
    }
    index = pd.date_range("2010-01-04", periods=n_rows, freq="B", tz="UTC")
    return Panel(index, [f"S{j:03d}" for j in range(n_assets)], fields)


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (and compile)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(args: argparse.Namespace, caps: bool) -> dict[str, float]:
    """Seconds per simulate call, and steps per second of the environments."""
    from alphaloop.backtest import simulate
    from alphaloop.rl import EnvConfig, TradingEnv, VecTradingEnv

    out: dict[str, float] = {}
    panel = ohlcv(2000, 200, 1)
    rng = np.random.default_rng(2)
    targets = np.full(panel.shape, np.nan)
    for r in range(0, panel.n_times, 5):
        targets[r] = rng.dirichlet(np.ones(panel.n_assets)) * 0.95
    out["simulate_off"] = best_of(lambda: simulate(panel, targets), args.repeats)
    if caps:
        out["simulate_binding"] = best_of(
            lambda: simulate(panel, targets, participation=BINDING), args.repeats
        )
        deep = ohlcv(2000, 200, 1, volume_scale=1e9)
        out["simulate_slack"] = best_of(
            lambda: simulate(deep, targets, participation=1.0), args.repeats
        )
    small = panel.select(assets=list(panel.assets[:20]))
    actions = rng.uniform(-1.0, 1.0, (args.steps, 20))
    for label, part in (("off", None), ("binding", BINDING)) if caps else (("off", None),):
        capped = {} if part is None else {"participation": part}  # the baseline has no field
        cfg = EnvConfig(span="all", action="continuous", episode_length=500, **capped)
        env = TradingEnv(cfg, small)

        def single(env: Any = env) -> None:
            env.reset(seed=0)
            for k in range(args.steps):
                _, _, term, trunc, _ = env.step(actions[k])
                if term or trunc:
                    env.reset()

        out[f"single_{label}"] = args.steps / best_of(single, args.repeats)
        vec = VecTradingEnv(cfg, small, n_envs=args.envs, seed=0)
        vec_actions = rng.uniform(-1.0, 1.0, (args.envs, 20))

        def vector(vec: Any = vec, acts: np.ndarray = vec_actions) -> None:
            vec.reset_arrays()
            for _ in range(args.vec_steps):
                vec.step_arrays(acts)

        out[f"vec_{label}"] = args.envs * args.vec_steps / best_of(vector, args.repeats)
    return out


def run_baseline(src: str, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src, "NUMBA_CACHE_DIR": args.baseline_cache}
    cmd = [sys.executable, __file__, "--json-off", "--repeats", str(args.repeats),
           "--steps", str(args.steps), "--envs", str(args.envs),
           "--vec-steps", str(args.vec_steps)]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(rounds: list[dict[str, Any]], args: argparse.Namespace, load: tuple) -> str:
    def best(side: str, key: str, higher: bool) -> float:
        values = [r[side][key] for r in rounds if side in r]
        return max(values) if higher else min(values)

    rows = [
        ("`simulate`, 200 assets x 2,000 bars (s)", "simulate", False),
        ("`TradingEnv`, 20 assets (steps/s)", "single", True),
        (f"`VecTradingEnv`, {args.envs} accounts (steps/s)", "vec", True),
    ]
    lines = [
        "| workload | no cap | cap 0.5%, binding | cap never binding |"
        + (" baseline, no cap |" if args.baseline else ""),
        "| --- | ---: | ---: | ---: |" + (" ---: |" if args.baseline else ""),
    ]
    for label, key, higher in rows:
        fmt = "{:,.0f}" if higher else "{:.4f}"
        off = fmt.format(best("caps", f"{key}_off", higher))
        binding = fmt.format(best("caps", f"{key}_binding", higher))
        slack = fmt.format(best("caps", "simulate_slack", False)) if key == "simulate" else "-"
        base = f" {fmt.format(best('base', f'{key}_off', higher))} |" if args.baseline else ""
        lines.append(f"| {label} | {off} | {binding} | {slack} |{base}")
    busy = "busy, shared machine" if max(load[0], load[1]) > 1.5 else "quiet machine"
    when = dt.date.today().isoformat()
    head = (
        "## Participation caps: what they cost (`bench/bench_participation.py`)\n\n"
        f"Run {when} on {cpu_name()} ({os.cpu_count()} cores, {memory_total()}), "
        f"{platform.system()}, Python {platform.python_version()}; load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after ({busy}: figures are noisy). Best of "
        f"{args.repeats} calls per figure, best over {len(rounds)} alternating rounds"
        + (" of this checkout and the baseline (the code before caps)" if args.baseline else "")
        + ".\n\n"
    )
    return START + "\n" + head + "\n".join(lines) + "\n" + END


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=5_000)
    p.add_argument("--envs", type=int, default=256)
    p.add_argument("--vec-steps", type=int, default=200)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--baseline", help="src directory of the code to compare with (no caps)")
    p.add_argument("--baseline-cache", default="/tmp/bench-participation-numba")
    p.add_argument("--json-off", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    if args.json_off:
        print(json.dumps(measure(args, caps=False)))
        return
    load_before = os.getloadavg()[0]
    rounds = []
    for k in range(args.rounds):
        r: dict[str, Any] = {}
        if args.baseline:
            r["base"] = run_baseline(args.baseline, args)
        r["caps"] = measure(args, caps=True)
        rounds.append(r)
        print(f"round {k + 1}: {json.dumps(r)}", file=sys.stderr)
    text = render(rounds, args, (load_before, os.getloadavg()[0]))
    print(text)
    if args.write_docs:
        write_docs_section(text, START, END)


if __name__ == "__main__":
    main()
