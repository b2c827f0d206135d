"""Benchmark: continuous futures and corporate-action views on large synthetic sets.

Workloads (seeded, synthetic):

- **continuous futures**: ``--contracts`` contracts (default 40, one every
  six months, each priced for its last year: 20 years of daily bars) spliced
  with a calendar roll 5 days before expiry, back-adjusted by difference and
  by ratio, with :func:`alphaloop.data.futures.continuous_contract`; next to a
  straightforward pandas route (a wide table of closes, the front contract
  by date, gaps at rolls, a reversed cumulative sum or product);
- **corporate actions**: ``--symbols`` symbols (default 500) x 20 years of
  daily closes with quarterly dividends and a few splits, in the adjusted
  and total-return views of :func:`alphaloop.data.corporate_actions.price_view`;
  next to a pandas route per symbol (a factor series at ex-dates, a reversed
  cumulative product; total return by a cumulative product of growth).

Each route's output is checked against the other before times are reported.
Times are the best of ``--repeat`` runs (wall clock).

Usage::

    python bench/bench_assets.py                 # defaults above
    python bench/bench_assets.py --write-docs    # and update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from _common import cpu_name, memory_total, write_docs_section
from alphaloop.data import Panel
from alphaloop.data.corporate_actions import price_view
from alphaloop.data.futures import CalendarRoll, continuous_contract

START, END = "<!-- bench_assets:start -->", "<!-- bench_assets:end -->"
DAYS_BEFORE = 5


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (seconds) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


# ------------------------------------------------------------------ futures
def futures_set(n: int, seed: int = 0) -> tuple[dict[str, pd.DataFrame], dict[str, date]]:
    """``n`` contracts expiring every six months, each priced on the year before expiry."""
    rng = np.random.default_rng(seed)
    first = date(2005, 6, 17)
    expiries = {f"C{k:03d}": first + timedelta(days=182 * k) for k in range(n)}
    index = pd.bdate_range(first - timedelta(days=365), max(expiries.values()), tz="UTC")
    spot = 1000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))
    days = index.date
    contracts = {}
    for name, expiry in expiries.items():
        live = (days >= expiry - timedelta(days=365)) & (days <= expiry)
        left = np.array([(expiry - d).days for d in days[live]])
        close = spot[live] * (1 + 0.0003 * left / 30)
        contracts[name] = pd.DataFrame({"close": close}, index=index[live])
    return contracts, expiries


def futures_pandas(contracts: dict[str, pd.DataFrame], expiries: dict[str, date],
                   adjust: str) -> pd.DataFrame:  # fmt: skip
    """The calendar roll and back-adjustment done the obvious way with pandas."""
    wide = pd.DataFrame({c: f["close"] for c, f in contracts.items()}).sort_index()
    names = sorted(expiries, key=lambda c: expiries[c])
    cutoff = pd.Series({c: expiries[c] - timedelta(days=DAYS_BEFORE) for c in names})
    days = pd.Series(wide.index.date, index=wide.index)
    held = []
    k = 0
    for t, day in enumerate(days):
        held.append(names[k])
        # decided at the close of day t (a priced later contract, not itself due), held from t+1
        if day >= cutoff[names[k]]:
            for j in range(k + 1, len(names)):
                priced = np.isfinite(wide.iat[t, wide.columns.get_loc(names[j])])
                if day < cutoff[names[j]] and priced:
                    k = j
                    break
    held_s = pd.Series(held, index=wide.index)
    raw = pd.Series([wide.at[i, c] for i, c in held_s.items()], index=wide.index)
    switch = held_s.ne(held_s.shift(-1)) & held_s.shift(-1).notna()
    gaps = pd.Series(0.0, index=wide.index)
    ratios = pd.Series(1.0, index=wide.index)
    for i in np.flatnonzero(switch.to_numpy()):
        a = wide.iat[i, wide.columns.get_loc(held[i])]
        b = wide.iat[i, wide.columns.get_loc(held[i + 1])]
        gaps.iat[i], ratios.iat[i] = b - a, b / a
    if adjust == "difference":
        shift = gaps[::-1].cumsum()[::-1]  # every bar up to and including the decision bar
        return pd.DataFrame({"close": raw + shift, "contract": held_s})
    scale = ratios[::-1].cumprod()[::-1]
    return pd.DataFrame({"close": raw * scale, "contract": held_s})


def bench_futures(n: int, repeat: int) -> dict[str, Any]:
    contracts, expiries = futures_set(n)
    rows = sum(len(f) for f in contracts.values())
    out: dict[str, Any] = {"contracts": n, "rows": rows}
    for adjust in ("difference", "ratio"):
        ours_s, cc = best(
            lambda a=adjust: continuous_contract(
                contracts, expiries, rule=CalendarRoll(DAYS_BEFORE), adjust=a
            ),
            repeat,
        )
        pandas_s, ref = best(lambda a=adjust: futures_pandas(contracts, expiries, a), repeat)
        assert list(cc.frame["contract"]) == list(ref["contract"]), "held contracts differ"
        np.testing.assert_allclose(cc.frame["close"], ref["close"], rtol=1e-9)
        out[adjust] = {"alphaloop_s": ours_s, "pandas_s": pandas_s, "bars": len(cc.frame),
                       "rolls": len(cc.rolls)}  # fmt: skip
    return out


# -------------------------------------------------------- corporate actions
def actions_set(n: int, seed: int = 1) -> tuple[Panel, pd.DataFrame]:
    """``n`` symbols x 20 years of daily closes; quarterly dividends; about 2 splits each."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2005-01-03", "2024-12-31", tz="UTC")
    close = 50 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, (len(index), n)), axis=0))
    assets = [f"S{j:04d}" for j in range(n)]
    days = index.date
    events = []
    for j, sym in enumerate(assets):
        for t in range(60 + j % 60, len(index), 63):  # quarterly ex-dates
            events.append((days[t], sym, "dividend", round(0.004 * close[t - 1, j], 4)))
        for t in rng.choice(np.arange(100, len(index)), size=2, replace=False):
            events.append((days[t], sym, "split", 2.0))
    frame = pd.DataFrame(events, columns=["date", "symbol", "kind", "value"])
    frame = frame.drop_duplicates(["date", "symbol", "kind"])
    return Panel(index, assets, {"close": close}), frame.reset_index(drop=True)


def actions_pandas(panel: Panel, events: pd.DataFrame, view: str) -> pd.DataFrame:
    """The adjusted or total-return closes, one symbol at a time."""
    close = panel.frame("close")
    days = pd.DatetimeIndex(panel.index.tz_convert("UTC").date.astype("datetime64[ns]"))
    out = {}
    for sym, group in events.groupby("symbol"):
        c = close[sym]
        rows = days.searchsorted(pd.to_datetime(group["date"]), side="left")
        ratio = np.ones(len(c))
        div = np.zeros(len(c))
        for r, kind, value in zip(rows, group["kind"], group["value"], strict=True):
            if kind == "split":
                ratio[r] *= value
            else:
                div[r] += value
        if view == "adjusted":
            factor = pd.Series(
                (1.0 - div / c.shift(1).to_numpy(na_value=np.nan)) / ratio, index=c.index
            ).fillna(1.0)
            later = factor[::-1].cumprod()[::-1].shift(-1, fill_value=1.0)
            out[sym] = c * later
        else:
            growth = (c + div) * ratio / c.shift(1)
            out[sym] = c.iloc[0] * growth.fillna(1.0).cumprod()
    return pd.DataFrame(out)[list(panel.assets)]


def bench_actions(n: int, repeat: int) -> dict[str, Any]:
    panel, events = actions_set(n)
    out: dict[str, Any] = {"symbols": n, "bars": panel.n_times, "events": len(events)}
    for view in ("adjusted", "total_return"):
        ours_s, view_panel = best(lambda v=view: price_view(panel, events, v), repeat)  # type: ignore[arg-type]
        pandas_s, ref = best(lambda v=view: actions_pandas(panel, events, v), repeat)
        np.testing.assert_allclose(view_panel.frame("close").to_numpy(), ref.to_numpy(), rtol=1e-8)
        out[view] = {"alphaloop_s": ours_s, "pandas_s": pandas_s}
    return out


# -------------------------------------------------------------------- report
def render(fut: dict[str, Any], act: dict[str, Any], repeat: int, load: float) -> str:
    def row(name: str, r: dict[str, Any]) -> str:
        return (f"| {name} | {r['alphaloop_s']:.3f} | {r['pandas_s']:.3f} | "
                f"{r['pandas_s'] / r['alphaloop_s']:.1f}x |")  # fmt: skip

    return f"""{START}
## Instruments: continuous futures and corporate-action views (`bench/bench_assets.py`)

{cpu_name()}, {os.cpu_count()} cores, {memory_total()}, Python {platform.python_version()};
load average {load:.1f} at the start (the machine was shared and busy: treat the times as
upper bounds). Best of {repeat} runs, wall clock. Both routes give the same output (checked
before timing is reported).

Continuous futures: {fut['contracts']} contracts, one expiring every six months and priced
for its last year ({fut['rows']:,} contract bars, {fut['difference']['bars']:,} days);
calendar roll {DAYS_BEFORE} days before expiry
({fut['difference']['rolls']} rolls). The pandas route: a wide table of closes, the front
contract chosen day by day, gaps at rolls, a reversed cumulative sum (difference) or
product (ratio).

| build | alphaloop (s) | pandas route (s) | pandas / alphaloop |
| --- | ---: | ---: | ---: |
{row("difference back-adjustment", fut["difference"])}
{row("ratio back-adjustment", fut["ratio"])}

Corporate actions: {act['symbols']} symbols x {act['bars']:,} daily bars, {act['events']:,}
events (quarterly dividends, two 2-for-1 splits per symbol). The pandas route works one
symbol at a time (a factor series at ex-dates and a reversed cumulative product; total
return as a cumulative product of growth).

| view | alphaloop (s) | pandas route (s) | pandas / alphaloop |
| --- | ---: | ---: | ---: |
{row("adjusted", act["adjusted"])}
{row("total return", act["total_return"])}
{END}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=40)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    fut = bench_futures(args.contracts, args.repeat)
    act = bench_actions(args.symbols, args.repeat)
    text = render(fut, act, args.repeat, load)
    print(text)
    if args.write_docs:
        write_docs_section(text, START, END)


if __name__ == "__main__":
    main()
