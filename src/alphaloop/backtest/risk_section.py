"""The risk section of HTML reports: a :class:`~alphaloop.risk.RiskProfile` as HTML.

:func:`strategy_risk_profile` measures a strategy's returns with
:func:`alphaloop.risk.risk_profile` against the bundled factor sets
(:func:`alphaloop.data.factor_returns`: market, factor ETFs, Fama-French);
:func:`render_risk_section` lays the profile out as one ``<section
id="risk">`` (tables plus a plotly chart of the rolling VaR forecasts and
their exceptions). The backtest tearsheet carries it, and ``alphaloop risk
report --report`` builds its page around it. Pages that include the
section must inline plotly.js once (:func:`alphaloop.reports.plotly_js`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.reports import NA, axis_values, chart_layout, figures_to_html, format_number

if TYPE_CHECKING:
    from alphaloop.data import FactorData
    from alphaloop.risk import FactorSetExposure, RiskProfile

__all__ = [
    "RISK_PLOT_POINTS",
    "load_factor_sets",
    "render_risk_section",
    "strategy_risk_profile",
]

#: Most points per VaR line in the chart (exceptions are always all drawn).
RISK_PLOT_POINTS = 3_000
_METHOD_LABELS = {
    "historical": "historical",
    "student_t": "Student-t",
    "cornish_fisher": "Cornish-Fisher",
    "filtered_historical": "filtered historical (GARCH)",
    "normal": "normal",
    "monte_carlo": "Monte Carlo",
}


def _pct(value: Any, decimals: int = 2) -> str:
    if value is None:
        return NA
    x = float(value)
    return NA if math.isnan(x) else f"{100 * x:,.{decimals}f}%"


def _p(value: float) -> str:
    return NA if math.isnan(value) else f"{value:.3f}"


def _day(t: pd.Timestamp | None) -> str:
    if t is None:
        return NA
    return t.strftime("%Y-%m-%d" if t == t.normalize() else "%Y-%m-%d %H:%M")


def _level(c: float) -> str:
    return f"{100 * c:g}%"


def load_factor_sets(names: Sequence[str]) -> tuple[list[FactorData], list[str]]:
    """The factor sets ``names`` from the installed packages, and a note per set that
    could not be read (its package missing), so a report still renders."""
    from alphaloop.data import factor_returns
    from alphaloop.errors import DataReadError

    found: list[FactorData] = []
    notes: list[str] = []
    for name in names:
        try:
            found.append(factor_returns(name))
        except DataReadError as exc:
            notes.append(f"factor set {name}: {exc}")
    return found, notes


def strategy_risk_profile(
    returns: pd.Series,
    *,
    periods_per_year: float,
    factor_sets: Sequence[str] = ("market", "etf", "ff"),
    **options: Any,
) -> RiskProfile:
    """:func:`alphaloop.risk.risk_profile` of ``returns`` against the bundled ``factor_sets``.

    ``options`` go to :func:`~alphaloop.risk.risk_profile` (``confidences``,
    ``window``, ``seed``...). A factor set that cannot be read is named in
    the profile's notes.
    """
    from dataclasses import replace

    from alphaloop.risk import risk_profile

    data, notes = load_factor_sets(factor_sets)
    profile = risk_profile(returns, factor_data=data, periods_per_year=periods_per_year, **options)
    return replace(profile, notes=(*profile.notes, *notes)) if notes else profile


# -- tables ------------------------------------------------------------------------


def _var_rows(profile: RiskProfile) -> list[list[str]]:
    methods = list(dict.fromkeys(v.method for v in profile.var))
    cells = {(v.method, v.confidence): v for v in profile.var}
    rows = []
    for m in methods:
        row = [_METHOD_LABELS.get(m, m)]
        for c in profile.confidences:
            v = cells.get((m, c))
            row += [NA, NA] if v is None else [_pct(v.var), _pct(v.cvar)]
        rows.append(row)
    return rows


def _backtest_rows(profile: RiskProfile) -> list[list[str]]:
    return [
        [
            _level(b.confidence),
            f"{b.n_obs:,}",
            f"{b.n_exceptions:,}",
            f"{b.expected_rate * b.n_obs:,.1f}",
            _pct(b.exception_rate),
            _p(b.kupiec.p_value),
            _p(b.independence.p_value),
            _p(b.conditional_coverage.p_value),
        ]
        for b in profile.backtests
    ]


def _scenario_rows(profile: RiskProfile) -> list[list[str]]:
    return [
        [
            r.name,
            f"{_day(r.start)} .. {_day(r.end)}",
            _pct(r.pnl),
            _pct(r.max_drawdown),
            _pct(r.worst_bar),
            f"{r.n_bars:,}",
        ]
        for r in profile.stress.results
    ]


def _drawdown_rows(profile: RiskProfile) -> list[tuple[str, str]]:
    d = profile.drawdown
    if d.peak is None:
        return [("maximum drawdown", "0.00% (the value never fell below a running peak)")]
    return [
        ("maximum drawdown", _pct(d.max_drawdown)),
        ("peak", _day(d.peak)),
        ("valley", _day(d.valley)),
        ("recovered", _day(d.recovery) if d.recovery is not None else "not recovered"),
        ("bars from peak to valley", f"{d.bars_to_valley:,}"),
        ("drawdown at the last bar", _pct(d.current)),
    ]


def _exposure_block(e: FactorSetExposure) -> dict[str, Any]:
    rows: list[tuple[str, str, str]] = []
    if e.exposure is None:
        summary = f"No regression: {e.note}."
    else:
        x = e.exposure
        rows.append(
            ("alpha (annualized" + (", over the risk-free rate)" if e.excess else ")"),
             _pct(x.alpha_annualised), format_number(x.alpha_t, 3))
        )  # fmt: skip
        rows += [
            (f"beta: {name}", format_number(float(x.betas[name]), 3),
             format_number(float(x.beta_t[name]), 3))
            for name in x.betas.index
        ]  # fmt: skip
        rows.append(("R²", format_number(x.r_squared, 3), ""))
        rows.append(("residual volatility (annualized)", _pct(x.residual_vol_annualised), ""))
        summary = (
            f"{e.n_obs:,} shared {e.frequency} observations, {_day(e.start)} to {_day(e.end)} "
            f"({e.note}). OLS with an intercept; alpha is the intercept x {x.periods_per_year} "
            "periods per year; t-statistics use classic OLS standard errors."
        )
    if e.caveats:
        summary += " Caveats of the factor data: " + "; ".join(e.caveats) + "."
    return {"name": e.name, "label": e.label, "rows": rows, "summary": summary}


# -- chart -----------------------------------------------------------------------


def _stride(n: int) -> int:
    return max(1, math.ceil(n / RISK_PLOT_POINTS))


def _figure(profile: RiskProfile, returns: pd.Series | None) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    frame = profile.forecasts.dropna(how="all")
    step = _stride(len(frame))
    shown = frame.iloc[::step]
    colors = ("#d2691e", "#b3261e", "#6a1b9a")
    for (col, c), color in zip(zip(frame.columns, profile.confidences, strict=False), colors,
                               strict=False):  # fmt: skip
        fig.add_scatter(
            x=axis_values(shown.index), y=(-100 * shown[col]).to_numpy(np.float32),
            name=f"-VaR {_level(c)}", mode="lines", line={"color": color, "width": 1},
        )  # fmt: skip
    if returns is not None:
        realised = returns.reindex(frame.index)
        for b, color in zip(profile.backtests, colors, strict=False):
            hits = b.hits[b.hits]
            fig.add_scatter(
                x=axis_values(hits.index), y=(100 * realised.reindex(hits.index)).to_numpy(),
                name=f"exceptions {_level(b.confidence)}", mode="markers",
                marker={"color": color, "size": 5},
            )  # fmt: skip
    fig.update_layout(
        **chart_layout(
            f"Rolling one-bar VaR forecasts ({profile.var_method}, {profile.window} bars) "
            "and the returns that broke them (%)",
            legend={"orientation": "h", "y": -0.15},
        )
    )
    return figures_to_html({"risk_var_backtest": fig})["risk_var_backtest"]


def render_risk_section(
    profile: RiskProfile, returns: pd.Series | None = None, *, net: bool = True
) -> str:
    """The profile as one HTML ``<section id="risk">`` (no plotly.js: the page inlines it).

    Parameters
    ----------
    profile : RiskProfile
    returns : Series, optional
        The series the profile measured; its exceptions are drawn on the chart.
    net : bool, default=True
        Say that the returns are net of costs.

    Tables (element ids): ``risk-var`` (VaR/CVaR per method and confidence),
    ``risk-var-backtest``, ``risk-scenarios``, ``risk-drawdown``,
    ``risk-exposure-<set>`` per factor set.
    """
    import jinja2

    from alphaloop.backtest._risk_template import RISK_SECTION_TEMPLATE

    skipped = ", ".join(profile.stress.skipped)
    no_backtest = next((n for n in profile.notes if "VaR backtest" in n), "too few bars")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(RISK_SECTION_TEMPLATE).render(
        net=net,
        n_obs=f"{profile.n_obs:,}",
        start=_day(profile.start),
        end=_day(profile.end),
        notes=list(profile.notes),
        confidence_labels=[_level(c) for c in profile.confidences],
        var_rows=_var_rows(profile),
        backtest_rows=_backtest_rows(profile),
        figure=_figure(profile, returns) if profile.backtests else "",
        var_method=_METHOD_LABELS.get(profile.var_method, profile.var_method),
        window=f"{profile.window:,}",
        thinned=_stride(len(profile.forecasts.dropna(how="all"))) > 1,
        max_points=f"{RISK_PLOT_POINTS:,}",
        no_backtest=no_backtest,
        scenario_rows=_scenario_rows(profile),
        skipped=skipped,
        drawdown_rows=_drawdown_rows(profile),
        exposure_blocks=[_exposure_block(e) for e in profile.exposures],
    )
