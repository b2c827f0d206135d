"""The jinja2 template of the factor tearsheet (kept in Python so it ships with the package)."""

from __future__ import annotations

TEARSHEET_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
{{ css | safe }}</style>
<script type="text/javascript">{{ plotly_js | safe }}</script>
</head>
<body>
<h1>{{ title }}</h1>
{% if report.mode == "time-series" %}
<p class="subtitle">Time-series analysis: forward horizon {{ report.horizon }} bar(s),
{{ summary.n_periods }} bars analyzed from {{ first_period }} to {{ last_period }}.</p>
{% else %}
<p class="subtitle">Forward horizon {{ report.horizon }} period(s),
{{ report.quantiles }} quantiles, {{ summary.n_periods }} periods analyzed
from {{ first_period }} to {{ last_period }}.</p>
{% endif %}

<section class="caveats" id="caveats">
<h2>Caveats</h2>
{% if caveats %}
<ul>
{% for caveat in caveats %}<li>{{ caveat }}</li>
{% endfor %}
</ul>
{% else %}
<p>No caveats were passed with this report.</p>
{% endif %}
</section>

{% if report.mode == "time-series" %}
<section class="mode" id="analysis-mode">
<h2>Time-series analysis: each asset against its own future</h2>
<p>Mode: {{ report.mode_reason }}. Each asset's factor is compared with its own
forward returns over time. These measures are not shown in this mode: each needs a
cross-section of at least {{ report.min_assets }} assets per period.</p>
<ul>
{% for name, what in not_shown_rows %}<li><b>{{ name }}</b>: {{ what }}</li>
{% endfor %}
</ul>
</section>

<h2>Summary</h2>
<table id="ts-summary">
<thead><tr><th>Measure (horizon {{ report.horizon }})</th><th>Value</th></tr></thead>
<tbody>
{% for row in ts_pooled_rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td></tr>
{% endfor %}
</tbody>
</table>
<p class="note">Compare the hit rate with the chance hit rate, not with 50%: a factor
that is never negative calls "up" on every bar and scores the share of up bars.</p>

<h2>By asset</h2>
<table id="ts-assets">
<thead><tr><th>Asset</th><th>Bars</th><th>IC</th><th>Rank IC</th><th>Rank IC t (HAC)</th>
<th>Hit rate</th><th>Hits</th><th>Chance hit rate</th><th>Up bars</th>
<th>Factor positive</th></tr></thead>
<tbody>
{% for row in ts_asset_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
<div class="figure">{{ figures.ts_rolling_ic | safe }}</div>
<div class="grid">
<div class="figure">{{ figures.ts_by_asset | safe }}</div>
<div class="figure">{{ figures.ts_decay | safe }}</div>
</div>
<table id="ts-decay">
<thead><tr><th>Horizon (bars)</th><th>Pooled rank IC</th><th>t (HAC)</th>
<th>Mean IC over assets</th><th>Hit rate</th><th>Bars</th></tr></thead>
<tbody>
{% for row in ts_decay_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<h2>Summary</h2>
<table id="summary">
<thead><tr><th>Statistic</th><th>IC (Pearson)</th><th>Rank IC (Spearman)</th></tr></thead>
<tbody>
{% for row in ic_rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td></tr>
{% endfor %}
</tbody>
</table>
<table id="summary-other">
<thead><tr><th>Measure</th><th>Value</th></tr></thead>
<tbody>
{% for row in other_rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td></tr>
{% endfor %}
</tbody>
</table>

<h2>Information coefficient</h2>
<div class="figure">{{ figures.ic | safe }}</div>
<div class="grid">
<div class="figure">{{ figures.ic_histogram | safe }}</div>
<div class="figure">{{ figures.ic_decay | safe }}</div>
</div>
<table id="ic-decay">
<thead><tr><th>Horizon (periods)</th><th>Mean IC</th><th>Mean rank IC</th>
<th>Rank IC t (HAC)</th><th>Periods</th></tr></thead>
<tbody>
{% for row in decay_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>

<h2>Quantile returns</h2>
<div class="grid">
<div class="figure">{{ figures.quantile_means | safe }}</div>
<div class="figure">{{ figures.cumulative | safe }}</div>
</div>
<table id="quantile-returns">
<thead><tr><th>Quantile</th>
<th>Mean forward return ({{ report.horizon }} period(s))</th></tr></thead>
<tbody>
{% for row in quantile_rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td></tr>
{% endfor %}
</tbody>
</table>

<h2>Turnover</h2>
<div class="figure">{{ figures.turnover | safe }}</div>
<table id="turnover">
<thead><tr><th>Lag (periods)</th><th>Rank autocorrelation</th><th>Top quantile turnover</th>
<th>Bottom quantile turnover</th></tr></thead>
<tbody>
{% for row in turnover_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>

{% if orthogonality_rows %}
<h2>Orthogonality</h2>
<p class="note">OLS of the 1-period top-minus-bottom return on the regressors below
({{ orthogonality.frequency }}, n = {{ orthogonality.n }}, Newey-West standard errors with
{{ orthogonality.hac_lags }} lags).</p>
<table id="orthogonality">
<thead><tr><th>Term</th><th>Estimate</th><th>t (HAC)</th></tr></thead>
<tbody>
{% for row in orthogonality_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% endif %}

{% if regime_rows %}
<h2>Stability by market regime</h2>
<table id="regimes">
<thead><tr><th>Regime</th><th>Mean IC</th><th>Mean rank IC</th><th>Periods</th></tr></thead>
<tbody>
{% for row in regime_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
<table id="regime-parameters">
<thead><tr><th>Parameter</th><th>Value</th></tr></thead>
<tbody>
{% for row in regime_parameters %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td></tr>
{% endfor %}
</tbody>
</table>
{% for note in regime_notes %}<p class="note">{{ note }}</p>
{% endfor %}
{% endif %}
{% endif %}

<h2>Definitions</h2>
<dl class="definitions" id="definitions">
<dt>analysis mode</dt><dd>{{ report.mode }}: {{ report.mode_reason }}</dd>
<dt>horizon</dt><dd>{{ report.horizon }} period(s) of the data's calendar
({{ report.periods_per_year or "no" }} periods per year for annualization)</dd>
{% for key, text in conventions.items() %}<dt>{{ key }}</dt><dd>{{ text }}</dd>
{% endfor %}
</dl>

<script type="application/json" id="factor-report-data">{{ report_json | safe }}</script>
</body>
</html>
"""
