"""A generated strategy as one self-contained HTML page (works offline).

Top to bottom: the figure on the bars after the model's knowledge cut-off
(the memorisation guard; first, whatever else the page says), the verdict,
who drafted the strategy (a model, or the offline parser and why), the
assumptions made, the dataset's caveats, the signal and the spec, the
lookahead scan, the backtest's headline metrics with its equity curve (the
post-cut-off bars shaded), the validation with the trial count, and the
regime sensitivity. Every piece of text is escaped; plotly.js is inlined once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.reports import (
    BASE_CSS,
    chart_layout,
    figures_to_html,
    format_number,
    format_percent,
    plotly_js,
    write_atomic,
)

if TYPE_CHECKING:
    from alphaloop.app.generate import GenerationResult

__all__ = ["write_generation_report"]

_METRICS = (
    ("sharpe_ratio", "Sharpe ratio (annualized)", False),
    ("annual_return", "annual return", True),
    ("annual_volatility", "annual volatility", True),
    ("max_drawdown", "max drawdown", True),
    ("total_return", "total return", True),
)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _tried(n: int) -> str:
    return f"{n} strateg{'y' if n == 1 else 'ies'} tried"


def _metric_rows(metrics: dict[str, Any] | None) -> list[list[str]]:
    metrics = metrics or {}
    return [
        [
            label,
            format_percent(metrics.get(k), signed=k.endswith("return"))
            if pct
            else format_number(metrics.get(k), 3),
        ]
        for k, label, pct in _METRICS
    ]


def _post_cutoff(doc: dict[str, Any]) -> str:
    post = doc["post_cutoff"]
    who = "drafted by a language model" if post["llm_originated"] else "drafted offline"
    if not post["available"]:
        return (
            f'<section class="mode" id="post-cutoff"><h2>After the model\'s knowledge cut-off</h2>'
            f"<p>No post-cut-off figure: {_e(post.get('reason'))}.</p>"
            f'<p class="note">This strategy was {_e(who)}.</p></section>'
        )
    span = f"{post['start']} to {post['end']} ({post['n_bars']} bars after {post['cutoff']})"
    return (
        '<section class="mode" id="post-cutoff"><h2>After the model\'s knowledge cut-off</h2>'
        f"<p>{_e(span)}. A model may remember what markets did before its cut-off; "
        "this is the figure it could not have seen. This strategy was "
        f"{_e(who)}.</p>{_table(['measure', 'post-cut-off'], _metric_rows(post['metrics']))}"
        "</section>"
    )


def _equity_figure(result: GenerationResult) -> Any:
    import plotly.graph_objects as go

    assert result.validation is not None
    returns = result.validation.backtest.simulation.returns
    equity = (1.0 + returns).cumprod()
    fig = go.Figure(go.Scatter(x=equity.index, y=equity.to_numpy(), name="equity (start = 1)"))
    post = result.post_cutoff
    if post.get("available"):
        fig.add_vrect(
            x0=post["start"], x1=post["end"], fillcolor="#1f5fa8", opacity=0.12, line_width=0
        )
    fig.update_layout(**chart_layout("Equity on the research span (post-cut-off bars shaded)"))
    return fig


def _regimes(regimes: dict[str, Any] | None) -> str:
    if not regimes:
        return "<p>Not measured: the market series is too short (400 bars needed).</p>"
    rows = [
        [
            r["split"].replace("_", " / "),
            r["regime"],
            r["n_bars"],
            format_number(r["sharpe_ratio"], 3),
            format_percent(r["annual_return"], signed=True),
            format_percent(r["max_drawdown"]),
        ]
        for r in regimes["rows"]
    ]
    note = (
        f"Market: the universe's equal-weight return. Volatility over "
        f"{regimes['volatility_window']} bars, cut at the expanding terciles of the values "
        f"seen so far; bull / bear by the sign of the trailing {regimes['bull_bear_window']}-bar "
        "return. Every label uses data up to its bar only."
    )
    head = ["split", "regime", "bars", "Sharpe", "annual return", "max drawdown"]
    return f'<p class="note">{_e(note)}</p>{_table(head, rows)}'


def write_generation_report(result: GenerationResult, path: str | Path) -> Path:
    """Write the generated strategy's HTML report to ``path`` (atomically); returns the path."""
    from alphaloop.validation import validation_section

    doc = result.to_dict()
    spec = result.generated.spec
    source = doc["source"]
    if source["origin"] == "llm":
        who = f"Drafted by the language model {source['model']}."
    else:
        who = f"Drafted by the offline intent parser: {source['reason']}."
    status_colour = {"validated": "#1a7f37", "rejected": "#b42318"}.get(doc["status"], "#b42318")
    assumptions = "".join(f"<li>{_e(a)}</li>" for a in doc["assumptions"])
    parts = [
        f"<h1>{_e(spec.name)}</h1>",
        f'<p class="subtitle">Generated from: “{_e(result.intent)}” — dataset {_e(spec.data)}, '
        "research span only (the sealed holdout is never read).</p>",
        _post_cutoff(doc),
        f'<p style="font-weight:bold;color:{status_colour}" id="status">'
        f"{_e(doc['status'].upper())}</p>",
        f'<p id="source">{_e(who)}</p>',
        f'<h2>Assumptions</h2><ul id="assumptions">{assumptions}</ul>',
    ]
    caveats = result.validation.backtest.dataset.caveats if result.validation else ()
    if caveats:
        items = "".join(f"<li>{_e(c)}</li>" for c in caveats)
        parts.append(f'<div class="caveats"><h2>Dataset caveats</h2><ul>{items}</ul></div>')
    parts += [
        "<h2>Signal and spec</h2>",
        f"<p>Signal expression: <code>{_e(doc['expression'])}</code></p>",
        f"<p>Spec hash <code>{_e(doc['spec_hash'])}</code></p><pre>{_e(spec.to_yaml())}</pre>",
        "<h2>Lookahead scan</h2>",
        f"<p>{'clean' if doc['lookahead']['clean'] else 'FUTURE DATA READ: not backtested'}; "
        f"{_e(doc['lookahead']['coverage'])}.</p>",
    ]
    figures = ""
    if result.validation is not None:
        figs = figures_to_html({"equity": _equity_figure(result)})
        figures = f'<div class="figure" id="equity">{figs["equity"]}</div>'
        parts += [
            "<h2>Backtest on the research span</h2>",
            _table(["measure", "whole span"], _metric_rows(doc["metrics"])),
            figures,
            f"<h2>Validation ({_tried(doc['n_trials'])} on this dataset)</h2>",
            validation_section(result.validation.to_dict())[1],
            "<h2>Regime sensitivity</h2>",
            _regimes(doc["regimes"]),
        ]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Generated: {_e(spec.name)}</title>
<style>{BASE_CSS}</style><script>{plotly_js() if figures else ""}</script></head>
<body>{"".join(parts)}</body></html>
"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, page)
    return out
