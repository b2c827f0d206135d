"""Benchmark: the research loop per candidate, next to Optuna + vectorbt, in the same run.

Workload: technical candidates on the bundled 20 US stocks (``sp500-stocks``,
daily closes 1990-2016 as bundled; fills at the next close), drawn without
replacement (seeded) from one parameter space: four families,

- momentum ``Ref($close, skip) / Ref($close, lookback) - 1``,
- reversal ``-($close / Ref($close, lookback) - 1)``,
- moving-average cross ``Mean($close, fast) / Mean($close, slow) - 1``,
- low volatility ``-Std($close / Ref($close, 1) - 1, window)``,

times top-k (3, 5, 8, 10), rebalance (daily, weekly, monthly) and weighting
(equal, inverse volatility).

**alphaloop** runs the research session loop itself (``SessionLoop``, with
a policy that proposes the benchmark's points in order): per batch, the
policy's view from the strategy database, the strategies and decisions
stored, ``evaluate_candidate`` in a 2-worker executor (signal, lookahead scan
of signal and target weights, the search-span backtest with costs, 5
walk-forward folds, regimes), each evaluation stored in the strategy
database (SQLite; spec, metrics, folds, lookahead report, float32 returns),
one CSCV PBO over all the session's returns, then the gate in proposal
order (DSR against every trial so far, PBO, round trips, years, folds,
regimes) with its verdict stored; at the end, the survivors judged again.

**Optuna + vectorbt** is what a user writes today: Optuna TPE (seeded)
proposes the same parameter space; each trial computes the signal with
pandas, top-k target weights on the rebalance bars, vectorbt
``Portfolio.from_orders`` (target percent, cash sharing, 10 bps fees, orders
at the next close) and the mean Sharpe ratio over the same 5 walk-forward
folds. It has no lookahead scan, no gate and stores nothing; it runs in one
process (``n_jobs=1``).

**Ray overhead** per candidate: a batch on :class:`RayExecutor` with 2 local
actors, ``(wall x workers - sum of evaluation seconds) / candidates``.

Usage::

    python bench/bench_research.py               # 1,000 candidates, 200 Optuna trials
    python bench/bench_research.py --quick       # 120 candidates, 30 trials
    python bench/bench_research.py --write-docs  # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

DOC_START = "<!-- bench_research:start -->"
DOC_END = "<!-- bench_research:end -->"
GOAL_PER_MINUTE = 1_000
RAY_GOAL_MS = 10.0
PEER_RATIO_GOAL = 10.0
FOLDS = 5

GRID: dict[str, dict[str, list[int]]] = {
    "momentum": {"lookback": [21, 42, 63, 126, 189, 252], "skip": [0, 5, 10, 21]},
    "reversal": {"lookback": [1, 2, 3, 5, 10, 15, 21]},
    "ma_cross": {"fast": [5, 10, 20, 30, 50], "slow": [60, 100, 150, 200, 250]},
    "volatility": {"window": [10, 20, 40, 60, 120, 250]},
}
TOP_K = [3, 5, 8, 10]
REBALANCE = ["daily", "weekly", "monthly"]
WEIGHTING = ["equal", "inverse_volatility"]


def expression(family: str, p: dict[str, int]) -> str:
    if family == "momentum":
        head = "$close" if p["skip"] == 0 else f"Ref($close, {p['skip']})"
        return f"{head} / Ref($close, {p['lookback']}) - 1"
    if family == "reversal":
        return f"-($close / Ref($close, {p['lookback']}) - 1)"
    if family == "ma_cross":
        return f"Mean($close, {p['fast']}) / Mean($close, {p['slow']}) - 1"
    return f"-Std($close / Ref($close, 1) - 1, {p['window']})"


def space() -> list[dict[str, Any]]:
    """Every point of the parameter space, in a fixed order."""
    points = []
    for family, grid in GRID.items():
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values, strict=True))
            for k, reb, w in itertools.product(TOP_K, REBALANCE, WEIGHTING):
                points.append(
                    {"family": family, "params": params, "k": k, "rebalance": reb, "weighting": w}
                )
    return points


def to_spec(point: dict[str, Any]) -> Any:
    from alphaloop.backtest.spec import StrategySpec

    return StrategySpec.from_dict(
        {
            "name": f"{point['family']} {point['params']}",
            "data": "sp500-stocks",
            "signal": {"expr": expression(point["family"], point["params"])},
            "portfolio": {"method": "top_k", "k": point["k"], "weighting": point["weighting"]},
            "rebalance": {"frequency": point["rebalance"]},
            "fills": "next_close",
        }
    )


# ------------------------------------------------------------------ ours
class ListPolicy:
    """Proposes the benchmark's points in their (seeded) order, skipping stored ones."""

    name = "bench-list"

    def __init__(self, points: list[dict[str, Any]], timer: dict[str, float]) -> None:
        self.points = points
        self.hashes = [to_spec(p).hash for p in points]
        self.timer = timer

    def propose(self, view: Any, n: int, rng: Any) -> list[Any]:
        from alphaloop.research.policy import Proposal

        tic = time.perf_counter()
        out = []
        for point, h in zip(self.points, self.hashes, strict=True):
            if h in view.seen:
                continue
            out.append(Proposal(point, "explore", "grid", (), {}, "benchmark point", {}))
            if len(out) == n:
                break
        self.timer["policy"] += time.perf_counter() - tic
        return out


class TimedExecutor:
    """An executor that adds up its wall time and its workers' own seconds."""

    def __init__(self, inner: Any, timer: dict[str, float], inside: dict[str, float]) -> None:
        self.inner, self.timer, self.inside = inner, timer, inside

    def map(self, specs: Any) -> Any:
        tic = time.perf_counter()
        results = self.inner.map(specs)
        self.timer["evaluate (wall)"] += time.perf_counter() - tic
        for r in results:
            for key in self.inside:
                self.inside[key] += r.seconds.get(key, 0.0)
        return results

    def close(self) -> None:
        self.inner.close()


def run_ours(
    ctx: Any, points: list[dict[str, Any]], workers: int, batch: int, root: Path
) -> dict[str, Any]:
    """The session loop itself (:class:`SessionLoop`): the strategy database on SQLite,
    the gate in proposal order, the session PBO per batch, the final re-gate."""
    from alphaloop.app import Workspace
    from alphaloop.research.executors import LocalExecutor
    from alphaloop.research.gate import GatePolicy, gate_candidate, session_pbo
    from alphaloop.research.goal import Constraints
    from alphaloop.research.session import SessionConfig, SessionLoop

    timer = dict.fromkeys(["policy", "evaluate (wall)", "gate", "session PBO"], 0.0)
    inside = dict.fromkeys(["signal", "scan", "backtest", "total", "cpu"], 0.0)
    specs = {p_hash: to_spec(p) for p_hash, p in ((to_spec(p).hash, p) for p in points)}
    tic = time.perf_counter()
    inner = LocalExecutor(ctx, workers=workers)
    inner.map(list(specs.values())[: 2 * workers])  # start the workers, load the kernels
    startup = time.perf_counter() - tic
    ws = Workspace(root / "ws")
    constraints = Constraints()
    policy = GatePolicy()

    def gate(result: Any, *, n_trials: int, trial_sr_var: float, pbo: float | None) -> Any:
        g0 = time.perf_counter()
        verdict = gate_candidate(
            result, n_trials=n_trials, trial_sr_var=trial_sr_var, pbo=pbo,
            constraints=constraints, policy=policy,
        )  # fmt: skip
        timer["gate"] += time.perf_counter() - g0
        return verdict

    def pbo(returns: np.ndarray) -> float | None:
        p0 = time.perf_counter()
        value = session_pbo(returns)
        timer["session PBO"] += time.perf_counter() - p0
        return value

    session_id = ws.strategies.create_session(
        "sp500-stocks", "benchmark", constraints.model_dump(mode="json"), {}, []
    )
    loop = SessionLoop(
        ws.strategies,
        session_id,
        policy=ListPolicy(points, timer),
        executor=TimedExecutor(inner, timer, inside),
        protocol=ctx.protocol,
        constraints=constraints,
        config=SessionConfig(budget=len(points), batch_size=batch, workers=workers),
        models=(),
        gate=gate,
        pbo=pbo,
        to_spec=to_spec,
        classify=lambda p: ("pure_technical", p["family"], "top_k"),
    )
    start = time.perf_counter()
    loop.run()
    loop.final_gate()
    wall = time.perf_counter() - start
    inner.close()
    n = ws.strategies.n_trials("sp500-stocks")
    stage = {**timer, "strategy database and the rest": wall - sum(timer.values())}
    summary = ws.strategies.top(limit=1_000_000, session_id=session_id, passed=True)
    db_file = root / "ws" / "alphaloop.db"
    ws.close()
    return {
        "n": n,
        "wall": wall,
        "per_minute": 60.0 * n / wall,
        "startup": startup,
        "stage_ms": {k: 1e3 * v / n for k, v in stage.items()},
        "inside_ms": {k: 1e3 * v / n for k, v in inside.items()},
        "cpu_per_minute": 60.0 * workers / inside["cpu"] * n if inside["cpu"] else float("nan"),
        "passed": len(summary),
        "trials": n,
        "db_mb": db_file.stat().st_size / 2**20,
    }


# ------------------------------------------------------------------ Optuna + vectorbt
def run_optuna(panel: Any, n_trials: int, seed: int) -> dict[str, Any]:
    import optuna
    import pandas as pd
    import vectorbt as vbt

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    close = pd.DataFrame(
        np.asarray(panel["close"]), index=panel.index.tz_convert(None), columns=panel.assets
    )
    rets = close.pct_change(fill_method=None)
    index = close.index

    def signal(family: str, p: dict[str, int]) -> pd.DataFrame:
        if family == "momentum":
            return close.shift(p["skip"]) / close.shift(p["lookback"]) - 1
        if family == "reversal":
            return -(close / close.shift(p["lookback"]) - 1)
        if family == "ma_cross":
            return close.rolling(p["fast"]).mean() / close.rolling(p["slow"]).mean() - 1
        return -rets.rolling(p["window"]).std()

    def rebalance_days(freq: str) -> np.ndarray:
        if freq == "daily":
            return np.ones(len(index), dtype=bool)
        key = index.to_period("W" if freq == "weekly" else "M").asi8
        return np.r_[True, key[1:] != key[:-1]]

    def objective(trial: Any) -> float:
        family = trial.suggest_categorical("family", list(GRID))
        p = {
            name: trial.suggest_categorical(f"{family}_{name}", grid)
            for name, grid in GRID[family].items()
        }
        k = trial.suggest_categorical("k", TOP_K)
        freq = trial.suggest_categorical("rebalance", REBALANCE)
        weighting = trial.suggest_categorical("weighting", WEIGHTING)
        s = signal(family, p)
        if weighting == "inverse_volatility":
            inv = 1.0 / rets.rolling(20).std()
        ranks = s.rank(axis=1, ascending=False, method="first")
        chosen = (ranks <= k) & s.notna()
        raw = chosen.astype(float) * (inv if weighting == "inverse_volatility" else 1.0)
        weights = raw.div(raw.sum(axis=1), axis=0).fillna(0.0)
        weights[~rebalance_days(freq)] = np.nan
        first = int(np.argmax(s.notna().any(axis=1).to_numpy()))
        weights.iloc[:first] = np.nan
        orders = weights.shift(1)  # decided at a close, filled at the next close
        pf = vbt.Portfolio.from_orders(
            close, orders, size_type="targetpercent", group_by=True, cash_sharing=True,
            fees=0.001, init_cash=1_000_000.0, freq="1D",
        )  # fmt: skip
        r = pf.returns().to_numpy()[first + 1 :]
        folds = np.array_split(r, FOLDS)
        return float(np.mean([f.mean() / f.std(ddof=1) * np.sqrt(252) for f in folds]))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=2)  # warm-up: imports and vectorbt's JIT
    tic = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    wall = time.perf_counter() - tic
    return {
        "n": n_trials,
        "wall": wall,
        "per_minute": 60.0 * n_trials / wall,
        "best": study.best_value,
    }


# ------------------------------------------------------------------ Ray
def run_ray(ctx: Any, points: list[dict[str, Any]], workers: int) -> dict[str, Any] | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    from alphaloop.research.executors import RayExecutor

    specs = [to_spec(p) for p in points]
    tic = time.perf_counter()
    ex = RayExecutor(ctx, workers=workers)
    ex.map(specs[: 2 * workers])
    startup = time.perf_counter() - tic
    tic = time.perf_counter()
    results = ex.map(specs)
    wall = time.perf_counter() - tic
    ex.close()
    busy = sum(r.seconds["total"] for r in results)
    return {
        "n": len(specs),
        "startup": startup,
        "wall": wall,
        "overhead_ms": 1e3 * (wall * workers - busy) / len(specs),
        "per_minute": 60.0 * len(specs) / wall,
    }


# ------------------------------------------------------------------ main
def load_data() -> tuple[Any, Any]:
    from alphaloop.app import Workspace

    root = Path(tempfile.mkdtemp(prefix="bench_research_"))
    ws = Workspace(root / "ws")
    ws.data.ensure_bundled()
    return ws.data.load("sp500-stocks"), ws.data.info("sp500-stocks")


def machine() -> dict[str, str]:
    import optuna
    import vectorbt

    import alphaloop

    return {
        "cpu": cpu_name(),
        "cores": str(os.cpu_count()),
        "memory": memory_total(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": f"alphaloop {alphaloop.__version__}, optuna {optuna.__version__}, "
        f"vectorbt {vectorbt.__version__}, numpy {np.__version__}",
    }


def report(
    ours: dict[str, Any], theirs: dict[str, Any], ray: dict[str, Any] | None, args: Any
) -> str:
    rows = [
        "| loop | candidates | wall (s) | candidates / minute | what each candidate gets |",
        "|---|---:|---:|---:|---|",
        f"| alphaloop, {args.workers} workers | {ours['n']:,} | {ours['wall']:.1f} | "
        f"**{ours['per_minute']:,.0f}** | lookahead scan, search-span backtest with costs, "
        f"{FOLDS} folds, regimes, gate (DSR, PBO, ...), stored in SQLite |",
        f"| Optuna TPE + vectorbt, 1 process | {theirs['n']:,} | {theirs['wall']:.1f} | "
        f"{theirs['per_minute']:,.0f} | backtest with fees, {FOLDS} folds; "
        "no scan, gate or store |",
    ]
    stage = ours["stage_ms"]
    split = [
        "| stage (ms per candidate) | time |",
        "|---|---:|",
        *(f"| {k} | {v:.1f} |" for k, v in stage.items()),
        *(f"| inside a worker: {k} | {v:.1f} |" for k, v in ours["inside_ms"].items()),
    ]
    lines = [
        "\n".join(rows),
        "**Where the time goes** (the driver's stages per candidate; a worker's own "
        f"seconds are CPU time on one of {args.workers} workers, so their sum is about "
        f"{args.workers}x the wall time of the evaluation stage):",
        "\n".join(split),
        f"CPU time per candidate in a worker: {ours['inside_ms']['cpu']:.1f} ms, so "
        f"{args.workers} uncontended workers would evaluate about "
        f"{ours['cpu_per_minute']:,.0f} candidates/minute (the machine's load average is in "
        "the run line above: other processes share its cores).",
        f"Worker start-up (spawn, imports, numba cache loads): {ours['startup']:.1f} s, "
        f"not counted. {ours['trials']:,} trials; {ours['passed']} passed the gate (judged "
        f"again at the end with every trial); SQLite file {ours['db_mb']:.1f} MiB.",
    ]
    if ray is not None:
        ok = ray["overhead_ms"] < RAY_GOAL_MS
        lines.append(
            f"**Ray** (2 local actors, {ray['n']} candidates in one batched map): "
            f"{ray['per_minute']:,.0f} candidates/minute, overhead "
            f"**{ray['overhead_ms']:.1f} ms** per candidate "
            f"(goal < {RAY_GOAL_MS:g} ms: {'met' if ok else 'not met'}); "
            f"start-up {ray['startup']:.1f} s."
        )
    met = ours["per_minute"] >= GOAL_PER_MINUTE
    lines.append(
        f"**Goal** {GOAL_PER_MINUTE:,} candidates/minute on {args.workers} workers: "
        f"{'met' if met else '**not met**'} ({ours['per_minute']:,.0f})."
    )
    ratio = ours["per_minute"] / theirs["per_minute"]
    lines.append(
        f"**Goal** {PEER_RATIO_GOAL:g}x the candidates per minute of Optuna + vectorbt: "
        f"{'met' if ratio >= PEER_RATIO_GOAL else '**not met**'} ({ratio:.1f}x, while each "
        "candidate also gets the lookahead scan, the gate and the store the peer loop does "
        "without; the scan is about two thirds of a worker's time)."
    )
    return "\n\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--candidates", type=int, default=None)
    ap.add_argument("--optuna-trials", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from alphaloop.research.evaluate import EvalContext, EvaluationProtocol

    args = parse_args(argv)
    n = args.candidates or (120 if args.quick else 1_000)
    n_optuna = args.optuna_trials or (30 if args.quick else 200)
    load_before = os.getloadavg()[0]
    panel, info = load_data()
    ctx = EvalContext(panel, info, EvaluationProtocol(data_hash=info.content_hash, seed=args.seed))
    pts = space()
    order = np.random.default_rng(args.seed).permutation(len(pts))
    points = [pts[i] for i in order[: min(n, len(pts))]]
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(ctx, points, args.workers, args.batch, Path(tmp))
    theirs = run_optuna(panel, n_optuna, args.seed)
    ray = None if args.skip_ray else run_ray(ctx, points[:200], args.workers)
    info_line = machine() | {"load": f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"}
    body = report(ours, theirs, ray, args)
    print(json.dumps(info_line))
    print(body)
    if args.write_docs:
        head = (
            f"{DOC_START}\n## Research loop: candidates per minute (`bench/bench_research.py`)\n\n"
            f"Run on {dt.date.today()} with `python bench/bench_research.py --write-docs` "
            f"({len(pts):,}-point space, {n:,} candidates, seed {args.seed}).\n\n"
            + "\n".join(f"- {k}: {v}" for k, v in info_line.items())
            + "\n\n"
        )
        write_docs_section(head + body + f"\n{DOC_END}", DOC_START, DOC_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
