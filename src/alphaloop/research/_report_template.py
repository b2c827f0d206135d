"""The jinja2 template of the research session report (kept in Python so it ships with the package).

The page's own styles follow :data:`alphaloop.reports.html.BASE_CSS`, passed in as ``css``.
Every value is escaped by jinja2's autoescape; only ``css``, ``plotly_js``
and the figure divs (built by plotly from escaped text) are marked safe.
"""

from __future__ import annotations

SESSION_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Research session {{ session_id }}: {{ dataset }}</title>
<style>
{{ css | safe }}
nav a { margin-right: 0.8rem; }
.integrity { border: 2px solid #1f5fa8; background: #eef4fb; padding: 0.6rem 1.2rem;
             border-radius: 6px; margin: 1rem 0; font-weight: 600; }
.goal { font-size: 1.1rem; white-space: pre-wrap; }
.holdout { border: 2px solid #1d2733; padding: 0.8rem 1.2rem; border-radius: 6px;
           margin: 1.5rem 0; }
.figure.tall { height: 560px; }
code { font-size: 0.85rem; }
</style>
<script type="text/javascript">{{ plotly_js | safe }}</script>
</head>
<body>
<h1 id="title">Research session {{ session_id }}</h1>
<p class="subtitle">{{ dataset }}, status {{ status }}</p>

<section id="header">
<h2>Goal</h2>
<p class="goal" id="goal">{{ goal }}</p>
<table>
<tbody>
{% for label, value in header_rows %}<tr><td>{{ label }}</td><td>{{ value }}</td></tr>
{% endfor %}</tbody>
</table>
</section>

<nav><a href="#assumptions">Assumptions</a><a href="#counts">Counts</a>
<a href="#by-kind">By type</a><a href="#by-family">By family</a>
<a href="#models">Models</a><a href="#funnel">Funnel</a>
<a href="#rejections">Rejections</a><a href="#survivors">Survivors</a>
<a href="#genealogy">Genealogy</a><a href="#holdout">Holdout</a></nav>

<section id="assumptions">
<h2>Constraints and assumptions</h2>
{% if constraint_rows %}<table id="constraints">
<thead><tr><th>constraint</th><th>value</th></tr></thead>
<tbody>
{% for label, value in constraint_rows %}<tr><td>{{ label }}</td><td>{{ value }}</td></tr>
{% endfor %}</tbody>
</table>{% else %}<p>No constraints were recorded.</p>{% endif %}
{% if assumptions %}<p>Read from the goal:</p>
<ul id="assumption-list">
{% for item in assumptions %}<li>{{ item }}</li>
{% endfor %}</ul>{% else %}<p>The goal needed no assumptions.</p>{% endif %}
</section>

<p class="integrity" id="integrity">{{ integrity }}</p>

{% if llm_line %}<section id="llm-guard">
<h2>Memorisation guard (LLM proposals)</h2>
<p id="llm-guard-line">{{ llm_line }}</p>
{% if llm_rows %}<table id="llm-guard-table">
<thead><tr><th>strategy</th><th>hash</th><th>post-cut-off Sharpe</th><th>post-cut-off annual
return</th><th>post-cut-off bars</th><th>search-span Sharpe</th><th>passed the gate</th></tr>
</thead>
<tbody>
{% for row in llm_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>{% else %}<p>No LLM-proposed candidate was evaluated.</p>{% endif %}
</section>{% endif %}

<section id="counts">
<h2>Counts</h2>
<table>
<tbody>
{% for label, value in count_rows %}<tr><td>{{ label }}</td><td>{{ value }}</td></tr>
{% endfor %}</tbody>
</table>
</section>

{% for section_id, title, column, rows in group_tables %}<section id="{{ section_id }}">
<h2>{{ title }}</h2>
{% if rows %}<table>
<thead><tr><th>{{ column }}</th><th>n</th><th>failed</th><th>passed</th>
<th>mean Sharpe</th><th>best Sharpe</th></tr></thead>
<tbody>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>{% else %}<p>No candidates were evaluated.</p>{% endif %}
</section>
{% endfor %}
<section id="models">
<h2>Model versions</h2>
<table>
<thead><tr><th></th><th>models</th></tr></thead>
<tbody>
<tr><td>at the start</td><td id="models-start">{{ models_start }}</td></tr>
<tr><td>at the end</td><td id="models-end">{{ models_end }}</td></tr>
<tr><td>new during the session</td><td id="models-new">{{ models_new }}</td></tr>
</tbody>
</table>
</section>

<section id="funnel">
<h2>Rejection funnel</h2>
<p class="note">A candidate leaves at the first gate it failed, in the order listed.</p>
{% if figures.funnel is defined %}<div class="figure">{{ figures.funnel | safe }}</div>{% endif %}
<table id="funnel-table">
<thead><tr><th>gate</th><th>removed</th><th>left</th></tr></thead>
<tbody>
{% for gate, removed, left in funnel_rows %}<tr><td>{{ gate }}</td><td>{{ removed }}</td>
<td>{{ left }}</td></tr>
{% endfor %}</tbody>
</table>
</section>

<section id="rejections">
<h2>Rejections by reason</h2>
<p class="note">A candidate can fail several gates; each failure counts here.</p>
{% if rejection_rows %}<table>
<thead><tr><th>gate failed</th><th>candidates</th></tr></thead>
<tbody>
{% for gate, n in rejection_rows %}<tr><td>{{ gate }}</td><td>{{ n }}</td></tr>
{% endfor %}</tbody>
</table>{% else %}<p>No candidate was rejected.</p>{% endif %}
</section>

<section id="survivors">
<h2>Top survivors</h2>
<p>{{ survivors_line }}</p>
{% if final_pbo is not none %}<p id="final-pbo">Probability of backtest overfitting over the
session's candidates at the end (CSCV): {{ final_pbo }}.</p>{% endif %}
{% if survivor_rows %}<table id="survivor-table">
<thead><tr><th>strategy</th><th>hash</th><th>type / family / logic</th><th>Sharpe</th><th>DSR</th>
<th>PBO</th><th>regime share</th><th>trials at gate</th><th>folds' Sharpe</th>
<th>annual return</th><th>max drawdown</th><th>models</th></tr></thead>
<tbody>
{% for row in survivor_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>{% endif %}
</section>

<section id="genealogy">
<h2>Genealogy of the winners</h2>
{% if figures.genealogy is defined %}<p class="note">Each arrow goes from a parent to its child and
is labelled with the operator that made the child; orange arrows come from a crossover's second
parent. Hover over a strategy for its search-span Sharpe and what changed.</p>
<div class="figure tall">{{ figures.genealogy | safe }}</div>
{% if dropped_cycles %}<p class="note">{{ dropped_cycles }} parent link(s) that would close a
cycle were left out.</p>{% endif %}
{% else %}<p>No winner to trace.</p>{% endif %}
</section>

<section class="holdout" id="holdout">
<h2>Sealed holdout</h2>
<p id="holdout-status">{{ holdout_line }}</p>
{% if holdout_rows %}<table id="holdout-table">
<thead><tr><th>strategy</th><th>hash</th><th>span</th><th>holdout Sharpe</th>
<th>search Sharpe</th><th>annual return</th><th>max drawdown</th><th>other</th></tr></thead>
<tbody>
{% for row in holdout_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>{% endif %}
</section>
<script type="application/json" id="session-report-data">{{ report_json | safe }}</script>
</body>
</html>
"""
