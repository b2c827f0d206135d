"""Benchmark: the Alpha158 learning dataset plus LightGBM training, next to a pandas route.

Workload (default): the synthetic OHLCV + vwap panel of ``bench_factors.py``
(800 assets x 3,400 business days, seed 7, written once to ``bench/.work/``),
all 158 Alpha158 features, the 5-day forward close-to-close return entered
one bar after the decision (``LabelSpec(horizon=5)``), z-score per timestamp
after 1%/99% winsorizing, missing features -> 0, rows with more than half
the features missing dropped.

Every route runs in a fresh subprocess on two cores (``taskset -c 0,1``;
``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS`` = 2); peak memory is the child's ``ru_maxrss``.

- **train** (the issue's goal): read the panel, ``build_dataset(panel,
  "alpha158", LabelSpec(horizon=5), n_jobs=2)``, train ``LGBMRegressor`` on
  the first ``--train-share`` of the days (purged: the last train label ends
  before the first test day; ``X`` is a view, not a copy), predict the rest.
- **evaluate**: only the factor evaluation, batched and threaded as
  ``build_dataset`` does it, results discarded.
- **assembly**: ``build_dataset`` on factor arrays evaluated beforehand (the
  engine is swapped for a lookup, untimed), so the figure is the dataset
  assembly alone: labels, winsorizing, z-scores, missing values, the matrix.
- **pandas**: the same assembly as a pandas user writes it, on the same
  factor arrays: a long DataFrame indexed by (time, asset),
  ``groupby(time).quantile`` to winsorize, ``groupby(time).transform`` mean
  and std to z-score, the label from ``shift`` on the wide close, ``fillna``,
  the missing-share filter. It needs about 180 MB per feature at full size,
  so by default it runs on the first ``--pandas-features`` features and its
  time is extrapolated linearly to 158 (each feature is processed on its
  own, so the cost is linear in features); alphaloop's assembly runs on the
  same subset in the same child, and the two matrices are compared.

Usage::

    python bench/bench_ml.py                 # full size
    python bench/bench_ml.py --quick         # 100 assets x 600 days, every route
    python bench/bench_ml.py --pandas-features 158   # pandas on every feature (memory!)
    python bench/bench_ml.py --write-docs    # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# bench/ is on the path when a script runs
from _common import write_docs_section  # bench/ is on the path when a script runs
from bench_factors import Workload, _load_panel, machine, make_panel

ROOT = Path(__file__).resolve().parent.parent
DOC_START = "<!-- bench_ml:start -->"
DOC_END = "<!-- bench_ml:end -->"
RESULT_TAG = "BENCH-RESULT "
THREADS = 2
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
GOAL_S, GOAL_GIB = 60.0, 4.0
HORIZON, WINSORIZE, MAX_MISSING = 5, 0.01, 0.5
LGBM = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "max_bin": 63,
    "min_child_samples": 1000,
    "subsample": 0.3,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "force_col_wise": True,
    "n_jobs": THREADS,
    "random_state": 0,
    "verbose": -1,
}


# --------------------------------------------------------------- child side
def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _since_spawn() -> float:
    return time.time() - float(os.environ["BENCH_SPAWN_T"])


def _factor_arrays(panel: Any, names: list[str]) -> dict[str, np.ndarray]:
    """Evaluate features in ``build_dataset``'s batches and threads; float32 (time, asset)."""
    from alphaloop.factors.evaluate import evaluate
    from alphaloop.factors.library.alpha158 import alpha158
    from alphaloop.models.dataset import BATCH_SIZE

    formulas = alpha158()
    batches = [names[i : i + BATCH_SIZE] for i in range(0, len(names), BATCH_SIZE)]
    out: dict[str, np.ndarray] = {}

    def one(batch: list[str]) -> None:
        out.update(evaluate(panel, {n: formulas[n] for n in batch}, dtype=np.float32))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, batches))
    return out


@contextlib.contextmanager
def _precomputed(arrays: dict[str, np.ndarray]) -> Iterator[None]:
    """Make ``build_dataset`` read features from ``arrays`` instead of evaluating them."""
    from alphaloop.models import dataset

    original = dataset.evaluate

    def lookup(view: Any, batch: dict[str, Any], **_: Any) -> dict[str, np.ndarray]:
        return {name: arrays[name][: view.n_times] for name in batch}

    dataset.evaluate = lookup
    try:
        yield
    finally:
        dataset.evaluate = original


def _mean_ic(data: Any, pred: np.ndarray) -> float:
    """Mean over dates of the Pearson correlation of predictions and forward returns."""
    p, r = data.to_panel(pred), data.to_panel(data.forward_return)
    ok = ~np.isnan(p) & ~np.isnan(r)
    n = ok.sum(axis=1)
    p, r = np.where(ok, p, 0.0), np.where(ok, r, 0.0)
    pm, rm = p.sum(axis=1) / np.maximum(n, 1), r.sum(axis=1) / np.maximum(n, 1)
    pc, rc = np.where(ok, p - pm[:, None], 0.0), np.where(ok, r - rm[:, None], 0.0)
    den = np.sqrt((pc**2).sum(axis=1) * (rc**2).sum(axis=1))
    good = (n > 2) & (den > 0)
    return float(np.mean((pc * rc).sum(axis=1)[good] / den[good]))


def child_train(spec: dict[str, Any]) -> dict[str, Any]:
    """Read, build the dataset, train LightGBM on the train part, predict the test part."""
    t0 = time.perf_counter()
    import lightgbm

    from alphaloop.models.dataset import build_dataset
    from alphaloop.models.labels import LabelSpec

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    panel = _load_panel(spec["npz"])
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = build_dataset(
        panel,
        "alpha158",
        LabelSpec(horizon=HORIZON),
        winsorize=WINSORIZE,
        max_missing=MAX_MISSING,
        n_jobs=THREADS,
    )
    build_s = time.perf_counter() - t0
    built_at, build_peak = _since_spawn(), _peak_mib()
    cut = int(panel.n_times * spec["train_share"])
    train = data.time_slice(end=panel.index[cut - 1 - data.label.span])  # labels end before cut
    test = data.time_slice(start=panel.index[cut])
    assert np.shares_memory(train.X, data.X)  # a view: no copy of the training rows
    t0 = time.perf_counter()
    model = lightgbm.LGBMRegressor(**{**LGBM, "n_estimators": spec["rounds"]})
    model.fit(train.X, train.y)
    fit_s = time.perf_counter() - t0
    trained_at = _since_spawn()
    t0 = time.perf_counter()
    pred = model.predict(test.X)
    predict_s = time.perf_counter() - t0
    return {
        "wall_s": trained_at,
        "built_at_s": built_at,
        "import_s": import_s,
        "load_s": load_s,
        "build_s": build_s,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "build_peak_mib": build_peak,
        "peak_mib": _peak_mib(),
        "rows": len(data),
        "train_rows": len(train),
        "test_rows": len(test),
        "features": data.n_features,
        "x_gib": data.X.nbytes / 2**30,
        "test_ic": _mean_ic(test, pred),
        "lightgbm": lightgbm.__version__,
    }


def child_evaluate(spec: dict[str, Any]) -> dict[str, Any]:
    """Only the factor evaluation, as ``build_dataset`` batches and threads it."""
    from alphaloop.factors.library.alpha158 import alpha158

    panel = _load_panel(spec["npz"])
    t0 = time.perf_counter()
    arrays = _factor_arrays(panel, list(alpha158()))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_mib": _peak_mib(), "features": len(arrays)}


def _ours(panel: Any, arrays: dict[str, np.ndarray], names: list[str]) -> tuple[Any, float]:
    from alphaloop.factors.library.alpha158 import alpha158
    from alphaloop.models.dataset import build_dataset
    from alphaloop.models.labels import LabelSpec

    formulas = alpha158()
    t0 = time.perf_counter()
    with _precomputed(arrays):
        data = build_dataset(
            panel,
            {n: formulas[n] for n in names},
            LabelSpec(horizon=HORIZON),
            winsorize=WINSORIZE,
            max_missing=MAX_MISSING,
            n_jobs=THREADS,
        )
    return data, time.perf_counter() - t0


def child_assembly(spec: dict[str, Any]) -> dict[str, Any]:
    """``build_dataset`` on factor arrays evaluated beforehand: the assembly alone."""
    from alphaloop.factors.library.alpha158 import alpha158

    panel = _load_panel(spec["npz"])
    names = list(alpha158())
    arrays = _factor_arrays(panel, names)
    before = _peak_mib()
    data, seconds = _ours(panel, arrays, names)
    return {
        "seconds": seconds,
        "peak_mib": _peak_mib(),
        "before_mib": before,
        "rows": len(data),
        "features": data.n_features,
    }


def pandas_dataset(
    panel: Any, arrays: dict[str, np.ndarray], names: list[str]
) -> tuple[np.ndarray, np.ndarray, pd.MultiIndex]:
    """The dataset as a pandas user builds it: long frame, groupby(time), shift, fillna.

    Same conventions as ``build_dataset``: statistics over each timestamp's
    universe members, 1%/99% quantile clip, population z-score (a constant
    cross-section gives NaN, then 0), label ``close[t+6] / close[t+1] - 1``,
    rows with a label and at most half the features missing.
    """
    t_idx, a_idx = np.nonzero(np.asarray(panel.membership))
    index = pd.MultiIndex.from_arrays(
        [panel.index[t_idx], np.asarray(panel.assets, dtype=object)[a_idx]],
        names=["time", "asset"],
    )
    long = pd.DataFrame({n: arrays[n][t_idx, a_idx] for n in names}, index=index)
    by_time = long.groupby(level="time")
    lower = by_time.quantile(WINSORIZE).reindex(long.index, level="time")
    upper = by_time.quantile(1 - WINSORIZE).reindex(long.index, level="time")
    clipped = long.clip(lower=lower, upper=upper)
    by_time = clipped.groupby(level="time")
    z = (clipped - by_time.transform("mean")) / by_time.transform("std", ddof=0)
    missing_share = long.isna().mean(axis=1)
    close = panel.frame("close")
    forward = (close.shift(-(HORIZON + 1)) / close.shift(-1) - 1).stack()
    forward.index.names = ["time", "asset"]
    y = forward.reindex(long.index)
    keep = y.notna() & (missing_share <= MAX_MISSING)
    x = z[keep].fillna(0.0).to_numpy(dtype=np.float32)
    return x, y[keep].to_numpy(), long.index[keep.to_numpy()]


def child_pandas(spec: dict[str, Any]) -> dict[str, Any]:
    """The pandas route on the first ``features`` features, then alphaloop's on the same."""
    from alphaloop.factors.library.alpha158 import alpha158

    panel = _load_panel(spec["npz"])
    names = list(alpha158())[: spec["features"]]
    arrays = _factor_arrays(panel, names)
    before = _peak_mib()
    t0 = time.perf_counter()
    x_pd, y_pd, index = pandas_dataset(panel, arrays, names)
    seconds = time.perf_counter() - t0
    peak = _peak_mib()
    data, ours_s = _ours(panel, arrays, names)
    same_rows = len(data) == len(index) and bool(
        (data.times == index.get_level_values("time")).all()
        and (np.asarray(data.assets)[data.cols] == index.get_level_values("asset")).all()
    )
    diff = np.abs(data.X.astype(np.float64) - x_pd) if same_rows else np.array([np.inf])
    return {
        "seconds": seconds,
        "peak_mib": peak,
        "before_mib": before,
        "ours_s": ours_s,
        "features": len(names),
        "rows": len(index),
        "same_rows": same_rows,
        "max_abs_diff": float(diff.max()),
        "cells_over_1e-4": int((diff > 1e-4).sum()),
        "y_max_abs_diff": float(np.max(np.abs(data.y - y_pd))) if same_rows else float("inf"),
    }


def child_memory(spec: dict[str, Any]) -> dict[str, Any]:
    """Seconds per GiB to touch fresh memory (page faults; slow on some VMs)."""
    t0 = time.perf_counter()
    block = np.ones(int(spec["gib"] * 2**30) // 8)
    seconds = time.perf_counter() - t0
    del block
    return {"s_per_gib": seconds / spec["gib"]}


CHILDREN = {
    "train": child_train,
    "evaluate": child_evaluate,
    "assembly": child_assembly,
    "pandas": child_pandas,
    "memory": child_memory,
}


# -------------------------------------------------------------- parent side
def spawn(role: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one child on cores 0-1 with two threads; return its result."""
    env = {**os.environ, "BENCH_SPAWN_T": repr(time.time())}
    env |= dict.fromkeys(THREAD_VARS, str(THREADS))
    cores = ",".join(str(c) for c in range(THREADS))
    cmd = ["taskset", "-c", cores, sys.executable, str(Path(__file__).resolve())]
    cmd += ["--child", role, "--spec", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    raise RuntimeError(f"{role} child failed with exit code {proc.returncode}")


def run_all(args: argparse.Namespace, work: Workload) -> dict[str, Any]:
    base = {"npz": str(work.npz)}
    out: dict[str, Any] = {"load": [os.getloadavg()[0]]}
    out["touch"] = spawn("memory", {"gib": 1.0})["s_per_gib"]
    print("warming the numba cache ...", file=sys.stderr)
    spawn("evaluate", base)  # compiles any kernel not yet cached, so no route pays for it
    for i in range(args.repeats):
        print(
            f"train: build_dataset + LightGBM, run {i + 1} of {args.repeats} ...", file=sys.stderr
        )
        out.setdefault("train", []).append(
            spawn("train", {**base, "train_share": args.train_share, "rounds": args.rounds})
        )
    print("evaluate only ...", file=sys.stderr)
    out["evaluate"] = spawn("evaluate", base)
    print("assembly on precomputed factors ...", file=sys.stderr)
    out["assembly"] = spawn("assembly", base)
    if not args.skip_pandas:
        print(f"pandas route on {args.pandas_features} features ...", file=sys.stderr)
        out["pandas"] = spawn("pandas", {**base, "features": args.pandas_features})
    out["load"].append(os.getloadavg()[0])
    return out


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda r: r["wall_s"])


def table(res: dict[str, Any], n_features: int = 158) -> str:
    runs = res["train"]
    t = _best(runs)
    walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs)
    lines = [
        "| route | timed part | seconds | peak RSS (MiB) |",
        "|---|---|---:|---:|",
        f"| **alphaloop: build_dataset + LightGBM** | spawn to trained model "
        f"(runs: {walls}) | **{t['wall_s']:.1f}** | **{t['peak_mib']:,.0f}** |",
        f"| &nbsp; of which | interpreter, imports | {t['import_s']:.1f} | |",
        f"| | reading the panel | {t['load_s']:.1f} | |",
        f"| | `build_dataset` ({t['rows']:,} rows x {t['features']} features, X "
        f"{t['x_gib']:.2f} GiB float32) | {t['build_s']:.1f} | {t['build_peak_mib']:,.0f} |",
        f"| | `LGBMRegressor.fit` ({t['train_rows']:,} rows, {LGBM['n_jobs']} threads) "
        f"| {t['fit_s']:.1f} | |",
        f"| | `predict` ({t['test_rows']:,} rows; not in the total) | {t['predict_s']:.1f} | |",
    ]
    ev, asm = res["evaluate"], res["assembly"]
    grown = asm["peak_mib"] - asm["before_mib"]
    lines.append(
        f"| alphaloop: factor evaluation only | 158 features, batches of 16 on 2 threads "
        f"| {ev['seconds']:.1f} | {ev['peak_mib']:,.0f} |"
    )
    lines.append(
        f"| alphaloop: dataset assembly | `build_dataset` on precomputed arrays, "
        f"{asm['features']} features | {asm['seconds']:.1f} | (+{grown:,.0f}) |"
    )
    if "pandas" in res:
        p = res["pandas"]
        k = p["features"]
        scale = n_features / k
        lines.append(
            f"| alphaloop: dataset assembly | the same, first {k} features | {p['ours_s']:.1f} | |"
        )
        lines.append(
            f"| pandas: dataset assembly | long frame + groupby(time), first {k} features "
            f"| {p['seconds']:.1f} | (+{p['peak_mib'] - p['before_mib']:,.0f}) |"
        )
        if k < n_features:
            lines.append(
                f"| pandas: dataset assembly | extrapolated to {n_features} features (x{scale:.2f})"
                f" | *{p['seconds'] * scale:.0f}* | |"
            )
    return "\n".join(lines)


def summary_lines(res: dict[str, Any]) -> list[str]:
    t = _best(res["train"])
    lines = []
    ok_time = t["wall_s"] <= GOAL_S
    ok_mem = t["peak_mib"] / 1024 <= GOAL_GIB
    lines.append(
        f"{'met' if ok_time else '**not met**'}: dataset build plus LightGBM training in at most "
        f"{GOAL_S:.0f} s on 2 cores — {t['wall_s']:.1f} s from process start to trained model "
        f"(build done at {t['built_at_s']:.1f} s)"
    )
    lines.append(
        f"{'met' if ok_mem else '**not met**'}: peak memory under {GOAL_GIB:.0f} GiB — "
        f"{t['peak_mib'] / 1024:.2f} GiB"
    )
    if "pandas" in res:
        p = res["pandas"]
        k = p["features"]
        agree = (
            f"same {p['rows']:,} rows in the same order; max |ΔX| {p['max_abs_diff']:.1e} "
            f"({p['cells_over_1e-4']} cells over 1e-4), max |Δy| {p['y_max_abs_diff']:.1e}"
            if p["same_rows"]
            else "**the rows differ**"
        )
        lines.append(
            f"assembly on the same {k} factor arrays: pandas {p['seconds']:.1f} s, alphaloop "
            f"{p['ours_s']:.1f} s ({p['seconds'] / p['ours_s']:.1f}x); agreement: {agree}"
        )
    lines.append(f"out-of-sample mean daily IC of the model: {t['test_ic']:.4f} (random-walk data)")
    return lines


def section(res: dict[str, Any], work: Workload, info: dict[str, str], args: Any) -> str:
    command = " ".join(["python bench/bench_ml.py", *sys.argv[1:]])
    t = _best(res["train"])
    params = ", ".join(f"{k}={v}" for k, v in LGBM.items() if k != "n_estimators")
    goals = "\n".join(f"- {line}" for line in summary_lines(res))
    return f"""{DOC_START}
## Learning dataset + LightGBM (`bench/bench_ml.py`)

Run on {dt.date.today().isoformat()} with `{command}`
(assets={work.assets}, days={work.days}, seed={work.seed}).

**Machine:** {info["cpu"]}, {info["cores"]} cores, {info["memory"]} memory, {info["os"]},
Python {info["python"]}; {info["versions"]}, LightGBM {t["lightgbm"]} (commit {info["commit"]}).
Fresh memory costs {res["touch"]:.1f} s per GiB to touch on this VM. Load average (1 min)
{res["load"][0]:.2f} before the run, {res["load"][1]:.2f} after.

**Workload:** the synthetic OHLCV + vwap panel of `bench_factors.py`; all 158 Alpha158
features (`build_dataset(panel, "alpha158", LabelSpec(horizon=5))`: 5-day forward return
from the next close, 1%/99% winsorizing and z-score per timestamp, missing -> 0, rows with
more than half the features missing dropped). Each route is one fresh process on two cores
(`taskset -c 0,1`, thread variables = 2). LightGBM: `LGBMRegressor(n_estimators=
{args.rounds}, {params})` on the first {args.train_share:.0%} of the days (purged), predicting
the rest. Peak RSS is the child's `ru_maxrss`; (+x) is the growth during the timed part.

{table(res)}

{goals}
{DOC_END}"""


def write_docs(text: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md."""
    write_docs_section(text, DOC_START, DOC_END)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assets", type=int, default=800, help="number of assets (800)")
    p.add_argument("--days", type=int, default=3400, help="business days (3,400)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic data (7)")
    p.add_argument("--quick", action="store_true", help="100 assets x 600 days, every route")
    p.add_argument("--rounds", type=int, default=200, help="LightGBM boosting rounds (200)")
    p.add_argument("--train-share", type=float, default=0.7, help="share of days trained on")
    p.add_argument("--repeats", type=int, default=1, help="runs of the train route (1)")
    p.add_argument(
        "--pandas-features",
        type=int,
        default=32,
        help="features the pandas route runs on, extrapolated to 158 (32; 158 needs ~30 GB)",
    )
    p.add_argument("--skip-pandas", action="store_true", help="do not run the pandas route")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    p.add_argument("--child", choices=list(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.assets, args.days, args.pandas_features = 100, 600, 158
    if args.child is None and (args.days < 100 or not 0.2 <= args.train_share <= 0.9):
        p.error("--days must be >= 100 and --train-share in [0.2, 0.9]")
    args.pandas_features = max(1, min(args.pandas_features, 158))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        result = CHILDREN[args.child](json.loads(args.spec))
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0
    work = Workload(args.assets, args.days, args.seed)
    make_panel(work)
    res = run_all(args, work)
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, {info['os']}, "
        f"Python {info['python']}; {info['versions']}; touch {res['touch']:.1f} s/GiB; "
        f"load {res['load'][0]:.2f} -> {res['load'][1]:.2f}"
    )
    print(f"workload: {work.assets} assets x {work.days} days, 158 Alpha158 features\n")
    print(table(res))
    print()
    for line in summary_lines(res):
        print(line)
    (work.npz.parent / f"bench_ml_{work.stem}.json").write_text(json.dumps(res, indent=1))
    if args.write_docs:
        write_docs(section(res, work, info, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
