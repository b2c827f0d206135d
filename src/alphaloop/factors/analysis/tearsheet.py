"""Render a :class:`FactorReport` as one self-contained HTML page (works offline)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.reports.html import BASE_CSS, axis_values, figures_to_html, plotly_js, write_atomic

if TYPE_CHECKING:
    from alphaloop.factors.analysis.report import FactorReport

__all__ = ["render_tearsheet"]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    x = float(value)
    return "—" if not math.isfinite(x) else f"{x:.{digits}f}"


def _pct(value: Any, digits: int = 3) -> str:
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{100 * float(value):.{digits}f}%"


def _stamp(value: pd.Timestamp | None) -> str:
    if value is None:
        return "n/a"
    return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M %Z")


def _figures(report: FactorReport, rolling: int) -> dict[str, str]:
    import plotly.graph_objects as go

    layout = {"margin": {"l": 50, "r": 20, "t": 50, "b": 40}, "template": "plotly_white"}
    x = axis_values(report.ic.index)
    figs: dict[str, go.Figure] = {}

    fig = go.Figure()
    fig.add_scatter(
        x=x, y=report.rank_ic.to_numpy(), name="rank IC", mode="lines",
        line={"width": 0.6, "color": "rgba(120,130,140,0.45)"},
    )  # fmt: skip
    for series, name, color in (
        (report.rank_ic, f"rank IC, {rolling}-period mean", "#1f5fa8"),
        (report.ic, f"IC, {rolling}-period mean", "#d2691e"),
    ):
        smooth = series.rolling(rolling, min_periods=max(rolling // 2, 1)).mean()
        fig.add_scatter(x=x, y=smooth.to_numpy(), name=name, mode="lines", line={"color": color})
    fig.update_layout(title=f"IC per period (horizon {report.horizon})", **layout)
    figs["ic"] = fig

    fig = go.Figure()
    for series, name in ((report.ic, "IC"), (report.rank_ic, "rank IC")):
        fig.add_histogram(x=series.dropna().to_numpy(), name=name, opacity=0.6, nbinsx=60)
    fig.update_layout(title="IC distribution", barmode="overlay", **layout)
    figs["ic_histogram"] = fig

    horizons = [str(h) for h in report.ic_decay]
    fig = go.Figure()
    fig.add_bar(x=horizons, y=[p.ic_mean for p in report.ic_decay.values()], name="mean IC")
    fig.add_bar(
        x=horizons, y=[p.rank_ic_mean for p in report.ic_decay.values()], name="mean rank IC"
    )
    fig.update_layout(title="IC decay", xaxis_title="horizon (periods)", barmode="group", **layout)
    figs["ic_decay"] = fig

    qr = report.quantile_returns
    fig = go.Figure()
    fig.add_bar(x=[str(k) for k in qr.mean.index], y=(qr.mean * 1e4).to_numpy(), name="mean")
    fig.update_layout(
        title=f"Mean {report.horizon}-period forward return by quantile (bps)",
        xaxis_title="quantile (1 = lowest factor)",
        **layout,
    )
    figs["quantile_means"] = fig

    # the return of the period starting at t is realized at t + 1: plot it there
    growth = report.daily_quantile_returns.cumulative()
    fig = go.Figure()
    realized = axis_values(growth.index[1:])
    for k in growth.columns:
        fig.add_scatter(x=realized, y=growth[k].to_numpy()[:-1], name=f"Q{k}", mode="lines")
    fig.update_layout(
        title="Growth of 1 by quantile (1-period returns, rebalanced every period, no costs)",
        yaxis_type="log",
        **layout,
    )
    figs["cumulative"] = fig

    fig = go.Figure()
    for name, series in report.turnover.series.items():
        smooth = series.rolling(rolling, min_periods=max(rolling // 2, 1)).mean()
        label = name.replace("_", " ") + f", {rolling}-period mean (lag 1)"
        fig.add_scatter(x=axis_values(series.index), y=smooth.to_numpy(), name=label, mode="lines")
    fig.update_layout(title="Turnover over time", yaxis_range=[0, 1.05], **layout)
    figs["turnover"] = fig

    return figures_to_html(figs)


def _rows(report: FactorReport, summary: dict[str, Any]) -> dict[str, Any]:
    ic, rk = report.ic_summary, report.rank_ic_summary
    ic_rows = [
        ("mean", _fmt(ic.mean), _fmt(rk.mean)),
        ("std", _fmt(ic.std), _fmt(rk.std)),
        ("IR (mean / std, per period, not annualized)", _fmt(ic.ir), _fmt(rk.ir)),
        ("IR annualized (x sqrt(periods per year / h))", _fmt(ic.ir_annualized, 3),
         _fmt(rk.ir_annualized, 3)),
        ("t-stat (assumes independent periods)", _fmt(ic.t_stat, 2), _fmt(rk.t_stat, 2)),
        (f"t-stat Newey-West ({ic.hac_lags} lags)", _fmt(ic.t_stat_hac, 2),
         _fmt(rk.t_stat_hac, 2)),
        ("periods", str(ic.n_periods), str(rk.n_periods)),
    ]  # fmt: skip
    qr = report.quantile_returns
    skipped = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.n_skipped.items())
    other_rows = [
        ("top minus bottom, mean per period", _pct(qr.spread_mean)),
        ("top minus bottom t-stat / Newey-West", f"{_fmt(qr.spread_t_stat, 2)} / "
         f"{_fmt(qr.spread_t_stat_hac, 2)}"),
        ("monotonicity (Spearman of quantile vs mean return)", _fmt(qr.monotonicity, 3)),
        ("rank autocorrelation (lag 1)", _fmt(report.turnover.rank_autocorrelation.get(1))),
        ("top quantile turnover (lag 1)", _fmt(report.turnover.top_quantile_turnover.get(1))),
        ("minimum assets per period", str(report.min_assets)),
        ("periods skipped", skipped),
    ]  # fmt: skip
    decay_rows = [
        (str(h), _fmt(p.ic_mean), _fmt(p.rank_ic_mean), _fmt(p.rank_ic_t_stat_hac, 2),
         str(p.n_periods))
        for h, p in report.ic_decay.items()
    ]  # fmt: skip
    quantile_rows = [(str(k), _pct(v)) for k, v in qr.mean.items()]
    quantile_rows.append(("top minus bottom", _pct(qr.spread_mean)))
    turnover_rows = [
        (str(lag), _fmt(report.turnover.rank_autocorrelation.get(lag)),
         _fmt(report.turnover.top_quantile_turnover.get(lag)),
         _fmt(report.turnover.bottom_quantile_turnover.get(lag)))
        for lag in report.turnover.rank_autocorrelation
    ]  # fmt: skip
    orthogonality_rows: list[tuple[str, str, str]] = []
    orth = report.orthogonality
    if orth is not None:
        orthogonality_rows.append(
            ("alpha per period", _pct(orth.alpha, 4), _fmt(orth.alpha_t_stat, 2))
        )
        orthogonality_rows.append(("alpha annualized", _pct(orth.alpha_annualized, 2), ""))
        for name, beta in orth.betas.items():
            orthogonality_rows.append(
                (f"beta: {name}", _fmt(beta, 3), _fmt(orth.beta_t_stats[name], 2))
            )
        orthogonality_rows.append(("R²", _fmt(orth.r_squared, 3), ""))
    regime_rows: list[tuple[str, str, str, str]] = []
    if report.regimes is not None:
        for kind, table in (
            ("volatility", report.regimes.volatility),
            ("trend", report.regimes.trend),
        ):
            for regime, row in table.items():
                regime_rows.append(
                    (f"{kind}: {regime}", _fmt(row["ic_mean"]), _fmt(row["rank_ic_mean"]),
                     str(row["n_periods"]))
                )  # fmt: skip
    return {
        "ic_rows": ic_rows,
        "other_rows": other_rows,
        "decay_rows": decay_rows,
        "quantile_rows": quantile_rows,
        "turnover_rows": turnover_rows,
        "orthogonality_rows": orthogonality_rows,
        "regime_rows": regime_rows,
        "regime_notes": list(report.regimes.notes) if report.regimes else [],
    }


def render_tearsheet(
    report: FactorReport,
    path: str | Path,
    title: str = "Factor analysis",
    *,
    rolling_window: int = 63,
) -> Path:
    """Write the report as a self-contained HTML page.

    The page embeds plotly.js (no CDN, no network), shows the caveats at the
    top, the summary statistics, IC over time (with a rolling mean) and its
    histogram, IC decay, mean return per quantile, cumulative quantile
    returns, turnover over time, orthogonality and regime tables when
    computed, the definitions used, and the full ``report.to_dict()`` as JSON
    in ``<script id="factor-report-data" type="application/json">``. The file
    is written to a temporary file and renamed into place.

    Parameters
    ----------
    report : FactorReport
    path : str or Path
        Output file; its directory is created if needed.
    title : str, default="Factor analysis"
    rolling_window : int, default=63
        Periods in the rolling means drawn over the IC and turnover series.

    Returns
    -------
    Path
        The written file.
    """
    import jinja2

    from alphaloop.factors.analysis._template import TEARSHEET_TEMPLATE
    from alphaloop.factors.analysis.report import CONVENTIONS

    summary = report.to_dict()
    # "<" escaped so no text in the data can close the script element
    report_json = json.dumps(summary, allow_nan=False, indent=1).replace("<", "\\u003c")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(TEARSHEET_TEMPLATE).render(
        css=BASE_CSS,
        title=title,
        report=report,
        summary=summary,
        caveats=list(report.caveats),
        conventions=CONVENTIONS,
        figures=_figures(report, rolling_window),
        orthogonality=report.orthogonality,
        plotly_js=plotly_js(),
        report_json=report_json,
        first_period=_stamp(report.start),
        last_period=_stamp(report.end),
        **_rows(report, summary),
    )
    out = Path(path)
    write_atomic(out, html)
    return out
