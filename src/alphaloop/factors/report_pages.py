"""Factor analyses for people: HTML pages (a tearsheet, a library's table) and terminal lines.

:func:`library_rows` and :func:`time_series_lines` format a result's
``to_dict()`` for any front end (the command line prints them; the HTML
page renders the same rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from alphaloop.factors.analysis import render_tearsheet
from alphaloop.reports import BASE_CSS, format_number, format_percent, write_atomic

__all__ = ["library_rows", "time_series_lines", "write_report"]

_LIBRARY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
{{ css | safe }}
table { font-size: 0.9rem; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="subtitle">Dataset <b>{{ doc.dataset }}</b> (content hash
<code>{{ doc.content_hash[:16] }}</code>), mode {{ doc.mode }}, market: {{ doc.market }},
known factors: {{ doc.known_factors | join(", ") or "none" }}.</p>
{% if doc.caveats %}<section class="caveats" id="caveats"><h2>Caveats</h2><ul>
{% for c in doc.caveats %}<li>{{ c }}</li>{% endfor %}</ul></section>{% endif %}
{% if skipped %}<section class="caveats" id="skipped"><h2>Factors not run</h2><ul>
{% for line in skipped %}<li>{{ line }}</li>{% endfor %}</ul>
<p class="note">Not run: {{ skipped_names | join(", ") }}.</p></section>{% endif %}
{% if time_series %}<section class="mode" id="analysis-mode">
<h2>Time-series analysis: each asset against its own future</h2>
<p>Mode: {{ mode_reason }}. Each factor is compared with each asset's own forward returns
over time; the rank IC below is pooled over assets. Cross-sectional measures (IC across
assets, quantile spreads, turnover, orthogonality, regimes) are not shown in this mode:
each needs a cross-section of at least {{ min_assets }} assets per period.</p></section>{% endif %}
<p><b>{{ doc.n_factors_tested }} factors were tested.</b>
{{ mt.significant_at_5pct_before_adjustment }} of {{ mt.n_tests }} are
significant at 5% before adjusting for the number tested;
{{ mt.significant_at_5pct_after_adjustment }} after ({{ mt.method }}).</p>
<table id="factors"><thead><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% if proxied %}<p class="note">* computed with a proxy field (see the caveats): not the
published definition.</p>{% endif %}
<p class="note">Horizon {{ horizon }} bars. Forward returns are close-to-close simple returns
from the bar where the factor is known. p-values are two-sided, from the Newey-West
t-statistic of the {{ "pooled time-series" if time_series else "mean" }} rank IC.
{% if not time_series %}Spread: top minus bottom quantile, mean per period.{% else %}
Hit rate: share of bars where the factor's sign matches the forward return's; compare it
with the chance hit rate.{% endif %}</p>
</body></html>
"""

_CROSS_SECTION_HEADER = (
    "factor", "rank IC", "HAC t", "p", "p (Holm)", "IC", "ICIR", "spread", "monotonicity",
    "rank autocorr.", "periods",
)  # fmt: skip
_TIME_SERIES_HEADER = (
    "factor", "rank IC (pooled)", "HAC t", "p", "p (Holm)", "IC (mean over assets)",
    "hit rate", "chance hit rate", "bars",
)  # fmt: skip


def _corr(value: Any) -> str:
    return format_number(value, decimals=4)


def _stat(value: Any) -> str:
    return format_number(value, 3)


def library_rows(doc: dict[str, Any]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Header and formatted rows of a library's summary table (strongest HAC t first).

    ``doc`` is ``AnalysisResult.to_dict()`` of a library. Proxied factors are
    marked with ``*``; numbers are formatted for reading (correlations to 4
    decimals, t-statistics and p-values to 3 significant digits, returns as
    percentages).
    """
    time_series = doc.get("analysis_mode") == "time-series"
    proxied = set(doc.get("factors_proxied") or {})

    def t_of(f: dict[str, Any]) -> float:
        if time_series:
            v = f["time_series"]["pooled"]["rank_ic_t_stat_hac"]
        else:
            v = f.get("rank_t_stat_hac")
        return abs(v) if v is not None else 0.0

    rows = []
    for name, f in sorted(doc["factors"].items(), key=lambda kv: -t_of(kv[1])):
        label = f"{name} *" if name in proxied else name
        if time_series:
            pooled = f["time_series"]["pooled"]
            rows.append(
                (label, _corr(pooled["rank_ic"]), _stat(pooled["rank_ic_t_stat_hac"]),
                 _stat(f["rank_ic_p_value"]), _stat(f["rank_ic_p_value_holm"]),
                 _corr(pooled["ic_mean_over_assets"]), format_percent(pooled["hit_rate"]),
                 format_percent(pooled["chance_hit_rate"]), format_number(pooled["n_bars"]))
            )  # fmt: skip
        else:
            q = f["quantile_returns"]
            rows.append(
                (label, _corr(f["rank_ic_mean"]), _stat(f["rank_t_stat_hac"]),
                 _stat(f["rank_ic_p_value"]), _stat(f["rank_ic_p_value_holm"]),
                 _corr(f["ic_mean"]), _corr(f["icir"]), format_percent(q["spread"]["mean"]),
                 _stat(q["monotonicity"]), _corr(f["turnover"]["rank_autocorrelation"]["1"]),
                 format_number(f["n_periods"]))
            )  # fmt: skip
    return (_TIME_SERIES_HEADER if time_series else _CROSS_SECTION_HEADER), rows


def time_series_lines(doc: dict[str, Any], max_assets: int = 10) -> list[str]:
    """Plain-text lines summarizing one factor's time-series analysis (``to_dict()``).

    The mode and why, the pooled rank IC with its t, IC and hit rate with
    counts and chance level, up to ``max_assets`` assets (most bars first),
    the decay, and what is not shown because it needs a cross-section.
    Empty for a cross-sectional analysis.
    """
    ts = doc.get("time_series")
    if not ts:
        return []
    pooled = ts["pooled"]
    lines = [
        f"time-series analysis: {doc['analysis_mode_reason']}",
        f"pooled over {pooled['n_assets']} asset(s), {format_number(pooled['n_bars'])} bars, "
        f"horizon {ts['horizon']}: rank IC {_corr(pooled['rank_ic'])} "
        f"(HAC t {_stat(pooled['rank_ic_t_stat_hac'])}), "
        f"IC {_corr(pooled['ic_mean_over_assets'])}, "
        f"hit rate {format_percent(pooled['hit_rate'])} ({format_number(pooled['n_hits'])} of "
        f"{format_number(pooled['n_signed'])} signed bars; chance "
        f"{format_percent(pooled['chance_hit_rate'])})",
    ]
    assets = sorted(ts["assets"].items(), key=lambda kv: -kv[1]["n_bars"])
    for name, a in assets[:max_assets]:
        lines.append(
            f"  {name}: {format_number(a['n_bars'])} bars, IC {_corr(a['ic'])}, rank IC "
            f"{_corr(a['rank_ic'])} (HAC t {_stat(a['rank_ic_t_stat_hac'])}), hit rate "
            f"{format_percent(a['hit_rate'])} ({format_number(a['n_hits'])} of "
            f"{format_number(a['n_signed'])}; chance {format_percent(a['chance_hit_rate'])})"
        )
    if len(assets) > max_assets:
        lines.append(f"  ... and {len(assets) - max_assets} more assets")
    decay = ", ".join(f"{h}: {_corr(d['rank_ic'])}" for h, d in ts["decay"].items())
    lines.append(f"pooled rank IC by horizon: {decay}")
    lines.append(
        "not shown in this mode (each needs a cross-section of at least "
        f"{doc['min_assets']} assets per period): {', '.join(doc['not_shown'])}"
    )
    return lines


def write_report(result: Any, path: str | Path) -> Path:
    """Write the analysis as HTML: a tearsheet for one factor, a table for a library."""
    target = Path(path)
    if not result.is_library:
        report = next(iter(result.reports.values()))
        return render_tearsheet(report, target, title=f"{result.target} on {result.dataset}")
    doc = result.to_dict()
    header, rows = library_rows(doc)
    first = next(iter(result.reports.values()))
    env = Environment(autoescape=select_autoescape(default=True))
    html = env.from_string(_LIBRARY_PAGE).render(
        title=f"{result.target} on {result.dataset}",
        css=BASE_CSS,
        doc=doc,
        header=header,
        rows=rows,
        mt=doc["multiple_testing"],
        horizon=first.horizon,
        skipped=doc.get("skipped_summary") or [],
        skipped_names=list(doc.get("factors_skipped") or {}),
        proxied=bool(doc.get("factors_proxied")),
        time_series=doc.get("analysis_mode") == "time-series",
        mode_reason=first.mode_reason,
        min_assets=first.min_assets,
    )
    write_atomic(target, html)
    return target
