"""The FinRL side of ``bench_rl_env.py``; runs in the FinRL venv (finrl 0.3.7), not alphaloop's.

``bench_rl_env.py`` starts this file with the FinRL venv's python and the
paths of a data file and an actions file it wrote. FinRL's
``StockTradingEnv`` module is loaded from the installed package by its file
path (the package's ``__init__`` imports its training stack, which the
environment does not need); nothing of it is changed. Prints one
``BENCH-RESULT`` JSON line.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULT_TAG = "BENCH-RESULT "


def load_env_class() -> type:
    spec = importlib.util.find_spec("finrl")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("finrl is not installed in this interpreter")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "meta" / "env_stock_trading" / "env_stocktrading.py"
    module_spec = importlib.util.spec_from_file_location("finrl_env_stocktrading", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.StockTradingEnv


def main() -> None:
    data_path, actions_path, max_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    frame = pd.read_parquet(data_path)
    actions = np.load(actions_path)
    tech = [c for c in frame.columns if c.startswith("logret_")]
    frame.index = frame["date"].factorize()[0]
    n_stocks = frame["tic"].nunique()
    env_class = load_env_class()
    env = env_class(
        df=frame, stock_dim=n_stocks, hmax=100, initial_amount=1_000_000,
        num_stock_shares=[0] * n_stocks, buy_cost_pct=[0.001] * n_stocks,
        sell_cost_pct=[0.001] * n_stocks, reward_scaling=1e-4,
        state_space=1 + 2 * n_stocks + len(tech) * n_stocks, action_space=n_stocks,
        tech_indicator_list=tech, print_verbosity=10**9,
    )  # fmt: skip
    env.reset()
    for k in range(50):  # warm-up
        env.step(actions[k])
    env.reset()
    steps = 0
    t0 = time.perf_counter()
    deadline = t0 + max_seconds
    while steps < len(actions):
        _, _, terminal, _, _ = env.step(actions[steps])
        steps += 1
        if terminal:
            env.reset()
        if (steps & 255) == 0 and time.perf_counter() > deadline:
            break
    seconds = time.perf_counter() - t0
    from importlib.metadata import version

    print(RESULT_TAG + json.dumps({
        "steps": steps, "seconds": seconds, "finrl": version("finrl"),
        "pandas": pd.__version__, "numpy": np.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
