"""Benchmark: PPO training time on the bundled stocks, extrapolated to 1M timesteps.

Workload: the bundled ``sp500-stocks`` (20 US large caps, daily closes),
training span of the default split (the search span, 70%), continuous
target weights over the 20 stocks projected onto the long-only simplex,
fills at the next close with the backtester's costs, five normalized past
log returns per stock, episodes of 252 bars. stable-baselines3 PPO with its
default hyperparameters (``n_steps`` 2048 per environment, batch 64, 10
epochs, MLP 64x64), CPU, one torch thread, no validation callbacks.

Two set-ups: one ``TradingEnv`` (stable-baselines3 wraps it in a
``DummyVecEnv``), and a ``VecTradingEnv`` of 8 accounts stepped by one numba
call. Each trains ``--steps`` timesteps (default 50,000) after a short
warm-up run (numba and torch start-up); the time for 1,000,000 timesteps is
extrapolated linearly from it (PPO's cost per timestep does not depend on
how many were done). The machine's load is printed with the figures.

Usage::

    python bench/bench_rl_train.py [--steps 50000] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

SECTION = "## RL training: PPO time for 1M timesteps (bench/bench_rl_train.py)"


def _train(vec: bool, steps: int) -> float:
    import torch
    from stable_baselines3 import PPO

    from alphaloop.data.bundled import load_bundled
    from alphaloop.rl import EnvConfig, TradingEnv, VecTradingEnv

    torch.set_num_threads(1)
    panel = load_bundled("sp500-stocks").to_panel()
    config = EnvConfig(action="continuous", fills="next_close", span="train", episode_length=252)
    env = VecTradingEnv(config, panel, n_envs=8, seed=0) if vec else TradingEnv(config, panel)
    n_steps = 256 if vec else 2048  # 2048 timesteps per update either way
    model = PPO("MlpPolicy", env, n_steps=n_steps, seed=0, device="cpu", verbose=0)
    model.learn(2048)  # warm-up: numba, torch
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()
    rows = []
    for label, vec in (("TradingEnv (1 env)", False), ("VecTradingEnv (8 accounts)", True)):
        seconds = _train(vec, args.steps)
        per_million = seconds * 1_000_000 / args.steps
        rows.append((label, seconds, args.steps / seconds, per_million))
        rate = args.steps / seconds
        print(f"{label}: {args.steps:,} steps in {seconds:.1f} s ({rate:,.0f} steps/s)")
    load_after = os.getloadavg()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"{stamp}; {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load[0]:.1f} before, "
        f"{load_after[0]:.1f} after (a shared machine: other jobs ran at the same time).",
        "",
        f"PPO (stable-baselines3 defaults, CPU, one torch thread) on the 20 bundled stocks, "
        f"continuous target weights, next-close fills with costs; {args.steps:,} timesteps "
        "measured after a warm-up, 1M extrapolated linearly.",
        "",
        "| set-up | timesteps/s | 1M timesteps (extrapolated) |",
        "|---|---:|---:|",
    ]
    for label, _, rate, per_million in rows:
        lines.append(f"| {label} | {rate:,.0f} | {per_million / 60:.1f} min |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write_docs:
        path = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
        doc = path.read_text()
        if SECTION in doc:
            head, _, rest = doc.partition(SECTION)
            nxt = rest.find("\n## ")
            doc = head + text + (rest[nxt + 1 :] if nxt >= 0 else "")
        else:
            doc = doc.rstrip("\n") + "\n\n" + text
        path.write_text(doc)


if __name__ == "__main__":
    main()
