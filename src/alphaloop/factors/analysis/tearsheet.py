"""Render a :class:`FactorReport` as one self-contained HTML page (works offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.reports import (
    BASE_CSS,
    axis_values,
    chart_layout,
    figures_to_html,
    format_flag,
    format_number,
    format_percent,
    plotly_js,
    write_atomic,
)

if TYPE_CHECKING:
    from alphaloop.factors.analysis.report import FactorReport

__all__ = ["render_tearsheet"]


def _corr(value: Any) -> str:
    """A correlation-like number (IC, IR, autocorrelation, turnover share): 4 decimals."""
    return format_number(value, decimals=4)


def _stat(value: Any) -> str:
    """A t-statistic, beta or ratio: 3 significant digits."""
    return format_number(value, 3)


def _pct(value: Any, sig: int = 3) -> str:
    """A return: percent with ``sig`` significant digits (no sign added)."""
    return format_percent(value, sig)


def _stamp(value: pd.Timestamp | None) -> str:
    if value is None:
        return "n/a"
    return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M %Z")


def _figures(report: FactorReport, rolling: int) -> dict[str, str]:
    import plotly.graph_objects as go

    assert report.ic is not None
    assert report.rank_ic is not None
    assert report.quantile_returns is not None
    assert report.daily_quantile_returns is not None
    assert report.turnover is not None
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
    fig.update_layout(**chart_layout(f"IC per period (horizon {report.horizon})"))
    figs["ic"] = fig

    fig = go.Figure()
    for series, name in ((report.ic, "IC"), (report.rank_ic, "rank IC")):
        fig.add_histogram(x=series.dropna().to_numpy(), name=name, opacity=0.6, nbinsx=60)
    fig.update_layout(**chart_layout("IC distribution", width="half", barmode="overlay"))
    figs["ic_histogram"] = fig

    horizons = [str(h) for h in report.ic_decay]
    fig = go.Figure()
    fig.add_bar(x=horizons, y=[p.ic_mean for p in report.ic_decay.values()], name="mean IC")
    fig.add_bar(
        x=horizons, y=[p.rank_ic_mean for p in report.ic_decay.values()], name="mean rank IC"
    )
    fig.update_layout(
        **chart_layout("IC decay", width="half", xaxis_title="horizon (periods)", barmode="group")
    )
    figs["ic_decay"] = fig

    qr = report.quantile_returns
    fig = go.Figure()
    fig.add_bar(x=[str(k) for k in qr.mean.index], y=(qr.mean * 1e4).to_numpy(), name="mean")
    fig.update_layout(
        **chart_layout(
            f"Mean {report.horizon}-period forward return by quantile (bps)",
            width="half",
            xaxis_title="quantile (1 = lowest factor)",
        )
    )
    figs["quantile_means"] = fig

    # the return of the period starting at t is realized at t + 1: plot it there
    growth = report.daily_quantile_returns.cumulative()
    fig = go.Figure()
    realized = axis_values(growth.index[1:])
    for k in growth.columns:
        fig.add_scatter(x=realized, y=growth[k].to_numpy()[:-1], name=f"Q{k}", mode="lines")
    fig.update_layout(
        **chart_layout(
            "Growth of 1 by quantile (1-period returns, rebalanced every period, no costs)",
            width="half",
            yaxis_type="log",
        )
    )
    figs["cumulative"] = fig

    fig = go.Figure()
    for name, series in report.turnover.series.items():
        smooth = series.rolling(rolling, min_periods=max(rolling // 2, 1)).mean()
        label = name.replace("_", " ") + f", {rolling}-period mean (lag 1)"
        fig.add_scatter(x=axis_values(series.index), y=smooth.to_numpy(), name=label, mode="lines")
    fig.update_layout(**chart_layout("Turnover over time", yaxis_range=[0, 1.05]))
    figs["turnover"] = fig

    return figures_to_html(figs)


def _rows(report: FactorReport) -> dict[str, Any]:
    ic, rk = report.ic_summary, report.rank_ic_summary
    qr, turnover = report.quantile_returns, report.turnover
    assert ic is not None
    assert rk is not None
    assert qr is not None
    assert turnover is not None
    ic_rows = [
        ("mean", _corr(ic.mean), _corr(rk.mean)),
        ("std", _corr(ic.std), _corr(rk.std)),
        ("IR (mean / std, per period, not annualized)", _corr(ic.ir), _corr(rk.ir)),
        ("IR annualized (x sqrt(periods per year / h))", _stat(ic.ir_annualized),
         _stat(rk.ir_annualized)),
        ("t-stat (assumes independent periods)", _stat(ic.t_stat), _stat(rk.t_stat)),
        (f"t-stat Newey-West ({ic.hac_lags} lags)", _stat(ic.t_stat_hac), _stat(rk.t_stat_hac)),
        ("periods", format_number(ic.n_periods), format_number(rk.n_periods)),
    ]  # fmt: skip
    skipped = ", ".join(
        f"{k.replace('_', ' ')}: {format_number(v)}" for k, v in report.n_skipped.items()
    )
    other_rows = [
        ("top minus bottom, mean per period", _pct(qr.spread_mean)),
        ("top minus bottom t-stat / Newey-West",
         f"{_stat(qr.spread_t_stat)} / {_stat(qr.spread_t_stat_hac)}"),
        ("monotonicity (Spearman of quantile vs mean return)", _stat(qr.monotonicity)),
        ("rank autocorrelation (lag 1)", _corr(turnover.rank_autocorrelation.get(1))),
        ("top quantile turnover (lag 1)", _corr(turnover.top_quantile_turnover.get(1))),
        ("minimum assets per period", format_number(report.min_assets)),
        ("periods skipped", skipped),
    ]  # fmt: skip
    decay_rows = [
        (str(h), _corr(p.ic_mean), _corr(p.rank_ic_mean), _stat(p.rank_ic_t_stat_hac),
         format_number(p.n_periods))
        for h, p in report.ic_decay.items()
    ]  # fmt: skip
    quantile_rows = [(str(k), _pct(v)) for k, v in qr.mean.items()]
    quantile_rows.append(("top minus bottom", _pct(qr.spread_mean)))
    turnover_rows = [
        (str(lag), _corr(turnover.rank_autocorrelation.get(lag)),
         _corr(turnover.top_quantile_turnover.get(lag)),
         _corr(turnover.bottom_quantile_turnover.get(lag)))
        for lag in turnover.rank_autocorrelation
    ]  # fmt: skip
    orthogonality_rows: list[tuple[str, str, str]] = []
    orth = report.orthogonality
    if orth is not None:
        orthogonality_rows.append(("alpha per period", _pct(orth.alpha), _stat(orth.alpha_t_stat)))
        orthogonality_rows.append(("alpha annualized", _pct(orth.alpha_annualized), ""))
        for name, beta in orth.betas.items():
            orthogonality_rows.append(
                (f"beta: {name}", _stat(beta), _stat(orth.beta_t_stats[name]))
            )
        orthogonality_rows.append(("R²", _stat(orth.r_squared), ""))
    regime_rows: list[tuple[str, str, str, str]] = []
    regime_parameters: list[tuple[str, str]] = []
    if report.regimes is not None:
        regimes = report.regimes
        for kind, table in (("volatility", regimes.volatility), ("trend", regimes.trend)):
            for regime, row in table.items():
                regime_rows.append(
                    (f"{kind}: {regime}", _corr(row["ic_mean"]), _corr(row["rank_ic_mean"]),
                     format_number(row["n_periods"]))
                )  # fmt: skip
        params = regimes.parameters
        annualized = bool(params.get("volatility_cut_points_annualized"))
        low, high = regimes.volatility_cut_points
        # volatility is never negative: no sign
        regime_parameters = [
            ("volatility window (periods)", format_number(params.get("volatility_window"))),
            ("volatility cut points (low / high)", f"{_pct(low)} / {_pct(high)}"),
            ("cut points annualized", format_flag(annualized)),
            ("trend window (periods)", format_number(params.get("trend_window"))),
            ("trend thresholds (up / down)",
             f"{format_percent(params.get('trend_up'), signed=True)} / "
             f"{format_percent(params.get('trend_down'), signed=True)}"),
        ]  # fmt: skip
    return {
        "ic_rows": ic_rows,
        "other_rows": other_rows,
        "decay_rows": decay_rows,
        "quantile_rows": quantile_rows,
        "turnover_rows": turnover_rows,
        "orthogonality_rows": orthogonality_rows,
        "regime_rows": regime_rows,
        "regime_parameters": regime_parameters,
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

    The page embeds plotly.js (no CDN, no network) and shows the caveats at
    the top. A cross-sectional report then shows the summary statistics, IC
    over time (with a rolling mean) and its histogram, IC decay, mean return
    per quantile, cumulative quantile returns, turnover over time, and
    orthogonality and regime tables when computed. A time-series report
    shows why it is one and which measures need a cross-section, the pooled
    and per-asset IC, rank IC and hit rate (with counts), the rolling IC per
    asset and the decay. Both end with the definitions used and the full
    ``report.to_dict()`` as JSON in
    ``<script id="factor-report-data" type="application/json">``. The file
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
    from alphaloop.factors.analysis._timeseries_sheet import time_series_context

    summary = report.to_dict()
    # "<" escaped so no text in the data can close the script element
    report_json = json.dumps(summary, allow_nan=False, indent=1).replace("<", "\\u003c")
    if report.mode == "time-series":
        context = time_series_context(report)
    else:
        context = {"figures": _figures(report, rolling_window), **_rows(report)}
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(TEARSHEET_TEMPLATE).render(
        css=BASE_CSS,
        title=title,
        report=report,
        summary=summary,
        caveats=list(report.caveats),
        conventions=summary["conventions"],
        orthogonality=report.orthogonality,
        plotly_js=plotly_js(),
        report_json=report_json,
        first_period=_stamp(report.start),
        last_period=_stamp(report.end),
        **context,
    )
    out = Path(path)
    write_atomic(out, html)
    return out
