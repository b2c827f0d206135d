"""Benchmark: rolling LightGBM over 20 years of the bundled stocks, next to Qlib's rolling workflow.

Workload: the bundled ``sp500-stocks`` (adjusted close of 20 US large caps,
daily, 1990-2022), the 75 close-only Alpha158 features (``alpha158-close``),
the label ``close[t+6] / close[t+1] - 1`` (5 bars, entered one bar after the
decision: ``LabelSpec(horizon=5)``, which is also what Qlib's rolling module
sets: ``Ref($close, -6) / Ref($close, -1) - 1``). Decisions from
``--start`` (2000-01-03) on; features use the history before it. A new model
every 63 decision dates, each trained on the 756 dates before its period
whose labels end before the period's first decision (sliding window), the
last 20% of them (purged) for early stopping; the first segment waits for a
full window, so the stitched out-of-sample predictions run from 2003 to 2022.

Each side runs in a fresh process on two cores (``taskset -c 0,1``; thread
variables = 2, ``OMP_WAIT_POLICY=PASSIVE`` so that idle OpenMP threads do not
spin against the other process of the machine):

- **alphaloop**: load the bundled data through a ``Workspace``,
  ``build_dataset(panel, "alpha158-close", LabelSpec(horizon=5),
  winsorize=None, start=...)``, then ``rolling_train(data, "lightgbm",
  retrain_every=63, window=756, min_train=756, params=..., seed=0)``.
- **Qlib**: ``pyqlib==0.9.7`` in its own venv (``--qlib-python``; created as
  ``bench/.work/qlib-venv`` when missing, as ``bench_factors.py`` does), the
  same close prices written once as a Qlib data directory (untimed),
  ``qlib.init(kernels=2)``, then Qlib's rolling module
  (``qlib.contrib.rolling.base.Rolling`` with a task file written by this
  script): the handler (Alpha158 restricted to its close-only features,
  ``CSZScoreNorm`` + ``Fillna`` on the features, ``DropnaLabel``) is built
  and cached once, ``RollingGen(step=63, rtype=ROLL_SD)`` makes one task per
  segment, ``TrainerR`` trains ``LGBModel`` on each and records its
  predictions, ``RollingEnsemble`` stitches them. The task's segments are
  the alphaloop side's first segment (its training, validation and first
  test dates), which ``RollingGen`` shifts by 63 dates at a time; the report
  checks that every segment's dates agree.

Both sides use the same LightGBM parameters; both processes' ``lightgbm.train``
calls and model ``fit`` calls are timed by wrapping them (the wrappers only
add up seconds). The out-of-sample IC of both stitched series is computed
here, by one function, against the same forward returns; the labels and the
normalized features of both sides are compared cell by cell (untimed).

Usage::

    python bench/bench_rolling.py                       # full run (a few minutes)
    python bench/bench_rolling.py --start 2016-01-01    # quick: 4 years of decisions
    python bench/bench_rolling.py --qlib-python /path/to/venv/bin/python
    python bench/bench_rolling.py --skip-qlib
    python bench/bench_rolling.py --write-docs          # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import write_docs_section  # bench/ is on the path when a script runs

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
QLIB_DIR = WORK / "qlib_sp500_stocks"
QLIB_SCRIPT = Path(__file__).resolve().parent / "_qlib_rolling.py"
DOC_START = "<!-- bench_rolling:start -->"
DOC_END = "<!-- bench_rolling:end -->"
RESULT_TAG = "BENCH-RESULT "
THREADS = 2
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DATASET = "sp500-stocks"
FEATURES = "alpha158-close"
HORIZON = 5
STEP = 63
WINDOW = 756
VALID_FRACTION = 0.2
SEGMENT_DATES = ("train_start", "train_end", "valid_start", "valid_end", "test_start", "test_end")
#: alphaloop ``LightGBMEstimator`` parameters (seed is passed on its own)
PARAMS: dict[str, Any] = {
    "n_estimators": 500,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 100,
    "subsample": 0.8,
    "colsample": 0.8,
    "reg_lambda": 1.0,
    "early_stopping_rounds": 50,
    "n_jobs": THREADS,
}
#: the same parameters in LightGBM's own names, as Qlib's ``LGBModel`` passes them on
LGB_NATIVE: dict[str, Any] = {
    "learning_rate": PARAMS["learning_rate"],
    "num_leaves": PARAMS["num_leaves"],
    "min_data_in_leaf": PARAMS["min_child_samples"],
    "bagging_fraction": PARAMS["subsample"],
    "bagging_freq": 1,
    "feature_fraction": PARAMS["colsample"],
    "lambda_l2": PARAMS["reg_lambda"],
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": THREADS,
}


# --------------------------------------------------------------- both sides
def peak_mib() -> float:
    """The process's peak resident memory in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def since_spawn() -> float:
    """Seconds since the parent started this process."""
    return time.time() - float(os.environ["BENCH_SPAWN_T"])


class Stopwatch:
    """Adds up the seconds spent in the methods it wraps (calls pass through unchanged)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, owner: Any, attribute: str, key: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
                self.calls[key] = self.calls.get(key, 0) + 1

        setattr(owner, attribute, timed)


# -------------------------------------------------------------- alphaloop
def load_stocks(root: Path) -> Any:
    """The bundled stocks through a fresh workspace (no sealed holdout: a benchmark)."""
    from alphaloop.app import Workspace

    ws = Workspace(root, database_url=None, database_schema=None, holdout_fraction=0.0)
    try:
        return ws.data.load(DATASET)
    finally:
        ws.close()


def child_alphaloop(spec: dict[str, Any]) -> dict[str, Any]:
    """Load, build the dataset, train the rolling models; write the stitched predictions."""
    t0 = time.perf_counter()
    import lightgbm

    from alphaloop.models import rolling_train
    from alphaloop.models.boosting import LightGBMEstimator
    from alphaloop.models.dataset import build_dataset
    from alphaloop.models.labels import LabelSpec

    import_s = time.perf_counter() - t0
    watch = Stopwatch()
    watch.wrap(lightgbm, "train", "lgb_train")
    watch.wrap(LightGBMEstimator, "fit", "model_fit")
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        t0 = time.perf_counter()
        panel = load_stocks(Path(tmp) / "ws")
        load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = build_dataset(
        panel,
        FEATURES,
        LabelSpec(horizon=HORIZON),
        winsorize=None,
        start=spec["start"],
        n_jobs=THREADS,
    )
    prep_s = time.perf_counter() - t0
    if spec.get("prep_only"):
        return {"prep_s": prep_s}
    t0 = time.perf_counter()
    result = rolling_train(
        data,
        "lightgbm",
        retrain_every=STEP,
        window=WINDOW,
        min_train=WINDOW,
        params=PARAMS,
        seed=0,
        valid_fraction=VALID_FRACTION,
    )
    rolling_s = time.perf_counter() - t0
    wall_s = since_spawn()
    segments = result.segments
    if spec.get("features_out"):  # untimed: the normalized features, for agreement
        cube = np.full((panel.n_times, panel.n_assets, data.n_features), np.nan, np.float32)
        cube[data.rows, data.cols] = data.X
        np.save(spec["features_out"], cube)
    np.savez(
        spec["out"],
        pred=data.to_panel(result.predictions),
        label=data.to_panel(data.forward_return),
        days=panel.index.strftime("%Y-%m-%d").to_numpy(str),
        assets=np.array(panel.assets),
    )
    dates = {
        k: [f"{pd.Timestamp(v):%Y-%m-%d}" for v in segments[k]]
        for k in SEGMENT_DATES
        if k in segments
    }
    return {
        "wall_s": wall_s,
        "import_s": import_s,
        "load_s": load_s,
        "prep_s": prep_s,
        "rolling_s": rolling_s,
        "fit_s": watch.seconds.get("model_fit", 0.0),
        "lgb_train_s": watch.seconds.get("lgb_train", 0.0),
        "fits": watch.calls.get("model_fit", 0),
        "segments": len(segments),
        "segment_dates": dates,
        "predicted": int(np.isfinite(result.predictions).sum()),
        "features": data.n_features,
        "feature_names": list(data.feature_names),
        "peak_mib": peak_mib(),
        "lightgbm": lightgbm.__version__,
        "first_decision": f"{data.times[0]:%Y-%m-%d}",
    }


# ------------------------------------------------------------ parent side
def write_qlib_dir(panel: Any) -> Path:
    """The stocks' closes as a Qlib data directory (float32 ``close.day.bin``); reused."""
    root = QLIB_DIR
    stamp = root / ".complete"
    if stamp.exists() and stamp.read_text() == panel.content_hash():
        return root
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    (root / "calendars").mkdir(parents=True)
    (root / "instruments").mkdir()
    days = panel.index.strftime("%Y-%m-%d").to_numpy(str)
    (root / "calendars" / "day.txt").write_text("\n".join(days) + "\n")
    close = np.asarray(panel["close"], dtype=np.float64)
    lines = []
    for j, asset in enumerate(panel.assets):
        have = np.flatnonzero(~np.isnan(close[:, j]))
        first, last = int(have[0]), int(have[-1])
        lines.append(f"{asset}\t{days[first]}\t{days[last]}")
        folder = root / "features" / asset.lower()
        folder.mkdir(parents=True)
        record = np.concatenate([[float(first)], close[first : last + 1, j]]).astype("<f4")
        record.tofile(folder / "close.day.bin")
    (root / "instruments" / "all.txt").write_text("\n".join(lines) + "\n")
    stamp.write_text(panel.content_hash())
    return root


def qlib_schedule(dates: dict[str, list[str]], last_day: str, first: str) -> dict[str, Any]:
    """Qlib's template task: the alphaloop side's first segment (RollingGen shifts it on)."""
    return {
        "handler_start": first,
        "handler_end": last_day,
        "train": [dates["train_start"][0], dates["train_end"][0]],
        "valid": [dates["valid_start"][0], dates["valid_end"][0]],
        "test": [dates["test_start"][0], last_day],
    }


def spawn(python: Path | str, script: Path, role: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one child on cores 0-1 with two threads; return its result."""
    env = {**os.environ, "BENCH_SPAWN_T": repr(time.time()), "OMP_WAIT_POLICY": "PASSIVE"}
    env |= dict.fromkeys(THREAD_VARS, str(THREADS))
    cores = ",".join(str(c) for c in range(THREADS))
    cmd = ["taskset", "-c", cores, str(python), str(script), "--child", role]
    if role == "alphaloop":
        cmd += ["--spec", json.dumps(spec)]
    else:  # a file: Qlib records each run's command line
        path = WORK / f"{role}_spec.json"
        path.write_text(json.dumps(spec))
        cmd += ["--spec-file", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    raise RuntimeError(f"{role} child failed with exit code {proc.returncode}")


def daily_ic(pred: np.ndarray, label: np.ndarray, rank: bool = False) -> tuple[float, int]:
    """Mean over dates of the cross-sectional Pearson (or Spearman) IC, and the number of dates.

    A date counts when at least three assets have both a prediction and a label.
    """
    ok = ~np.isnan(pred) & ~np.isnan(label)
    ics = []
    for t in np.flatnonzero(ok.sum(axis=1) >= 3):
        p, r = pred[t, ok[t]], label[t, ok[t]]
        if rank:
            p, r = pd.Series(p).rank().to_numpy(), pd.Series(r).rank().to_numpy()
        if p.std() > 0 and r.std() > 0:
            ics.append(float(np.corrcoef(p, r)[0, 1]))
    return (float(np.mean(ics)) if ics else float("nan")), len(ics)


def compare(al_npz: Path, ql_npz: Path | None) -> dict[str, Any]:
    """OOS IC of each side's stitched predictions, on its own rows and on the common rows."""
    a = np.load(al_npz)
    label = a["label"]
    out: dict[str, Any] = {}
    sides = {"alphaloop": a["pred"]}
    if ql_npz is not None:
        q = np.load(ql_npz)
        if list(q["days"]) != list(a["days"]) or list(q["assets"]) != list(a["assets"]):
            raise RuntimeError("the two sides' grids differ")
        sides["qlib"] = q["pred"]
        both = ~np.isnan(label) & ~np.isnan(q["label"])
        out["label_max_abs_diff"] = float(np.max(np.abs(label[both] - q["label"][both])))
        common = ~np.isnan(a["pred"]) & ~np.isnan(q["pred"])
        out["common_cells"] = int((common & ~np.isnan(label)).sum())
        for name, pred in sides.items():
            masked = np.where(common, pred, np.nan)
            out[f"{name}_ic_common"] = daily_ic(masked, label)[0]
        out["pred_corr"] = float(np.corrcoef(a["pred"][common], q["pred"][common])[0, 1])
    for name, pred in sides.items():
        days = pd.DatetimeIndex(a["days"])
        have = np.flatnonzero((~np.isnan(pred)).any(axis=1))
        out[f"{name}_oos"] = [f"{days[have[0]]:%Y-%m-%d}", f"{days[have[-1]]:%Y-%m-%d}"]
        out[f"{name}_cells"] = int((~np.isnan(pred) & ~np.isnan(label)).sum())
        out[f"{name}_ic"], out[f"{name}_ic_days"] = daily_ic(pred, label)
        out[f"{name}_rank_ic"] = daily_ic(pred, label, rank=True)[0]
    return out


def feature_agreement(al_x: Path, ql_x: Path, names: list[str]) -> dict[str, Any]:
    """How far Qlib's normalized features are from alphaloop's on the cells both have.

    Qlib's ``CSZScoreNorm`` divides by the sample standard deviation, alphaloop
    by the population one, so alphaloop's values are first multiplied by
    ``sqrt((n - 1) / n)`` (``n`` = assets with the feature that date).
    """
    a, q = np.load(al_x), np.load(ql_x)
    a = a[: q.shape[0]]
    both = ~np.isnan(a) & ~np.isnan(q)
    n = (~np.isnan(a)).sum(axis=1, keepdims=True).astype(np.float64)
    scaled = a * np.sqrt(np.maximum(n - 1, 0) / np.maximum(n, 1))
    diff = np.where(both, np.abs(scaled - q), 0.0)
    per_feature = diff.max(axis=(0, 1))
    worst = np.argsort(per_feature)[::-1][:3]
    return {
        "x_cells": int(both.sum()),
        "x_max_abs_diff": float(diff.max()),
        "x_cells_over_1e-3": int((diff > 1e-3).sum()),
        "x_worst": {names[k]: float(per_feature[k]) for k in worst},
    }


def qlib_python(given: str | None) -> Path:
    """The Qlib venv's python: ``--qlib-python``, else the one ``bench_factors.py`` creates."""
    if given:
        return Path(given)
    from bench_factors import ensure_qlib_venv

    return ensure_qlib_venv()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The warm-up, then ``--repeats`` rounds of alphaloop then Qlib; the fastest run counts."""
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        panel = load_stocks(Path(tmp) / "ws")
    script = Path(__file__).resolve()
    last_day = f"{panel.index[-1]:%Y-%m-%d}"
    res: dict[str, Any] = {"load": [os.getloadavg()[0]], "runs": {"alphaloop": [], "qlib": []}}
    print("warming the numba cache (untimed) ...", file=sys.stderr)
    spawn(sys.executable, script, "alphaloop", {"start": args.start, "prep_only": True})
    al_out, ql_out = WORK / "rolling_alphaloop.npz", WORK / "rolling_qlib.npz"
    al_x, ql_x = WORK / "rolling_alphaloop_x.npy", WORK / "rolling_qlib_x.npy"
    python = None if args.skip_qlib else qlib_python(args.qlib_python)
    qdir = None if args.skip_qlib else write_qlib_dir(panel)
    for i in range(args.repeats):
        print(f"alphaloop: rolling_train, run {i + 1} of {args.repeats} ...", file=sys.stderr)
        a = spawn(
            sys.executable,
            script,
            "alphaloop",
            {"start": args.start, "out": str(al_out), "features_out": str(al_x)},
        )
        res["runs"]["alphaloop"].append(a)
        if python is None:
            continue
        print(f"Qlib: rolling workflow, run {i + 1} of {args.repeats} ...", file=sys.stderr)
        spec = {
            "qlib_dir": str(qdir),
            "out": str(ql_out),
            "features_out": str(ql_x),
            "work": str(WORK),
            "schedule": qlib_schedule(a["segment_dates"], last_day, a["first_decision"]),
            "horizon": HORIZON,
            "step": STEP,
            "lgb": LGB_NATIVE,
            "rounds": PARAMS["n_estimators"],
            "early_stopping": PARAMS["early_stopping_rounds"],
            "threads": THREADS,
            "days": list(panel.index.strftime("%Y-%m-%d")),
            "assets": list(panel.assets),
        }
        res["runs"]["qlib"].append(spawn(python, QLIB_SCRIPT, "qlib", spec))
        res["schedule"] = spec["schedule"]
    for side, runs in res["runs"].items():
        if runs:
            res[side] = min(runs, key=lambda r: r["wall_s"])
    if "schedule" not in res:
        a = res["alphaloop"]
        res["schedule"] = qlib_schedule(a["segment_dates"], last_day, a["first_decision"])
    res["compare"] = compare(al_out, None if python is None else ql_out)
    if python is not None:
        res["compare"] |= feature_agreement(al_x, ql_x, res["alphaloop"]["feature_names"])
    res["load"].append(os.getloadavg()[0])
    return res


# ---------------------------------------------------------------- report
def segments_agree(res: dict[str, Any]) -> str:
    """Whether both sides trained the same segments on the same dates."""
    if "qlib" not in res:
        return ""
    a, q = res["alphaloop"]["segment_dates"], res["qlib"]["segment_dates"]
    n_a, n_q = res["alphaloop"]["segments"], res["qlib"]["segments"]
    keys = [k for k in SEGMENT_DATES if k in a and k in q]
    differ = []
    for k in keys:
        bad = [i for i, (x, y) in enumerate(zip(a[k], q[k], strict=False)) if x != y]
        if bad:
            where = "the last segment" if bad == [min(n_a, n_q) - 1] else f"{len(bad)} segments"
            differ.append(f"{k} in {where}")
    head = (
        f"{n_a} segments on both sides" if n_a == n_q else f"alphaloop {n_a}, Qlib {n_q} segments"
    )
    if not differ:
        return f"{head}, on the same dates ({', '.join(keys)})"
    return f"{head}; the same dates ({', '.join(keys)}) except {'; '.join(differ)}"


def table(res: dict[str, Any]) -> str:
    a, c = res["alphaloop"], res["compare"]
    q = res.get("qlib")

    def cell(side: dict[str, Any] | None, key: str, fmt: str = "{:.1f}") -> str:
        if side is None or side.get(key) is None:
            return "–"
        return fmt.format(side[key])

    rows = [
        ("wall time: spawn to stitched predictions (s)", "wall_s", "**{:.1f}**"),
        ("&nbsp; interpreter, imports, `qlib.init` (s)", "import_s", "{:.1f}"),
        ("&nbsp; reading the data (s)", "load_s", "{:.1f}"),
        ("&nbsp; feature/label preparation (s)", "prep_s", "{:.1f}"),
        ("&nbsp; rolling training incl. predictions (s)", "rolling_s", "{:.1f}"),
        ("&nbsp; &nbsp; of which model `fit` calls (s)", "fit_s", "{:.1f}"),
        ("&nbsp; &nbsp; of which `lightgbm.train` (s)", "lgb_train_s", "{:.1f}"),
        ("&nbsp; stitching the segments (s)", "stitch_s", "{:.1f}"),
        ("segments (models trained)", "segments", "{:d}"),
        ("rows predicted", "predicted", "{:,d}"),
        ("peak RSS (MiB)", "peak_mib", "{:,.0f}"),
    ]
    lines = ["| | alphaloop | Qlib 0.9.7 |", "|---|---:|---:|"]
    if len(res["runs"]["alphaloop"]) > 1:
        walls = [
            ", ".join(f"{r['wall_s']:.1f}" for r in res["runs"][s]) or "–"
            for s in ("alphaloop", "qlib")
        ]
        lines.append(
            f"| all runs' wall times (s; the fastest is shown) | {walls[0]} | {walls[1]} |"
        )
    for label, key, fmt in rows:
        lines.append(f"| {label} | {cell(a, key, fmt)} | {cell(q, key, fmt)} |")
    sides = ["alphaloop"] + (["qlib"] if q else [])
    oos = " | ".join(f"{c[f'{s}_oos'][0]} .. {c[f'{s}_oos'][1]}" for s in sides)
    ic = " | ".join(f"{c[f'{s}_ic']:.4f} ({c[f'{s}_ic_days']:,} days)" for s in sides)
    ric = " | ".join(f"{c[f'{s}_rank_ic']:.4f}" for s in sides)
    pad = "" if q else " – |"
    lines.append(f"| out-of-sample decisions | {oos} |{pad}")
    lines.append(f"| OOS mean daily IC (Pearson) | {ic} |{pad}")
    lines.append(f"| OOS mean daily rank IC | {ric} |{pad}")
    if q:
        lines.append(
            f"| OOS IC on the rows both predict ({c['common_cells']:,}) "
            f"| {c['alphaloop_ic_common']:.4f} | {c['qlib_ic_common']:.4f} |"
        )
    return "\n".join(lines)


def summary(res: dict[str, Any]) -> list[str]:
    a, c = res["alphaloop"], res["compare"]
    out = []
    if "qlib" in res:
        q = res["qlib"]
        out.append(
            f"alphaloop {a['wall_s']:.1f} s, Qlib {q['wall_s']:.1f} s from process start to "
            f"stitched predictions ({q['wall_s'] / a['wall_s']:.1f}x); feature preparation "
            f"{a['load_s'] + a['prep_s']:.1f} s vs {q['prep_s']:.1f} s; rolling training "
            f"{a['rolling_s']:.1f} s vs {q['rolling_s'] + q['stitch_s']:.1f} s (with stitching)"
        )
        out.append(
            f"`lightgbm.train` (the same library and parameters on both sides) took "
            f"{a['lgb_train_s']:.1f} s and {q['lgb_train_s']:.1f} s: a gap there measures the "
            "load each process met, not either side; the rest is preparation and per-segment "
            f"overhead: {a['wall_s'] - a['lgb_train_s']:.1f} s vs "
            f"{q['wall_s'] - q['lgb_train_s']:.1f} s"
        )
        out.append(segments_agree(res))
        same = q["feature_names"] == a["feature_names"]
        out.append(
            f"features: the same {len(a['feature_names'])} names in the same order on both sides"
            if same
            else f"**features differ**: alphaloop {len(a['feature_names'])}, "
            f"Qlib {len(q['feature_names'])}"
        )
        out.append(
            f"labels agree to {c['label_max_abs_diff']:.1e} (float32 closes on Qlib's side); "
            f"correlation of the two sides' predictions on common rows: {c['pred_corr']:.3f}"
        )
        worst = ", ".join(f"{k} {v:.1e}" for k, v in c["x_worst"].items())
        out.append(
            f"normalized features on the {c['x_cells']:,} cells both have (alphaloop's rescaled "
            f"to the sample std): max |Δ| {c['x_max_abs_diff']:.1e}, "
            f"{c['x_cells_over_1e-3']:,} cells over 1e-3 (largest: {worst})"
        )
    return out


def machine_line() -> str:
    from bench_factors import machine

    info = machine()
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['memory']} memory, {info['os']}, "
        f"Python {info['python']}; {info['versions']} (commit {info['commit']})"
    )


def section(res: dict[str, Any], args: argparse.Namespace, machine: str) -> str:
    command = " ".join(["python bench/bench_rolling.py", *sys.argv[1:]])
    a, sched = res["alphaloop"], res["schedule"]
    q = res.get("qlib")
    qv = (
        f"; Qlib side: pyqlib {q['version']}, LightGBM {q['lightgbm']}, pandas {q['pandas']}"
        if q
        else ""
    )
    busy = max(res["load"]) > (os.cpu_count() or 1)
    load_note = (
        " The machine was shared with other work during the run (load above its core count):"
        " absolute seconds are inflated and noisy, and the load changed from run to run"
        " (the `lightgbm.train` line below shows how much)."
        if busy
        else ""
    )
    params = ", ".join(f"{k}={v}" for k, v in PARAMS.items())
    bullets = "\n".join(f"- {line}" for line in summary(res) if line)
    return f"""{DOC_START}
## Rolling LightGBM vs Qlib (`bench/bench_rolling.py`)

Run on {dt.date.today().isoformat()} with `{command}`.

**Machine:** {machine}; LightGBM {a["lightgbm"]}{qv}. Load average (1 min)
{res["load"][0]:.2f} before the run, {res["load"][1]:.2f} after.{load_note}

**Workload:** the bundled `{DATASET}` (20 stocks, adjusted close, 1990-2022), the
{a["features"]} close-only Alpha158 features (`{FEATURES}`; Qlib: its Alpha158 handler
restricted to the same {a["features"]} names and expressions), label = 5-bar forward return
entered one bar after the decision (`close[t+6]/close[t+1]-1`, Qlib's
`Ref($close,-6)/Ref($close,-1)-1`). Decisions from {sched["handler_start"]} (features use
the earlier history). A new model every {STEP} decision dates on the {WINDOW} dates before
its period (sliding) whose labels end before its first decision; the last
{VALID_FRACTION:.0%} of them early-stop; the first segment trains on
{sched["train"][0]} .. {sched["train"][1]}, validates on {sched["valid"][0]} ..
{sched["valid"][1]} and tests from {sched["test"][0]}. LightGBM on both sides: {params},
seed 0, deterministic (Qlib: `LGBModel(loss="mse", num_boost_round=
{PARAMS["n_estimators"]}, early_stopping_rounds={PARAMS["early_stopping_rounds"]})` with the same
values under LightGBM's names). Each side is one fresh process on two cores (`taskset -c 0,1`,
thread variables = 2, `OMP_WAIT_POLICY=PASSIVE`); Qlib runs `qlib.init(kernels=2)`.
Writing the Qlib data directory (float32 `.day.bin`) is not timed; alphaloop's numba cache
is warm.

{table(res)}

{bullets}

**What differs.** Qlib normalizes features with `CSZScoreNorm` (per-date z-score,
sample std) then `Fillna(0)`; alphaloop z-scores per date with the population std, missing
-> 0, and drops rows with more than half the features missing (none here after the first
60 bars); neither winsorizes (`winsorize=None` on alphaloop's side; its default clips at
1%/99%). Qlib computes features in float32 from float32 closes, alphaloop in float64 from
the stored closes (features stored as float32). Qlib's `LGBModel` evaluates the training set
as well as the validation set every round and logs every round's metrics to MLflow, and
`TrainerR` records each segment's model, dataset and predictions in MLflow files;
alphaloop keeps the segment models in memory and scores each segment (out-of-sample and
in-sample IC) as it goes. Qlib predicts every row of the test periods, also the last days
without a label (so its last segment ends on the last calendar day, alphaloop's on the last
labelled one); the IC counts labelled rows only. Qlib's rolling module expands the
training window by default; the benchmark passes `RollingGen(rtype=ROLL_SD)` (a subclass
of `Rolling` overriding `get_task_list`) for the same sliding window. MLflow 3 refuses
the file store Qlib uses by default unless `MLFLOW_ALLOW_FILE_STORE=true`, which the Qlib
process sets. The two sides' normalized features agree to float32 precision (above), yet
their predictions are not identical: boosting on labels this close to noise presumably turns
float32-level feature differences into other splits and other early-stopping rounds (not
traced further). The IC is a sanity check on 20 stocks, not a contest.
{DOC_END}"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--start", default="2000-01-01", help="first decision date (2000-01-01)")
    p.add_argument("--qlib-python", help="python of a venv with pyqlib 0.9.7 (and lightgbm)")
    p.add_argument("--skip-qlib", action="store_true", help="alphaloop only")
    p.add_argument("--repeats", type=int, default=1, help="rounds of both sides (1)")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    p.add_argument("--child", choices=["alphaloop"], help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        result = child_alphaloop(json.loads(args.spec))
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0
    res = run(args)
    machine = machine_line()
    print(f"machine: {machine}; load {res['load'][0]:.2f} -> {res['load'][1]:.2f}\n")
    print(table(res))
    print()
    for line in summary(res):
        if line:
            print(line)
    (WORK / "bench_rolling.json").write_text(json.dumps(res, indent=1))
    if args.write_docs:
        write_docs_section(section(res, args, machine), DOC_START, DOC_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
