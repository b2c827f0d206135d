"""The time-series part of the factor tearsheet: figures and table rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.reports import (
    axis_values,
    chart_layout,
    figures_to_html,
    format_number,
    format_percent,
)

if TYPE_CHECKING:
    from alphaloop.factors.analysis.report import FactorReport

__all__ = ["MAX_ROLLING_LINES", "time_series_context"]

#: Assets drawn in the rolling-IC chart (the ones with the most bars); all are in the tables.
MAX_ROLLING_LINES = 12


def _corr(value: Any) -> str:
    return format_number(value, decimals=4)


def _hits(hits: int, signed: int) -> str:
    return f"{format_number(hits)} of {format_number(signed)}"


def _figures(report: FactorReport) -> dict[str, str]:
    import plotly.graph_objects as go

    ts = report.time_series
    assert ts is not None
    figs: dict[str, go.Figure] = {}

    by_bars = sorted(ts.assets.values(), key=lambda a: -a.n_bars)[:MAX_ROLLING_LINES]
    fig = go.Figure()
    x = axis_values(ts.rolling_ic.index)
    for a in by_bars:
        fig.add_scatter(x=x, y=ts.rolling_ic[a.asset].to_numpy(), name=a.asset, mode="lines")
    shown = "" if len(ts.assets) <= MAX_ROLLING_LINES else f", {MAX_ROLLING_LINES} assets"
    fig.update_layout(
        **chart_layout(
            f"Rolling {ts.window}-bar IC of each asset over time (horizon {ts.horizon}{shown})",
            yaxis_range=[-1.05, 1.05],
        )
    )
    figs["ts_rolling_ic"] = fig

    names = list(ts.assets)
    fig = go.Figure()
    fig.add_bar(x=names, y=[a.ic for a in ts.assets.values()], name="IC")
    fig.add_bar(x=names, y=[a.rank_ic for a in ts.assets.values()], name="rank IC")
    fig.update_layout(
        **chart_layout("IC and rank IC over time, by asset", width="half", barmode="group")
    )
    figs["ts_by_asset"] = fig

    horizons = [str(h) for h in ts.decay]
    fig = go.Figure()
    fig.add_bar(x=horizons, y=[d["rank_ic"] for d in ts.decay.values()], name="pooled rank IC")
    fig.add_bar(x=horizons, y=[d["ic_mean_over_assets"] for d in ts.decay.values()], name="mean IC")
    fig.update_layout(
        **chart_layout(
            "Time-series IC by horizon", width="half", xaxis_title="horizon (bars)",
            barmode="group",
        )
    )  # fmt: skip
    figs["ts_decay"] = fig
    return figures_to_html(figs)


def time_series_context(report: FactorReport) -> dict[str, Any]:
    """Figures and rows the template's time-series section renders."""
    ts = report.time_series
    assert ts is not None
    pooled = ts.pooled
    pooled_rows = [
        ("assets", format_number(pooled["n_assets"])),
        ("bars (pooled series)", format_number(pooled["n_bars"])),
        ("rank IC (pooled)", _corr(pooled["rank_ic"])),
        (f"rank IC t-stat Newey-West ({pooled['hac_lags']} lags)",
         format_number(pooled["rank_ic_t_stat_hac"], 3)),
        ("IC (mean over assets)", _corr(pooled["ic_mean_over_assets"])),
        ("hit rate", format_percent(pooled["hit_rate"])),
        ("hits of signed bars", _hits(pooled["n_hits"], pooled["n_signed"])),
        ("chance hit rate (same sign frequencies, no relation)",
         format_percent(pooled["chance_hit_rate"])),
    ]  # fmt: skip
    asset_rows = [
        (
            a.asset,
            format_number(a.n_bars),
            _corr(a.ic),
            _corr(a.rank_ic),
            format_number(a.rank_ic_t_stat_hac, 3),
            format_percent(a.hit_rate),
            _hits(a.n_hits, a.n_signed),
            format_percent(a.chance_hit_rate),
            format_percent(a.share_up),
            format_percent(a.share_factor_positive),
        )
        for a in ts.assets.values()
    ]
    decay_rows = [
        (str(h), _corr(d["rank_ic"]), format_number(d["rank_ic_t_stat_hac"], 3),
         _corr(d["ic_mean_over_assets"]), format_percent(d["hit_rate"]),
         format_number(d["n_bars"]))
        for h, d in ts.decay.items()
    ]  # fmt: skip
    return {
        "figures": _figures(report),
        "ts_pooled_rows": pooled_rows,
        "ts_asset_rows": asset_rows,
        "ts_decay_rows": decay_rows,
        "not_shown_rows": list(report.not_shown.items()),
    }
