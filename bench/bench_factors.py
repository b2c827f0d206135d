"""Benchmark: all 158 Alpha158 features, alphaloop next to Qlib 0.9.7 and pandas.

Workload (default): a synthetic OHLCV + vwap panel of 800 assets x 3,400
business days (seeded geometric random walks in cents, high >= max(open,
close), low <= min(open, close), vwap inside [low, high], positive integer
volumes), written once to ``bench/.work/`` and reused.

Every measurement runs in a fresh subprocess pinned to one core
(``taskset -c 0``, ``NUMBA_NUM_THREADS=OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=
MKL_NUM_THREADS=1``), so "cold" includes interpreter start-up, imports and
reading the data; no result cache is used anywhere.

- **alphaloop**: ``evaluate(panel, alpha158(), mode=..., dtype=np.float32)`` in
  ``strict`` (default) and ``qlib`` mode. *Cold* runs start with an empty
  ``NUMBA_CACHE_DIR``, so every kernel is compiled; *warm* runs reuse the
  cache those runs filled (the median of ``--repeats``). A further warm run
  times each operator (wrapping the evaluator's per-node step) and each
  feature family evaluated on its own.
- **Qlib**: ``pyqlib==0.9.7`` in its own venv (``bench/.work/qlib-venv``,
  created when missing), the same panel written as a Qlib data directory
  (float32 ``.day.bin`` files), ``qlib.init(kernels=1, expression_cache=None,
  dataset_cache=None)`` and ``D.features`` on ``Alpha158DL``'s default feature
  config.
- **pandas**: a hand-written evaluator of the 158 formulas on wide
  (time x asset) DataFrames with ``DataFrame.rolling`` (``IdxMax``/``IdxMin``
  through ``rolling.apply(engine="numba")``, the trend regressions through
  rolling covariance with the bar number), strict semantics.

Agreement: alphaloop's qlib mode is compared with Qlib on every feature and
cell, its strict mode with the pandas evaluator; then again, untimed, on a
smaller panel where 20% of the assets are listed late (``--gap-assets``).

Goals (from the project's issue): alphaloop at least 10x faster than Qlib in
the same run, and qlib-mode values equal to Qlib's to float32 precision.

Usage::

    python bench/bench_factors.py                          # full size
    python bench/bench_factors.py --assets 50 --days 400   # quick smoke run
    python bench/bench_factors.py --skip-qlib              # alphaloop and pandas only
    python bench/bench_factors.py --gap-assets 0           # no agreement check with gaps
    python bench/bench_factors.py --write-docs             # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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
from synthetic import ohlc_walk  # bench/ is on the path when a script runs

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
QLIB_VENV = WORK / "qlib-venv"
QLIB_REQUIREMENT = "pyqlib==0.9.7"
FIELDS = ("open", "high", "low", "close", "vwap", "volume")
WINDOWS = (5, 10, 20, 30, 60)
GAP_SHARE = 0.2  # share of assets listed late in the agreement check with gaps
SPEEDUP_GOAL = 10.0
# float32 precision: see `agreement_note`
RTOL, ATOL = 1e-5, 1e-6
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DOC_START = "<!-- bench_factors:start -->"
DOC_END = "<!-- bench_factors:end -->"
RESULT_TAG = "BENCH-RESULT "


# ------------------------------------------------------------------ workload
@dataclass(frozen=True)
class Workload:
    """Size and seed of the synthetic panel; ``late`` is the share of assets listed late."""

    assets: int
    days: int
    seed: int
    late: float = 0.0

    @property
    def stem(self) -> str:
        late = f"_late{self.late:g}" if self.late else ""
        return f"panel_{self.assets}x{self.days}_seed{self.seed}{late}"

    @property
    def npz(self) -> Path:
        return WORK / f"{self.stem}.npz"

    @property
    def qlib_dir(self) -> Path:
        return WORK / f"qlib_{self.stem}"


def make_panel(work: Workload) -> Path:
    """Write the synthetic panel once (atomically) as an ``.npz``; reuse it when present.

    Close is a geometric random walk (1.5% daily volatility) from 20-200;
    open is the previous close times a small gap; high and low widen the
    open-close range; vwap is uniform inside [low, high]. Prices are rounded
    to cents (rounding is monotone, so the inequalities survive; ties occur
    as in real data) and floored at one cent; volumes are positive integers.
    With ``late > 0`` that share of assets is listed on a random day in the
    first half: NaN and outside the universe before it.
    """
    path = work.npz
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(work.seed)
    shape = (work.days, work.assets)
    open_, high, low, close = ohlc_walk(rng, shape, 20.0, 200.0)
    vwap = low + rng.uniform(0.0, 1.0, shape) * (high - low)
    cents = {
        name: np.maximum(np.round(v, 2), 0.01)
        for name, v in (("open", open_), ("high", high), ("low", low), ("close", close))
    }
    cents["vwap"] = np.clip(np.round(vwap, 2), cents["low"], cents["high"])
    cents["volume"] = np.maximum(np.rint(rng.lognormal(12.0, 1.0, shape)), 1.0)
    listing = np.zeros(work.assets, dtype=np.int64)
    if work.late:
        late = rng.random(work.assets) < work.late
        listing[late] = rng.integers(1, max(2, work.days // 2), int(late.sum()))
    member = np.arange(work.days)[:, None] >= listing[None, :]
    for name in FIELDS:
        cents[name][~member] = np.nan
    assets = np.array([f"S{i:04d}" for i in range(work.assets)])
    days = pd.bdate_range("2010-01-04", periods=work.days).strftime("%Y-%m-%d").to_numpy(str)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, days=days, assets=assets, listing=listing, **cents)
    tmp.rename(path)
    return path


def write_qlib_dir(work: Workload) -> Path:
    """The panel as a Qlib data directory (float32 ``.day.bin`` files); reused when present."""
    root = work.qlib_dir
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    data = np.load(work.npz)
    days, assets, listing = data["days"], data["assets"], data["listing"]
    (root / "calendars").mkdir(parents=True)
    (root / "instruments").mkdir()
    (root / "calendars" / "day.txt").write_text("\n".join(days) + "\n")
    lines = [f"{a}\t{days[s]}\t{days[-1]}" for a, s in zip(assets, listing, strict=True)]
    (root / "instruments" / "all.txt").write_text("\n".join(lines) + "\n")
    columns = {name: data[name] for name in FIELDS}
    for j, asset in enumerate(assets):
        folder = root / "features" / asset.lower()
        folder.mkdir(parents=True)
        s = int(listing[j])
        for name, values in columns.items():
            record = np.concatenate([[float(s)], values[s:, j]]).astype("<f4")
            record.tofile(folder / f"{name}.day.bin")
    (root / ".complete").touch()
    return root


def ensure_qlib_venv() -> Path:
    """The Qlib venv's python, creating the venv (python3.11 -m venv + pip) when missing."""
    python = QLIB_VENV / "bin" / "python"
    ok = python.exists() and (
        subprocess.run([python, "-c", "import qlib"], capture_output=True, check=False).returncode
        == 0
    )
    if ok:
        return python
    print(f"creating {QLIB_VENV.relative_to(ROOT)} with {QLIB_REQUIREMENT} ...", file=sys.stderr)
    shutil.rmtree(QLIB_VENV, ignore_errors=True)
    base = shutil.which("python3.11") or sys.executable
    subprocess.run([base, "-m", "venv", str(QLIB_VENV)], check=True)
    log = WORK / "qlib-venv-install.log"
    with log.open("w") as fh:
        subprocess.run(
            [python, "-m", "pip", "install", QLIB_REQUIREMENT], stdout=fh, stderr=fh, check=True
        )
    return python


# --------------------------------------------------------------- child side
def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _since_spawn() -> float:
    return time.time() - float(os.environ["BENCH_SPAWN_T"])


def _feature_names() -> list[str]:
    """The 158 names in the published order (the same in alphaloop and Qlib)."""
    return json.loads(os.environ["BENCH_NAMES"])


def _open_output(path: str, n_features: int, shape: tuple[int, int]) -> np.ndarray:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_features, *shape))
    return out


def _load_panel(npz: str) -> Any:
    from alphaloop.data.panel import Panel

    data = np.load(npz)
    index = pd.DatetimeIndex(data["days"]).tz_localize("UTC")
    member = np.arange(len(index))[:, None] >= data["listing"][None, :]
    fields = {name: data[name] for name in FIELDS}
    return Panel(index, list(data["assets"]), fields, member)


def child_alphaloop(spec: dict[str, Any]) -> dict[str, Any]:
    """One alphaloop measurement; with ``profile``, per-operator and per-family timings."""
    t0 = time.perf_counter()
    from alphaloop.factors.evaluate import evaluate
    from alphaloop.factors.library.alpha158 import alpha158

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    panel = _load_panel(spec["npz"])
    load_s = time.perf_counter() - t0
    formulas = alpha158()
    if spec.get("profile"):
        return _profile_alphaloop(panel, formulas, spec["mode"])
    t0 = time.perf_counter()
    values = evaluate(panel, formulas, mode=spec["mode"], dtype=np.float32)
    eval_s = time.perf_counter() - t0
    result = {
        "wall_s": _since_spawn(),
        "import_s": import_s,
        "load_s": load_s,
        "compute_s": eval_s,
        "peak_mib": _peak_rss_mib(),
    }
    if spec.get("out"):
        out = _open_output(spec["out"], len(formulas), panel.shape)
        for i, name in enumerate(formulas):
            out[i] = values[name]
        out.flush()
    return result


def _profile_alphaloop(panel: Any, formulas: dict[str, str], mode: str) -> dict[str, Any]:
    """Seconds per operator in one full evaluation, and per family evaluated alone.

    The operator times wrap ``_Evaluator.compute`` (one call per distinct
    subexpression, its children already computed), so they are exclusive; the
    rest of ``evaluate`` (ordering, freeing, conversion to the output dtype)
    is the difference to the total.
    """
    from alphaloop.factors import evaluate as engine
    from alphaloop.factors.ast import Call

    per_op: dict[str, float] = {}
    calls: dict[str, int] = {}
    original = engine._Evaluator.compute

    def compute(self: Any, n: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = original(self, n, *args, **kwargs)
        key = n.op if isinstance(n, Call) else type(n).__name__
        per_op[key] = per_op.get(key, 0.0) + time.perf_counter() - t0
        calls[key] = calls.get(key, 0) + 1
        return out

    # load every kernel from the numba cache first, so that no operator is charged for it
    engine.evaluate(panel.iloc(slice(0, 70)), formulas, mode=mode, dtype=np.float32)
    engine._Evaluator.compute = compute  # type: ignore[method-assign]
    t0 = time.perf_counter()
    engine.evaluate(panel, formulas, mode=mode, dtype=np.float32)
    total_s = time.perf_counter() - t0
    engine._Evaluator.compute = original  # type: ignore[method-assign]
    per_family: dict[str, float] = {}
    for fam, names in families().items():
        t0 = time.perf_counter()
        engine.evaluate(panel, {k: formulas[k] for k in names}, mode=mode, dtype=np.float32)
        per_family[fam] = time.perf_counter() - t0
    return {"total_s": total_s, "per_op": per_op, "calls": calls, "per_family": per_family}


def families() -> dict[str, list[str]]:
    """Alpha158's names by family: KBAR, PRICE, then each rolling family's five windows."""
    from alphaloop.factors.library.alpha158 import KBAR, PRICE, ROLLING

    out = {"KBAR": list(KBAR), "PRICE": list(PRICE)}
    return out | {fam: [f"{fam}{d}" for d in WINDOWS] for fam in ROLLING}


def child_qlib(spec: dict[str, Any]) -> dict[str, Any]:
    """One Qlib measurement: import, init (caches off, one kernel), ``D.features``."""
    import logging

    t0 = time.perf_counter()
    import qlib
    from qlib.contrib.data.loader import Alpha158DL
    from qlib.data import D

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    qlib.init(
        provider_uri=spec["qlib_dir"],
        region="us",
        kernels=1,
        expression_cache=None,
        dataset_cache=None,
        logging_level=logging.WARNING,
    )
    init_s = time.perf_counter() - t0
    fields, names = Alpha158DL.get_feature_config()
    t0 = time.perf_counter()
    days = spec["days"]
    frame = D.features(D.instruments("all"), fields, days[0], days[-1], freq="day")
    compute_s = time.perf_counter() - t0
    result = {
        "wall_s": _since_spawn(),
        "import_s": import_s + init_s,
        "load_s": None,  # D.features reads the files
        "compute_s": compute_s,
        "peak_mib": _peak_rss_mib(),
        "version": qlib.__version__,
        "names": list(names),
        "rows": len(frame),
    }
    if spec.get("out"):
        assets = {a: j for j, a in enumerate(spec["assets"])}
        times = pd.DatetimeIndex(days)
        inst = frame.index.get_level_values("instrument")
        col = np.array([assets[a] for a in inst], dtype=np.int64)
        row = times.get_indexer(frame.index.get_level_values("datetime"))
        out = _open_output(spec["out"], len(fields), (len(days), len(assets)))
        for i, expr in enumerate(fields):
            plane = np.full((len(days), len(assets)), np.nan, dtype=np.float32)
            plane[row, col] = frame[expr].to_numpy(np.float32)
            out[i] = plane
        out.flush()
    return result


def child_pandas(spec: dict[str, Any]) -> dict[str, Any]:
    """The pandas evaluator: wide frames, ``DataFrame.rolling``; strict semantics."""
    t0 = time.perf_counter()
    data = np.load(spec["npz"])
    index = pd.DatetimeIndex(data["days"])
    frames = {n: pd.DataFrame(data[n], index=index, columns=data["assets"]) for n in FIELDS}
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    values = pandas_alpha158(frames)
    arrays = {name: frame.to_numpy(np.float32) for name, frame in values.items()}
    compute_s = time.perf_counter() - t0
    result = {
        "wall_s": _since_spawn(),
        "import_s": 0.0,
        "load_s": load_s,
        "compute_s": compute_s,
        "peak_mib": _peak_rss_mib(),
    }
    if spec.get("out"):
        names = _feature_names()
        out = _open_output(spec["out"], len(names), arrays[names[0]].shape)
        for i, name in enumerate(names):
            out[i] = arrays[name]
        out.flush()
    return result


def _bars_since_max(window: np.ndarray) -> float:
    return float(np.argmax(window[::-1]))  # most recent occurrence of the maximum


def _bars_since_min(window: np.ndarray) -> float:
    return float(np.argmin(window[::-1]))


def pandas_alpha158(f: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The 158 features with pandas on wide frames, in alphaloop's strict semantics.

    Windows need all ``d`` values (pandas' default ``min_periods``); a
    comparison with a missing operand is missing; ``IdxMax``/``IdxMin`` count
    bars since the extreme (most recent occurrence); ``Slope``, ``Rsquare`` and
    ``Resi`` are the OLS fit on the bar number, from rolling covariance and
    correlation with it. Shared pieces are computed once, as a pandas user would.
    """
    o, h, lo, c, vw, v = (f[n] for n in ("open", "high", "low", "close", "vwap", "volume"))
    eps = 1e-12
    out: dict[str, pd.DataFrame] = {}
    rng = h - lo + eps
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    out |= {"KMID": (c - o) / o, "KLEN": (h - lo) / o, "KMID2": (c - o) / rng}
    out |= {"KUP": (h - top) / o, "KUP2": (h - top) / rng}
    out |= {"KLOW": (bottom - lo) / o, "KLOW2": (bottom - lo) / rng}
    out |= {"KSFT": (2 * c - h - lo) / o, "KSFT2": (2 * c - h - lo) / rng}
    out |= {"OPEN0": o / c, "HIGH0": h / c, "LOW0": lo / c, "VWAP0": vw / c}

    c1, v1 = c.shift(1), v.shift(1)
    bar = pd.Series(np.arange(len(c), dtype=np.float64), index=c.index)
    bars = pd.DataFrame({a: bar for a in c.columns})  # rolling cov/corr pair column by column
    log_v = np.log(v + 1)
    ret, log_vchg = c / c1, np.log(v / v1 + 1)
    up = (c > c1).astype(np.float64).where(c1.notna() & c.notna())
    down = (c < c1).astype(np.float64).where(c1.notna() & c.notna())
    gain, loss, move = (c - c1).clip(lower=0), (c1 - c).clip(lower=0), (c - c1).abs()
    vgain, vloss, vmove = (v - v1).clip(lower=0), (v1 - v).clip(lower=0), (v - v1).abs()
    vret = (c / c1 - 1).abs() * v
    per: dict[str, dict[int, pd.DataFrame]] = {}
    for d in WINDOWS:
        rc = c.rolling(d)
        mean_c = rc.mean()
        slope = rc.cov(bars).div(bar.rolling(d).var(), axis=0)
        max_h, min_l = h.rolling(d).max(), lo.rolling(d).min()
        imax = h.rolling(d).apply(_bars_since_max, raw=True, engine="numba")
        imin = lo.rolling(d).apply(_bars_since_min, raw=True, engine="numba")
        cntp, cntn = up.rolling(d).mean(), down.rolling(d).mean()
        s_move, s_vmove = move.rolling(d).sum() + eps, vmove.rolling(d).sum() + eps
        s_gain, s_loss = gain.rolling(d).sum(), loss.rolling(d).sum()
        s_vgain, s_vloss = vgain.rolling(d).sum(), vloss.rolling(d).sum()
        rv = v.rolling(d)
        rvret = vret.rolling(d)
        per[d] = {
            "ROC": c.shift(d) / c,
            "MA": mean_c / c,
            "STD": rc.std() / c,
            "BETA": slope / c,
            "RSQR": rc.corr(bars) ** 2,
            "RESI": (c - mean_c - slope * (d - 1) / 2) / c,
            "MAX": max_h / c,
            "MIN": min_l / c,
            "QTLU": rc.quantile(0.8) / c,
            "QTLD": rc.quantile(0.2) / c,
            "RANK": rc.rank(pct=True),
            "RSV": (c - min_l) / (max_h - min_l + eps),
            "IMAX": imax / d,
            "IMIN": imin / d,
            "IMXD": (imax - imin) / d,
            "CORR": rc.corr(log_v),
            "CORD": ret.rolling(d).corr(log_vchg),
            "CNTP": cntp,
            "CNTN": cntn,
            "CNTD": cntp - cntn,
            "SUMP": s_gain / s_move,
            "SUMN": s_loss / s_move,
            "SUMD": (s_gain - s_loss) / s_move,
            "VMA": rv.mean() / (v + eps),
            "VSTD": rv.std() / (v + eps),
            "WVMA": rvret.std() / (rvret.mean() + eps),
            "VSUMP": s_vgain / s_vmove,
            "VSUMN": s_vloss / s_vmove,
            "VSUMD": (s_vgain - s_vloss) / s_vmove,
        }
    for fam in per[WINDOWS[0]]:
        for d in WINDOWS:
            out[f"{fam}{d}"] = per[d][fam]
    return out


def child_memory(spec: dict[str, Any]) -> dict[str, Any]:
    """Seconds per GiB to touch fresh memory (page faults; slow on VMs that return free pages)."""
    t0 = time.perf_counter()
    block = np.ones(int(spec["gib"] * 2**30) // 8)
    seconds = time.perf_counter() - t0
    del block
    return {"s_per_gib": seconds / spec["gib"]}


CHILDREN = ("alphaloop", "qlib", "pandas", "memory")


def child_main(role: str, spec_json: str) -> int:
    """Run one measurement; interpreter start-up and numpy/pandas imports count as imports."""
    boot_s = _since_spawn()
    spec = json.loads(spec_json)
    run = {
        "alphaloop": child_alphaloop,
        "qlib": child_qlib,
        "pandas": child_pandas,
        "memory": child_memory,
    }[role]
    result = run(spec)
    if "import_s" in result:
        result["import_s"] += boot_s
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


# -------------------------------------------------------------- parent side
@dataclass
class Run:
    """One route's measurements (several runs for the warm routes)."""

    label: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    notes: str = ""

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs)

    def cell(self, key: str) -> str:
        values = [r[key] for r in self.runs]
        if len(values) == 1:
            return f"{values[0]:.2f}"
        low, high = min(values), max(values)
        return f"{statistics.median(values):.2f} ({low:.2f}–{high:.2f}, n={len(values)})"


def spawn(python: Path | str, role: str, spec: dict[str, Any], env: dict[str, str]) -> dict:
    """Run one child measurement on core 0; return its result."""
    full_env = {**os.environ, **env, "BENCH_SPAWN_T": repr(time.time())}
    full_env |= dict.fromkeys(THREAD_VARS, "1")
    cmd = ["taskset", "-c", "0", str(python), str(Path(__file__).resolve())]
    cmd += ["--child", role, "--spec", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    raise RuntimeError(f"{role} child failed with exit code {proc.returncode}")


def measure(args: argparse.Namespace, work: Workload, names: list[str]) -> dict[str, Any]:
    """Every timed route, then the profile runs; outputs go to ``WORK/out``."""
    out_dir = WORK / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    base = {"npz": str(work.npz)}
    names_env = {"BENCH_NAMES": json.dumps(names)}
    routes: dict[str, Run] = {}
    outputs: dict[str, Path] = {}
    profiles: dict[str, dict[str, Any]] = {}
    caches = Path(tempfile.mkdtemp(prefix="numba-", dir=WORK))
    try:
        for mode in ("strict", "qlib"):
            cache = {"NUMBA_CACHE_DIR": str(caches / mode)}
            label = f"alphaloop {mode}"
            print(f"{label}: cold (empty numba cache) ...", file=sys.stderr)
            cold = Run(f"{label}, cold (compiles kernels)")
            cold.runs.append(spawn(sys.executable, "alphaloop", {**base, "mode": mode}, cache))
            warm = Run(f"{label}, warm numba cache")
            outputs[label] = out_dir / f"alphaloop_{mode}.npy"
            for i in range(args.repeats):
                print(f"{label}: warm {i + 1} of {args.repeats} ...", file=sys.stderr)
                spec = {**base, "mode": mode, "out": str(outputs[label]) if i == 0 else None}
                warm.runs.append(spawn(sys.executable, "alphaloop", spec, cache))
            routes[f"{label} cold"], routes[f"{label} warm"] = cold, warm
            print(f"{label}: per-operator profile ...", file=sys.stderr)
            profiles[mode] = spawn(
                sys.executable, "alphaloop", {**base, "mode": mode, "profile": True}, cache
            )
        print("pandas ...", file=sys.stderr)
        outputs["pandas"] = out_dir / "pandas.npy"
        pandas_run = Run("pandas (wide frames, DataFrame.rolling)")
        for i in range(args.pandas_repeats):
            spec = {**base, "out": str(outputs["pandas"]) if i == 0 else None}
            pandas_run.runs.append(
                spawn(sys.executable, "pandas", spec, {**names_env, "NUMBA_CACHE_DIR": str(caches)})
            )
        routes["pandas"] = pandas_run
        if not args.skip_qlib:
            python = ensure_qlib_venv()
            data = np.load(work.npz)
            qdir = write_qlib_dir(work)
            outputs["qlib"] = out_dir / "qlib.npy"
            spec = {
                "qlib_dir": str(qdir),
                "days": [str(d) for d in data["days"]],
                "assets": [str(a) for a in data["assets"]],
            }
            qlib_run = Run("Qlib 0.9.7 D.features")
            for i in range(args.qlib_repeats):
                print(f"Qlib: run {i + 1} of {args.qlib_repeats} ...", file=sys.stderr)
                spec["out"] = str(outputs["qlib"]) if i == 0 else None
                qlib_run.runs.append(spawn(python, "qlib", spec, {}))
            if qlib_run.runs[0]["names"] != names:
                raise RuntimeError("Qlib's Alpha158 names differ from alphaloop's")
            routes["qlib"] = qlib_run
        if args.gap_assets:
            outputs |= gap_outputs(args, names, caches, out_dir)
    finally:
        shutil.rmtree(caches, ignore_errors=True)
    return {"routes": routes, "outputs": outputs, "profiles": profiles}


def gap_workload(args: argparse.Namespace) -> Workload:
    return Workload(args.gap_assets, args.days, args.seed, GAP_SHARE)


def gap_outputs(
    args: argparse.Namespace, names: list[str], caches: Path, out_dir: Path
) -> dict[str, Path]:
    """Untimed runs on a panel with late listings, for the agreement check only."""
    work = gap_workload(args)
    make_panel(work)
    print(f"late-listing check ({work.assets} assets) ...", file=sys.stderr)
    base = {"npz": str(work.npz)}
    out = {}
    for mode in ("strict", "qlib"):
        out[f"gap alphaloop {mode}"] = out_dir / f"gap_alphaloop_{mode}.npy"
        spec = {**base, "mode": mode, "out": str(out[f"gap alphaloop {mode}"])}
        spawn(sys.executable, "alphaloop", spec, {"NUMBA_CACHE_DIR": str(caches / mode)})
    out["gap pandas"] = out_dir / "gap_pandas.npy"
    env = {"BENCH_NAMES": json.dumps(names), "NUMBA_CACHE_DIR": str(caches)}
    spawn(sys.executable, "pandas", {**base, "out": str(out["gap pandas"])}, env)
    if not args.skip_qlib:
        data = np.load(work.npz)
        out["gap qlib"] = out_dir / "gap_qlib.npy"
        spec = {
            "qlib_dir": str(write_qlib_dir(work)),
            "days": [str(d) for d in data["days"]],
            "assets": [str(a) for a in data["assets"]],
            "out": str(out["gap qlib"]),
        }
        spawn(QLIB_VENV / "bin" / "python", "qlib", spec, {})
    return out


# ---------------------------------------------------------------- agreement
@dataclass
class Diff:
    """How one feature of route ``a`` differs from the reference ``b``."""

    name: str
    identical: bool  # every cell the same float32 (NaN = NaN)
    equal: bool  # every cell within the tolerance (see `agreement_note`)
    cells: int  # cells compared (at least one side not NaN)
    nan_mismatch: int  # one side NaN (or inf of another sign), the other not
    not_close: int  # both finite, outside the tolerance
    max_rel: float  # over cells with both finite and b != 0
    max_abs: float
    outside: int = 0  # cells of ``a`` outside the universe (before listing) that are not NaN
    worst: tuple[int, int] | None = None  # (row, asset) of the largest difference
    where: str = ""


def compare_feature(
    name: str, a: np.ndarray, b: np.ndarray, days: np.ndarray, member: np.ndarray
) -> Diff:
    """Compare two (time, asset) float32 arrays to float32 precision (see `agreement_note`).

    Only cells inside the universe (``member``) are compared: Qlib has no rows
    before an instrument's listing. ``a``'s values outside it are counted.
    """
    outside = int((~member & ~np.isnan(a)).sum())
    a, b = np.where(member, a, np.float32(np.nan)), np.where(member, b, np.float32(np.nan))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    both_nan = np.isnan(a64) & np.isnan(b64)
    both = np.isfinite(a64) & np.isfinite(b64)
    nan_mismatch = ~(both_nan | both | (np.isinf(a64) & (a64 == b64)))
    diff = np.where(both, np.abs(a64 - b64), 0.0)
    far = both & (diff > RTOL * np.abs(b64) + ATOL)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(both & (b64 != 0), diff / np.abs(b64), 0.0)
    bad = nan_mismatch | far
    out = Diff(
        name,
        identical=bool(np.array_equal(a, b, equal_nan=True)),
        equal=not bad.any(),
        cells=int((~both_nan).sum()),
        nan_mismatch=int(nan_mismatch.sum()),
        not_close=int(far.sum()),
        max_rel=float(rel.max()) if rel.size else 0.0,
        max_abs=float(diff.max()) if diff.size else 0.0,
        outside=outside,
    )
    if not out.equal:
        if nan_mismatch.any():
            t, j = np.argwhere(nan_mismatch)[0]
            out.where = f"NaN pattern, first at row {t} ({days[t]})"
        else:
            t, j = np.unravel_index(int(np.argmax(np.where(far, diff, -1.0))), diff.shape)
            out.where = f"row {t} ({days[t]})"
        out.worst = (int(t), int(j))
        out.where += f", asset {j}: {a[t, j]:.8g} vs {b[t, j]:.8g}"
    return out


def compare_routes(a: Path, b: Path, names: list[str], npz: Path) -> list[Diff]:
    """Every feature of the output file ``a`` against ``b`` (both (feature, time, asset))."""
    data = np.load(npz)
    days = data["days"]
    member = np.arange(len(days))[:, None] >= data["listing"][None, :]
    xa, xb = np.load(a, mmap_mode="r"), np.load(b, mmap_mode="r")
    return [
        compare_feature(n, np.asarray(xa[i]), np.asarray(xb[i]), days, member)
        for i, n in enumerate(names)
    ]


def summarize(diffs: list[Diff]) -> tuple[int, int, list[Diff]]:
    """(identical, equal within the tolerance, the features that are not)."""
    bad = [d for d in diffs if not d.equal]
    return sum(d.identical for d in diffs), len(diffs) - len(bad), bad


def _series_path(family: str, d: int, close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """One asset's CORR/CORD/WVMA ``d`` computed with Qlib's formula in the arrays' dtype.

    NumPy keeps float32 op float32 (and op a Python number) in float32, as
    in Qlib, whose fields are float32 Series; pandas' rolling works in
    float64. With float64 inputs this is alphaloop's qlib-mode arithmetic.
    """
    one = close.dtype.type(1)
    c1 = np.concatenate([[np.nan], close[:-1]]).astype(close.dtype)
    v1 = np.concatenate([[np.nan], volume[:-1]]).astype(volume.dtype)
    if family == "WVMA":
        r = pd.Series(np.abs(close / c1 - one) * volume).rolling(d, min_periods=1)
        return (r.std() / (r.mean() + 1e-12)).to_numpy()
    if family == "CORR":
        x, y = pd.Series(close), pd.Series(np.log(volume + one))
    else:
        x, y = pd.Series(close / c1), pd.Series(np.log(volume / v1 + one))
    out = x.rolling(d, min_periods=1).corr(y).to_numpy().copy()
    flat = np.isclose(x.rolling(d, min_periods=1).std(), 0, atol=2e-5) | np.isclose(
        y.rolling(d, min_periods=1).std(), 0, atol=2e-5
    )
    out[flat] = np.nan
    return out


def explain_float32(
    diffs: list[Diff], npz: Path, al: Path, ql: Path, names: list[str]
) -> dict[str, str]:
    """For CORR/CORD/WVMA features that differ: does Qlib's float32 arithmetic explain it?

    The asset of the worst cell is recomputed twice with pandas: with
    float32 element-wise steps (Qlib's dtypes) and with float64 steps
    (alphaloop's qlib mode, fields rounded to float32 first); each is
    compared with Qlib's and alphaloop's column.
    """
    data = np.load(npz)
    xa, xq = np.load(al, mmap_mode="r"), np.load(ql, mmap_mode="r")
    out = {}
    for diff in diffs:
        family = diff.name.rstrip("0123456789")
        if diff.equal or diff.worst is None or family not in ("CORR", "CORD", "WVMA"):
            continue
        d, j = int(diff.name[len(family) :]), diff.worst[1]
        i = names.index(diff.name)
        close32 = data["close"][:, j].astype(np.float32)
        volume32 = data["volume"][:, j].astype(np.float32)
        path32 = _series_path(family, d, close32, volume32).astype(np.float32)
        path64 = _series_path(family, d, close32.astype(np.float64), volume32.astype(np.float64))
        q, a = np.asarray(xq[i, :, j]), np.asarray(xa[i, :, j])
        e32 = np.nanmax(np.abs(path32.astype(np.float64) - q))
        e64 = np.nanmax(np.abs(path64.astype(np.float32).astype(np.float64) - a))
        out[diff.name] = (
            f"float32 element-wise steps (pandas) reproduce Qlib's column to max |Δ| {e32:.2g}, "
            f"float64 steps alphaloop's to {e64:.2g}"
        )
    return out


def agreement_note() -> str:
    return (
        f"A cell agrees when both are NaN, both the same infinity, or both finite with "
        f"|a − b| <= {RTOL:g}·|b| + {ATOL:g} (`np.isclose(rtol={RTOL:g}, atol={ATOL:g})` on "
        "the float32 results). 1e-5 relative is about 84 float32 ulps (2^-24 ≈ 6e-8 each): "
        "room for the handful of float32 roundings a Qlib formula makes between operators, but "
        "far below any difference of definition (a window convention or a tie rule changes "
        "values by 1e-2 or more). Alpha158's features are of order 1e-3 to 1, so 1e-6 "
        "absolute covers values that cross zero, whose relative error means nothing there. "
        "*Identical* counts features whose float32 values are bit-for-bit the same."
    )


# ----------------------------------------------------------------- reporting
def source_version() -> str:
    """The git commit of alphaloop's factor code, flagged when it has uncommitted changes."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "src/alphaloop/factors"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def _source_stamp() -> tuple[str, float]:
    """The commit and the newest modification time under src/alphaloop/factors."""
    files = (ROOT / "src" / "alphaloop" / "factors").rglob("*.py")
    return source_version(), max((f.stat().st_mtime for f in files), default=0.0)


def machine() -> dict[str, str]:
    """CPU, cores, memory, Python and library versions."""
    import numba

    cpu, mem = cpu_name(), memory_total()
    import alphaloop

    return {
        "commit": source_version(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": (
            f"alphaloop {alphaloop.__version__}, numpy {np.__version__}, "
            f"pandas {pd.__version__}, numba {numba.__version__}"
        ),
    }


def table(routes: dict[str, Run]) -> str:
    lines = [
        "| route | total (s) | imports, setup (s) | data (s) | compute (s) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in routes.values():
        load = "in compute" if run.runs[0]["load_s"] is None else f"{run.median('load_s'):.2f}"
        lines.append(
            f"| {run.label} | {run.cell('wall_s')} | {run.median('import_s'):.2f} "
            f"| {load} | {run.cell('compute_s')} "
            f"| {max(r['peak_mib'] for r in run.runs):,.0f} |"
        )
    return "\n".join(lines)


def profile_table(profiles: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """Per-operator (exclusive) and per-family seconds, both modes side by side."""
    modes = list(profiles)
    first = profiles[modes[0]]
    ops = sorted(
        {k for p in profiles.values() for k in p["per_op"]},
        key=lambda k: -first["per_op"].get(k, 0.0),
    )
    head = " | ".join(f"{m} (s)" for m in modes)
    lines = [f"| operator | nodes | {head} |", "|---|---:|" + "---:|" * len(modes)]
    for op in ops:
        cells = " | ".join(f"{profiles[m]['per_op'].get(op, 0.0):.2f}" for m in modes)
        lines.append(f"| {op} | {first['calls'].get(op, 0)} | {cells} |")
    outside = " | ".join(
        f"{profiles[m]['total_s'] - sum(profiles[m]['per_op'].values()):.2f}" for m in modes
    )
    lines.append(
        f"| *outside the operators (ordering, freeing, float32 conversion)* | | {outside} |"
    )
    totals = " | ".join(f"{profiles[m]['total_s']:.2f}" for m in modes)
    lines.append(f"| *whole evaluate()* | {sum(first['calls'].values())} | {totals} |")
    fam_order = sorted(first["per_family"], key=lambda f: -first["per_family"][f])
    flines = [f"| family (alone) | {head} |", "|---|" + "---:|" * len(modes)]
    for fam in fam_order:
        cells = " | ".join(f"{profiles[m]['per_family'][fam]:.2f}" for m in modes)
        flines.append(f"| {fam} | {cells} |")
    sums = " | ".join(f"{sum(profiles[m]['per_family'].values()):.2f}" for m in modes)
    flines.append(f"| *sum of families* | {sums} |")
    return "\n".join(lines), "\n".join(flines)


CAUSES = {
    "CORR": (
        "Qlib evaluates `Log($volume+1)` in float32 (NumPy keeps a float32 Series in float32, "
        "also against a Python number); alphaloop's qlib mode rounds the fields to float32 and "
        "then works in float64, so the correlation differs from the 6th digit on"
    ),
    "CORD": (
        "Qlib evaluates `$close/Ref($close,1)` and `Log($volume/Ref($volume,1)+1)` in float32: "
        "day-over-day ratios are about 1 ± 0.015, so rounding them to float32 (6e-8) perturbs "
        "their variation by ~4e-6 relative and the correlation by up to ~5e-5"
    ),
    "WVMA": (
        "Qlib evaluates `Abs($close/Ref($close,1)-1)*$volume` in float32: the ratio is rounded "
        "to float32 before 1 is subtracted, so a small return keeps only a few digits"
    ),
    "IMAX": (
        "a window that reaches back before an asset's listing holds the NaN of the rows before "
        "it, and qlib mode's IdxMax/IdxMin then give the position of the first NaN (numpy's "
        "argmax on NaN, right for a NaN *inside* a Qlib series); Qlib's series starts at the "
        "listing, so its window is shorter and has no NaN"
    ),
    "CNTP": (
        "qlib mode turns a comparison with a missing operand into 0 (false), so the rows "
        "before a listing become zeros that count as valid values in Mean's partial windows "
        "(and show as values outside the universe); Qlib's series has no such rows"
    ),
}
CAUSES |= {"IMIN": CAUSES["IMAX"], "IMXD": CAUSES["IMAX"]}
CAUSES |= {"CNTN": CAUSES["CNTP"], "CNTD": CAUSES["CNTP"]}


def family_of(name: str) -> str:
    return name.rstrip("0123456789") if name[-1].isdigit() and name[:1] != "K" else name


def diff_table(bad: list[Diff]) -> str:
    lines = [
        "| feature | cells differing (NaN pattern + value) | max rel. | max abs. | largest |",
        "|---|---:|---:|---:|---|",
    ]
    for d in bad:
        lines.append(
            f"| {d.name} | {d.nan_mismatch:,} + {d.not_close:,} of {d.cells:,} "
            f"| {d.max_rel:.2g} | {d.max_abs:.2g} | {d.where} |"
        )
    return "\n".join(lines)


def equality_text(diffs: list[Diff], explained: dict[str, str] | None = None) -> str:
    """The agreement of one comparison as Markdown: counts, a table of what differs, causes."""
    identical, equal, bad = summarize(diffs)
    text = (
        f"{equal} of {len(diffs)} features equal to float32 precision ({identical} of them "
        "bit-for-bit identical)."
    )
    if bad:
        text += " Those that differ (alphaloop vs the reference at the largest difference):"
        text += "\n\n" + diff_table(bad) + "\n"
        by_cause: dict[str, list[str]] = {}
        for fam in dict.fromkeys(family_of(d.name) for d in bad):
            by_cause.setdefault(CAUSES.get(fam, "not diagnosed"), []).append(fam)
        for cause, fams in by_cause.items():
            text += f"\n- {', '.join(fams)}: {cause}."
            checks = sorted(
                {
                    explained[d.name]
                    for d in bad
                    if explained and d.name in explained and family_of(d.name) in fams
                }
            )
            if checks:
                text += f" Check (the worst asset of each feature): {'; '.join(checks)}."
    outside = [d for d in diffs if d.outside]
    if outside:
        listed = ", ".join(f"{d.name} ({d.outside:,})" for d in outside)
        text += (
            "\n\nalphaloop also gives values (not NaN) outside the universe, before an asset's "
            f"listing, in {len(outside)} features (cells): {listed}."
        )
    return text


def goals(routes: dict[str, Run], equal: int | None, total: int) -> list[tuple[str, bool, str]]:
    """(goal, met, figures) for the issue's two goals; empty without Qlib."""
    if "qlib" not in routes:
        return []
    q = routes["qlib"].median("wall_s")
    warm = routes["alphaloop qlib warm"].median("wall_s")
    cold = routes["alphaloop qlib cold"].median("wall_s")
    return [
        (
            f"alphaloop (qlib mode) at least {SPEEDUP_GOAL:g}x faster than Qlib",
            q / cold >= SPEEDUP_GOAL and q / warm >= SPEEDUP_GOAL,
            f"{q / warm:.1f}x with a warm numba cache ({warm:.2f} s vs {q:.2f} s), "
            f"{q / cold:.1f}x cold, compiling ({cold:.2f} s)",
        ),
        (
            "qlib-mode values equal to Qlib's to float32 precision on all 158 features",
            equal == total,
            f"{equal} of {total} features equal",
        ),
    ]


@dataclass
class Outcome:
    """What one run found: timings, profiles, agreement."""

    work: Workload
    routes: dict[str, Run]
    profiles: dict[str, dict[str, Any]]
    names: list[str]
    qlib_diffs: list[Diff] | None
    strict_diffs: list[Diff]
    explained: dict[str, str]
    touch_s_per_gib: float
    gap: GapCheck | None = None
    load: tuple[float, float] = (0.0, 0.0)
    source_changed: bool = False


@dataclass
class GapCheck:
    """The agreement check on a panel with late listings."""

    work: Workload
    qlib_diffs: list[Diff] | None
    strict_diffs: list[Diff]
    explained: dict[str, str]


def gap_text(gap: GapCheck | None) -> str:
    if gap is None:
        return ""
    w = gap.work
    qlib = (
        "Qlib was not run."
        if gap.qlib_diffs is None
        else equality_text(gap.qlib_diffs, gap.explained)
    )
    return (
        f"**Agreement with gaps** (untimed: {w.assets} assets x {w.days:,} days, the same "
        f"generator with {w.late:.0%} of the assets listed on a random day of the first half; "
        "before its listing an asset is NaN and outside the universe, and its Qlib files start "
        "at the listing; cells inside the universe are compared).\n\n"
        f"*qlib mode vs Qlib:* {qlib}\n\n*strict mode vs pandas:* "
        + equality_text(gap.strict_diffs)
    )


def notes(out: Outcome) -> str:
    """Honest notes: what the figures do and do not say, and where alphaloop's time goes."""
    routes, lines = out.routes, []
    if out.source_changed:
        lines.append(
            "**alphaloop's factor code changed during this run**: the figures mix versions; "
            "run again."
        )
    if "qlib" in routes:
        q = routes["qlib"].median("wall_s")
        lines.append(
            f"Qlib took {q:.0f} s here ({q / len(out.names):.2f} s per feature); the issue quotes "
            "about 107 s (0.68 s per feature) on its machine. Only the ratio measured in the same "
            "run is compared with the goal."
        )
    mode = "qlib" if "qlib" in out.profiles else next(iter(out.profiles))
    prof = out.profiles[mode]
    outside = prof["total_s"] - sum(prof["per_op"].values())
    peak = max(r["peak_mib"] for r in routes[f"alphaloop {mode} warm"].runs) / 1024
    result_gib = len(out.names) * out.work.assets * out.work.days * 4 / 2**30
    lines.append(
        f"Memory: alphaloop's peak RSS is {peak:.1f} GiB for {result_gib:.1f} GiB of float32 "
        f"results; every new (time, asset) array is fresh memory at {out.touch_s_per_gib:.1f} s "
        f"per GiB on this VM, so allocation shows in the operator times. {outside:.1f} s of "
        f"{prof['total_s']:.1f} s of evaluate() ({mode} mode) is outside the operators; the 31 "
        f"families evaluated one at a time add up to {sum(prof['per_family'].values()):.1f} s "
        "although they recompute shared subexpressions."
    )
    lines.append(
        "Single figures vary by about 5–10% between runs on this 2-core VM (see the ranges); "
        "Qlib runs once or twice because one run takes over a minute."
    )
    lines.append(
        "pandas is single-threaded too; its IdxMax/IdxMin go through pandas' numba engine "
        "(compiled during the run, a few seconds), the rest is pandas' Cython rolling code."
    )
    lines.append(
        "Cells outside the universe (before a listing) are not compared: Qlib has no rows there."
    )
    return "\n".join(f"- {line}" for line in lines)


def speedups(routes: dict[str, Run]) -> list[str]:
    out = []
    for key in ("qlib", "pandas"):
        if key not in routes:
            continue
        ref = routes[key].median("wall_s")
        cells = []
        for mode in ("strict", "qlib"):
            for temp in ("warm", "cold"):
                al = routes[f"alphaloop {mode} {temp}"].median("wall_s")
                cells.append(f"{mode} {temp} {ref / al:.1f}x")
        out.append(f"{routes[key].label} ÷ alphaloop: " + ", ".join(cells))
    return out


def section(out: Outcome, info: dict[str, str]) -> str:
    """The docs section for this benchmark, between its markers."""
    work, routes = out.work, out.routes
    command = " ".join(["python bench/bench_factors.py", *sys.argv[1:]])
    ops, fams = profile_table(out.profiles)
    qlib_version = routes["qlib"].runs[0]["version"] if "qlib" in routes else "not run"
    equal_q = summarize(out.qlib_diffs)[1] if out.qlib_diffs is not None else None
    goal_text = "\n".join(
        f"- {'met' if ok else '**not met**'}: {goal} — {text}"
        for goal, ok, text in goals(routes, equal_q, len(out.names))
    )
    compile_s = {
        m: routes[f"alphaloop {m} cold"].median("wall_s")
        - routes[f"alphaloop {m} warm"].median("wall_s")
        for m in ("strict", "qlib")
    }
    qlib_eq = (
        "Qlib was not run (`--skip-qlib`)."
        if out.qlib_diffs is None
        else equality_text(out.qlib_diffs, out.explained)
    )
    gaps = (
        f"{work.late:.0%} of assets listed on a random day of the first half"
        if work.late
        else "no gaps"
    )
    speed = "\n".join(f"- {line}" for line in speedups(routes))
    return f"""{DOC_START}
## Factors: the 158 Alpha158 features (`bench/bench_factors.py`)

Run on {dt.date.today().isoformat()} with `{command}`
(assets={work.assets}, days={work.days}, seed={work.seed}).

**Machine:** {info["cpu"]}, {info["cores"]} cores, {info["memory"]} memory,
{info["os"]}, Python {info["python"]}; {info["versions"]} (commit {info["commit"]});
Qlib {qlib_version} (`pyqlib==0.9.7` in its own venv, `bench/.work/qlib-venv`, with the same
numpy and pandas).
First touch of fresh memory costs {out.touch_s_per_gib:.1f} s per GiB on this VM (measured by
the run), so peak memory shows up in the times. Load average (1 min) {out.load[0]:.2f} before the
run, {out.load[1]:.2f} after (other work on the machine slows every route).

**Workload:** a synthetic panel of {work.assets:,} assets x {work.days:,} business days (open,
high, low, close, vwap, volume: seeded geometric random walks in cents, high >= max(open,
close), low <= min(open, close), vwap in [low, high], positive integer volumes; {gaps}).
Every figure is one fresh process on one core (`taskset -c 0`; `NUMBA_NUM_THREADS`,
`OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS`, `MKL_NUM_THREADS` = 1) with no result cache;
*total* runs from spawning the process to the 158 results in memory (interpreter start,
imports, reading the data, compute; writing them out for the comparison is not included);
peak RSS is the child's `ru_maxrss`.

- *alphaloop*: `evaluate(panel, alpha158(), mode=..., dtype=np.float32)` on a Panel read from
  an `.npz`. *Cold*: an empty `NUMBA_CACHE_DIR`, so every kernel is compiled in the run;
  *warm*: the cache that run filled (numba's `cache=True`).
- *Qlib*: `qlib.init(provider_uri=..., region="us", kernels=1, expression_cache=None,
  dataset_cache=None)` then `D.features(D.instruments("all"), fields, start, end)` with the
  158 fields of `Alpha158DL.get_feature_config()`, reading the panel from float32 `.day.bin`
  files. Qlib's in-process memory cache of expressions stays on (it is how Qlib shares
  subexpressions between the features of an instrument, as alphaloop does).
- *pandas*: a hand-written evaluator of the 158 formulas on wide (time x asset) DataFrames
  (`pandas_alpha158` in the script): `DataFrame.rolling(d)` mean/sum/std/max/min/quantile/
  rank/corr/cov, `rolling(d).apply(f, raw=True, engine="numba")` for IdxMax/IdxMin (pandas has
  no rolling argmax; its numba compilation is part of the run), Slope/Rsquare/Resi from
  rolling covariance and correlation with the bar number; strict semantics, float32 results.

{table(routes)}

Numba compilation (cold minus warm): strict {compile_s["strict"]:.1f} s, qlib
{compile_s["qlib"]:.1f} s.

**Speedups (total time):**

{speed}

**Goals:**

{goal_text}

**Agreement, alphaloop qlib mode vs Qlib 0.9.7 (every cell of every feature):** {qlib_eq}

**Agreement, alphaloop strict mode vs the pandas evaluator (every cell of every feature):**
{equality_text(out.strict_diffs)}

{gap_text(out.gap)}

{agreement_note()}

**Where alphaloop's time goes** (one warm run per mode; operator seconds are exclusive: each
distinct subexpression once, its inputs already computed; *Field* includes qlib mode's float32
rounding; the allocation of each result array is charged to its operator):

{ops}

Each family evaluated on its own (subexpressions shared with other families are recomputed):

{fams}

**Notes:**

{notes(out)}
{DOC_END}"""


def write_docs(text: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md."""
    write_docs_section(text, DOC_START, DOC_END)


def print_outcome(out: Outcome) -> None:
    print(table(out.routes))
    print()
    for part in profile_table(out.profiles):
        print(part, end="\n\n")
    for line in speedups(out.routes):
        print(line)
    for title, diffs in (
        ("qlib mode vs Qlib", out.qlib_diffs),
        ("strict vs pandas", out.strict_diffs),
    ):
        if diffs is not None:
            print(f"{title}: " + equality_text(diffs, out.explained))
    if out.gap:
        g = out.gap
        if g.qlib_diffs is not None:
            print("late listings, qlib mode vs Qlib: " + equality_text(g.qlib_diffs, g.explained))
        print("late listings, strict vs pandas: " + equality_text(g.strict_diffs))
    equal_q = summarize(out.qlib_diffs)[1] if out.qlib_diffs is not None else None
    for goal, ok, text in goals(out.routes, equal_q, len(out.names)):
        print(f"{'met' if ok else 'NOT MET'}: {goal} ({text})")


# ---------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assets", type=int, default=800, help="number of assets (default 800)")
    p.add_argument("--days", type=int, default=3400, help="business days (default 3,400)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic data (default 7)")
    p.add_argument(
        "--late-listings",
        type=float,
        default=0.0,
        help="share of assets listed on a random day in the first half (default 0: no gaps)",
    )
    p.add_argument("--repeats", type=int, default=3, help="warm alphaloop runs per mode (3)")
    p.add_argument("--pandas-repeats", type=int, default=1, help="pandas runs (1)")
    p.add_argument("--qlib-repeats", type=int, default=1, help="Qlib runs (1)")
    p.add_argument("--skip-qlib", action="store_true", help="do not run Qlib")
    p.add_argument(
        "--gap-assets",
        type=int,
        default=100,
        help="assets of a second, untimed agreement check in which 20%% are listed late "
        "(default 100; 0 skips it)",
    )
    p.add_argument("--keep-outputs", action="store_true", help="keep bench/.work/out/*.npy")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    p.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is None and (args.assets < 1 or args.days < 61 or args.repeats < 1):
        p.error("--assets must be >= 1, --days >= 61 (the longest window) and --repeats >= 1")
    if not 0.0 <= args.late_listings < 1.0:
        p.error("--late-listings is a share in [0, 1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.spec)
    work = Workload(args.assets, args.days, args.seed, args.late_listings)
    existed = work.npz.exists()
    t0 = time.perf_counter()
    make_panel(work)
    print(
        f"workload: {work.assets} assets x {work.days} days, {work.npz.relative_to(ROOT)} "
        + ("reused" if existed else f"written in {time.perf_counter() - t0:.1f} s"),
        file=sys.stderr,
    )
    from alphaloop.factors.library.alpha158 import alpha158

    names = list(alpha158())
    load_before = os.getloadavg()[0]
    stamp = _source_stamp()
    touch = spawn(sys.executable, "memory", {"gib": 1.0}, {})["s_per_gib"]
    res = measure(args, work, names)
    routes, outputs = res["routes"], res["outputs"]
    print("comparing ...", file=sys.stderr)
    qlib_diffs, explained = None, {}
    if "qlib" in outputs:
        al, ql = outputs["alphaloop qlib"], outputs["qlib"]
        qlib_diffs = compare_routes(al, ql, names, work.npz)
        explained = explain_float32(qlib_diffs, work.npz, al, ql, names)
    strict_diffs = compare_routes(outputs["alphaloop strict"], outputs["pandas"], names, work.npz)
    gap = None
    if args.gap_assets:
        gwork = gap_workload(args)
        g_al, g_ql = outputs["gap alphaloop qlib"], outputs.get("gap qlib")
        g_q = compare_routes(g_al, g_ql, names, gwork.npz) if g_ql else None
        g_s = compare_routes(
            outputs["gap alphaloop strict"], outputs["gap pandas"], names, gwork.npz
        )
        g_x = explain_float32(g_q, gwork.npz, g_al, g_ql, names) if g_ql and g_q else {}
        gap = GapCheck(gwork, g_q, g_s, g_x)
    load_after = os.getloadavg()[0]
    changed = _source_stamp() != stamp
    if changed:
        print("WARNING: src/alphaloop/factors changed during the run", file=sys.stderr)
    if not args.keep_outputs:
        shutil.rmtree(WORK / "out", ignore_errors=True)
    out = Outcome(
        work,
        routes,
        res["profiles"],
        names,
        qlib_diffs,
        strict_diffs,
        explained,
        touch,
        gap,
        (load_before, load_after),
        changed,
    )
    print_outcome(out)
    report = {
        "routes": {k: r.runs for k, r in routes.items()},
        "profiles": res["profiles"],
        "touch_s_per_gib": touch,
        "qlib_diffs": [d.__dict__ for d in qlib_diffs or []],
        "explained": explained,
        "strict_diffs": [d.__dict__ for d in strict_diffs],
        "gap_qlib_diffs": [d.__dict__ for d in (gap.qlib_diffs or [])] if gap else [],
        "gap_strict_diffs": [d.__dict__ for d in gap.strict_diffs] if gap else [],
    }
    (WORK / f"bench_factors_{work.stem}.json").write_text(json.dumps(report, indent=1))
    if args.write_docs:
        write_docs(section(out, machine()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
