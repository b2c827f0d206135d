"""The HTML page of an RL training run: test-span results across seeds next to benchmarks.

One self-contained page (plotly inlined, works offline): the caveats first,
the spans, the across-seed summary (mean, spread, confidence interval) beside
buy-and-hold and equal weight, every seed's row (none singled out), the
equity curves of every seed and both benchmarks on the test span, and the
regime ensemble when there is one.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from alphaloop.reports import (
    BASE_CSS,
    NA,
    chart_layout,
    figures_to_html,
    format_number,
    format_percent,
    plotly_js,
    write_atomic,
)

__all__ = ["write_rl_report"]

_ROWS = (
    ("total_return", "total return", True),
    ("annual_return", "annual return", True),
    ("sharpe_ratio", "Sharpe ratio", False),
    ("max_drawdown", "max drawdown", True),
    ("annual_volatility", "annual volatility", True),
    ("turnover", "turnover (per year)", False),
    ("total_costs", "total costs", False),
)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _fmt(value: Any, percent: bool) -> str:
    if value is None:
        return NA
    return format_percent(value) if percent else format_number(value)


def _summary_table(doc: dict[str, Any]) -> str:
    summary = doc["test"]["summary"]
    bench = doc["benchmarks"]
    level = next(iter(summary.values()))["level"]
    rows = []
    for key, label, pct in _ROWS:
        s = summary.get(key)
        if s is None:
            continue
        rows.append(
            f"<tr><td>{_e(label)}</td><td>{_fmt(s['mean'], pct)}</td>"
            f"<td>{_fmt(s['std'], pct)}</td>"
            f"<td>{_fmt(s['ci_low'], pct)} .. {_fmt(s['ci_high'], pct)}</td>"
            f"<td>{_fmt(bench['buy_and_hold'].get(key), pct)}</td>"
            f"<td>{_fmt(bench['equal_weight'].get(key), pct)}</td></tr>"
        )
    return (
        f"<table><thead><tr><th>test span</th><th>agent: mean of {len(doc['seeds'])} seeds</th>"
        f"<th>spread (sd)</th><th>{level:.0%} CI of the mean</th><th>buy and hold</th>"
        f"<th>equal weight (monthly)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _seed_table(doc: dict[str, Any]) -> str:
    head = "".join(f"<th>{_e(label)}</th>" for _, label, _ in _ROWS[:4])
    rows = []
    for run in doc["test"]["per_seed"]:
        cells = "".join(f"<td>{_fmt(run['metrics'].get(k), p)}</td>" for k, _, p in _ROWS[:4])
        rows.append(
            f"<tr><td>{run['seed']}</td><td>{format_number(run['validation_reward'])}</td>"
            f"<td>{run['timesteps']:,}</td>{cells}</tr>"
        )
    return (
        f"<table><thead><tr><th>seed</th><th>best validation reward</th><th>steps</th>{head}"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _figures(curves: dict[str, pd.Series]) -> dict[str, Any]:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, equity in curves.items():
        dash = "dash" if not name.startswith("seed") else None
        fig.add_trace(
            go.Scatter(
                x=equity.index,
                y=equity.to_numpy() / float(equity.iloc[0]),
                name=name,
                line={"dash": dash} if dash else None,
            )
        )
    fig.update_layout(**chart_layout("Test span: equity (start = 1), every seed and benchmarks"))
    return {"equity": fig}


def write_rl_report(doc: dict[str, Any], curves: dict[str, pd.Series], path: Path) -> Path:
    """Write the training run ``doc`` (``RLTrainResult.to_dict()``) and the test-span
    equity ``curves`` as one HTML page; returns the path."""
    spans = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v['start'][:10])}</td><td>{_e(v['end'][:10])}</td>"
        f"<td>{v['bars']:,}</td></tr>"
        for k, v in doc["spans"].items()
    )
    caveats = "".join(f"<li>{_e(c)}</li>" for c in doc["caveats"])
    ensemble = ""
    if doc.get("ensemble"):
        ens = doc["ensemble"]
        rows = "".join(
            f"<tr><td>{_e(label)}</td><td>{_fmt(ens['summary'][k]['mean'], p)}</td>"
            f"<td>{_fmt(ens['summary'][k]['std'], p)}</td></tr>"
            for k, label, p in _ROWS[:4]
        )
        ensemble = (
            f"<h2>Regime ensemble</h2><p>{ens['n_regimes']} volatility regimes (causal labels), "
            f"one agent per regime and seed; meta-controller: {_e(ens['mode'])} by the return "
            f"of each agent's own book over the last {ens['lookback']} bars of the current "
            "regime.</p><table><thead><tr><th>test span</th><th>mean over seeds</th>"
            f"<th>spread (sd)</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    figures = figures_to_html(_figures(curves))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>RL training: {_e(doc["name"])}</title>
<style>{BASE_CSS}</style>
<script type="text/javascript">{plotly_js()}</script></head><body>
<h1>RL training: {_e(doc["ref"])}</h1>
<p class="subtitle">{_e(doc["algorithm"])} on {_e(doc["data"])}, {len(doc["seeds"])} seeds,
{doc["timesteps"]:,} timesteps each; costs on ({_e(doc["costs_note"])}), fills
{_e(doc["fills"])}. Run {doc["run_id"]}.</p>
<section class="caveats"><h2>Read this first</h2><ul>{caveats}</ul></section>
<h2>Spans</h2>
<table><thead><tr><th>span</th><th>first bar</th><th>last bar</th><th>bars</th></tr></thead>
<tbody>{spans}</tbody></table>
<h2>Test span across seeds</h2>
<p class="note">The agent's figures are a distribution over seeds: mean, sample standard
deviation and a Student-t interval of the mean. No seed is singled out.</p>
{_summary_table(doc)}
<h2>Every seed</h2>
{_seed_table(doc)}
{ensemble}
<div class="figure">{figures["equity"]}</div>
</body></html>"""
    target = Path(path)
    write_atomic(target, page)
    return target
