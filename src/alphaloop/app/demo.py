"""The demo pipeline on bundled real data: what ``make demo`` runs.

It registers the bundled datasets, shows their quality reports and caveats,
loads the S&P 500 stocks and index through the store, and describes them:
per-stock compound annual growth, annualized volatility (simple daily
returns, annualized with the dataset's own bars per year: 252 on its
exchange-session calendar), maximum drawdown and the share of days with a
zero return (the rounding caveat made visible). It then analyzes a factor
(20-day momentum, skipping the last day) and scans the close-only Alpha158
library, reporting how many factors look significant before and after
adjusting for the number tested. It then backtests a momentum strategy
(:mod:`alphaloop.app.demo_backtest`) and finally runs a short research session
(:mod:`alphaloop.app.demo_research`). Everything is recorded as a run with the
content hashes of the data it read.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from alphaloop.app.workspace import Workspace
from alphaloop.errors import AlphaloopError


def describe_prices(prices: np.ndarray, periods_per_year: float) -> dict[str, Any]:
    """Descriptive statistics of one price series (NaNs skipped).

    Returns compound annual growth rate, annualized volatility of simple
    returns, maximum drawdown (a negative fraction) and the share of
    zero returns. ``periods_per_year`` is the dataset's annualization factor
    (``DatasetInfo.market.periods_per_year``: 252 for daily exchange
    sessions, 365 for daily crypto, 8760 for hourly crypto, ...).
    """
    p = prices[~np.isnan(prices)]
    if len(p) < 2:
        return {
            "cagr": float("nan"),
            "volatility": float("nan"),
            "max_drawdown": float("nan"),
            "zero_return_share": float("nan"),
        }
    r = p[1:] / p[:-1] - 1.0
    years = len(r) / periods_per_year
    cagr = (p[-1] / p[0]) ** (1.0 / years) - 1.0
    peak = np.maximum.accumulate(p)
    return {
        "cagr": float(cagr),
        "volatility": float(np.std(r, ddof=1) * np.sqrt(periods_per_year)),
        "max_drawdown": float(np.min(p / peak - 1.0)),
        "zero_return_share": float(np.mean(r == 0.0)),
    }


def run_demo(ws: Workspace, console: Console | None = None) -> dict[str, Any]:
    """Run the demo in ``ws``; print to ``console`` when given; return a JSON-ready summary."""
    say = console.print if console is not None else (lambda *a, **k: None)
    with ws.runs.start("demo", {"datasets": ["sp500-stocks", "sp500-index"]}) as run:
        added = ws.data.ensure_bundled()
        infos = ws.data.list()
        say(f"[bold]alphaloop demo[/] in workspace {ws.root}")
        if added:
            say(f"registered {len(added)} bundled datasets: {', '.join(added)}")
        table = Table(title="datasets (bundled real data, offline)")
        for col in ("name", "assets", "fields", "span", "freq", "rows", "quality"):
            table.add_column(col)
        for i in infos:
            q = i.quality
            table.add_row(
                i.name,
                str(i.assets),
                ",".join(i.fields),
                f"{i.start:%Y-%m-%d}..{i.end:%Y-%m-%d}",
                i.frequency,
                f"{i.rows:,}",
                f"{q.get('errors', 0)} err, {q.get('warnings', 0)} warn",
            )
        say(table)

        t0 = time.perf_counter()
        stocks = ws.data.load("sp500-stocks")
        index = ws.data.load("sp500-index")
        load_ms = (time.perf_counter() - t0) * 1000
        info = ws.data.info("sp500-stocks")
        run.data_hashes = {
            "sp500-stocks": info.content_hash,
            "sp500-index": ws.data.info("sp500-index").content_hash,
        }
        say(f"\nloaded {stocks} and the S&P 500 index in {load_ms:.0f} ms")
        say("[yellow]caveats of sp500-stocks (carried into every result that uses it):[/]")
        for c in info.caveats:
            say(f"  - {c}")
        checks = info.quality.get("issues", [])
        if checks:
            say("quality warnings found at import:")
            for issue in checks:
                say(f"  - {issue['check']}: {issue['message']}")

        close = stocks["close"]
        ppy = info.market.periods_per_year
        index_ppy = ws.data.info("sp500-index").market.periods_per_year
        if ppy is None or index_ppy is None:
            raise AlphaloopError("the bundled S&P 500 data has no annualization factor")
        per_asset = {a: describe_prices(close[:, j], ppy) for j, a in enumerate(stocks.assets)}
        bench = describe_prices(index["close"][:, 0], index_ppy)
        span = f"{stocks.index[0]:%Y}-{stocks.index[-1]:%Y}"
        stats = Table(
            title=f"sp500-stocks, {span} (before the sealed holdout): buy and hold, "
            "descriptive only"
        )
        for col in ("asset", "CAGR", "ann. vol", "max DD", "zero-return days"):
            stats.add_column(col, justify="right")
        for a, d in sorted(per_asset.items(), key=lambda kv: -kv[1]["cagr"]):
            stats.add_row(
                a,
                f"{d['cagr']:.1%}",
                f"{d['volatility']:.1%}",
                f"{d['max_drawdown']:.1%}",
                f"{d['zero_return_share']:.1%}",
            )
        stats.add_row(
            "S&P 500",
            f"{bench['cagr']:.1%}",
            f"{bench['volatility']:.1%}",
            f"{bench['max_drawdown']:.1%}",
            f"{bench['zero_return_share']:.1%}",
        )
        say(stats)
        beat = sum(d["cagr"] > bench["cagr"] for d in per_asset.values())
        say(
            f"{beat} of {len(per_asset)} stocks grew faster than the index: expected of a "
            "universe picked from today's survivors, not evidence of skill."
        )
        factors = _factor_section(ws, say)
        from alphaloop.app.demo_backtest import backtest_section

        backtest = backtest_section(ws, say)
        from alphaloop.app.demo_research import research_section

        research = research_section(ws, say)
        run.result = {
            "factors": factors,
            "backtest": backtest,
            "research": research,
            "datasets": [i.name for i in infos],
            "load_ms": round(load_ms, 1),
            "stocks": per_asset,
            "index": bench,
            "stocks_beating_index": int(beat),
            "periods_per_year": ppy,
            "caveats": list(info.caveats),
        }
        summary = {"run_id": run.id, "workspace": str(ws.root), **run.result}
    say(
        f"\nrecorded as run {summary['run_id']}, its backtest as run "
        f"{summary['backtest']['run_id']} (the run id in the tearsheet); "
        "see `alphaloop runs list`"
    )
    return summary


MOMENTUM = "Ref($close, 1) / Ref($close, 21) - 1"


def _factor_section(ws: Workspace, say: Any) -> dict[str, Any]:
    """Analyze one factor and scan a library on sp500-stocks at a 5-day horizon."""
    from alphaloop.app.factors import analyze_dataset

    say(f"\n[bold]factor analysis[/]: 20-day momentum {MOMENTUM} at a 5-day horizon")
    one = analyze_dataset(ws.data, MOMENTUM, "sp500-stocks", horizon=5).to_dict()
    say(
        f"  rank IC {one['rank_ic_mean']:.4f} (Newey-West t {one['rank_t_stat_hac']:.2f}) over "
        f"{one['n_periods']} periods; top-minus-bottom quintile "
        f"{one['quantile_returns']['spread']['mean']:.4%} per 5 days"
    )
    scan = analyze_dataset(
        ws.data, "alpha158-close", "sp500-stocks", horizon=5, market=None, known=[]
    ).to_dict()
    mt = scan["multiple_testing"]
    best = max(scan["factors"].items(), key=lambda kv: abs(kv[1]["rank_t_stat_hac"] or 0))
    say(
        f"  scanned {scan['n_factors_tested']} close-only Alpha158 factors: "
        f"{mt['significant_at_5pct_before_adjustment']} look significant at 5%, "
        f"{mt['significant_at_5pct_after_adjustment']} after the Holm adjustment for "
        f"{mt['n_tests']} tests; the strongest, {best[0]}, has rank IC "
        f"{best[1]['rank_ic_mean']:.4f} (adjusted p {best[1]['rank_ic_p_value_holm']:.3f})"
    )
    say("  on a survivor universe of 20 stocks: a starting point, not a result.")
    return {
        "momentum": {
            k: one[k] for k in ("rank_ic_mean", "rank_t_stat_hac", "ic_mean", "n_periods")
        },
        "library_scan": {
            "library": "alpha158-close",
            "n_factors_tested": scan["n_factors_tested"],
            "significant_before_adjustment": mt["significant_at_5pct_before_adjustment"],
            "significant_after_holm": mt["significant_at_5pct_after_adjustment"],
            "strongest": best[0],
        },
    }
