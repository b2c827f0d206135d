"""Scale-out benchmark: 100,000 small backtests on Ray and on a process pool; the shared store.

Part 1, **small backtests**: single-asset moving-average crosses
(:func:`alphaloop.backtest.sweep.sma_cross_point`: fill at the next open,
default costs) on the first 1,000 bars of ``nasdaq-ohlcv``, windows drawn
with a seeded generator. The same points run

- in this process, on a sample (the compute time of one task, ``t_task``);
- on :class:`alphaloop.compute.RayPool` (the data in the object store
  once, batches of ``--batch`` points per actor call);
- on :class:`alphaloop.compute.ProcessPool` (the data sent to each worker
  once, the same batches);
- on the peer, :class:`concurrent.futures.ProcessPoolExecutor`, one point
  per task (``chunksize=1``, its default) on a sample, and with
  ``chunksize=--batch`` on every point;
- on Ray one point per call, on a sample (what batching saves).

Per-task overhead = ``wall * workers / n - t_task``: the CPU seconds a task
costs beyond its own compute (scheduling, pickling, round trips, idle
workers). Every pool's results are checked against the in-process ones.

Part 2, **the shared store**: 8 processes record strategies and their
evaluations at once into one PostgreSQL schema (and one SQLite file, for
comparison), each writer a share of its own points plus a share every
writer also records. Rows per second over the wall time from the start
barrier to the last writer's end; then the tables are counted: evaluations
lost (expected but absent) and duplicated (a strategy stored twice, an
evaluation stored by two writers) must both be zero.

    python bench/bench_scale.py                 # print the figures
    python bench/bench_scale.py --write-docs    # and update docs/benchmarks.md
    python bench/bench_scale.py --quick         # 10,000 points, 100 evaluations per writer
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_name, memory_total, write_docs_section
from alphaloop.backtest.sweep import SmaCross, SweepData, sma_cross_point, sweep_data

POSTGRES_URL = os.environ.get(
    "ALPHALOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START, END = "<!-- bench_scale:start -->", "<!-- bench_scale:end -->"
BARS = 1000
DATASET = "nasdaq-ohlcv"

# ----------------------------------------------------------------- part 1: backtests
_PEER: dict[str, SweepData] = {}


def _peer_init(data: SweepData) -> None:
    _PEER["data"] = data


def _peer_task(point: SmaCross) -> Any:
    return sma_cross_point(_PEER["data"], point)


def load_data(root: Path) -> SweepData:
    from alphaloop.app import Workspace

    with Workspace(root / "ws", holdout_fraction=0.0) as ws:
        ws.data.ensure_bundled()
        panel = ws.data.load(DATASET).iloc(slice(0, BARS))
    return sweep_data(panel)


def make_points(n: int, seed: int) -> list[SmaCross]:
    rng = np.random.default_rng(seed)
    fast = rng.integers(2, 60, size=n)
    slow = fast + rng.integers(5, 300, size=n)
    return [SmaCross("NASDAQ", int(f), int(s)) for f, s in zip(fast, slow, strict=True)]


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_backtests(args: argparse.Namespace, data: SweepData) -> dict[str, Any]:
    from alphaloop.compute import InlinePool, ProcessPool, RayPool

    points = make_points(args.tasks, args.seed)
    w, b = args.workers, args.batch
    sample = points[: args.sample]
    inline = InlinePool(data)
    inline.map(sma_cross_point, sample[:50])  # compile and warm the caches
    reference, wall = _timed(lambda: inline.map(sma_cross_point, sample))
    t_task = wall / len(sample)
    rows: list[dict[str, Any]] = []

    def row(name: str, n: int, wall: float, start: float, ok: bool) -> None:
        rows.append(
            {
                "name": name,
                "n": n,
                "wall": wall,
                "per_s": n / wall,
                "overhead_ms": (wall * w / n - t_task) * 1e3,
                "start": start,
                "same": ok,
            }
        )

    def check(got: list[Any]) -> bool:
        return got[: len(reference)] == reference

    # Ray, batched
    if not args.skip_ray:
        t0 = time.perf_counter()
        pool = RayPool(data, workers=w)
        pool.map(sma_cross_point, points[: 2 * w], batch_size=1)  # actors up, caches warm
        start = time.perf_counter() - t0
        got, wall = _timed(lambda: pool.map(sma_cross_point, points, batch_size=b))
        row(f"alphaloop RayPool, batches of {b}", len(points), wall, start, check(got))
        n1 = min(len(points), args.unbatched)
        got, wall = _timed(lambda: pool.map(sma_cross_point, points[:n1], batch_size=1))
        row("alphaloop RayPool, one point per call", n1, wall, math.nan, check(got))
        pool.close()
    # our process pool, batched
    t0 = time.perf_counter()
    pool = ProcessPool(data, workers=w)
    pool.map(sma_cross_point, points[: 2 * w], batch_size=1)  # workers spawned and warm
    start = time.perf_counter() - t0
    got, wall = _timed(lambda: pool.map(sma_cross_point, points, batch_size=b))
    row(f"alphaloop ProcessPool, batches of {b}", len(points), wall, start, check(got))
    pool.close()
    # the peer: concurrent.futures, per point and chunked
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(w, mp_context=ctx, initializer=_peer_init, initargs=(data,)) as ex:
        list(ex.map(_peer_task, points[: 2 * w]))
        n1 = min(len(points), args.unbatched)
        got, wall = _timed(lambda: list(ex.map(_peer_task, points[:n1])))
        row("ProcessPoolExecutor.map, chunksize=1", n1, wall, math.nan, check(got))
        got, wall = _timed(lambda: list(ex.map(_peer_task, points, chunksize=b)))
        row(f"ProcessPoolExecutor.map, chunksize={b}", len(points), wall, math.nan, check(got))
    return {"t_task": t_task, "sample": len(sample), "rows": rows}


# ------------------------------------------------------------------ part 2: the store
def _writer(
    url: str, schema: str | None, me: int, n_own: int, n_shared: int, barrier: Any, out: Any
) -> None:
    from alphaloop.backtest import quick_spec
    from alphaloop.research import EvaluationRecord, StrategyDB
    from alphaloop.store import Database

    sdb = StrategyDB(Database(url, schema=schema))
    _ = sdb.n_trials("bench")  # connected before the start
    shared = list(range(n_shared))
    own = list(range(10_000 + me * n_own, 10_000 + (me + 1) * n_own))
    k = (me * n_shared) // 8
    windows = shared[k:] + own + shared[:k]
    # specs built before the start: the timed loop is the database's work only
    specs = [quick_spec(f"$close / Ref($close, {w + 2}) - 1", "bench") for w in windows]
    _ = [spec.hash for spec in specs], sdb.evaluation(specs[0].hash, "bench")
    barrier.wait()
    t0 = time.time()
    stored = 0
    for window, spec in zip(windows, specs, strict=True):
        sdb.record_strategy(spec, origin="research")
        stored += sdb.record_evaluation(
            EvaluationRecord(
                strategy_hash=spec.hash,
                protocol="bench",
                status="ok",
                reason=None,
                sharpe=(window % 97) / 50 - 1,
                metrics={"periods_per_year": 252.0},
                folds=[],
                lookahead={},
                validation=None,
                passed=None,
                returns=None,
                provenance={"seed": me},
                session_id=None,
            )
        )
    out.put((me, t0, time.time(), stored, len(windows)))
    sdb.db.dispose()


def bench_store(args: argparse.Namespace, backend: str, tmp: Path) -> dict[str, Any]:
    from sqlalchemy import create_engine, func, select

    from alphaloop.store import Database, EvaluationRow, StrategyRow

    if backend == "postgresql":
        url, schema = POSTGRES_URL, f"bench_{uuid.uuid4().hex[:10]}"
    else:
        url, schema = f"sqlite:///{tmp / 'store.db'}", None
    db = Database(url, schema=schema)
    _ = db.engine  # migrated before the writers start
    n, n_own, n_shared = args.writers, args.evaluations, args.evaluations // 4
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(url, schema, i, n_own, n_shared, barrier, out))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    reports = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    wall = max(r[2] for r in reports) - min(r[1] for r in reports)
    expected = n_shared + n * n_own
    with db.session() as s:
        n_strategies = int(s.scalar(select(func.count()).select_from(StrategyRow)) or 0)
        n_eval = int(s.scalar(select(func.count()).select_from(EvaluationRow)) or 0)
        distinct = int(
            s.scalar(select(func.count(func.distinct(EvaluationRow.strategy_hash)))) or 0
        )
    stored = sum(r[3] for r in reports)
    attempts = sum(r[4] for r in reports)
    db.dispose()
    if schema is not None:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
    return {
        "backend": backend,
        "writers": n,
        "attempts": attempts,
        "expected": expected,
        "rows": n_eval,
        "strategies": n_strategies,
        "stored_claims": stored,
        "lost": expected - distinct,
        "duplicated": (n_eval - distinct) + (stored - n_eval) + (n_strategies - expected),
        "wall": wall,
        "per_s": n_eval / wall,
        "attempts_per_s": attempts / wall,
    }


# ---------------------------------------------------------------------- report
def machine() -> dict[str, str]:
    import alphaloop

    try:
        import ray

        ray_version = ray.__version__
    except ImportError:
        ray_version = "not installed"
    return {
        "cpu": cpu_name(),
        "cores": str(os.cpu_count()),
        "memory": memory_total(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": f"alphaloop {alphaloop.__version__}, ray {ray_version}, numpy {np.__version__}",
    }


def report(bt: dict[str, Any], stores: list[dict[str, Any]], args: Any, load: str) -> str:
    info = machine()
    lines = [
        START,
        "## Scale-out: small backtests on Ray and a process pool; the shared store "
        "(`bench/bench_scale.py`)",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d} with `python bench/bench_scale.py "
        f"{' '.join(sys.argv[1:])}`. **The machine was shared**: load average (1 min) "
        f"{load}; other processes used its cores during the run, so the figures are lower "
        "bounds.",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        "",
        f"**{args.tasks:,} small backtests** (moving-average cross on the first {BARS:,} "
        f"bars of `{DATASET}`, next-open fills, default costs), {args.workers} workers. "
        f"One point computed in process: **{bt['t_task'] * 1e3:.3f} ms** (mean of "
        f"{bt['sample']:,}). Overhead per task = wall x workers / tasks - that time.",
        "",
        "| pool | tasks | wall (s) | tasks / s | overhead per task (ms) | start-up (s) | "
        "same results |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in bt["rows"]:
        start = "-" if math.isnan(r["start"]) else f"{r['start']:.1f}"
        lines.append(
            f"| {r['name']} | {r['n']:,} | {r['wall']:.1f} | {r['per_s']:,.0f} | "
            f"{r['overhead_ms']:.3f} | {start} | {'yes' if r['same'] else '**no**'} |"
        )
    ray_rows = [r for r in bt["rows"] if r["name"].startswith("alphaloop RayPool, batches")]
    if ray_rows:
        o = ray_rows[0]["overhead_ms"]
        met = "met" if o < 10 else "**not met**"
        lines += [
            "",
            f"**Goal** Ray overhead under 10 ms per task with batching: {met} ({o:.3f} ms).",
        ]
    lines += [
        "",
        f"**Shared store**: {args.writers} processes recording strategies and evaluations at "
        f"once ({args.evaluations:,} of its own per writer, plus {args.evaluations // 4:,} "
        "every writer records too: those must be stored once).",
        "",
        "| store | writers | evaluations stored | wall (s) | rows / s | attempts / s | lost | "
        "duplicated |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stores:
        lines.append(
            f"| {s['backend']} | {s['writers']} | {s['rows']:,} of {s['expected']:,} | "
            f"{s['wall']:.1f} | **{s['per_s']:,.0f}** | {s['attempts_per_s']:,.0f} | "
            f"{s['lost']} | {s['duplicated']} |"
        )
    lines += [
        "",
        "A row is one evaluation (its strategy recorded first, the strategy row locked while "
        "the evaluation and the dataset's trial counter are written in one transaction). "
        "Attempts include the shared points a writer found already stored. Every first "
        "evaluation on a dataset also bumps that dataset's trial counter row, so writers "
        "on one dataset take turns on that row until they commit (the price of an O(1) "
        "trial count).",
        END,
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--sample", type=int, default=3000)
    ap.add_argument("--unbatched", type=int, default=5000)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--evaluations", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args(argv)
    args.tasks = args.tasks or (10_000 if args.quick else 100_000)
    args.evaluations = args.evaluations or (100 if args.quick else 400)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        data = load_data(Path(tmp))
        bt = bench_backtests(args, data)
        stores = [bench_store(args, "postgresql", Path(tmp))]
        if not args.skip_sqlite:
            stores.append(bench_store(args, "sqlite", Path(tmp)))
    load = f"{load0:.2f} before the run, {os.getloadavg()[0]:.2f} after"
    text = report(bt, stores, args, load)
    print(text)
    if args.write_docs:
        write_docs_section(text, START, END)


if __name__ == "__main__":
    main()
