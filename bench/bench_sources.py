"""Benchmark: fetching daily bars from a Yahoo-shaped server into a workspace, and parsing.

Workload (default): 50 symbols x 5,000 daily bars (about 20 years), each a
seeded random walk (seed 11) with one 2:1 split and 20 dividends, served as
Yahoo's chart JSON by a local ``http.server`` on 127.0.0.1 (no network).

Routes, in the same process:

- **fetch online**: ``alphaloop.app.sources.fetch`` of all symbols, adjusted,
  through HTTP, the response cache (written), the quality checks and the
  versioned store (one new dataset version).
- **fetch offline**: the same command with ``offline=True`` (every answer read
  from the cache), a second version with the same content hash.
- **parse, alphaloop**: ``parse_chart`` of every answer (adjusted bars and
  events) from parsed JSON.
- **parse, yfinance**: ``yfinance.utils.parse_quotes`` + ``auto_adjust`` +
  ``parse_actions`` on the same parsed JSON (the peer's reading of the same
  answer). The adjusted closes must agree to 1e-12 (relative) or the script
  exits non-zero.

Usage::

    python bench/bench_sources.py                 # full size
    python bench/bench_sources.py --quick         # 10 symbols x 1,000 bars
    python bench/bench_sources.py --write-docs    # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_name, memory_total, write_docs_section

START, END = "<!-- bench_sources:start -->", "<!-- bench_sources:end -->"


def chart(symbol: str, n: int, rng: np.random.Generator) -> dict[str, Any]:
    """One Yahoo chart answer: ``n`` weekday bars opening 14:30 UTC, one split, 20 dividends."""
    days = pd.bdate_range("2004-01-02", periods=n)
    stamps = [int(pd.Timestamp(f"{d:%Y-%m-%d} 14:30", tz="UTC").timestamp()) for d in days]
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    open_ = close * np.exp(rng.normal(0, 0.003, n))
    high, low = np.maximum(open_, close) * 1.004, np.minimum(open_, close) * 0.996
    volume = rng.integers(10_000, 1_000_000, n)
    adj = close * np.linspace(0.8, 1.0, n)
    split = stamps[n // 2]
    divs = {str(stamps[k]): {"amount": 0.2, "date": stamps[k]} for k in range(n // 21, n, n // 20)}
    return {"chart": {"error": None, "result": [{
        "meta": {"symbol": symbol, "exchangeTimezoneName": "America/New_York", "currency": "USD"},
        "timestamp": stamps,
        "events": {"dividends": divs, "splits": {str(split): {
            "date": split, "numerator": 2.0, "denominator": 1.0, "splitRatio": "2:1"}}},
        "indicators": {
            "quote": [{"open": open_.tolist(), "high": high.tolist(), "low": low.tolist(),
                       "close": close.tolist(), "volume": volume.tolist()}],
            "adjclose": [{"adjclose": adj.tolist()}],
        },
    }]}}  # fmt: skip


def serve(bodies: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            symbol = unquote(urlsplit(self.path).path.rsplit("/", 1)[-1])
            body = bodies.get(symbol, b'{"chart": {"result": null, "error": {"code": "x"}}}')
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    n_symbols, n_bars = (10, 1_000) if args.quick else (50, 5_000)
    rng = np.random.default_rng(11)
    docs = {f"S{i:03d}": chart(f"S{i:03d}", n_bars, rng) for i in range(n_symbols)}
    bodies = {s: json.dumps(d).encode() for s, d in docs.items()}
    load_before = os.getloadavg()[0]
    server, url = serve(bodies)

    from alphaloop.app import Workspace
    from alphaloop.app.sources import fetch
    from alphaloop.data.sources.yahoo import parse_chart

    symbols = list(docs)
    with tempfile.TemporaryDirectory() as tmp, Workspace(Path(tmp) / "ws") as ws:
        ws.data._bundled_ready = True
        kw = {"start": "2004-01-01", "end": "2030-01-01"}
        t0 = time.perf_counter()
        online = fetch(ws, "yahoo", symbols, "bench", base_url=url, **kw)
        t_online = time.perf_counter() - t0
        t0 = time.perf_counter()
        offline = fetch(ws, "yahoo", symbols, "bench", offline=True, **kw)
        t_offline = time.perf_counter() - t0
    server.shutdown()
    assert offline.dataset.content_hash == online.dataset.content_hash

    t0 = time.perf_counter()
    ours = {s: parse_chart(d, s, adjusted=True) for s, d in docs.items()}
    t_ours = time.perf_counter() - t0
    import yfinance
    import yfinance.utils as yfu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        theirs = {}
        for s, d in docs.items():
            result = d["chart"]["result"][0]
            theirs[s] = (yfu.auto_adjust(yfu.parse_quotes(result)), yfu.parse_actions(result))
        t_theirs = time.perf_counter() - t0
    worst = max(
        float(np.max(np.abs(ours[s][0]["close"].to_numpy() / theirs[s][0]["Close"].to_numpy() - 1)))
        for s in docs
    )
    ok = worst < 1e-12
    rows = online.dataset.rows
    load_after = os.getloadavg()[0]
    today = dt.date.today().isoformat()
    lines = [
        START,
        "## Online sources: a Yahoo-shaped server into a dataset (`bench/bench_sources.py`)",
        "",
        f"Run on {today} with `python bench/bench_sources.py{' --quick' if args.quick else ''}"
        f"{' --write-docs' if args.write_docs else ''}` ({n_symbols} symbols x {n_bars:,} daily "
        "bars, seed 11, a local HTTP server: no network).",
        "",
        f"**Machine:** {cpu_name()}, {os.cpu_count()} cores, {memory_total()} memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"yfinance {yfinance.__version__}, pandas {pd.__version__}. Shared with other work: "
        f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after.",
        "",
        "| route | rows | seconds | rows/s |",
        "|---|---:|---:|---:|",
        f"| fetch online: HTTP, cache written, checks, store | {rows:,} | {t_online:.2f} | "
        f"{rows / t_online:,.0f} |",
        f"| fetch offline: cache read, checks, store | {rows:,} | {t_offline:.2f} | "
        f"{rows / t_offline:,.0f} |",
        f"| parse answers, alphaloop `parse_chart` (adjusted, events) | {rows:,} | {t_ours:.3f} | "
        f"{rows / t_ours:,.0f} |",
        f"| parse answers, yfinance `parse_quotes` + `auto_adjust` + `parse_actions` | {rows:,} | "
        f"{t_theirs:.3f} | {rows / t_theirs:,.0f} |",
        "",
        f"- agreement: max relative |Δ adjusted close| against yfinance {worst:.1e} "
        f"({'ok' if ok else 'FAILED'}); offline version has the online version's content hash.",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        write_docs_section(text, START, END)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
