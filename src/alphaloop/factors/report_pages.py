"""HTML pages for factor analyses: one factor's tearsheet, or a library's summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from alphaloop.factors.analysis import render_tearsheet
from alphaloop.reports.html import write_atomic

__all__ = ["write_report"]

_LIBRARY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.caveats { background: #fff4e5; border-left: 4px solid #f0a030; padding: 0.6rem 1rem; }
.note { color: #555; }
</style></head><body>
<h1>{{ title }}</h1>
<p>Dataset <b>{{ doc.dataset }}</b> (content hash <code>{{ doc.content_hash[:16] }}</code>),
mode {{ doc.mode }}, market: {{ doc.market }}, known factors:
{{ doc.known_factors | join(", ") or "none" }}.</p>
{% if doc.caveats %}<div class="caveats"><b>Caveats of the data</b><ul>
{% for c in doc.caveats %}<li>{{ c }}</li>{% endfor %}</ul></div>{% endif %}
<p><b>{{ doc.n_factors_tested }} factors were tested.</b>
{{ mt.significant_at_5pct_before_adjustment }} of {{ mt.n_tests }} have a mean rank IC
significant at 5% before adjusting for the number tested;
{{ mt.significant_at_5pct_after_adjustment }} after ({{ mt.method }}).</p>
<table><thead><tr><th>factor</th><th>rank IC</th><th>HAC t</th><th>p</th><th>p (Holm)</th>
<th>IC</th><th>ICIR</th><th>spread</th><th>monotonicity</th><th>rank autocorr.</th>
<th>periods</th></tr></thead><tbody>
{% for name, f in rows %}<tr><td>{{ name }}</td><td>{{ fmt(f.rank_ic_mean, 4) }}</td>
<td>{{ fmt(f.rank_t_stat_hac, 2) }}</td><td>{{ fmt(f.rank_ic_p_value, 3) }}</td>
<td>{{ fmt(f.rank_ic_p_value_holm, 3) }}</td><td>{{ fmt(f.ic_mean, 4) }}</td>
<td>{{ fmt(f.icir, 3) }}</td><td>{{ fmt(f.quantile_returns.spread.mean, 5) }}</td>
<td>{{ fmt(f.quantile_returns.monotonicity, 2) }}</td>
<td>{{ fmt(f.turnover.rank_autocorrelation["1"], 3) }}</td><td>{{ f.n_periods }}</td></tr>
{% endfor %}</tbody></table>
<p class="note">Horizon {{ horizon }} bars. Forward returns are close-to-close simple returns from
the bar where the factor is known. p-values are two-sided, from the Newey-West t-statistic of
the mean rank IC.</p>
</body></html>
"""


def _fmt(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write_report(result: Any, path: str | Path) -> Path:
    """Write the analysis as HTML: a tearsheet for one factor, a table for a library."""
    target = Path(path)
    if not result.is_library:
        report = next(iter(result.reports.values()))
        return render_tearsheet(report, target, title=f"{result.target} on {result.dataset}")
    doc = result.to_dict()
    rows = sorted(doc["factors"].items(), key=lambda kv: -abs(kv[1].get("rank_t_stat_hac") or 0.0))
    env = Environment(autoescape=select_autoescape(default=True))
    html = env.from_string(_LIBRARY_PAGE).render(
        title=f"{result.target} on {result.dataset}",
        doc=doc,
        rows=rows,
        mt=doc["multiple_testing"],
        fmt=_fmt,
        horizon=next(iter(result.reports.values())).horizon,
    )
    write_atomic(target, html)
    return target
