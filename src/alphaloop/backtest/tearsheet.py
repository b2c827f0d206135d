"""Render a :class:`BacktestResult` as one self-contained HTML page (works offline).

The page embeds plotly.js once (no CDN) and shows, top to bottom: a banner
when fills are optimistic (same bar), a banner when a number is implausible
for the bar frequency (:mod:`alphaloop.backtest.plausibility`), the
dataset's caveats and the run's notes, provenance (dataset, period, engine,
run id, spec hash), every metric, equity against the benchmark, drawdowns,
rolling Sharpe, monthly returns, the risk section
(:mod:`alphaloop.backtest.risk_section`: VaR/CVaR at 95% and 99%, the
rolling VaR backtest, crisis windows, drawdown, exposures to the bundled
factor sets), trades and round trips, the cost breakdown,
the fill, cost and annualization assumptions in plain words, and the spec as
YAML. User text (names, descriptions, asset
names, the spec) is HTML-escaped; only ``extra_sections`` bodies are not.

Series longer than :data:`MAX_PLOT_POINTS` bars are thinned for plotting only
(the page says so); metrics and tables always use every bar. The rolling
Sharpe ratio's window is a span of time (12, 6, 3 or 1 months, the longest
that fits twice in the backtest), turned into bars with the run's
annualization factor.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from html import escape as html_escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.backtest.metrics import (
    MONTHS,
    compute_metrics,
    drawdown_periods,
    drawdown_series,
    monthly_returns_table,
    rolling_sharpe,
)
from alphaloop.errors import BacktestError
from alphaloop.reports import (
    BASE_CSS,
    axis_values,
    figures_to_html,
    format_flag,
    plotly_js,
    write_atomic,
)

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from alphaloop.backtest.runner import BacktestResult

__all__ = [
    "MAX_PLOT_POINTS",
    "RISK_FIT_BARS",
    "TRADE_ROWS",
    "render_backtest_report",
    "rolling_window",
]

#: Most points drawn per line; longer series keep each slice's low and high.
MAX_PLOT_POINTS = 5_000
#: Fills listed from each end of the trade log.
TRADE_ROWS = 10
#: Longest return series on which the risk section fits Student-t and GARCH models
#: (each fit takes seconds on tens of thousands of bars); longer ones say they are left out.
RISK_FIT_BARS = 20_000
_NA = "—"
_FILL_COSTS = ("commission", "fees", "spread", "slippage", "impact")

# key -> (group, label, format); keys not listed fall in "Other" as plain numbers
_METRICS: dict[str, tuple[str, str, str]] = {
    "total_return": ("Returns", "total return", "pct"),
    "annual_return": ("Returns", "annual return (CAGR)", "pct"),
    "annual_volatility": ("Returns", "annual volatility", "pct"),
    "sharpe_ratio": ("Returns", "Sharpe ratio", "ratio"),
    "sortino_ratio": ("Returns", "Sortino ratio", "ratio"),
    "calmar_ratio": ("Returns", "Calmar ratio", "ratio"),
    "stability": ("Returns", "stability (R² of log equity on time)", "ratio"),
    "max_drawdown": ("Risk", "max drawdown", "pct"),
    "max_drawdown_duration": ("Risk", "longest drawdown (bars)", "int"),
    "max_drawdown_duration_days": ("Risk", "longest drawdown (calendar days)", "int"),
    "var_95": ("Risk", "value at risk 95% (per bar)", "pct"),
    "cvar_95": ("Risk", "conditional VaR 95% (per bar)", "pct"),
    "best_period": ("Risk", "best bar", "pct"),
    "worst_period": ("Risk", "worst bar", "pct"),
    "skew": ("Risk", "skew", "ratio"),
    "kurtosis": ("Risk", "excess kurtosis", "ratio"),
    "tail_ratio": ("Risk", "tail ratio (95th / 5th percentile)", "ratio"),
    "alpha": ("Against the benchmark", "alpha (annualized)", "pct"),
    "beta": ("Against the benchmark", "beta", "ratio"),
    "information_ratio": ("Against the benchmark", "information ratio", "ratio"),
    "tracking_error": ("Against the benchmark", "tracking error (annualized)", "pct"),
    "benchmark_correlation": ("Against the benchmark", "correlation", "ratio"),
    "n_round_trips": ("Trades", "closed round trips", "int"),
    "win_rate": ("Trades", "win rate", "pct"),
    "profit_factor": ("Trades", "profit factor", "ratio"),
    "avg_win": ("Trades", "average win", "money"),
    "avg_loss": ("Trades", "average loss", "money"),
    "exposure": ("Activity", "mean gross exposure", "pct"),
    "time_in_market": ("Activity", "time in market", "pct"),
    "turnover": ("Activity", "turnover (x equity per year)", "times"),
    "n_periods": ("Activity", "bars", "int"),
    "periods_per_year": ("Activity", "bars per year (annualization)", "num"),
    "total_costs": ("Costs", "total costs", "money"),
    "costs_bps_of_capital": ("Costs", "costs over initial capital", "bps"),
}
_HEADLINE = (
    "total_return", "annual_return", "annual_volatility", "sharpe_ratio",
    "sortino_ratio", "max_drawdown", "calmar_ratio",
)  # fmt: skip


def _format(value: Any, kind: str) -> str:
    if value is None:
        return _NA
    if isinstance(value, bool):
        return format_flag(value)
    x = float(value)
    if math.isnan(x):
        return _NA
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    formats = {
        "pct": lambda: f"{100 * x:,.2f}%",
        "ratio": lambda: f"{x:,.2f}",
        "money": lambda: f"{x:,.2f}",
        "int": lambda: f"{x:,.0f}",
        "bps": lambda: f"{x:,.1f} bps",
        "times": lambda: f"{x:,.2f}×",
        "price": lambda: f"{x:,.4f}" if abs(x) < 1 else f"{x:,.2f}",
        "shares": lambda: f"{x:,.0f}" if x.is_integer() else f"{x:,.2f}",
    }
    return formats.get(kind, lambda: f"{x:,.6g}")()


def _metric_kind(key: str) -> tuple[str, str, str]:
    if key in _METRICS:
        return _METRICS[key]
    if key.startswith("cost_"):
        return "Costs", f"cost: {key.removeprefix('cost_')}", "money"
    return "Other", key.replace("_", " "), "num"


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _thin(series: pd.Series, max_points: int = MAX_PLOT_POINTS) -> pd.Series:
    """At most ``max_points`` bars: the first, the last, and each slice's lowest and highest."""
    values = series.to_numpy(dtype=np.float64)
    n = values.size
    if n <= max_points:
        return series
    edges = np.linspace(0, n, max(1, (max_points - 2) // 2) + 1).astype(np.int64)
    keep = [0, n - 1]
    for lo, hi in itertools.pairwise(edges):
        chunk = values[lo:hi]
        if chunk.size == 0 or np.isnan(chunk).all():
            continue
        keep += [lo + int(np.nanargmin(chunk)), lo + int(np.nanargmax(chunk))]
    return series.iloc[np.unique(keep)]


def _compound(returns: pd.Series | None, index: pd.Index) -> pd.Series | None:
    """Benchmark returns on ``index``, missing bars flat; None when there are none."""
    if returns is None:
        return None
    bench = returns.reindex(index).astype(np.float64)
    if not np.isfinite(bench.to_numpy()).any():
        return None
    return bench.where(np.isfinite(bench), 0.0)


# -- figures ------------------------------------------------------------------


def rolling_window(periods_per_year: float, n_bars: int) -> tuple[int, str]:
    """Bars and a label (``"12-month"``) for the rolling Sharpe window.

    The longest of 12, 6, 3 and 1 months (then 24, 36 and 60 for coarse
    bars) that spans at least 2 bars and at most half the backtest; ``(0,
    "")`` when none fits.
    """
    for months in (12, 6, 3, 1, 24, 36, 60):
        bars = round(periods_per_year * months / 12.0)
        if 2 <= bars <= n_bars // 2:
            return int(bars), f"{months}-month"
    return 0, ""


def _figures(
    result: BacktestResult, bench: pd.Series | None, ppy: float, window: int, span: str
) -> dict[str, Figure]:
    import plotly.graph_objects as go

    from alphaloop.execution import COST_CATEGORIES

    sim = result.simulation
    layout = {"margin": {"l": 60, "r": 20, "t": 50, "b": 40}, "template": "plotly_white"}
    figs: dict[str, go.Figure] = {}

    def line(fig: go.Figure, series: pd.Series, name: str, exact: bool = False, **kw: Any) -> None:
        # single precision (7 digits) is plenty for a line; the strategy's equity stays exact
        thin = _thin(series)
        y = thin.to_numpy(dtype=np.float64 if exact else np.float32)
        fig.add_scatter(x=axis_values(thin.index), y=y, name=name, mode="lines", **kw)

    capital = float(sim.initial_capital)
    fig = go.Figure()
    line(fig, sim.equity, "strategy", exact=True, line={"color": "#1f5fa8"})
    growth = None if bench is None else capital * (1.0 + bench).cumprod()
    if growth is not None:
        line(fig, growth, f"benchmark: {result.benchmark_label}", line={"color": "#8a939c"})
    low = min(sim.equity.min(), np.inf if growth is None else growth.min())
    high = max(sim.equity.max(), -np.inf if growth is None else growth.max())
    log = low > 0 and high / low > 10
    fig.update_layout(
        title="Equity (account currency" + (", log scale)" if log else ")"),
        yaxis_type="log" if log else "linear",
        legend={"orientation": "h", "y": -0.12},
        **layout,
    )
    figs["equity"] = fig

    fig = go.Figure()
    line(fig, drawdown_series(sim.returns) * 100, "strategy", fill="tozeroy",
         line={"color": "#b3261e", "width": 1})  # fmt: skip
    if bench is not None:
        line(fig, drawdown_series(bench) * 100, "benchmark", line={"color": "#8a939c"})
    fig.update_layout(title="Drawdown from the running peak (%)", **layout)
    figs["drawdown"] = fig

    fig = go.Figure()
    if window:
        line(fig, rolling_sharpe(sim.returns, window, ppy).dropna(), "strategy")
        if bench is not None:
            line(fig, rolling_sharpe(bench, window, ppy).dropna(), "benchmark",
                 line={"color": "#8a939c", "width": 1})  # fmt: skip
    sharpe = result.metrics.get("sharpe_ratio", math.nan)
    if math.isfinite(sharpe):
        fig.add_hline(y=sharpe, line_dash="dash", annotation_text=f"full period {sharpe:.2f}")
    title = (
        f"Rolling {span} Sharpe ratio (annualized)"
        if window
        else "Rolling Sharpe ratio (too few bars for a window)"
    )
    fig.update_layout(title=title, **layout)
    figs["rolling_sharpe"] = fig

    table = monthly_returns_table(sim.returns)
    z = table[list(MONTHS)].to_numpy() * 100
    text = [[_NA if math.isnan(v) else f"{v:.1f}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=list(MONTHS), y=[str(y) for y in table.index], text=text,
            texttemplate="%{text}", colorscale="RdYlGn", zmid=0.0,
            hovertemplate="%{x} %{y}: %{z:.2f}%<extra></extra>",
            colorbar={"title": {"text": "%"}},
        )
    )  # fmt: skip
    fig.update_layout(title="Monthly returns (%)", yaxis_autorange="reversed", **layout)
    figs["monthly_returns"] = fig

    trips = sim.round_trips
    closed = trips[~trips["open"]] if "open" in trips else trips
    if len(closed):
        fig = go.Figure()
        fig.add_histogram(x=closed["return"].to_numpy() * 100, nbinsx=50, name="round trips")
        fig.update_layout(
            title="Closed round trips: return on entry notional (%)", showlegend=False, **layout
        )
        figs["round_trips"] = fig

    categories = list(dict.fromkeys([*COST_CATEGORIES, *sim.costs]))
    fig = go.Figure()
    fig.add_bar(x=categories, y=[float(sim.costs.get(c, 0.0)) for c in categories])
    fig.update_layout(title="Costs by category (account currency)", **layout)
    figs["costs"] = fig

    fig = go.Figure()
    line(fig, sim.bar_costs.cumsum(), "cumulative costs", line={"color": "#d2691e"})
    fig.update_layout(title="Cumulative costs (account currency)", **layout)
    figs["cumulative_costs"] = fig
    return figs


# -- tables -------------------------------------------------------------------


def _metric_rows(
    metrics: Mapping[str, float], bench_metrics: Mapping[str, float] | None
) -> dict[str, Any]:
    headline = [
        (_METRICS[k][1], _format(metrics.get(k), _METRICS[k][2]),
         _NA if bench_metrics is None else _format(bench_metrics.get(k), _METRICS[k][2]))
        for k in _HEADLINE
    ]  # fmt: skip
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, value in metrics.items():
        group, label, kind = _metric_kind(key)
        groups.setdefault(group, []).append((label, _format(value, kind)))
    order = [g for g, _, _ in _METRICS.values()] + ["Costs", "Other"]
    ordered = {g: groups[g] for g in dict.fromkeys(order) if g in groups}
    return {"headline": headline, "metric_groups": ordered}


def _stamp(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return _NA
    ts = pd.Timestamp(value)
    return ts.strftime("%Y-%m-%d" if ts == ts.normalize() else "%Y-%m-%d %H:%M")


def _trade_rows(trades: pd.DataFrame) -> tuple[list[list[str]], list[list[str]]]:
    def rows(frame: pd.DataFrame) -> list[list[str]]:
        cost_cols = [c for c in _FILL_COSTS if c in frame]
        costs = frame[cost_cols].sum(axis=1) if cost_cols else pd.Series(np.nan, frame.index)
        return [
            [_stamp(r["time"]), str(r["asset"]), str(r["reason"]).replace("_", " "),
             _format(r["shares"], "shares"), _format(r["price"], "price"),
             _format(r["notional"], "money"), _format(c, "money"), _format(r["cash_flow"], "money")]
            for (_, r), c in zip(frame.iterrows(), costs, strict=True)
        ]  # fmt: skip

    if len(trades) <= 2 * TRADE_ROWS:
        return rows(trades), []
    return rows(trades.head(TRADE_ROWS)), rows(trades.tail(TRADE_ROWS))


def _round_trip_rows(trips: pd.DataFrame, trades: pd.DataFrame) -> list[tuple[str, str]]:
    closed = trips[~trips["open"]] if "open" in trips else trips
    pnl, ret = closed["pnl"], closed["return"]
    held = (closed["exit_time"] - closed["entry_time"]) / pd.Timedelta(days=1)
    reasons = trades["reason"].value_counts() if "reason" in trades else pd.Series(dtype=int)
    rows = [
        ("fills", f"{len(trades):,}"),
        *((f"fills by reason: {k.replace('_', ' ')}", f"{v:,}") for k, v in reasons.items()),
        ("round trips closed / still open", f"{len(closed):,} / {len(trips) - len(closed):,}"),
        ("win rate (closed)", _format((pnl > 0).mean() if len(pnl) else None, "pct")),
        ("total pnl of closed trips (net of costs)", _format(pnl.sum(), "money")),
        ("mean / median return on entry notional",
         f"{_format(ret.mean(), 'pct')} / {_format(ret.median(), 'pct')}"),
        ("best / worst return", f"{_format(ret.max(), 'pct')} / {_format(ret.min(), 'pct')}"),
        ("median holding period (calendar days)", _format(held.median(), "num")),
        ("costs paid on closed trips", _format(closed["costs"].sum(), "money")),
    ]  # fmt: skip
    return rows


def _cost_rows(result: BacktestResult) -> list[tuple[str, str, str, str]]:
    sim = result.simulation
    total = float(sum(sim.costs.values()))
    traded = float(sim.trades["notional"].abs().sum()) if "notional" in sim.trades else 0.0
    rows = []
    for name, amount in [*sim.costs.items(), ("total", total)]:
        share = amount / total if total > 0 else math.nan
        per_traded = amount / traded * 1e4 if traded > 0 else math.nan
        rows.append(
            (name, _format(amount, "money"), _format(share, "pct"), _format(per_traded, "bps"))
        )
    return rows


def _annual_rows(returns: pd.Series, bench: pd.Series | None) -> list[tuple[str, str, str]]:
    years = monthly_returns_table(returns)["year"]
    other = None if bench is None else monthly_returns_table(bench)["year"]
    return [
        (str(y), _format(v, "pct"), _NA if other is None else _format(other.get(y), "pct"))
        for y, v in years.items()
    ]


def _drawdown_rows(returns: pd.Series) -> list[tuple[str, ...]]:
    table = drawdown_periods(returns, top=5)
    return [
        (_format(r.depth, "pct"), _stamp(r.peak), _stamp(r.valley),
         _stamp(r.recovery) if pd.notna(r.recovery) else "not recovered",
         _format(r.duration, "int"), _format(r.duration_days, "int"))
        for r in table.itertuples()
    ]  # fmt: skip


# -- assumptions in words -------------------------------------------------------


def _assumption_items(a: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    fills = a.get("fills", {})
    costs = a.get("costs", {})
    limits = a.get("limits", {})
    reb = a.get("rebalance", {})
    stops = a.get("stops", {})
    data = a.get("data", {})
    freq = reb.get("frequency", "monthly")
    if freq == "bars":
        rebalance = f"every {reb.get('every', 1)} bars, counted from the first bar of the backtest"
    elif freq == "daily":
        rebalance = "at every bar's close"
    else:
        period = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}.get(freq, freq)
        rebalance = f"at the close of the first bar of each {period}"
    stop_words = [
        f"{label} {100 * float(stops[key]):g}%"
        for key, label in (
            ("stop_loss", "stop-loss at a loss of"),
            ("take_profit", "take-profit at a gain of"),
            ("trailing_stop", "trailing stop at a fall from the best price of"),
        )
        if float(stops.get(key, 0.0)) > 0
    ]
    lot = float(a.get("lot_size", 0.0) or 0.0)
    side = "long and short" if limits.get("allow_short") else "long only"
    annualization = a.get("annualization", {})
    return [
        ("Fills", [_sentence(fills.get("description", "not recorded"))]),
        ("Costs", [_sentence(line) for line in costs.get("description", [])]),
        ("Annualization", [_sentence(annualization.get("description", "not recorded"))]),
        ("Rebalancing", [_sentence(f"the portfolio is rebalanced {rebalance}")]),
        ("Limits", [_sentence(
            f"{side}; at most {100 * float(limits.get('max_weight', 1.0)):g}% of equity in one "
            f"asset; gross exposure up to {float(limits.get('max_leverage', 1.0)):g}x equity"
        )]),
        ("Stops", [_sentence("; ".join(stop_words) + " (fractions of the entry price)")]
         if stop_words else ["No stop-loss, take-profit or trailing stop."]),
        ("Capital", [
            f"Starting capital {float(a.get('capital', math.nan)):,.2f} (account currency).",
            "Fractional shares are allowed." if lot <= 0 else f"Shares trade in lots of {lot:g}.",
        ]),
        ("Benchmark", [
            f"The benchmark is {a.get('benchmark', 'not recorded')}; bars without a benchmark "
            "return count as flat in its growth curve."
        ]),
        ("Data", [
            f"Dataset {data.get('name', '?')} version {data.get('version', '?')}, content hash "
            f"{data.get('content_hash', '?')}."
        ]),
    ]  # fmt: skip


# -- page -----------------------------------------------------------------------


def _report_json(result: BacktestResult, n_bars: int) -> str:
    from alphaloop.jsonsafe import json_safe

    sim = result.simulation
    data = json_safe(
        {
            "name": result.spec.name,
            "spec_hash": result.spec_hash,
            "run_id": result.run_id,
            "engine": result.engine,
            "period": {
                "start": sim.equity.index[0].isoformat(),
                "end": sim.equity.index[-1].isoformat(),
                "bars": n_bars,
            },
            "final_equity": sim.final_value,
            "metrics": result.metrics,
            "costs": sim.costs,
            "n_trades": len(sim.trades),
            "assumptions": result.assumptions,
            "max_plot_points": MAX_PLOT_POINTS,
        }
    )
    # "<" escaped so no text in the data can close the script element
    return json.dumps(data, allow_nan=False, indent=1).replace("<", "\\u003c")


def _risk_section(result: BacktestResult, ppy: float) -> str:
    """The risk section of the page; a short note instead when the returns cannot be measured."""
    from alphaloop.backtest.risk_section import render_risk_section, strategy_risk_profile
    from alphaloop.risk import RiskError

    returns = result.simulation.returns.astype(np.float64)
    try:
        profile = strategy_risk_profile(
            returns, periods_per_year=ppy if ppy > 0 else 252.0, max_fit_bars=RISK_FIT_BARS
        )
    except RiskError as exc:
        return (
            '<section id="risk"><h2>Risk</h2><p id="risk-unavailable">No risk measures: '
            f"{html_escape(str(exc))}</p></section>"
        )
    return render_risk_section(profile, returns)


def _context(result: BacktestResult) -> dict[str, Any]:
    sim = result.simulation
    returns = sim.returns
    n = len(returns)
    bench = _compound(result.benchmark, returns.index)
    ppy = float(result.metrics.get("periods_per_year", math.nan))
    if not ppy > 0:
        ppy = float(result.dataset.market.periods_per_year or math.nan)
    bench_metrics = None
    if bench is not None:
        try:
            bench_metrics = compute_metrics(bench, periods_per_year=ppy)
        except BacktestError:
            bench = None
    window, span = rolling_window(ppy, n) if ppy > 0 else (0, "")
    data = result.assumptions.get("data", {})
    trades_head, trades_tail = _trade_rows(sim.trades)
    return {
        "result": result,
        "spec": result.spec,
        "optimistic": bool(result.assumptions.get("fills", {}).get("optimistic", False)),
        "implausible": [f["message"] for f in result.assumptions.get("implausible", [])],
        "fill_description": _sentence(result.assumptions.get("fills", {}).get("description", "")),
        "caveats": list(data.get("caveats", result.dataset.caveats)),
        "notes": list(result.assumptions.get("notes", [])),
        "start": _stamp(returns.index[0]),
        "end": _stamp(returns.index[-1]),
        "n_bars": f"{n:,}",
        "final_equity": _format(sim.final_value, "money"),
        "capital": _format(sim.initial_capital, "money"),
        "thinned": n > MAX_PLOT_POINTS,
        "max_points": f"{MAX_PLOT_POINTS:,}",
        "window": window,
        "window_span": span,
        "periods_per_year": f"{ppy:,.6g}",
        "annualization": _sentence(
            result.assumptions.get("annualization", {}).get("description", "")
        ),
        "figures": figures_to_html(_figures(result, bench, ppy, window, span)),
        "risk_section": _risk_section(result, ppy),
        "drawdown_rows": _drawdown_rows(returns),
        "annual_rows": _annual_rows(returns, bench),
        "n_trades": f"{len(sim.trades):,}",
        "trades_head": trades_head,
        "trades_tail": trades_tail,
        "trades_hidden": f"{max(len(sim.trades) - 2 * TRADE_ROWS, 0):,}",
        "round_trip_rows": _round_trip_rows(sim.round_trips, sim.trades),
        "cost_rows": _cost_rows(result),
        "assumption_items": _assumption_items(result.assumptions),
        "spec_yaml": result.spec.to_yaml(),
        "report_json": _report_json(result, n),
        **_metric_rows(result.metrics, bench_metrics),
    }


def render_backtest_report(
    result: BacktestResult,
    path: str | Path | None = None,
    *,
    extra_sections: Sequence[tuple[str, str]] = (),
) -> str:
    """The backtest as a self-contained HTML page; written to ``path`` if given.

    Parameters
    ----------
    result : BacktestResult
        From :func:`alphaloop.backtest.runner.run_backtest`.
    path : str or Path, optional
        Output file, written to a temporary file in the same directory and
        renamed into place; its directory is created if needed.
    extra_sections : sequence of (str, str), default=()
        ``(title, html)`` blocks appended after the spec. The title is
        escaped; the HTML is inserted as is, so it must be trusted.

    Returns
    -------
    str
        The page. Figures are plotly; lines longer than :data:`MAX_PLOT_POINTS`
        bars keep each slice's lowest and highest bar (and the first and last),
        and the page says so. The page also carries the provenance,
        metrics and assumptions as JSON in
        ``<script type="application/json" id="backtest-report-data">``.
    """
    import jinja2
    from markupsafe import Markup

    from alphaloop.backtest._tearsheet_template import BACKTEST_TEMPLATE

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(BACKTEST_TEMPLATE).render(
        css=BASE_CSS,
        plotly_js=plotly_js(),
        extra_sections=[(str(title), Markup(body)) for title, body in extra_sections],
        **_context(result),
    )
    if path is not None:
        write_atomic(Path(path), html)
    return html
