"""The parts of ``alphaloop risk report`` beyond the return series: the portfolio held at
the last bar with its component and marginal VaR, and the HTML page (``--report``).

- :func:`held_portfolio` values the shares a backtest holds after its last
  fill at the last close, as fractions of the final equity, and returns
  the held assets' bar returns over the backtest's span (the last
  ``window`` bars where every held asset has a price).
- :func:`write_risk_page` renders one self-contained HTML page: the
  report's header and notes, the shared risk section
  (:func:`alphaloop.backtest.render_risk_section`) of the strategy's
  returns against the chosen factor set, the component/marginal VaR table,
  the bootstrap Monte Carlo line and, when asked for, the generator
  stress, headed SYNTHETIC. :func:`check_report_path` refuses a
  path that cannot be written before any work is done.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.errors import UsageError

if TYPE_CHECKING:
    from alphaloop.app.risk_report import RiskReport
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import BacktestResult, StrategySpec

__all__ = ["check_report_path", "held_portfolio", "regime_rows", "write_risk_page"]


def check_report_path(path: str | Path) -> Path:
    """``path`` as a :class:`Path` if an HTML report can be written there, else :class:`UsageError`.

    Refused: an existing directory, a parent that is a file, a parent
    directory (the nearest existing one) that this process cannot write.
    Missing parent directories are fine: they are created on write.
    """
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"report path {p} is a directory", hint="give a file name, e.g. risk.html")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"report path {p}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"report path {p}: directory {parent} is not writable")
    return p


def held_portfolio(
    ws: Workspace, spec: StrategySpec, result: BacktestResult, *, window: int = 250
) -> tuple[pd.Series, pd.DataFrame] | None:
    """Weights held after the last bar and the held assets' bar returns; None when flat.

    Weights are signed shares x last close / final equity (fractions of
    value). Returns are close-to-close simple returns over the backtest's
    bars, the last ``window`` rows on which every held asset has a price.
    """
    from alphaloop.app.backtests import load_strategy_data

    sim = result.simulation
    trades = sim.trades
    if trades.empty or "shares" not in trades:
        return None
    shares = trades.groupby(trades["asset"].astype(str))["shares"].sum()
    shares = shares[shares.abs() > 1e-9]
    if shares.empty:
        return None
    _, panel = load_strategy_data(ws, spec)
    close = panel.frame("close")
    close.columns = [str(c) for c in close.columns]
    close = close.reindex(index=sim.equity.index, columns=list(shares.index))
    last = close.ffill().iloc[-1]
    equity = float(sim.equity.iloc[-1])
    if not (equity > 0 and np.isfinite(last.to_numpy()).all()):
        return None
    weights = (shares * last / equity).rename("weight")
    returns = close.pct_change(fill_method=None).iloc[1:].dropna(how="any").iloc[-int(window) :]
    return weights, returns


def _contribution_rows(report: RiskReport) -> list[list[str]]:
    from alphaloop.reports import format_number

    c = report.contributions
    if c is None:
        return []
    rows = []
    for asset, r in c.frame.sort_values("component", ascending=False).iterrows():
        rows.append([
            str(asset), f"{100 * r['weight']:.2f}%", format_number(float(r["marginal"]), 3),
            f"{100 * r['component']:.3f}%", f"{100 * r['share']:.1f}%",
        ])  # fmt: skip
    return rows


def regime_rows(report: RiskReport) -> list[list[str]]:
    """The per-regime table of ``report`` as text cells (regime, bars, share
    of time, return and volatility a year, Sharpe, max drawdown); ``-`` for
    a figure a regime with too few bars has not got."""
    if report.regimes is None:
        return []

    def pct(x: float) -> str:
        return "-" if math.isnan(x) else f"{100 * x:.2f}%"

    rows = []
    for name, r in report.regimes.iterrows():
        sharpe = float(r["sharpe_ratio"])
        rows.append([
            str(name), f"{int(r['bars']):,}", pct(float(r["share_of_time"])),
            pct(float(r["annual_return"])), pct(float(r["annual_volatility"])),
            "-" if math.isnan(sharpe) else f"{sharpe:.2f}", pct(float(r["max_drawdown"])),
        ])  # fmt: skip
    return rows


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Risk: {{ name }}</title>
<style>
{{ css | safe }}
</style>
<script type="text/javascript">{{ plotly_js | safe }}</script>
</head>
<body>
<h1 id="title">Risk: {{ name }}</h1>
<p class="subtitle">Spec <code>{{ spec_hash }}</code>{% if run_id is not none %}, backtest run
{{ run_id }}{% endif %}; {{ start }} to {{ end }} ({{ bars }} bars).</p>
<section class="caveats" id="caveats"><h2>Dataset caveats</h2>
{% if caveats %}<ul>
{% for caveat in caveats %}<li>{{ caveat }}</li>
{% endfor %}</ul>{% else %}<p>The dataset lists no caveats.</p>{% endif %}</section>
{% if notes %}<section id="notes"><h2>Notes</h2><ul>
{% for note in notes %}<li>{{ note }}</li>
{% endfor %}</ul></section>{% endif %}
{{ section | safe }}
<section id="contributions">
<h2>Risk per asset of the portfolio held at the last bar</h2>
{% if contribution_rows %}<table id="risk-contributions">
<thead><tr><th>Asset</th><th>Weight</th><th>Marginal</th><th>Component</th><th>Share</th></tr>
</thead><tbody>
{% for row in contribution_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<p class="note">{{ contribution_note }}</p>
{% else %}<p>{{ contribution_note }}</p>{% endif %}
</section>
<section id="regimes">
<h2>Per market regime</h2>
{% if regime_rows %}<table id="risk-regimes">
<thead><tr><th>Regime</th><th>Bars</th><th>Share of time</th><th>Return a year</th>
<th>Volatility a year</th><th>Sharpe</th><th>Max drawdown</th></tr></thead><tbody>
{% for row in regime_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endif %}
<p class="note">{{ regime_note }}</p>
</section>
<section id="monte-carlo">
<h2>Bootstrap Monte Carlo</h2>
<p>{{ monte_carlo }}</p>
</section>
{% if generator_stress %}<section id="generator-stress" class="synthetic">
<h2>SYNTHETIC: generator stress</h2>
<p><strong>Synthetic paths, not market data.</strong> {{ generator_stress }}</p>
</section>{% endif %}
</body>
</html>
"""


def write_risk_page(report: RiskReport, path: str | Path, *, factors: str = "market") -> str:
    """Render ``report`` as a self-contained HTML page at ``path`` (atomic); return the page.

    The risk section measures ``report.returns`` at 95% and 99% (and at the
    report's confidence when it is neither) against the factor set ``factors``.
    """
    import jinja2

    from alphaloop.backtest import render_risk_section, strategy_risk_profile
    from alphaloop.reports import BASE_CSS, plotly_js, write_atomic

    target = check_report_path(path)
    levels = tuple(sorted({0.95, 0.99, report.confidence}))
    profile = strategy_risk_profile(
        report.returns,
        periods_per_year=report.periods_per_year,
        factor_sets=(factors,),
        confidences=levels,
    )
    mc = report.monte_carlo
    context: dict[str, Any] = {
        "name": report.name,
        "spec_hash": report.spec_hash,
        "run_id": report.run_id,
        "start": report.period[0],
        "end": report.period[1],
        "bars": f"{report.period[2]:,}",
        "notes": list(report.notes),
        "caveats": list(report.caveats),
        "section": render_risk_section(profile, report.returns),
        "contribution_rows": _contribution_rows(report),
        "contribution_note": report.contribution_note,
        "regime_rows": regime_rows(report),
        "regime_note": report.regime_note,
        "monte_carlo": (
            f"{mc.n_paths:,} stationary-bootstrap paths of {mc.horizon} bars: VaR "
            f"{100 * mc.var:.2f}%, CVaR {100 * mc.cvar:.2f}% at {100 * mc.confidence:g}%."
        ),
        "generator_stress": (
            "" if report.generator_stress is None else report.generator_stress.describe()
        ),
    }
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_PAGE).render(css=BASE_CSS, plotly_js=plotly_js(), **context)
    try:
        write_atomic(target, html)
    except OSError as exc:
        raise UsageError(f"cannot write report {target}: {exc.strerror or exc}") from None
    return html
