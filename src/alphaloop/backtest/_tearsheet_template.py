"""The jinja2 template of the backtest tearsheet (kept in Python so it ships with the package).

The page's own styles follow :data:`alphaloop.reports.html.BASE_CSS`, passed in as ``css``.
"""

from __future__ import annotations

BACKTEST_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Backtest: {{ spec.name }}</title>
<style>
{{ css | safe }}
.banner { background: #b3261e; color: #fff; font-weight: 700; font-size: 1.15rem;
          padding: 0.8rem 1.2rem; border-radius: 6px; margin: 0 0 1rem 0; }
.banner span { font-weight: 400; font-size: 0.95rem; display: block; margin-top: 0.3rem; }
.notes { border: 1px solid #d9a400; background: #fff8e1; padding: 0.6rem 1.2rem;
         border-radius: 6px; margin: 1rem 0; }
.notes h2 { margin: 0 0 0.4rem 0; font-size: 1.05rem; }
nav a { margin-right: 0.8rem; }
pre { background: #f4f6f8; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
.figure.tall { height: 640px; }
td.gap { text-align: center; color: #5b6877; font-style: italic; }
dl.definitions dd { margin-bottom: 0.2rem; }
</style>
<script type="text/javascript">{{ plotly_js | safe }}</script>
</head>
<body>
{% if optimistic %}<div class="banner" id="optimistic-banner">OPTIMISTIC: same-bar fills
<span>{{ fill_description }} These results overstate what the strategy could have earned.</span>
</div>{% endif %}
{% if implausible %}<div class="banner" id="implausible-banner">IMPLAUSIBLE: too good to be true
{% for message in implausible %}<span>{{ message }}</span>
{% endfor %}</div>{% endif %}
<h1 id="title">{{ spec.name }}</h1>
<p class="subtitle">{% if spec.description %}{{ spec.description }}<br>{% endif %}
{{ result.dataset.name }} v{{ result.dataset.version }}, {{ start }} to {{ end }}
({{ n_bars }} bars), {{ result.engine }} engine.</p>

<section class="caveats" id="caveats">
<h2>Dataset caveats</h2>
{% if caveats %}<ul>
{% for caveat in caveats %}<li>{{ caveat }}</li>
{% endfor %}</ul>
{% else %}<p>The dataset lists no caveats.</p>{% endif %}
</section>
{% if notes %}<section class="notes" id="notes">
<h2>Notes from this run</h2>
<ul>
{% for note in notes %}<li>{{ note }}</li>
{% endfor %}</ul>
</section>{% endif %}

<nav><a href="#metrics">Metrics</a><a href="#equity">Equity</a><a href="#drawdown">Drawdowns</a>
<a href="#rolling-sharpe">Rolling Sharpe</a><a href="#monthly-returns">Monthly returns</a>
<a href="#risk">Risk</a><a href="#trades">Trades</a><a href="#costs">Costs</a>
<a href="#assumptions">Assumptions</a>
<a href="#spec">Spec</a></nav>

<section id="provenance">
<h2>Run</h2>
<table>
<tbody>
<tr><td>run id</td>
<td>{{ result.run_id if result.run_id is not none else "not recorded" }}</td></tr>
<tr><td>engine</td><td>{{ result.engine }}</td></tr>
<tr><td>spec hash</td><td><code>{{ result.spec_hash }}</code></td></tr>
<tr><td>dataset</td><td>{{ result.dataset.name }} v{{ result.dataset.version }}
({{ result.dataset.frequency }}), content hash
<code>{{ result.dataset.content_hash }}</code></td></tr>
<tr><td>period</td><td>{{ start }} to {{ end }}, {{ n_bars }} bars</td></tr>
<tr><td>benchmark</td><td>{{ result.benchmark_label }}</td></tr>
<tr><td>fills</td><td>{{ fill_description }}</td></tr>
<tr><td>initial / final equity</td><td>{{ capital }} / {{ final_equity }}</td></tr>
</tbody>
</table>
</section>

<section id="metrics">
<h2>Metrics</h2>
<table id="headline-metrics">
<thead><tr><th>Headline</th><th>Strategy</th><th>Benchmark</th></tr></thead>
<tbody>
{% for row in headline %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td></tr>
{% endfor %}</tbody>
</table>
<div class="grid" id="all-metrics">
{% for group, rows in metric_groups.items() %}<table>
<thead><tr><th>{{ group }}</th><th></th></tr></thead>
<tbody>
{% for row in rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td></tr>
{% endfor %}</tbody>
</table>
{% endfor %}</div>
<p class="note">Returns are simple and net of costs; ratios are annualized with
{{ periods_per_year }} bars per year ({{ annualization }}); currency amounts are in the
account currency.</p>
</section>

<section id="equity">
<h2>Equity against the benchmark</h2>
<div class="figure">{{ figures.equity | safe }}</div>
<p class="note">The benchmark ({{ result.benchmark_label }}) starts with the same capital.
{% if thinned %}Long series are thinned for plotting: each line keeps at most {{ max_points }}
points (the first and last bar and the lowest and highest bar of each equal slice of bars);
metrics and tables use every bar.{% endif %}</p>
</section>

<section id="drawdown">
<h2>Drawdowns</h2>
<div class="figure">{{ figures.drawdown | safe }}</div>
<table id="drawdown-periods">
<thead><tr><th>Depth</th><th>Peak</th><th>Valley</th><th>Recovery</th><th>Bars</th>
<th>Calendar days</th></tr></thead>
<tbody>
{% for row in drawdown_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
</section>

<section id="rolling-sharpe">
<h2>Rolling Sharpe ratio</h2>
<div class="figure">{{ figures.rolling_sharpe | safe }}</div>
<p class="note">{% if window %}Each point uses the {{ window_span }} window up to and including
it ({{ window }} bars at {{ periods_per_year }} bars per year).{% else %}The backtest is too
short for a rolling window.{% endif %}</p>
</section>

<section id="monthly-returns">
<h2>Monthly returns</h2>
<div class="figure tall">{{ figures.monthly_returns | safe }}</div>
<table id="annual-returns">
<thead><tr><th>Year</th><th>Strategy</th><th>Benchmark</th></tr></thead>
<tbody>
{% for row in annual_rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td></tr>
{% endfor %}</tbody>
</table>
</section>

{{ risk_section | safe }}

<section id="trades">
<h2>Trades</h2>
<table id="round-trip-summary">
<thead><tr><th>Trades and round trips</th><th></th></tr></thead>
<tbody>
{% for row in round_trip_rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td></tr>
{% endfor %}</tbody>
</table>
{% if figures.round_trips is defined %}<div class="figure">{{ figures.round_trips | safe }}</div>
{% endif %}
<p class="note">{{ n_trades }} fills in all{% if trades_tail %}; the first and last
{{ trades_head | length }} are listed{% endif %}. Costs are commission, fees, spread, slippage and
impact of each fill; cash flow is signed (negative for buys).</p>
<table id="fills">
<thead><tr><th>Time</th><th>Asset</th><th>Reason</th><th>Shares</th><th>Price</th>
<th>Notional</th><th>Costs</th><th>Cash flow</th></tr></thead>
<tbody>
{% for row in trades_head %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}{% if trades_tail %}<tr><td class="gap" colspan="8">… {{ trades_hidden }} fills not
shown …</td></tr>
{% for row in trades_tail %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}{% endif %}</tbody>
</table>
</section>

<section id="costs">
<h2>Costs</h2>
<div class="grid">
<div class="figure">{{ figures.costs | safe }}</div>
<div class="figure">{{ figures.cumulative_costs | safe }}</div>
</div>
<table id="cost-breakdown">
<thead><tr><th>Category</th><th>Amount</th><th>Share of costs</th><th>Of traded notional</th>
</tr></thead>
<tbody>
{% for row in cost_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
</section>

<section id="assumptions">
<h2>Assumptions</h2>
<dl class="definitions">
{% for title, lines in assumption_items %}<dt>{{ title }}</dt>
{% for line in lines %}<dd>{{ line }}</dd>
{% endfor %}{% endfor %}</dl>
</section>

<section id="spec">
<h2>Strategy spec</h2>
<p>Spec hash <code>{{ result.spec_hash }}</code> (SHA-256 of every field that changes results).</p>
<pre>{{ spec_yaml }}</pre>
</section>

{% for title, body in extra_sections %}<section class="extra" id="extra-{{ loop.index }}">
<h2>{{ title }}</h2>
{{ body }}
</section>
{% endfor %}
<script type="application/json" id="backtest-report-data">{{ report_json | safe }}</script>
</body>
</html>
"""
