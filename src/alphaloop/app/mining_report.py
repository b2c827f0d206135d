"""A mining session as one self-contained HTML page (works offline).

Top to bottom: the dataset and settings, the trial account every IC is
judged with (distinct expressions scored in this session and before it),
the pool (combined IC on training and validation folds, significance after
adjustment), its members (formula, provenance, IC on every fold, weight,
marginal contribution, adjusted p-value, gate), the folds, and how the
search went (best fitness by generation, candidates by status). Every
piece of text is escaped; plotly.js is inlined once.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.reports import (
    BASE_CSS,
    chart_layout,
    figures_to_html,
    format_flag,
    format_number,
    plotly_js,
    write_atomic,
)

if TYPE_CHECKING:
    from alphaloop.factors.mining import MiningResult

__all__ = ["write_mining_report"]


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _ics(values: Sequence[Any]) -> str:
    return ", ".join(format_number(v, 3) for v in values)


def _significance_rows(sig: Mapping[str, Any] | None) -> list[list[Any]]:
    if not sig:
        return [["significance", "—"]]
    return [
        ["mean daily rank IC (test fold)", format_number(sig.get("mean_ic"), 4)],
        ["t-statistic (EWC, robust to persistence)", format_number(sig.get("t_stat"), 3)],
        ["degrees of freedom", sig.get("dof", "—")],
        ["p-value, one test", format_number(sig.get("p_value"), 3)],
        ["trials adjusted for", f"{sig.get('n_trials', 0):,}"],
        ["p-value, adjusted (Šidák)", format_number(sig.get("adjusted_p"), 3)],
        ["passes the gate", format_flag(sig.get("passed"))],
    ]


def _progress_figure(result: MiningResult) -> Any:
    import plotly.graph_objects as go

    best: dict[int, float] = {}
    count: dict[int, int] = {}
    for c in result.candidates:
        count[c.generation] = count.get(c.generation, 0) + 1
        if c.fitness is not None and math.isfinite(c.fitness):
            best[c.generation] = max(best.get(c.generation, -math.inf), c.fitness)
    gens = sorted(count)
    running, so_far = [], -math.inf
    for g in gens:
        so_far = max(so_far, best.get(g, -math.inf))
        running.append(so_far if math.isfinite(so_far) else None)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=gens, y=running, mode="lines+markers", name="best fitness so far"))
    fig.add_trace(
        go.Bar(x=gens, y=[count[g] for g in gens], name="new expressions scored", yaxis="y2")
    )
    fig.update_layout(
        **chart_layout("Search progress by generation"),
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False},
    )
    return fig


def _hypotheses_html(summary: Mapping[str, Any]) -> str:
    """The language-model section: the memorisation guard first, then what was asked."""
    asked = summary.get("hypotheses")
    if not asked:
        return ""
    guard = summary.get("memorisation_guard") or {}
    span = guard.get("span") or {}
    members = {m["name"]: m for m in summary["pool"]["members"]}
    if span.get("start"):
        where = f"{span['start']} .. {span['end']} ({span['n_bars']} bars after {span['cutoff']})"
    else:
        where = f"no post-cut-off span: {span.get('reason') or 'not measured'}"
    rows = [
        [
            name,
            members[name]["expression"],
            format_number(g.get("post_cutoff_ic"), 4),
            g.get("n_days", 0),
            format_number(members[name]["valid_ic"], 4),
            format_number((members[name]["significance"] or {}).get("adjusted_p"), 3),
            ", ".join(g.get("origins") or []),
        ]
        for name, g in (guard.get("factors") or {}).items()
        if name in members
    ]
    accepted = [[h["name"], h["expression"], h["rationale"]] for h in asked["accepted"]]
    rejected = [[r["name"], r["expression"], r["reason"]] for r in asked["rejected"]]
    fallback = asked.get("fallback")
    return f"""
<h2>Language-model hypotheses ({_e(asked["source"])})</h2>
<p>Memorisation guard: pool factors descending from a model's hypothesis, measured first on
the searchable bars after the model's knowledge cut-off — {_e(where)}.</p>
{
        _table(
            [
                "name",
                "formula",
                "IC after the cut-off",
                "days",
                "validation IC",
                "adjusted p",
                "from",
            ],
            rows,
        )
        if rows
        else "<p>No pool factor descends from a model's hypothesis.</p>"
    }
{
        f"<p>The model gave no usable hypothesis ({_e(fallback)}); the search ran alone.</p>"
        if fallback
        else ""
    }
<h3>Accepted (scored and counted as trials)</h3>
{_table(["name", "formula", "rationale"], accepted) if accepted else "<p>None.</p>"}
<h3>Refused by the expression parser (never scored, not trials)</h3>
{_table(["name", "text", "reason"], rejected) if rejected else "<p>None.</p>"}
"""


def write_mining_report(
    result: MiningResult,
    summary: Mapping[str, Any],
    path: str | Path,
    *,
    session_id: int | None = None,
) -> Path:
    """Write the session's HTML report to ``path`` (atomically); returns the path."""
    cfg = summary["config"]
    pool = summary["pool"]
    title = f"Factor mining — {summary.get('dataset', 'data')}"
    settings = [
        ["session", session_id if session_id is not None else "—"],
        ["horizon (bars, next-bar label)", cfg["horizon"]],
        ["budget (distinct expressions)", f"{cfg['budget']:,}"],
        ["seed", cfg["seed"]],
        ["pool capacity", cfg["pool"]],
        ["population", cfg["population"]],
        ["stopped", summary["stopped"]],
        ["generations", summary["n_generations"]],
        ["elapsed (s)", format_number(summary["elapsed"], 3)],
    ]
    trials = [
        ["distinct expressions scored in this session", f"{summary['n_scored']:,}"],
        ["scored on this dataset by earlier sessions", f"{cfg['prior_trials']:,}"],
        ["trials every significance below is adjusted for", f"{summary['n_trials']:,}"],
        ["variations proposed (duplicates included)", f"{summary['n_proposed']:,}"],
    ]
    members = [
        [
            m["name"],
            m["expression"],
            m["generation"],
            m["operator"],
            format_number(m["weight"], 3),
            format_number(m["marginal"], 3),
            _ics(m["score"]["train_ic"]),
            _ics(m["score"]["valid_ic"]),
            format_number((m["significance"] or {}).get("t_stat"), 3),
            format_number((m["significance"] or {}).get("adjusted_p"), 3),
            format_flag((m["significance"] or {}).get("passed")),
        ]
        for m in pool["members"]
    ]
    folds = summary["folds"]
    fold_rows = [["training", a, b] for a, b in folds["train"]] + [
        ["validation", a, b] for a, b in folds["valid"]
    ]
    figures = figures_to_html({"progress": _progress_figure(result)})
    caveats = "".join(f"<li>{_e(c)}</li>" for c in summary.get("caveats") or [])
    body = f"""
<h1>{_e(title)}</h1>
<p class="subtitle">Searched on the search span only (the sealed holdout is out of reach);
fitness on purged training folds, pool admission on validation folds.</p>
{f'<div class="caveats"><h2>Data caveats</h2><ul>{caveats}</ul></div>' if caveats else ""}
{_hypotheses_html(summary)}
<h2>Settings</h2>{_table(["setting", "value"], settings)}
<h2>Trials</h2>{_table(["account", "count"], trials)}
<h2>Pool</h2>
{
        _table(
            ["measure", "value"],
            [
                ["pool rank IC, training rows", format_number(pool["train_ic"], 4)],
                ["pool rank IC, validation rows", format_number(pool["valid_ic"], 4)],
                *_significance_rows(pool.get("significance")),
            ],
        )
    }
<h2>Members</h2>
{
        _table(
            [
                "name",
                "formula",
                "generation",
                "found by",
                "weight",
                "marginal IC",
                "IC by training fold",
                "IC by validation fold",
                "t",
                "adjusted p",
                "passes",
            ],
            members,
        )
        if members
        else "<p>No factor entered the pool.</p>"
    }
<h2>Folds (rows of the search span)</h2>
{_table(["fold", "first row", "end row (exclusive)"], fold_rows)}
<h2>Search</h2>
<div class="figure" id="progress">{figures["progress"]}</div>
{_table(["status", "candidates"], sorted(summary["status_counts"].items()))}
"""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{BASE_CSS}</style><script>{plotly_js()}</script></head>
<body>{body}</body></html>
"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, page)
    return out
