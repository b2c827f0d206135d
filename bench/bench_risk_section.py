"""Benchmark: what the risk section adds to a backtest tearsheet, and its parts.

Cases:

- **tearsheet**: the momentum strategy of docs/backtest.md (top 5 of the 20
  bundled S&P 500 stocks by 120-day return, fills at the next close) over the
  whole bundled span; ``render_backtest_report`` with its risk section, and
  with the risk section replaced by nothing (the page as it was before),
  best of ``--repeats`` after a warm-up render.
- **profile**: ``strategy_risk_profile`` of the same returns (VaR by four
  methods at 95% and 99%, two rolling VaR backtests, crisis windows,
  drawdown, three factor sets) and ``render_risk_section``.
- **rolling historical VaR**: ``rolling_var_forecasts`` (sorted windows in
  blocks) against one ``estimate_var`` per window, on 5,000 bars with a
  250-bar window; the two must agree to 1e-12 or the script exits non-zero.
- **long series**: 50,000 hourly bars: the profile with the tearsheet's cap
  on fitted methods (``RISK_FIT_BARS``) and without it (``--quick`` skips it).

Usage::

    python bench/bench_risk_section.py               # all cases
    python bench/bench_risk_section.py --quick       # without the long series
    python bench/bench_risk_section.py --write-docs  # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import cpu_name, memory_total, write_docs_section  # bench/ is on the path

START = "<!-- bench_risk_section:start -->"
END = "<!-- bench_risk_section:end -->"
SPEC = {
    "name": "momentum-top5",
    "data": "sp500-stocks",
    "signal": {"expr": "$close/Ref($close,120)-1"},
    "portfolio": {"k": 5},
    "fills": "next_close",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="skip the 50,000-bar series")
    p.add_argument("--write-docs", action="store_true")
    return p.parse_args(argv)


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from alphaloop.app import Workspace
    from alphaloop.app.backtests import run_backtest
    from alphaloop.backtest import (
        RISK_FIT_BARS,
        StrategySpec,
        render_backtest_report,
        render_risk_section,
        strategy_risk_profile,
    )
    from alphaloop.backtest import tearsheet as tearsheet_module
    from alphaloop.risk import estimate_var, risk_profile, rolling_var_forecasts

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        ws.data.ensure_bundled()
        result = run_backtest(ws, StrategySpec.from_dict(SPEC), record=False)
        ws.close()
    returns = result.simulation.returns.astype(float)
    n = len(returns)
    render_backtest_report(result)  # warm-up: imports, plotly.js, factor files
    with_risk, page = best(lambda: render_backtest_report(result), args.repeats)
    original = tearsheet_module._risk_section
    tearsheet_module._risk_section = lambda *_: ""  # the page without its risk section
    try:
        without, bare = best(lambda: render_backtest_report(result), args.repeats)
    finally:
        tearsheet_module._risk_section = original
    rows.append((f"tearsheet, {n:,} daily bars, with the risk section", f"{with_risk:.2f} s"))
    rows.append(("tearsheet without the risk section", f"{without:.2f} s"))
    rows.append(("page size with / without", f"{len(page) / 1e6:.2f} / {len(bare) / 1e6:.2f} MB"))
    profile_s, profile = best(
        lambda: strategy_risk_profile(returns, periods_per_year=252), args.repeats
    )
    render_s, _ = best(lambda: render_risk_section(profile, returns), args.repeats)
    rows.append(("strategy_risk_profile (3 factor sets)", f"{profile_s:.2f} s"))
    rows.append(("render_risk_section", f"{render_s:.2f} s"))

    rng = np.random.default_rng(0)
    r = pd.Series(rng.standard_t(4, 5000) * 0.01, index=pd.bdate_range("2000-01-03", periods=5000))
    fast_s, fast = best(lambda: rolling_var_forecasts(r, window=250, confidence=0.99), 3)

    def loop() -> np.ndarray:
        x = r.to_numpy()
        return np.array(
            [estimate_var(x[t - 250 : t], confidence=0.99).var for t in range(250, x.size)]
        )

    loop_s, slow = best(loop, 1)
    gap = float(np.max(np.abs(fast["var"].to_numpy()[250:] - slow) / np.abs(slow)))
    if gap > 1e-12:
        print(f"rolling forecasts disagree: {gap:.2e}", file=sys.stderr)
        return 1
    rows.append(("rolling historical VaR, 5,000 bars, 250-bar window", f"{fast_s * 1e3:.0f} ms"))
    rows.append(("the same, one estimate_var per window", f"{loop_s * 1e3:.0f} ms"))

    if not args.quick:
        hours = pd.date_range("2015-01-01", periods=50_000, freq="h", tz="UTC")
        long = pd.Series(rng.standard_t(4, hours.size) * 0.002, index=hours)
        capped, _ = best(
            lambda: risk_profile(long, periods_per_year=8760, max_fit_bars=RISK_FIT_BARS), 1
        )
        full, _ = best(lambda: risk_profile(long, periods_per_year=8760), 1)
        rows.append(("profile of 50,000 hourly bars, fitted methods capped", f"{capped:.2f} s"))
        rows.append(("the same with Student-t and GARCH fits", f"{full:.2f} s"))

    for label, value in rows:
        print(f"{label:55s} {value}")
    if args.write_docs:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        table = "\n".join(f"| {label} | {value} |" for label, value in rows)
        text = f"""{START}
## Risk section of the tearsheet (bench/bench_risk_section.py)

The momentum strategy of docs/backtest.md on the bundled S&P 500 stocks
({n:,} daily bars); best of {args.repeats} renders after a warm-up. "Without
the risk section" renders the same page with the section left out (the page
as it was before the section existed). The rolling historical VaR forecasts
sort every window at once in blocks and agree with one `estimate_var` per
window to 1e-12 (checked by the script).

| measurement | time |
| --- | ---: |
{table}

Machine: {cpu_name()}, {os.cpu_count()} CPUs, {memory_total()}, Python
{platform.python_version()}; load average {load:.2f}; {dt.date.today().isoformat()}.
Figures were measured on a shared machine and vary between runs.
{END}"""
        write_docs_section(text, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
