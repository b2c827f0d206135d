"""Benchmark: five years of 1-minute bars for 100 symbols, imported and loaded; pandas beside.

Workload (default): 100 symbols x every minute of the NYSE sessions from
2021-01-01 to 2025-12-31 (1,255 sessions, early closes included: about
488,000 minutes, 48.8 million rows of ``timestamp,symbol,open,high,low,
close,volume``), written once with a fixed seed to ``bench/.work/`` as
Parquet (UTC nanosecond timestamps, rows by minute then symbol) and reused.
Prices are geometric random walks with 0.1% volatility a minute, rounded to
4 decimals, with ``high >= max(open, close)`` and ``low <= min(open, close)``;
volumes are positive integers.

Routes, timed in the same process:

- **alphaloop import**: ``Workspace(tmp).data.import_file(path, name)``: read,
  parse, every quality check (gaps against the inferred XNYS calendar), write
  the Parquet version, record it.
- **alphaloop load**: ``ws.data.load(name)`` into a Panel (first load on a
  fresh ``Workspace``, then the median of ``--repeats``).
- **pandas**: ``pd.read_parquet`` + ``pivot`` per field (no checks, nothing
  stored).
- **resample 1m -> 5m**: :func:`alphaloop.data.resample.resample` on the
  loaded Panel (XNYS sessions) next to pandas ``resample("5min", closed="left",
  label="right")`` of each wide frame with first/max/min/last/sum and the
  empty buckets dropped.

Both routes must hold the same values (the close field of the load, and every
resampled field) or the script exits non-zero. The machine may be shared: the
load average before and after is printed.

Usage::

    python bench/bench_intraday.py                        # full size
    python bench/bench_intraday.py --symbols 10 --years 1 # smoke run
    python bench/bench_intraday.py --write-docs           # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
FIELDS = ("open", "high", "low", "close", "volume")
DOC_START = "<!-- bench_intraday:start -->"
DOC_END = "<!-- bench_intraday:end -->"
FIRST_YEAR = 2021
SESSIONS_PER_GROUP = 20  # sessions written per Parquet row group


def _path(symbols: int, years: int, seed: int) -> Path:
    return WORK / f"minutes_{symbols}x{years}y_seed{seed}.parquet"


def make_parquet(symbols: int, years: int, seed: int) -> tuple[Path, int]:
    """Write the synthetic minute file once (atomically); reuse it when present."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from alphaloop.data.calendars import TradingCalendar

    stamps = TradingCalendar("XNYS").bar_stamps(
        f"{FIRST_YEAR}-01-01", f"{FIRST_YEAR + years - 1}-12-31", "1min"
    )
    path = _path(symbols, years, seed)
    if path.exists():
        return path, len(stamps)
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = np.array([f"S{i:03d}" for i in range(symbols)])
    last = rng.uniform(10.0, 200.0, symbols)
    day = stamps // (86_400 * 10**9)
    bounds = np.flatnonzero(np.diff(day)) + 1
    starts = np.concatenate(([0], bounds))[::SESSIONS_PER_GROUP]
    tmp = path.with_suffix(".tmp")
    schema = pa.schema(
        [("timestamp", pa.timestamp("ns", tz="UTC")), ("symbol", pa.string())]
        + [(f, pa.float64()) for f in FIELDS[:4]]
        + [("volume", pa.int64())]
    )
    with pq.ParquetWriter(tmp, schema) as writer:
        for i, lo in enumerate(starts):
            hi = starts[i + 1] if i + 1 < len(starts) else len(stamps)
            shape = (hi - lo, symbols)
            close = last * np.exp(np.cumsum(rng.normal(0.0, 1e-3, shape), axis=0))
            prev = np.vstack([last, close[:-1]])
            open_ = prev * np.exp(rng.normal(0.0, 2e-4, shape))
            high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 5e-4, shape)))
            low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 5e-4, shape)))
            last = close[-1]
            volume = np.maximum(np.rint(rng.lognormal(7.0, 1.0, shape)), 1).astype(np.int64)
            cols = {
                "timestamp": pa.array(np.repeat(stamps[lo:hi], symbols), pa.timestamp("ns", "UTC")),
                "symbol": pa.array(np.tile(names, hi - lo)),
            }
            for name, values in zip(FIELDS[:4], (open_, high, low, close), strict=True):
                cols[name] = pa.array(np.round(values, 4).ravel())
            cols["volume"] = pa.array(volume.ravel())
            writer.write_table(pa.table(cols, schema=schema))
    tmp.rename(path)
    return path, len(stamps)


CPU: dict[str, float] = {}  # CPU seconds of the process per timed step, by step name


def _timed(fn: Callable[[], Any], name: str = "") -> tuple[float, Any]:
    """Wall seconds and result of ``fn()``; its CPU seconds go to ``CPU[name]``."""
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    if name:
        CPU[name] = time.process_time() - c0
    return wall, out


def _pandas_load(path: Path) -> dict[str, pd.DataFrame]:
    frame = pd.read_parquet(path)
    return {f: frame.pivot(index="timestamp", columns="symbol", values=f) for f in FIELDS}


def _pandas_resample(wide: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    how = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    out = {}
    for f, frame in wide.items():
        r = frame.resample("5min", closed="left", label="right")
        out[f] = getattr(r, how[f])(**({"min_count": 1} if f == "volume" else {}))
    keep = out["close"].notna().any(axis=1)
    return {f: v[keep] for f, v in out.items()}


def _same_times(a: pd.DatetimeIndex, b: pd.DatetimeIndex) -> bool:
    """Equal instants, whatever the unit or the name of each index."""
    return np.array_equal(a.as_unit("ns").asi8, b.as_unit("ns").asi8)


def run(symbols: int, years: int, seed: int, repeats: int) -> dict[str, Any]:
    from alphaloop.app import Workspace
    from alphaloop.data.resample import resample

    load_before = os.getloadavg()
    t_make, (path, minutes) = _timed(lambda: make_parquet(symbols, years, seed))
    res: dict[str, Any] = {
        "symbols": symbols,
        "years": years,
        "seed": seed,
        "minutes": minutes,
        "rows": minutes * symbols,
        "file_mb": path.stat().st_size / 2**20,
        "make_s": t_make,
        "load_before": load_before,
    }
    root = Path(tempfile.mkdtemp(prefix="bench_intraday_"))
    try:
        ws = Workspace(root / "ws")
        ws.data._bundled_ready = True
        t_imp, result = _timed(lambda: ws.data.import_file(path, "minutes"), "import")
        res["import_s"] = t_imp
        info = result.dataset
        res["market"] = info.market.describe()
        res["issues"] = [i.check for i in result.report.issues]
        ws.close()
        ws = Workspace(root / "ws")
        ws.data._bundled_ready = True
        res["first_load_s"], panel = _timed(lambda: ws.data.load("minutes"), "first_load")
        loads = []
        for _ in range(repeats):
            del panel
            t, panel = _timed(lambda: ws.data.load("minutes"), "load")
            loads.append(t)
        res["loads_s"] = loads
        res["alpha_resample_s"], ours = _timed(
            partial(resample, panel, "5min", calendar="XNYS"), "resample"
        )
        res["loaded_minutes"] = panel.n_times
        res["peak_rss_gb_alphaloop"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        ws.close()
        # keep what the comparisons need, free the rest before the pandas route
        assets, index, our_close = panel.assets, panel.index, panel.field("close").copy()
        del panel
        p_load, wide = _timed(lambda: _pandas_load(path), "pandas_load")
        res["pandas_load_s"] = p_load
        # loads stop before the sealed holdout: compare (and resample) the same minutes
        wide = {f: v.loc[: index[-1]] for f, v in wide.items()}
        res["pandas_resample_s"], theirs = _timed(lambda: _pandas_resample(wide), "pandas_resample")
        close = wide["close"].reindex(columns=list(assets))
        res["load_agrees"] = bool(
            _same_times(close.index, index)
            and np.array_equal(close.to_numpy(), our_close, equal_nan=True)
        )
        agree = _same_times(theirs["close"].index, ours.panel.index)
        for f in FIELDS:
            mine = ours.panel.field(f)
            other = theirs[f].reindex(columns=list(assets)).to_numpy()
            agree = agree and np.allclose(mine, other, rtol=0, atol=0, equal_nan=True)
        res["resample_agrees"] = bool(agree)
        res["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    finally:
        shutil.rmtree(root, ignore_errors=True)
    res["load_after"] = os.getloadavg()
    res["cpu"] = dict(CPU)
    return res


def report(r: dict[str, Any], argv: str) -> str:
    import alphaloop

    loads = r["loads_s"]
    med = statistics.median(loads) if loads else float("nan")
    busy = r["load_before"][0] > 2.0
    cpu = r["cpu"]
    rows = [
        "| route | import | first load | load, median | resample 1m -> 5m |",
        "|---|---:|---:|---:|---:|",
        f"| alphaloop | {r['import_s']:.1f} s ({cpu['import']:.2f} s CPU) | "
        f"{r['first_load_s']:.1f} s ({cpu['first_load']:.2f} s CPU) | {med:.1f} s "
        f"(n={len(loads)}) | {r['alpha_resample_s']:.1f} s ({cpu['resample']:.2f} s CPU) |",
        f"| pandas read_parquet + pivot | — | {r['pandas_load_s']:.1f} s "
        f"({cpu['pandas_load']:.2f} s CPU) | — | {r['pandas_resample_s']:.1f} s "
        f"({cpu['pandas_resample']:.2f} s CPU) |",
    ]
    return "\n".join(
        [
            DOC_START,
            "## Intraday: minute bars imported, loaded and resampled (`bench/bench_intraday.py`)",
            "",
            f"Run on {dt.date.today():%Y-%m-%d} with `python bench/bench_intraday.py {argv}`"
            f" (symbols={r['symbols']}, years={r['years']}, seed={r['seed']}).",
            "",
            f"**Machine:** {cpu_name()}, {os.cpu_count()} cores, {memory_total()}, "
            f"Python {platform.python_version()}, alphaloop {alphaloop.__version__}. "
            f"Load average (1 min): {r['load_before'][0]:.1f} before, "
            f"{r['load_after'][0]:.1f} after"
            + (
                ": the machine was shared and busy, so every figure is slower than on an idle "
                "machine (both routes alike)."
                if busy
                else "."
            ),
            "",
            f"**Workload:** {r['symbols']} symbols x {r['minutes']:,} minutes (every minute of "
            f"the NYSE sessions {FIRST_YEAR}..{FIRST_YEAR + r['years'] - 1}, early closes "
            f"included) = {r['rows']:,} rows in one Parquet file ({r['file_mb']:,.0f} MB). "
            f"Recorded market: {r['market']}. Quality issues: "
            f"{', '.join(r['issues']) or 'none'}.",
            "",
            f"Loaded: {r['loaded_minutes']:,} minutes x {r['symbols']} symbols (loads stop "
            "before the sealed holdout, the last 20% of the bars; the pandas frames are cut "
            "at the same minute for the comparisons).",
            "",
            *rows,
            "",
            "Wall seconds, and in brackets the CPU seconds of the process (threads "
            "included): on a shared machine the wall time includes waiting for a core.",
            "",
            "alphaloop's import runs every quality check (gaps against the XNYS calendar "
            "included) and stores a version; pandas reads and pivots only. Resampling: "
            "alphaloop follows the XNYS sessions and stamps each bar at its end; pandas "
            "buckets by the clock with `closed=left, label=right` and drops empty buckets.",
            "",
            f"**Agreement:** load {'equal' if r['load_agrees'] else 'DIFFERENT'} (close, every "
            f"cell); resampled bars {'equal' if r['resample_agrees'] else 'DIFFERENT'} (every "
            f"field, every cell). Peak memory of the process: {r['peak_rss_gb']:.1f} GiB "
            f"({r['peak_rss_gb_alphaloop']:.1f} GiB before the pandas route).",
            DOC_END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    r = run(args.symbols, args.years, args.seed, args.repeats)
    argv = " ".join(a for a in sys.argv[1:])
    text = report(r, argv)
    print(text)
    if args.write_docs:
        write_docs_section(text, DOC_START, DOC_END)
    return 0 if r["load_agrees"] and r["resample_agrees"] else 1


if __name__ == "__main__":
    sys.exit(main())
