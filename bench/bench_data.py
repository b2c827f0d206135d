"""Benchmark: import and load a long-format OHLCV file, alphaloop next to pandas.

Workload (default): 500 symbols x 10,000 daily bars (business days) x OHLCV,
i.e. 5,000,000 rows of ``timestamp,symbol,open,high,low,close,volume`` with
ISO dates, written once with a fixed seed to ``bench/.work/`` and reused.

Routes, timed in the same process:

- **alphaloop**: ``Workspace(tmp).data.import_file(csv, "bench")`` (read,
  parse, run every quality check, write the Parquet version, record it), then
  ``ws.data.load("bench")`` into a 500 x 10,000 x 5 Panel: the first load
  from a fresh ``Workspace`` object ("cold"; the OS file cache is warm) and
  the median of ``--repeats`` further loads.
- **pandas**: ``pd.read_csv(csv, parse_dates=["timestamp"])`` plus one
  ``pivot`` per field (a wide DataFrame each for open, high, low, close,
  volume). Also, for reference: the same with ``engine="pyarrow"``, and the
  pandas way to keep the data, ``to_parquet`` of the long frame then
  ``read_parquet`` + ``pivot`` per field.

Both routes must hold the same values (calendar, asset order and every field
compared cell by cell) or the script exits non-zero.

Goals (from the project's issue): loading the stored panel in under 1 s, and
importing at least as fast as the plain pandas route.

Usage::

    python bench/bench_data.py                       # full size, prints the table
    python bench/bench_data.py --symbols 20 --bars 500   # quick smoke run
    python bench/bench_data.py --write-docs          # also update docs/benchmarks.md
    python bench/bench_data.py --profile             # cProfile the alphaloop steps
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
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
FIELDS = ("open", "high", "low", "close", "volume")
LOAD_GOAL_S = 1.0
DOC_START = "<!-- bench_data:start -->"
DOC_END = "<!-- bench_data:end -->"


# ------------------------------------------------------------------ workload
@dataclass(frozen=True)
class Workload:
    """Size and seed of the synthetic file."""

    symbols: int
    bars: int
    seed: int

    @property
    def rows(self) -> int:
        return self.symbols * self.bars

    @property
    def csv_path(self) -> Path:
        return WORK / f"ohlcv_{self.symbols}x{self.bars}_seed{self.seed}.csv"


def _tickers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct upper-case tickers of 3 or 4 letters, in random order."""
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        size = int(rng.integers(3, 5))
        name = "".join(rng.choice(letters, size))
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def make_csv(work: Workload) -> Path:
    """Write the synthetic long-format file once (atomically); reuse it when present.

    Rows are ordered by date, then by symbol in a fixed random order, as a
    daily export would append them. Prices are a geometric random walk (1.5%
    daily volatility) rounded to 4 decimals, with ``high >= max(open, close)``
    and ``low <= min(open, close)``; volumes are positive integers.
    """
    path = work.csv_path
    if path.exists():
        return path
    import pyarrow as pa
    import pyarrow.csv as pacsv

    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(work.seed)
    shape = (work.bars, work.symbols)
    open_, high, low, close = ohlc_walk(rng, shape, 10.0, 200.0)
    # rounding is monotone, so the OHLC inequalities survive it
    prices = {k: np.round(v, 4).ravel() for k, v in (("open", open_), ("high", high))}
    prices |= {k: np.round(v, 4).ravel() for k, v in (("low", low), ("close", close))}
    volume = np.maximum(np.rint(rng.lognormal(12.0, 1.0, shape)), 1).astype(np.int64).ravel()
    dates = pd.bdate_range("1985-01-01", periods=work.bars).date
    table = pa.table(
        {
            "timestamp": pa.array(np.repeat(dates, work.symbols), pa.date32()),
            "symbol": pa.array(np.tile(_tickers(rng, work.symbols), work.bars), pa.string()),
            **{k: pa.array(v) for k, v in prices.items()},
            "volume": pa.array(volume),
        }
    )
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("wb") as fh:
        fh.write(b"timestamp,symbol,open,high,low,close,volume\n")
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    tmp.rename(path)
    return path


# -------------------------------------------------------------------- timing
@dataclass
class Figures:
    """Seconds measured for one route (empty where a step does not apply)."""

    label: str
    import_runs_s: list[float] = field(default_factory=list)
    load_cold_s: float | None = None
    load_runs_s: list[float] = field(default_factory=list)
    notes: str = ""

    @property
    def import_s(self) -> float | None:
        return statistics.median(self.import_runs_s) if self.import_runs_s else None

    @property
    def load_median_s(self) -> float | None:
        return statistics.median(self.load_runs_s) if self.load_runs_s else None


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` (after a garbage collection) and its result."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def profiled(fn: Callable[[], Any], name: str, top: int = 25) -> Any:
    """Run ``fn`` under cProfile; write the top functions by cumulative time to WORK."""
    prof = cProfile.Profile()
    out = prof.runcall(fn)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    dest = WORK / f"profile_{name}.txt"
    dest.write_text(buf.getvalue())
    print(f"profile of {name} written to {dest.relative_to(ROOT)}", file=sys.stderr)
    return out


# -------------------------------------------------------------------- routes
def _pivot(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One wide (timestamp x symbol) frame per field."""
    return {f: long.pivot(index="timestamp", columns="symbol", values=f) for f in FIELDS}


def _pandas_import(csv: Path, engine: str | None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The pandas route: parse the CSV, then one pivot per field."""
    kwargs: dict[str, Any] = {"parse_dates": ["timestamp"]}
    if engine:
        kwargs["engine"] = engine
    long = pd.read_csv(csv, **kwargs)
    return long, _pivot(long)


def _workspace(root: Path) -> Any:
    """A Workspace on ``root`` with SQLite in it, whatever ``ALPHALOOP_*`` says.

    No sealed holdout: this benchmark loads the whole stored panel back and
    compares it cell by cell with what was imported.
    """
    from alphaloop.app import Workspace

    return Workspace(root, database_url=None, database_schema=None, holdout_fraction=0.0)


def run_loads(fig: Figures, load: Callable[[], Any], repeats: int) -> Any:
    """Time a first load, then ``repeats`` loads; return one more load's result."""
    fig.load_cold_s, out = timed(load)
    del out
    for _ in range(repeats):
        seconds, out = timed(load)
        fig.load_runs_s.append(seconds)
        del out
    return load()


@dataclass
class Results:
    """Everything one run measured, and the values each route produced."""

    figures: list[Figures]
    status: str
    agreement: list[str]


def run(csv: Path, import_repeats: int, load_repeats: int, profile: bool) -> Results:
    """Time every route; imports are interleaved round by round to share the machine's drift."""
    al = Figures("alphaloop")
    pd_csv = Figures("pandas read_csv + pivot", notes="no checks, nothing stored")
    pd_arrow = Figures(
        "pandas read_csv(engine='pyarrow') + pivot", notes="no checks, nothing stored"
    )
    pd_pq = Figures("pandas to_parquet / read_parquet + pivot")
    wides: dict[str, dict[str, pd.DataFrame]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="ws-", dir=WORK))
    try:
        ws = _workspace(tmp)
        setup_s, _ = timed(ws.data.list)  # creates the database, registers bundled data
        if profile:  # a separate, untimed import under another name
            profiled(lambda: ws.data.import_file(csv, "bench-profiled"), "alphaloop_import")
        long = None
        for i in range(import_repeats):
            last = i == import_repeats - 1
            print(f"imports, round {i + 1} of {import_repeats} ...", file=sys.stderr)
            seconds, result = timed(lambda: ws.data.import_file(csv, "bench"))
            al.import_runs_s.append(seconds)
            for fig, engine in ((pd_csv, None), (pd_arrow, "pyarrow")):
                seconds, (frame, wide) = timed(partial(_pandas_import, csv, engine))
                fig.import_runs_s.append(seconds)
                if last:
                    wides[fig.label] = wide
                    long = frame if engine is None else long
                del frame, wide
        warnings = [i.check for i in (result.final_report or result.report).warnings]
        status = result.status + (f", warnings: {', '.join(warnings)}" if warnings else "")
        al.notes = f"workspace setup {setup_s:.2f} s not included"

        print("loads ...", file=sys.stderr)
        fresh = _workspace(tmp)
        panel = run_loads(al, lambda: fresh.data.load("bench"), load_repeats)
        if profile:
            profiled(lambda: fresh.data.load("bench"), "alphaloop_load")

        assert long is not None
        path = tmp / "pandas-long.parquet"
        for _ in range(import_repeats):
            seconds, _ = timed(partial(long.to_parquet, path))
            pd_pq.import_runs_s.append(seconds)
        del long
        pd_pq.notes = "import column: to_parquet of the frame read_csv parsed"
        wides[pd_pq.label] = run_loads(pd_pq, lambda: _pivot(pd.read_parquet(path)), load_repeats)

        agreement = []
        for label, wide in wides.items():
            agreement += compare(panel, wide, label)
        return Results([al, pd_csv, pd_arrow, pd_pq], status, agreement)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- agreement
def compare(panel: Any, wide: dict[str, pd.DataFrame], what: str) -> list[str]:
    """Differences between a Panel and wide frames; an empty list means they agree."""
    problems = []
    index = pd.DatetimeIndex(wide["close"].index)
    if not panel.index.tz_convert(None).equals(index):
        problems.append(f"{what}: calendars differ")
    if list(panel.assets) != [str(c) for c in wide["close"].columns]:
        problems.append(f"{what}: asset order differs")
    for f in FIELDS:
        a = np.asarray(panel[f])
        b = wide[f].to_numpy(dtype=np.float64)
        if a.shape != b.shape:
            problems.append(f"{what}: {f} shapes differ {a.shape} vs {b.shape}")
        elif not np.array_equal(a, b, equal_nan=True):
            n = int((~((a == b) | (np.isnan(a) & np.isnan(b)))).sum())
            close = np.allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True)
            problems.append(
                f"{what}: {f} differs in {n} cell(s)"
                + (" (all within 1e-12 relative)" if close else "")
            )
    return problems


# ----------------------------------------------------------------- reporting
def machine() -> dict[str, str]:
    """CPU, cores, memory, Python and library versions."""
    import duckdb
    import pyarrow

    cpu, mem = cpu_name(), memory_total()
    try:
        cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
        cores = cores.strip()
    except (OSError, subprocess.CalledProcessError):
        cores = str(os.cpu_count())
    import alphaloop

    return {
        "cpu": cpu,
        "cores": cores,
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": (
            f"alphaloop {alphaloop.__version__}, numpy {np.__version__}, "
            f"pandas {pd.__version__}, pyarrow {pyarrow.__version__}, "
            f"duckdb {duckdb.__version__}"
        ),
    }


def _s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _median_cell(runs: list[float]) -> str:
    """Median with the range of the runs, e.g. ``5.64 (5.40–6.72, n=3)``."""
    if not runs:
        return "—"
    median = statistics.median(runs)
    if len(runs) == 1:
        return f"{median:.2f} (n=1)"
    return f"{median:.2f} ({min(runs):.2f}–{max(runs):.2f}, n={len(runs)})"


def table(figs: list[Figures]) -> str:
    """Markdown table of the figures, one row per route."""
    lines = [
        "| route | import, median (s) | first load (s) | load, median (s) | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for f in figs:
        lines.append(
            f"| {f.label} | {_median_cell(f.import_runs_s)} | {_s(f.load_cold_s)} "
            f"| {_median_cell(f.load_runs_s)} | {f.notes} |"
        )
    return "\n".join(lines)


def goals(al: Figures, pd_csv: Figures) -> list[tuple[str, bool, str]]:
    """(goal, met, figures) for the two goals of the issue."""
    assert al.load_median_s is not None
    assert al.import_s is not None
    assert pd_csv.import_s is not None
    return [
        (
            f"load the stored panel in under {LOAD_GOAL_S:g} s",
            al.load_median_s < LOAD_GOAL_S,
            f"median {al.load_median_s:.2f} s, first load {_s(al.load_cold_s)} s",
        ),
        (
            "import at least as fast as pandas read_csv + pivot",
            al.import_s <= pd_csv.import_s,
            f"{al.import_s:.2f} s vs {pd_csv.import_s:.2f} s "
            f"({al.import_s / pd_csv.import_s:.2f}x)",
        ),
    ]


def section(
    work: Workload,
    csv: Path,
    info: dict[str, str],
    figs: list[Figures],
    goal_rows: list[tuple[str, bool, str]],
    status: str,
    agreement: list[str],
) -> str:
    """The docs section for this benchmark, between its markers."""
    size_mb = csv.stat().st_size / 1e6
    command = " ".join(["python bench/bench_data.py", *sys.argv[1:]])
    goal_lines = "\n".join(
        f"- {'met' if ok else '**not met**'}: {goal} — {text}" for goal, ok, text in goal_rows
    )
    agree = (
        "the alphaloop Panel and the pandas frames hold the same calendar, asset order and "
        "values (every cell of every field compared exactly, NaN = NaN)"
        if not agreement
        else "**the routes disagree**: " + "; ".join(agreement)
    )
    return f"""{DOC_START}
## Data: import and load a long OHLCV file (`bench/bench_data.py`)

Run on {dt.date.today().isoformat()} with `{command}`
(symbols={work.symbols}, bars={work.bars}, seed={work.seed}).

**Machine:** {info["cpu"]}, {info["cores"]} cores (`nproc`), {info["memory"]} memory,
{info["os"]}, Python {info["python"]}; {info["versions"]}. Load average (1 min):
{info.get("load", "not recorded")} (other work on the machine slows every route).

**Workload:** a synthetic long-format CSV, {work.symbols:,} symbols x {work.bars:,} business-day
bars = {work.rows:,} rows of `timestamp,symbol,open,high,low,close,volume` ({size_mb:.0f} MB;
ISO dates, rows ordered by date then symbol, geometric random-walk prices rounded to 4 decimals
with high >= max(open, close) and low <= min(open, close), positive integer volumes). The
panel is {work.bars:,} times x {work.symbols:,} assets x {len(FIELDS)} fields.

- *alphaloop import*: `Workspace(tmp).data.import_file(csv, name)`: read, parse, every
  quality check, write the Parquet version, record it in SQLite (status: {status}).
- *alphaloop load*: `ws.data.load(name)` into a Panel; "first load" is the first call on a
  fresh `Workspace` object (the OS file cache is warm), the median is over the following calls.
- *pandas*: `pd.read_csv(csv, parse_dates=["timestamp"])` then `pivot` per field (one wide
  DataFrame each for open, high, low, close, volume). The pyarrow-engine row is the same with
  `engine="pyarrow"`. The Parquet row stores the parsed long frame with `to_parquet` (its import
  column is only that write) and loads with `read_parquet` + `pivot` per field.

{table(figs)}

Imports are interleaved (alphaloop, pandas, pandas-pyarrow, then again) so that the three
routes share whatever the machine is doing; on this 2-core VM single figures vary by up to
about 25% between runs, hence the medians and ranges.

**Goals:**

{goal_lines}

**Agreement:** {agree}.
{DOC_END}"""


def write_docs(text: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md."""
    write_docs_section(text, DOC_START, DOC_END)


# ---------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--symbols", type=int, default=500, help="number of symbols (default 500)")
    p.add_argument("--bars", type=int, default=10_000, help="bars per symbol (default 10,000)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic data (default 7)")
    p.add_argument("--repeats", type=int, default=5, help="timed loads after the first (5)")
    p.add_argument("--import-repeats", type=int, default=3, help="timed imports per route (3)")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    p.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the alphaloop import and load into bench/.work/profile_*.txt",
    )
    args = p.parse_args(argv)
    if args.symbols < 1 or args.bars < 3 or min(args.repeats, args.import_repeats) < 1:
        p.error("--symbols must be >= 1, --bars >= 3, --repeats and --import-repeats >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Workload(args.symbols, args.bars, args.seed)
    existed = work.csv_path.exists()
    gen_s, csv = timed(lambda: make_csv(work))
    print(
        f"workload: {work.rows:,} rows ({work.symbols} x {work.bars}), {csv.relative_to(ROOT)} "
        + ("reused" if existed else f"written in {gen_s:.1f} s"),
        file=sys.stderr,
    )
    load_before = os.getloadavg()[0]
    res = run(csv, args.import_repeats, args.repeats, args.profile)
    load = f"{load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after"
    figs, agreement = res.figures, res.agreement
    goal_rows = goals(figs[0], figs[1])
    print(table(figs))
    print()
    for goal, ok, text in goal_rows:
        print(f"{'met' if ok else 'NOT MET'}: {goal} ({text})")
    print("agreement: " + ("all routes hold the same values" if not agreement else "FAILED"))
    for line in agreement:
        print(f"  {line}")
    if args.write_docs:
        write_docs(
            section(work, csv, machine() | {"load": load}, figs, goal_rows, res.status, agreement)
        )
    return 1 if agreement else 0


if __name__ == "__main__":
    sys.exit(main())
