"""Benchmark: peak memory of importing a file of minute bars, in bytes per row.

Workload: the synthetic minute file of ``bench/bench_intraday.py`` (``symbols``
x every minute of the NYSE sessions of ``years`` years, rows by minute then
symbol, seed 7), as Parquet and, with ``--csv``, the same rows as CSV text
(ISO 8601 timestamps with ``Z``). Each import runs in a fresh Python process
(``Workspace(tmp).data.import_file(path, name)``: read, parse, every quality
check, hash, write, record) so that its peak resident set size is its own.

Figures per import: the resident set size before the import (Python and the
libraries loaded, a workspace open), the peak during it, and the peak above
the baseline divided by the rows (bytes a row). ``--stages`` also prints, per
stage of the import, the resident size at its entry and exit and the peak
inside it (Linux: the peak is reset through ``/proc/self/clear_refs``).

Usage::

    python bench/bench_import_memory.py                         # 20 x 1y and 100 x 1y
    python bench/bench_import_memory.py --sizes 20x1 --stages   # where the bytes go
    python bench/bench_import_memory.py --csv --write-docs      # also CSV; update the docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
DOC_START = "<!-- bench_import_memory:start -->"
DOC_END = "<!-- bench_import_memory:end -->"
SEED = 7


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class StageLog:
    """Resident size at each stage boundary and the peak since the previous boundary."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.lock = threading.Lock()
        self.events: list[tuple[str, int, int]] = []  # label, rss KiB, peak KiB since last
        _reset_peak()

    def mark(self, label: str) -> None:
        with self.lock:
            self.events.append((label, _status_kib("VmRSS"), _status_kib("VmHWM")))
            _reset_peak()

    def wrap(self, owner: Any, attr: str, label: str | None = None) -> None:
        fn = getattr(owner, attr)
        name = label or attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.mark(f"> {name}")
            try:
                return fn(*args, **kwargs)
            finally:
                self.mark(f"< {name}")

        setattr(owner, attr, wrapped)

    def lines(self, base_kib: int) -> list[str]:
        out = []
        depth = 0
        for label, rss, peak in self.events:
            if label.startswith("<"):
                depth -= 1
            out.append(
                f"{'  ' * depth}{label:<28} rss {(rss - base_kib) / 1024:8.1f} MiB"
                f"   peak since last {(peak - base_kib) / 1024:8.1f} MiB"
                f" ({(peak - base_kib) * 1024 / self.rows:6.1f} B/row)"
            )
            if label.startswith(">"):
                depth += 1
        return out


def _instrument(log: StageLog) -> None:
    import importlib

    import pyarrow.parquet as pq

    def mod(name: str) -> Any:
        return importlib.import_module(f"alphaloop.data.{name}")

    catalog, long, normalize, price_checks = (
        mod(m) for m in ("catalog", "long", "normalize", "price_checks")
    )
    quality, readers, store = mod("quality"), mod("readers"), mod("store")

    for attr in ("read_table", "normalize", "_file_calendar", "check_rows", "find_copies"):
        if hasattr(catalog, attr):
            log.wrap(catalog, attr)
    log.wrap(catalog.DataCatalog, "_sealed_spans")
    log.wrap(catalog.DataCatalog, "_record")
    log.wrap(store.ParquetStore, "write")
    log.wrap(long.LongData, "content_hash")
    log.wrap(long, "sort_rows")
    log.wrap(pq, "write_table")
    log.wrap(readers, "_read_parquet")
    log.wrap(readers, "resolve_layout")
    log.wrap(normalize, "parse_timestamps")
    log.wrap(normalize, "_asset_codes")
    log.wrap(normalize, "_parse_numbers")
    log.wrap(normalize, "timestamp_issues")
    log.wrap(quality, "sort_rows")
    log.wrap(quality, "calendar_checks")
    for attr in ("no_usable_prices", "future_correlated_fields", "synthetic_opens"):
        log.wrap(price_checks, attr)
    for attr in dir(quality):
        if attr.startswith("_check_") and callable(getattr(quality, attr)):
            log.wrap(quality, attr)


def child(path: str, rows: int, stages: bool) -> dict[str, Any]:
    """Import ``path`` in this process; the memory figures as a dict."""
    import resource

    from alphaloop.app import Workspace

    root = Path(tempfile.mkdtemp(prefix="bench_import_memory_"))
    ws = Workspace(root / "ws")
    ws.data.ensure_bundled()
    log = StageLog(rows) if stages else None
    if log is not None:
        _instrument(log)
    import gc

    gc.collect()
    base_kib = _status_kib("VmRSS")
    can_reset = _reset_peak()
    t0 = time.perf_counter()
    result = ws.data.import_file(path, "minutes")
    wall = time.perf_counter() - t0
    peak_kib = _status_kib("VmHWM") if can_reset else resource.getrusage(resource.RUSAGE_SELF)[2]
    if log is not None:
        peak_kib = max(p for _, _, p in [*log.events, ("", 0, _status_kib("VmHWM"))])
    info = result.dataset
    out = {
        "rows": info.rows,
        "content_hash": info.content_hash,
        "issues": [i.check for i in result.report.issues],
        "base_mib": base_kib / 1024,
        "peak_mib": peak_kib / 1024,
        "bytes_per_row": (peak_kib - base_kib) * 1024 / info.rows,
        "import_s": wall,
        "stages": log.lines(base_kib) if log is not None else [],
    }
    ws.close()
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    return out


def make_csv(parquet: Path) -> Path:
    """The rows of the Parquet file as CSV text (written once, atomically)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = parquet.with_suffix(".csv")
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    pf = pq.ParquetFile(parquet)
    with pacsv.CSVWriter(
        tmp,
        pa.schema([("timestamp", pa.string()), *list(pf.schema_arrow)[1:]]),
        write_options=pacsv.WriteOptions(quoting_style="none"),
    ) as writer:
        for batch in pf.iter_batches(batch_size=1 << 20):
            ts = pc.strftime(batch.column(0), format="%Y-%m-%dT%H:%M:%SZ")
            cols = [ts, *batch.columns[1:]]
            writer.write_batch(pa.record_batch(cols, names=batch.schema.names))
    tmp.rename(path)
    return path


def run_one(path: Path, rows: int, stages: bool, src: Path) -> dict[str, Any]:
    """Import ``path`` in a fresh process, with the alphaloop of ``src``."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(BENCH)!r}); import bench_import_memory as b; "
        f"print(json.dumps(b.child({str(path)!r}, {rows}, {stages!r})))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(BENCH)])}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"import of {path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(
    sizes: list[tuple[int, int]],
    csv: bool,
    stages: bool,
    before: Path | None,
    repeats: int = 1,
) -> list[dict[str, Any]]:
    from bench_intraday import make_parquet

    builds = (
        [("after", ROOT / "src")]
        if before is None
        else [("before", before), ("after", ROOT / "src")]
    )
    results = []
    for symbols, years in sizes:
        parquet, minutes = make_parquet(symbols, years, SEED)
        files: list[tuple[str, Path]] = [("Parquet", parquet)]
        if csv:
            files.append(("CSV", make_csv(parquet)))
        for kind, path in files:
            for build, src in builds:
                runs = [
                    run_one(path, symbols * minutes, stages and build == "after" and k == 0, src)
                    for k in range(repeats)
                ]
                if any(x["content_hash"] != runs[0]["content_hash"] for x in runs):
                    raise RuntimeError(f"{path}: the repeats stored different content")
                # the highest peak of the repeats (what a machine must have), the median time
                r = max(runs, key=lambda x: x["peak_mib"])
                r.update(
                    symbols=symbols,
                    years=years,
                    minutes=minutes,
                    kind=kind,
                    build=build,
                    file_mb=path.stat().st_size / 2**20,
                    import_s=statistics.median(x["import_s"] for x in runs),
                    peaks_mib=[x["peak_mib"] for x in runs],
                )
                print(
                    f"{build:6} {kind:7} {symbols} x {minutes:,} = {r['rows']:,} rows: base "
                    f"{r['base_mib']:.0f} MiB, peak {r['peak_mib']:.0f} MiB, "
                    f"{r['bytes_per_row']:.0f} B/row (peaks "
                    f"{', '.join(f'{x:.0f}' for x in r['peaks_mib'])}), "
                    f"{r['import_s']:.1f} s, hash {r['content_hash'][:16]}",
                    flush=True,
                )
                for line in r["stages"]:
                    print("   ", line)
                results.append(r)
    if before is not None:
        for a, b in zip(results[::2], results[1::2], strict=True):
            if a["content_hash"] != b["content_hash"]:
                raise RuntimeError(f"{a['kind']} {a['rows']} rows: stored content differs")
    return results


def report(results: list[dict[str, Any]], argv: str, load: tuple[float, float]) -> str:
    import alphaloop

    table = [
        "| file | rows | file size | code | RSS before | peak RSS | peak above before, a row "
        "| import |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        table.append(
            f"| {r['kind']} {r['symbols']} x {r['minutes']:,} | {r['rows']:,} | "
            f"{r['file_mb']:,.0f} MB | {r['build']} | "
            f"{r['base_mib']:,.0f} MiB | {r['peak_mib']:,.0f} MiB | "
            f"{r['bytes_per_row']:.0f} B | {r['import_s']:.1f} s |"
        )
    return "\n".join(
        [
            DOC_START,
            "## Import memory: minute bars (`bench/bench_import_memory.py`)",
            "",
            f"Run on {dt.date.today():%Y-%m-%d} with `python bench/bench_import_memory.py"
            f"{' ' + argv if argv else ''}`.",
            "",
            f"**Machine:** {cpu_name()}, {os.cpu_count()} cores, {memory_total()}, "
            f"Python {platform.python_version()}, alphaloop {alphaloop.__version__}. "
            f"Load average (1 min): {load[0]:.1f} before, {load[1]:.1f} after.",
            "",
            "**Workload:** the minute file of `bench/bench_intraday.py` (seed 7, rows by "
            "minute then symbol, NYSE sessions from 2021), imported with "
            "`ws.data.import_file(path, name)` in a fresh process per file (every quality "
            "check, gaps against the XNYS calendar included; hash; write; record).",
            "",
            *table,
            "",
            "RSS before: the process with Python, the libraries and an open workspace; the "
            "bytes a row are the peak above it divided by the rows; with `--repeats`, the "
            "highest peak of the repeats and the median time. Code: *before* is the "
            "import as it was before it was made leaner (`--before`, a checkout of that "
            "commit's `src`), *after* this checkout; both stored the same content hash for "
            "every file (checked by the script).",
            DOC_END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="20x1,100x1",
        help="comma-separated SYMBOLSxYEARS (default 20x1,100x1: 2M and 9.8M rows)",
    )
    parser.add_argument("--csv", action="store_true", help="also import the rows as CSV")
    parser.add_argument("--stages", action="store_true", help="print the memory of each stage")
    parser.add_argument(
        "--before",
        type=Path,
        help="also import each file with the alphaloop of this src directory (e.g. a checkout "
        "of an earlier commit) and check that both store the same content",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="imports per file and code (the highest peak counts)"
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    load_before = os.getloadavg()[0]
    results = run(sizes, args.csv, args.stages, args.before, args.repeats)  # type: ignore[arg-type]
    text = report(results, " ".join(sys.argv[1:]), (load_before, os.getloadavg()[0]))
    print(text)
    if args.write_docs:
        write_docs_section(text, DOC_START, DOC_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
