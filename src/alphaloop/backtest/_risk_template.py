"""The jinja2 template of the risk section (kept in Python so it ships with the package).

Rendered by :func:`alphaloop.backtest.risk_section.render_risk_section`; every
value arrives formatted as text, so the template only lays it out.
"""

from __future__ import annotations

RISK_SECTION_TEMPLATE = """<section id="risk">
<h2>Risk</h2>
<p class="note">Simple returns per bar{% if net %}, net of costs{% endif %}: {{ n_obs }} bars,
{{ start }} to {{ end }}. Losses are positive fractions of value, one bar ahead.</p>
{% if notes %}<ul class="note" id="risk-notes">
{% for note in notes %}<li>{{ note }}</li>
{% endfor %}</ul>{% endif %}

<h3 id="risk-var-heading">Value at risk</h3>
<table id="risk-var">
<thead><tr><th>Method</th>{% for c in confidence_labels %}<th>VaR {{ c }}</th>
<th>CVaR {{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in var_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
<p class="note">Historical: the empirical quantile and the mean loss beyond it. Student-t:
degrees of freedom fitted by maximum likelihood. Cornish-Fisher: the normal quantile
corrected for skewness and excess kurtosis. Filtered historical: a GARCH(1,1) volatility
forecast times the standardized residuals. Every method uses all {{ n_obs }} bars.</p>

<h3 id="risk-backtest-heading">VaR backtest (out of sample)</h3>
{% if backtest_rows %}<table id="risk-var-backtest">
<thead><tr><th>Confidence</th><th>Bars tested</th><th>Exceptions</th><th>Expected</th>
<th>Exception rate</th><th>Kupiec p</th><th>Independence p</th>
<th>Conditional coverage p</th></tr></thead>
<tbody>
{% for row in backtest_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
<div class="figure">{{ figure | safe }}</div>
<p class="note">Each bar's VaR is forecast by the {{ var_method }} method from the
{{ window }} bars before it (out of sample); an exception is a bar whose loss exceeds its
forecast. Kupiec tests the number of exceptions, Christoffersen their independence and
both together (conditional coverage); a p-value below 0.05 rejects the forecasts at 5%.
{% if thinned %}The lines are thinned to {{ max_points }} points for plotting; every
exception is drawn.{% endif %}</p>
{% else %}<p id="risk-var-backtest">No VaR backtest: {{ no_backtest }}</p>{% endif %}

<h3 id="risk-scenarios-heading">Crisis windows</h3>
{% if scenario_rows %}<table id="risk-scenarios">
<thead><tr><th>Scenario</th><th>Window</th><th>Return</th><th>Max drawdown</th>
<th>Worst bar</th><th>Bars</th></tr></thead>
<tbody>
{% for row in scenario_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% else %}<p id="risk-scenarios">None of the built-in crisis windows lies inside
{{ start }} to {{ end }}.</p>{% endif %}
{% if skipped %}<p class="note" id="risk-scenarios-skipped">Outside the span, not replayed:
{{ skipped }}.</p>{% endif %}

<h3 id="risk-drawdown-heading">Drawdown</h3>
<table id="risk-drawdown">
<tbody>
{% for row in drawdown_rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td></tr>
{% endfor %}</tbody>
</table>

<h3 id="risk-exposures-heading">Factor exposures</h3>
{% for block in exposure_blocks %}<div class="exposure" id="risk-exposure-{{ block.name }}">
<h4>{{ block.label }}</h4>
{% if block.rows %}<table>
<thead><tr><th></th><th>Estimate</th><th>t-statistic</th></tr></thead>
<tbody>
{% for row in block.rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td></tr>
{% endfor %}</tbody>
</table>{% endif %}
<p class="note">{{ block.summary }}</p>
</div>
{% else %}<p id="risk-exposure-none">No factor exposures{% if notes %} (see the notes
above){% endif %}.</p>
{% endfor %}
</section>
"""
