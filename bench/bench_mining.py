"""Benchmark: factor mining on a planted-alpha panel, alphaloop next to gplearn 0.4.3.

Workload (default): ``planted_panel(n_times=1000, n_assets=60,
alpha="corr_close_volume", strength=0.1, horizon=5, seed=s)`` for seeds 0, 1,
2 (see ``alphaloop.factors.mining.planted``): OHLCV simulated bar by bar so
that ``Corr($close, $volume, 10)`` known at close t drives part of the
return from close t+1 to close t+6, with a mean daily rank IC of about 0.1.
The miners see only the first 750 bars (the *search span*); the last 250
are a holdout neither reads.

Rows of the search span: the fold plan ``mine`` makes (``make_folds(750, 5,
warmup=120, n_folds=5, n_valid=2)``, checked against the run's): after a
120-bar warm-up, training rows are the first three blocks, purged;
validation rows the last two. Label: ``close[t+1+h] / close[t+1] - 1``.

Routes, each run for the same wall-clock budget per seed (``--budget``):

- **alphaloop**: ``mine(search_panel, MiningConfig(horizon=5, budget=10**6,
  time_limit=budget, pool=10, seed=s))`` in this process, after an untimed
  warm-up run that fills numba's cache. Candidates: the pool's members.
- **gplearn**: ``gplearn==0.4.3`` in its own venv (``bench/.work/gplearn-venv``,
  created when missing, with numpy, pandas, scikit-learn and scipy), in a
  child process reading the panel from ``.npy`` files. ``SymbolicRegressor``
  (population 300, tournament 7, otherwise gplearn's defaults, parsimony
  0.001) run one generation at a time (``warm_start``) until the budget is
  spent; ``n_jobs=2`` and ``n_jobs=1``. X rows are the (time, asset) cells in
  time-major order; fitness (``make_fitness``) is the absolute mean daily
  rank IC on the training rows (a row where the program is constant counts
  as 0); function set (``make_function``, each reshaping a flat column to
  (time, asset)): gplearn's add, sub, mul, div,
  neg, abs, log, max, min; sign; cs_rank (percentile), cs_zscore; ts_mean,
  ts_std, ts_max, ts_min at 5, 10, 20 bars; ts_delay and ts_delta at 1 and 5;
  ts_rank at 10 and 20; ts_corr at 5, 10, 20 (two arguments). Windows include
  the current bar; the first window-1 bars, where a window is not full, are 0
  (gplearn requires finite values everywhere). Candidates: the 10 distinct
  programs of highest penalised fitness over all generations.

Measures: (1) candidate expressions scored per second: alphaloop's distinct
expressions scored (``result.n_scored``) per wall second of ``mine``;
gplearn's programs evaluated (every program of every generation, it does not
deduplicate) and distinct programs per wall second of its generations.
(2) planted-alpha recovery: a run recovers the alpha when one of its
candidates, sign-adjusted by its training IC, has a mean daily rank IC on
the validation rows >= 0.9 x the planted factor's. Both routes' ICs are
computed here by the same function from the candidates' values; a row where a
candidate has no IC (constant across assets, or fewer than 5 values) counts
as 0. The holdout IC of the candidate with the best validation IC is shown
next to the planted factor's (alphaloop's pool admits members on validation IC, so its
validation figures are selected on those rows; the holdout is not).

Usage::

    python bench/bench_mining.py                    # 3 seeds, 40 s per run (~8 min)
    python bench/bench_mining.py --quick            # 1 seed, 15 s per run
    python bench/bench_mining.py --skip-alphaloop   # gplearn only
    python bench/bench_mining.py --write-docs       # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
GPLEARN_VENV = WORK / "gplearn-venv"
GPLEARN_REQUIREMENTS = ("gplearn==0.4.3", "numpy", "pandas", "scikit-learn", "scipy")
FIELDS = ("open", "high", "low", "close", "volume")
DOC_START = "<!-- bench_mining:start -->"
DOC_END = "<!-- bench_mining:end -->"
RESULT_TAG = "BENCH-RESULT "
RECOVERY_SHARE = 0.9
N_CANDIDATES = 10
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ------------------------------------------------------- gplearn child side
# Runs in the gplearn venv: numpy, pandas, scipy, scikit-learn and gplearn only.
def _rolling(n_assets: int, window: int, reduce: Any) -> Any:
    """A one-argument time-series function of a flat time-major column."""

    def function(x: np.ndarray) -> np.ndarray:
        if x.size % n_assets or x.size < n_assets * window:
            return np.zeros_like(x)  # gplearn's closure checks call with 10 values
        x2 = x.reshape(-1, n_assets)
        out = np.zeros_like(x2)
        windows = np.lib.stride_tricks.sliding_window_view(x2, window, axis=0)
        with np.errstate(all="ignore"):
            out[window - 1 :] = reduce(windows)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).ravel()

    return function


def _lagged(n_assets: int, lag: int, delta: bool) -> Any:
    def function(x: np.ndarray) -> np.ndarray:
        if x.size % n_assets or x.size <= n_assets * lag:
            return np.zeros_like(x)
        x2 = x.reshape(-1, n_assets)
        out = np.zeros_like(x2)
        out[lag:] = x2[lag:] - x2[:-lag] if delta else x2[:-lag]
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).ravel()

    return function


def _window_sums(x2: np.ndarray, window: int) -> np.ndarray:
    """Sums over the ``window`` bars ending at each bar from the window-th on (cumsum)."""
    c = np.cumsum(x2, axis=0)
    out = c[window - 1 :].copy()
    out[1:] -= c[:-window]
    return out


def _moments(n_assets: int, window: int, kind: str) -> Any:
    """ts_mean, ts_std (ddof=1) or ts_corr through cumulative sums of demeaned columns."""

    def both(x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if x.size % n_assets or x.size < n_assets * window:
            return np.zeros_like(x)
        out = np.zeros((x.size // n_assets, n_assets))
        with np.errstate(all="ignore"):
            a = x.reshape(-1, n_assets)
            if kind == "mean":
                out[window - 1 :] = _window_sums(a, window) / window
            else:
                a = a - a.mean(axis=0)
                sa, saa = _window_sums(a, window), _window_sums(a * a, window)
                var_a = np.maximum(saa - sa * sa / window, 0.0)
                if kind == "std":
                    out[window - 1 :] = np.sqrt(var_a / (window - 1))
                else:
                    b = y.reshape(-1, n_assets)  # type: ignore[union-attr]
                    b = b - b.mean(axis=0)
                    sb, sbb = _window_sums(b, window), _window_sums(b * b, window)
                    var_b = np.maximum(sbb - sb * sb / window, 0.0)
                    cov = _window_sums(a * b, window) - sa * sb / window
                    ok = (var_a > 1e-10 * saa) & (var_b > 1e-10 * sbb)  # else constant
                    out[window - 1 :] = np.where(ok, cov / np.sqrt(var_a * var_b), 0.0)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).ravel()

    def pair(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return both(x, y)

    def single(x: np.ndarray) -> np.ndarray:
        return both(x, None)

    return pair if kind == "corr" else single  # gplearn reads the arity from the signature


def _cross_section(n_assets: int, zscore: bool) -> Any:
    from scipy.stats import rankdata

    def function(x: np.ndarray) -> np.ndarray:
        if x.size % n_assets:
            return np.zeros_like(x)
        x2 = x.reshape(-1, n_assets)
        if zscore:
            with np.errstate(all="ignore"):
                sd = x2.std(axis=1, keepdims=True)
                out = np.where(sd > 0, (x2 - x2.mean(axis=1, keepdims=True)) / sd, 0.0)
        else:
            out = rankdata(x2, axis=1) / n_assets
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).ravel()

    return function


def _ts_rank(windows: np.ndarray) -> np.ndarray:
    """Percentile rank of the newest value in its window, in (0, 1]."""
    return (windows <= windows[..., -1:]).sum(axis=-1) / windows.shape[-1]


def gplearn_function_set(n_assets: int) -> list[Any]:
    """gplearn's element-wise functions and our time-series and cross-sectional ones."""
    from gplearn.functions import make_function

    def sign(x: np.ndarray) -> np.ndarray:
        return np.sign(x)

    custom: list[tuple[str, Any, int]] = [("sign", sign, 1)]
    custom.append(("cs_rank", _cross_section(n_assets, zscore=False), 1))
    custom.append(("cs_zscore", _cross_section(n_assets, zscore=True), 1))
    reducers = {"ts_max": lambda w: w.max(axis=-1), "ts_min": lambda w: w.min(axis=-1)}
    for window in (5, 10, 20):
        custom.append((f"ts_mean_{window}", _moments(n_assets, window, "mean"), 1))
        custom.append((f"ts_std_{window}", _moments(n_assets, window, "std"), 1))
        for name, reduce in reducers.items():
            custom.append((f"{name}_{window}", _rolling(n_assets, window, reduce), 1))
    for lag in (1, 5):
        custom.append((f"ts_delay_{lag}", _lagged(n_assets, lag, delta=False), 1))
        custom.append((f"ts_delta_{lag}", _lagged(n_assets, lag, delta=True), 1))
    for window in (10, 20):
        custom.append((f"ts_rank_{window}", _rolling(n_assets, window, _ts_rank), 1))
    for window in (5, 10, 20):
        custom.append((f"ts_corr_{window}", _moments(n_assets, window, "corr"), 2))
    made = [make_function(function=f, name=n, arity=a) for n, f, a in custom]
    return ["add", "sub", "mul", "div", "neg", "abs", "log", "max", "min", *made]


def _ic_fitness(label: np.ndarray, train_rows: np.ndarray) -> Any:
    """|mean daily rank IC| of a flat prediction on the training rows (``w`` is unused)."""
    from gplearn.fitness import make_fitness
    from scipy.stats import rankdata

    n_times, n_assets = label.shape
    lab = rankdata(label[train_rows], axis=1)
    lab -= lab.mean(axis=1, keepdims=True)
    lab_sd = np.sqrt((lab * lab).sum(axis=1))

    def metric(y: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> float:
        if y_pred.size != n_times * n_assets:
            return 0.0  # gplearn's own check calls with 2 values
        pred = y_pred.reshape(n_times, n_assets)[train_rows]
        if not np.all(np.isfinite(pred)):
            return 0.0
        r = rankdata(pred, axis=1)
        r -= r.mean(axis=1, keepdims=True)
        sd = np.sqrt((r * r).sum(axis=1))
        ok = sd > 0  # a row where the program is constant counts as an IC of 0
        ic = (r[ok] * lab[ok]).sum(axis=1) / (sd[ok] * lab_sd[ok])
        return float(abs(ic.sum() / len(train_rows)))

    return make_fitness(function=metric, greater_is_better=True)


def child_gplearn(spec: dict[str, Any]) -> dict[str, Any]:
    """Evolve until the budget is spent; save the best programs' values on every row."""
    import gplearn
    from gplearn.genetic import SymbolicRegressor

    folder = Path(spec["folder"])
    x_all = np.load(folder / "x_all.npy")  # (T_all * N, fields), time-major
    label = np.load(folder / "label_search.npy")  # (T_search, N)
    train_rows = np.load(folder / "train_rows.npy")
    n_search, n_assets = label.shape
    x_search = x_all[: n_search * n_assets]
    est = SymbolicRegressor(
        population_size=spec["population"],
        generations=1,
        tournament_size=spec["tournament"],
        function_set=gplearn_function_set(n_assets),
        metric=_ic_fitness(label, train_rows),
        parsimony_coefficient=0.001,
        feature_names=list(FIELDS),
        n_jobs=spec["n_jobs"],
        random_state=spec["seed"],
        warm_start=True,
    )
    y = np.zeros(x_search.shape[0])  # the fitness reads the label from its closure
    # gplearn prunes earlier generations down to the parents of the next, so every
    # generation's programs are read right after it is made (outside the timed fits)
    by_text: dict[str, Any] = {}
    elapsed = 0.0
    generations = 0
    while elapsed < spec["budget"]:
        generations += 1
        est.set_params(generations=generations)
        t0 = time.perf_counter()
        est.fit(x_search, y)
        elapsed += time.perf_counter() - t0
        for p in est._programs[-1]:
            text = str(p)
            if text not in by_text or p.fitness_ > by_text[text].fitness_:
                by_text[text] = p
    best = sorted(by_text.values(), key=lambda p: p.fitness_, reverse=True)[:N_CANDIDATES]
    values = np.stack([p.execute(x_all).reshape(-1, n_assets) for p in best])
    np.save(folder / f"pred_{spec['tag']}.npy", values.astype(np.float32))
    return {
        "version": gplearn.__version__,
        "elapsed": elapsed,
        "generations": generations,
        "n_evaluated": generations * spec["population"],
        "n_distinct": len(by_text),
        "expressions": [str(p) for p in best],
        "train_fitness": [float(p.raw_fitness_) for p in best],
    }


def child_main(spec_json: str) -> int:
    result = child_gplearn(json.loads(spec_json))
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


# -------------------------------------------------------------- parent side
def ensure_gplearn_venv() -> Path:
    """The gplearn venv's python, creating the venv (python3.11 -m venv + pip) when missing."""
    python = GPLEARN_VENV / "bin" / "python"
    probe = "import gplearn, sklearn, scipy, pandas"
    if python.exists() and subprocess.run([python, "-c", probe], check=False).returncode == 0:
        return python
    print(f"creating {GPLEARN_VENV.relative_to(ROOT)} ...", file=sys.stderr)
    shutil.rmtree(GPLEARN_VENV, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    base = shutil.which("python3.11") or sys.executable
    subprocess.run([base, "-m", "venv", str(GPLEARN_VENV)], check=True)
    with (WORK / "gplearn-venv-install.log").open("w") as fh:
        cmd = [python, "-m", "pip", "install", *GPLEARN_REQUIREMENTS]
        subprocess.run(cmd, stdout=fh, stderr=fh, check=True)
    return python


def gplearn_versions(python: Path) -> str:
    code = (
        "import gplearn, sklearn, numpy, pandas, scipy; print(f'gplearn {gplearn.__version__}, "
        "scikit-learn {sklearn.__version__}, numpy {numpy.__version__}, pandas "
        "{pandas.__version__}, scipy {scipy.__version__}')"
    )
    return subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def fold_plan(n_search: int, horizon: int) -> Any:
    """The fold plan ``mine`` makes with the default grammar (checked against its result)."""
    from alphaloop.factors.mining.folds import make_folds
    from alphaloop.factors.mining.grammar import Grammar

    warmup = min(2 * max(Grammar(fields=FIELDS).windows), n_search // 5)
    return make_folds(n_search, horizon, warmup=warmup, n_folds=5, n_valid=2)


def write_workload(pp: Any, n_search: int, train: np.ndarray, folder: Path) -> None:
    from alphaloop.factors.mining.folds import next_bar_label

    folder.mkdir(parents=True, exist_ok=True)
    panel = pp.panel
    x_all = np.stack([panel[f].ravel() for f in FIELDS], axis=1)  # time-major cells
    label = next_bar_label(panel["close"][:n_search], pp.horizon)
    np.save(folder / "x_all.npy", x_all)
    np.save(folder / "label_search.npy", label)
    np.save(folder / "train_rows.npy", train)


def run_gplearn(python: Path, spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    cmd = [str(python), str(Path(__file__).resolve()), "--child-spec", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG) :])
            result["values"] = np.load(Path(spec["folder"]) / f"pred_{spec['tag']}.npy")
            return result
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    raise RuntimeError(f"gplearn child failed with exit code {proc.returncode}")


def run_alphaloop(search: Any, full: Any, horizon: int, seed: int, budget_s: float) -> dict:
    """``mine`` on the search span; the pool members' values on every row of ``full``."""
    from alphaloop.factors.evaluate import evaluate
    from alphaloop.factors.mining import MiningConfig, mine

    config = MiningConfig(horizon=horizon, budget=10**6, time_limit=budget_s, pool=10, seed=seed)
    t0 = time.perf_counter()
    result = mine(search, config)
    wall = time.perf_counter() - t0
    expressions = [m.expression for m in result.members]
    values = evaluate(full, {str(i): e for i, e in enumerate(expressions)})
    return {
        "elapsed": wall,
        "reported_elapsed": float(result.elapsed),
        "n_evaluated": int(result.n_scored),
        "n_distinct": int(result.n_scored),
        "expressions": expressions,
        "plan": result.plan,
        "own_valid": [float(m.valid_ic) for m in result.members],
        "values": np.stack(list(values.values())) if values else np.empty((0, *full.shape)),
    }


def score_candidates(
    values: np.ndarray, label: np.ndarray, rows: dict[str, np.ndarray]
) -> list[dict[str, float]]:
    """Per candidate: mean daily rank IC on each row set, sign-adjusted by the training IC.

    A row where the candidate has no IC (constant across assets, or fewer
    than 5 assets with values) counts as 0: a factor defined on a few days
    only must not score as if those days were all there is.
    """
    from alphaloop.factors.mining.planted import daily_rank_ic

    out = []
    for v in values:
        raw = daily_rank_ic(v, label)
        daily = np.nan_to_num(raw, nan=0.0)
        ics = {k: float(daily[r].mean()) for k, r in rows.items()}
        sign = -1.0 if ics["train"] < 0 else 1.0
        scores = {k: sign * x for k, x in ics.items()}
        scores["defined"] = float(np.isfinite(raw[rows["valid"]]).mean())
        out.append(scores)
    return out


def warm_up(horizon: int) -> float:
    """An untimed short ``mine`` on a small panel, so numba's kernels are compiled and cached."""
    from alphaloop.factors.mining import MiningConfig, mine
    from alphaloop.factors.mining.planted import planted_panel

    t0 = time.perf_counter()
    pp = planted_panel(n_times=300, n_assets=20, horizon=horizon, seed=99)
    mine(pp.panel, MiningConfig(horizon=horizon, budget=200, time_limit=30.0, pool=3, seed=0))
    return time.perf_counter() - t0


def run_seed(args: argparse.Namespace, seed: int, python: Path | None) -> dict[str, Any]:
    """Every route on one seed's panel; candidates scored against the planted factor."""
    from alphaloop.factors.evaluate import evaluate
    from alphaloop.factors.mining.folds import next_bar_label
    from alphaloop.factors.mining.planted import planted_panel

    n_all = args.times + args.holdout
    pp = planted_panel(
        n_times=n_all,
        n_assets=args.assets,
        alpha=args.alpha,
        strength=args.strength,
        horizon=args.horizon,
        seed=seed,
    )
    search = pp.panel.iloc(slice(0, args.times))
    plan = fold_plan(args.times, args.horizon)
    train = plan.train_rows()
    rows = {
        "train": train,
        "valid": plan.valid_rows(),
        "holdout": np.arange(args.times, n_all - args.horizon - 1),
    }
    label = next_bar_label(pp.panel["close"], args.horizon)
    planted = evaluate(pp.panel, {"planted": pp.expression})["planted"]
    out: dict[str, Any] = {"seed": seed, "planted": score_candidates(planted[None], label, rows)[0]}
    folder = WORK / f"mining_{args.alpha}_{n_all}x{args.assets}_seed{seed}"
    routes: dict[str, dict[str, Any]] = {}
    if not args.skip_alphaloop:
        print(f"seed {seed}: alphaloop ...", file=sys.stderr)
        routes["alphaloop"] = run_alphaloop(search, pp.panel, args.horizon, seed, args.budget)
        if routes["alphaloop"].pop("plan").train != plan.train:
            raise RuntimeError("mine used other folds than fold_plan(): update the benchmark")
    if python is not None:
        write_workload(pp, args.times, train, folder)
        for n_jobs in args.gplearn_jobs:
            print(f"seed {seed}: gplearn n_jobs={n_jobs} ...", file=sys.stderr)
            spec = {
                "folder": str(folder),
                "tag": f"jobs{n_jobs}",
                "seed": seed,
                "n_jobs": n_jobs,
                "budget": args.budget,
                "population": args.population,
                "tournament": args.tournament,
            }
            routes[f"gplearn n_jobs={n_jobs}"] = run_gplearn(python, spec)
    threshold = RECOVERY_SHARE * out["planted"]["valid"]
    for route in routes.values():
        scores = score_candidates(route.pop("values"), label, rows)
        route["scores"] = scores
        route["recovered"] = any(s["valid"] >= threshold for s in scores)
        best = max(range(len(scores)), key=lambda i: scores[i]["valid"], default=None)
        if best is not None:
            route["best"] = {**scores[best], "text": route["expressions"][best]}
            if "own_valid" in route:
                route["best"]["own_valid"] = route["own_valid"][best]
        else:
            route["best"] = None
    out["routes"] = routes
    return out


def machine() -> dict[str, str]:
    import numba
    import pandas as pd
    import scipy

    import alphaloop

    return {
        "cpu": cpu_name(),
        "cores": f"{os.cpu_count()} cores (`nproc`)",
        "memory": memory_total(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": (
            f"alphaloop {alphaloop.__version__}, numpy {np.__version__}, pandas {pd.__version__}, "
            f"numba {numba.__version__}, scipy {scipy.__version__}"
        ),
    }


def throughput_rows(seeds: list[dict[str, Any]]) -> list[str]:
    names = list(seeds[0]["routes"])
    lines = [
        "| route | runs | wall s per run | scored per run | distinct per run | "
        "**scored / s** | distinct / s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        runs = [s["routes"][name] for s in seeds]
        wall = sum(r["elapsed"] for r in runs)
        scored = sum(r["n_evaluated"] for r in runs)
        distinct = sum(r["n_distinct"] for r in runs)
        extra = (
            f" ({statistics.median(r['generations'] for r in runs):.0f} generations)"
            if "generations" in runs[0]
            else ""
        )
        lines.append(
            f"| {name}{extra} | {len(runs)} | {wall / len(runs):.1f} | "
            f"{scored / len(runs):,.0f} | {distinct / len(runs):,.0f} | **{scored / wall:,.1f}** | "
            f"{distinct / wall:,.1f} |"
        )
    return lines


def recovery_rows(seeds: list[dict[str, Any]]) -> list[str]:
    names = list(seeds[0]["routes"])
    head = "| seed | planted IC valid / holdout | " + " | ".join(names) + " |"
    lines = [head, "|---:|---:|" + "---|" * len(names)]
    for s in seeds:
        cells = []
        for name in names:
            route = s["routes"][name]
            best = route["best"]
            mark = "**yes**" if route["recovered"] else "no"
            cells.append(
                f"{mark}; best valid {best['valid']:.3f}, holdout {best['holdout']:.3f}"
                if best
                else f"{mark}; no candidate"
            )
        p = s["planted"]
        lines.append(
            f"| {s['seed']} | {p['valid']:.3f} / {p['holdout']:.3f} | " + " | ".join(cells) + " |"
        )
    totals = [sum(s["routes"][n]["recovered"] for s in seeds) for n in names]
    lines.append(
        "| **recovered** | | " + " | ".join(f"**{t} of {len(seeds)}**" for t in totals) + " |"
    )
    return lines


def best_expressions(seeds: list[dict[str, Any]]) -> list[str]:
    out = []
    for s in seeds:
        for name, route in s["routes"].items():
            best = route["best"]
            if best is None:
                continue
            own = (
                f"; the miner's own valid IC {best['own_valid']:.3f}" if "own_valid" in best else ""
            )
            out.append(
                f"- seed {s['seed']}, {name}: `{best['text']}` (train {best['train']:.3f}, "
                f"valid {best['valid']:.3f}, an IC on {best['defined']:.0%} of the validation "
                f"rows{own})"
            )
    return out


def section(
    args: argparse.Namespace, seeds: list[dict[str, Any]], info: dict[str, str], extra: dict
) -> str:
    command = " ".join(["python bench/bench_mining.py", *sys.argv[1:]])
    expression = {
        "corr_close_volume": "Corr($close, $volume, 10)",
        "volatility_rank": "CsRank(Std($close / Ref($close, 1) - 1, 20))",
    }[args.alpha]
    lines = [
        f"Run on {dt.date.today().isoformat()} with `{command}` (seeds "
        f"{', '.join(str(s['seed']) for s in seeds)}, {args.budget:g} s per run).",
        "",
        f"**Machine:** {info['cpu']}, {info['cores']}, {info['memory']} memory, {info['os']}, "
        f"Python {info['python']}; {info['versions']}; {extra['gplearn']} in its own venv "
        f"(`bench/.work/gplearn-venv`). Load average (1 min): {extra['load'][0]:.2f} before, "
        f"{extra['load'][1]:.2f} after (other work on the machine slows every route).",
        "",
        f"**Workload:** `planted_panel(n_times={args.times + args.holdout}, "
        f'n_assets={args.assets}, alpha="{args.alpha}", strength={args.strength:g}, '
        f"horizon={args.horizon})`: `{expression}` known at close t drives part of the return "
        f"from close t+1 to close t+1+{args.horizon}. The miners read the first {args.times} bars "
        f"(the fold plan `mine` makes: after a {extra['warmup']}-bar warm-up, training rows the "
        f"first 3 of 5 blocks, purged, {extra['n_train']} rows; validation rows the last 2, "
        f"{extra['n_valid']} rows); the last "
        f"{args.holdout} bars are a holdout neither reads. Each route gets {args.budget:g} s of "
        "wall clock per seed. alphaloop: `mine(search_panel, MiningConfig(horizon="
        f"{args.horizon}, budget=10**6, time_limit={args.budget:g}, pool=10, seed=s))` in one "
        f"process, numba cache warm (an untimed warm-up run took {extra['warm_up']:.1f} s). "
        f"gplearn: `SymbolicRegressor(population_size={args.population}, "
        f"tournament_size={args.tournament}, parsimony_coefficient=0.001)`, one generation at a "
        "time until the budget is spent, fitness |mean daily rank IC| on the training rows, "
        "element-wise functions plus sign, cs_rank, cs_zscore, ts_mean/std/max/min at 5, 10, 20, "
        "ts_delay/ts_delta at 1 and 5, ts_rank at 10 and 20, ts_corr at 5, 10, 20 "
        "(see the script's docstring).",
        "",
        "**Candidates scored per second** (alphaloop: distinct expressions scored, it "
        "deduplicates by canonical hash; gplearn: every program of every generation, and the "
        "distinct ones):",
        "",
        *throughput_rows(seeds),
        "",
        f"**Planted-alpha recovery**: a run recovers the alpha when one of its candidates "
        f"(alphaloop: the pool's members; gplearn: its {N_CANDIDATES} distinct programs of "
        f"highest fitness) has a mean daily rank IC on the validation rows >= "
        f"{RECOVERY_SHARE:g} x the planted factor's (sign-adjusted by its training IC; every "
        "IC computed here by one function, a row where a candidate has no IC, constant across "
        "assets or fewer than 5 values, counting as 0). *best*: the candidate with the highest "
        "validation IC, with its IC on the holdout. alphaloop's pool admits members on "
        "validation IC, so its "
        "validation figures are selected on those rows; the holdout is not.",
        "",
        *recovery_rows(seeds),
        "",
        "Best candidates (a rank IC exists on a row when the candidate has at least 5 values "
        "and is not constant across assets there):",
        "",
        *best_expressions(seeds),
    ]
    body = "\n".join(lines)
    return (
        f"{DOC_START}\n## Factor mining: planted-alpha recovery next to gplearn "
        f"(`bench/bench_mining.py`)\n\n{body}\n{DOC_END}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--alpha", default="corr_close_volume", choices=("corr_close_volume", "volatility_rank")
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budget", type=float, default=40.0, help="wall seconds per run")
    p.add_argument("--times", type=int, default=750, help="bars of the search span")
    p.add_argument("--holdout", type=int, default=250, help="bars after the search span")
    p.add_argument("--assets", type=int, default=60)
    p.add_argument("--horizon", type=int, default=5)
    p.add_argument("--strength", type=float, default=0.1)
    p.add_argument("--population", type=int, default=300, help="gplearn population")
    p.add_argument("--tournament", type=int, default=7, help="gplearn tournament size")
    p.add_argument("--gplearn-jobs", type=int, nargs="+", default=[2, 1])
    p.add_argument("--skip-gplearn", action="store_true")
    p.add_argument("--skip-alphaloop", action="store_true")
    p.add_argument("--quick", action="store_true", help="seed 0 only, 15 s per run")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    p.add_argument("--child-spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.budget = [0], 15.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_spec:
        return child_main(args.child_spec)
    python = None if args.skip_gplearn else ensure_gplearn_venv()
    load_before = os.getloadavg()[0]
    warm = 0.0 if args.skip_alphaloop else warm_up(args.horizon)
    seeds = [run_seed(args, seed, python) for seed in args.seeds]
    plan = fold_plan(args.times, args.horizon)
    extra = {
        "warmup": plan.train[0][0],
        "n_train": len(plan.train_rows()),
        "n_valid": len(plan.valid_rows()),
        "gplearn": gplearn_versions(python) if python else "gplearn not run",
        "load": (load_before, os.getloadavg()[0]),
        "warm_up": warm,
    }
    text = section(args, seeds, machine(), extra)
    print(text)
    if args.write_docs:
        write_docs_section(text, DOC_START, DOC_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
