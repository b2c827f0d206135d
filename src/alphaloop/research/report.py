"""Render a research session's summary as one self-contained HTML page (works offline).

The input is the mapping :func:`alphaloop.research.summary.session_summary`
builds, plus two keys its caller adds: ``holdout`` (None, or ``{"evaluated",
"reason", "trials_before", "strategies": [{"name", "spec_hash", "start",
"end", "metrics"}]}``) and ``final_pbo``. The page shows, top to bottom: the
goal and the session's settings, the constraints and assumptions read from
the goal, the number of trials on the dataset that every search Sharpe is
judged with, counts by type and by family, model versions at the start and
the end, the rejection funnel, rejections by gate, the top survivors, the
winners' genealogy and, last, the sealed holdout: its result with the
number of trials made before it, or why it was not evaluated.

The renderer is pure: it reads only the mapping, tolerates missing keys
(shown as "—" or "not recorded") and escapes every piece of text. plotly.js
is inlined once; the page names no remote resource.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.reports import (
    BASE_CSS,
    NA,
    chart_layout,
    figures_to_html,
    format_cell,
    format_flag,
    format_number,
    format_percent,
    plotly_js,
    write_atomic,
)

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

__all__ = ["render_session_report", "write_session_report"]

_CONSTRAINTS: dict[str, tuple[str, str]] = {
    "long_only": ("long only", "flag"),
    "universe": ("universe", "text"),
    "max_turnover": ("max turnover (one-way, per year, of equity)", "pct"),
    "max_drawdown": ("max drawdown", "pct"),
    "horizon": ("horizon", "text"),
    "kinds": ("strategy types", "text"),
    "min_sharpe": ("min Sharpe (annualized)", "ratio"),
}
_CONFIG: dict[str, str] = {
    "seed": "seed",
    "budget": "budget (candidates)",
    "executor": "executor",
    "workers": "workers",
    "batch_size": "batch size",
    "time_limit": "time limit (seconds)",
    "picks": "final picks for the holdout",
    "folds": "walk-forward folds",
}
_HOLDOUT_METRICS = ("sharpe", "annual_return", "max_drawdown")


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    if isinstance(mapping, Mapping):
        value = mapping.get(key, default)
        return default if value is None else value
    return default


def _sharpe(value: Any) -> str:
    return _num(value, decimals=2)


def _num(value: Any, sig: int = 4, *, decimals: int | None = None) -> str:
    if value is None or isinstance(value, bool | int | float):
        return format_number(value, sig, decimals=decimals)
    try:
        return format_number(float(value), sig, decimals=decimals)
    except (TypeError, ValueError):
        return str(value)


def _pct(value: Any) -> str:
    try:
        return format_percent(None if value is None else float(value))
    except (TypeError, ValueError):
        return str(value)


def _text(value: Any) -> str:
    if value is None:
        return NA
    if isinstance(value, bool):
        return format_flag(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _constraint_rows(constraints: Any) -> list[tuple[str, str]]:
    if not isinstance(constraints, Mapping):
        return []
    rows = []
    for key, value in constraints.items():
        label, kind = _CONSTRAINTS.get(str(key), (_label(str(key)), "text"))
        if kind == "pct":
            shown = "none" if value is None else _pct(value)
        elif kind == "ratio":
            shown = "none" if value is None else _num(value, decimals=2)
        elif kind == "flag":
            shown = format_flag(value)
        else:
            shown = "none" if value is None else _text(value)
        rows.append((label, shown))
    return rows


def _header_rows(session: Mapping[str, Any]) -> list[tuple[str, str]]:
    config = _get(session, "config", {})
    rows = [("dataset", _text(session.get("dataset"))), ("session id", _text(session.get("id")))]
    rows.append(("status", _text(session.get("status"))))
    rows.append(("batches", _num(session.get("n_batches"))))
    for key, label in _CONFIG.items():
        if isinstance(config, Mapping) and key in config:
            rows.append((label, _text(config[key]) if key != "time_limit" else _num(config[key])))
    return rows


def _count_rows(counts: Mapping[str, Any]) -> list[tuple[str, str]]:
    labels = {
        "evaluated": "candidates evaluated in this session (new trials)",
        "failed": "crashed while evaluated",
        "passed": "passed the gate",
        "reused": "proposed again and read from the database (not new trials)",
        "refused": "refused before running (bad spec; not trials)",
        "trials_on_dataset": "trials on this dataset, all sessions",
    }
    rows = [(text, _num(counts.get(key))) for key, text in labels.items() if key in counts]
    decisions = counts.get("decisions")
    if isinstance(decisions, Mapping):
        for action, n in decisions.items():
            rows.append((f"decisions: {action}", _num(n)))
    return rows


def _group_rows(rows: Any, column: str) -> list[list[str]]:
    out = []
    for row in rows or []:
        if not isinstance(row, Mapping):
            continue
        out.append(
            [
                _text(row.get(column)),
                _num(row.get("n")),
                _num(row.get("failed")),
                _num(row.get("passed")),
                _sharpe(row.get("mean_sharpe")),
                _sharpe(row.get("best_sharpe")),
            ]
        )
    return out


def _model_ref(item: Any) -> str:
    if isinstance(item, Mapping):
        ref = item.get("ref") or (
            f"{item.get('name')}/v{item.get('version')}" if item.get("name") else None
        )
        return str(ref) if ref else json.dumps(dict(item), default=str, sort_keys=True)
    return str(item)


def _folds_text(folds: Any) -> str:
    values = [
        f.get("sharpe") if isinstance(f, Mapping) else f for f in (folds or []) if f is not None
    ]
    if not values:
        return NA
    positive = sum(1 for v in values if isinstance(v, int | float) and v > 0)
    return " · ".join(_sharpe(v) for v in values) + f" ({positive}/{len(values)} positive)"


def _survivor_rows(survivors: Any) -> list[list[str]]:
    rows = []
    for s in survivors or []:
        if not isinstance(s, Mapping):
            continue
        metrics = _get(s, "metrics", {})
        rows.append(
            [
                _text(s.get("name")),
                str(s.get("hash") or "")[:12] or NA,
                " / ".join(_text(s.get(k)) for k in ("kind", "family", "logic")),
                _sharpe(s.get("sharpe")),
                _num(s.get("dsr"), decimals=3),
                _pct(s.get("pbo")),
                _pct(s.get("regime_share")),
                _num(s.get("n_trials")),
                _folds_text(s.get("folds")),
                _pct(_get(metrics, "annual_return")),
                _pct(_get(metrics, "max_drawdown")),
                _text(list(s.get("models") or [])),
            ]
        )
    return rows


def _holdout(summary: Mapping[str, Any]) -> tuple[str, list[list[str]]]:
    holdout = summary.get("holdout")
    n_survivors = int(_get(summary, "n_survivors", len(summary.get("survivors") or [])))
    if not isinstance(holdout, Mapping) or not holdout.get("evaluated"):
        reason = str(_get(holdout, "reason", "")).strip()
        if n_survivors == 0:
            line = "Nothing passed the gate, so there was no pick and the holdout was not touched."
        elif reason:
            line = f"The holdout was not evaluated: {reason}"
        else:
            line = "The holdout was not evaluated."
        if n_survivors == 0 and reason:
            line += f" ({reason})"
        return line, []
    trials = holdout.get("trials_before")
    line = (
        f"Evaluated once, after {_num(trials)} trials on this dataset, on the final pick(s) "
        "below; the result was stored and never fed back into the search."
    )
    search = {
        str(s.get("hash")): s.get("sharpe")
        for s in summary.get("survivors") or []
        if isinstance(s, Mapping)
    }
    rows = []
    for st in holdout.get("strategies") or []:
        if not isinstance(st, Mapping):
            continue
        metrics = _get(st, "metrics", {})
        spec_hash = str(st.get("spec_hash") or "")
        other = [
            f"{_label(str(k))}: {format_cell(v)}"
            for k, v in (metrics.items() if isinstance(metrics, Mapping) else [])
            if k not in _HOLDOUT_METRICS and not isinstance(v, Mapping | list)
        ]
        rows.append(
            [
                _text(st.get("name")),
                spec_hash[:12] or NA,
                f"{_text(st.get('start'))} to {_text(st.get('end'))}",
                _sharpe(_get(metrics, "sharpe")),
                _sharpe(search.get(spec_hash)),
                _pct(_get(metrics, "annual_return")),
                _pct(_get(metrics, "max_drawdown")),
                "; ".join(other) or NA,
            ]
        )
    if not rows:
        line += " No pick's result was recorded."
    return line, rows


def _funnel_figure(rows: Sequence[Mapping[str, Any]]) -> Figure:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Funnel(
            y=[_label(str(r.get("gate"))) for r in rows],
            x=[int(r.get("left") or 0) for r in rows],
            textinfo="value+percent initial",
            marker={"color": "#1f5fa8"},
            hovertemplate="%{y}: %{x} left<extra></extra>",
        )
    )
    fig.update_layout(**chart_layout("Candidates left after each gate"))
    return fig


def _context(summary: Mapping[str, Any]) -> dict[str, Any]:
    from alphaloop.jsonsafe import json_safe
    from alphaloop.research.genealogy_graph import genealogy_figure, genealogy_layout
    from alphaloop.research.llm_guard import guard_rows

    session = _get(summary, "session", {})
    counts = _get(summary, "counts", {})
    funnel = [r for r in summary.get("funnel") or [] if isinstance(r, Mapping)]
    genealogy = [t for t in summary.get("genealogy") or [] if t]
    figures: dict[str, Figure] = {}
    if funnel:
        figures["funnel"] = _funnel_figure(funnel)
    dropped = 0
    if genealogy:
        figures["genealogy"] = genealogy_figure(genealogy)
        dropped = genealogy_layout(genealogy).dropped_cycles
    start = [_model_ref(m) for m in summary.get("models_start") or []]
    end = [_model_ref(m) for m in summary.get("models_end") or []]
    new = [m for m in end if m not in start]
    n_survivors = int(_get(summary, "n_survivors", len(summary.get("survivors") or [])))
    shown = len(summary.get("survivors") or [])
    trials = _num(counts.get("trials_on_dataset"))
    final_pbo = summary.get("final_pbo")
    rejections = _get(summary, "rejections", {})
    holdout_line, holdout_rows = _holdout(summary)
    llm_line, llm_rows = guard_rows(summary.get("llm"))
    data = json.dumps(json_safe(dict(summary)), allow_nan=False, default=str, indent=1)
    return {
        "session_id": _text(session.get("id")),
        "dataset": _text(session.get("dataset")),
        "status": _text(session.get("status")),
        "goal": str(session.get("goal") or "not recorded"),
        "header_rows": _header_rows(session),
        "constraint_rows": _constraint_rows(session.get("constraints")),
        "assumptions": [str(a) for a in summary.get("assumptions") or []],
        "integrity": (
            f"{trials} trials on this dataset; every Sharpe below is from the search span and "
            "judged with the number of trials shown."
        ),
        "count_rows": _count_rows(counts),
        "group_tables": [
            ("by-kind", "Candidates by type", "type", _group_rows(summary.get("by_kind"), "kind")),
            (
                "by-family",
                "Candidates by family",
                "family",
                _group_rows(summary.get("by_family"), "family"),
            ),
        ],
        "models_start": ", ".join(start) or "none",
        "models_end": ", ".join(end) or "none",
        "models_new": ", ".join(new) or "none",
        "figures": figures_to_html(figures),
        "funnel_rows": [
            (_label(str(r.get("gate"))), _num(r.get("removed")), _num(r.get("left")))
            for r in funnel
        ],
        "rejection_rows": [
            (_label(str(k)), _num(v))
            for k, v in (rejections.items() if isinstance(rejections, Mapping) else [])
        ],
        "survivors_line": (
            f"{n_survivors:,} candidate(s) passed the gate; the best {shown:,} by deflated "
            "Sharpe ratio are listed. Sharpe ratios are annualized, from the search span."
            if n_survivors
            else "No candidate passed the gate."
        ),
        "final_pbo": None if final_pbo is None or _nan(final_pbo) else _pct(final_pbo),
        "survivor_rows": _survivor_rows(summary.get("survivors")),
        "dropped_cycles": dropped,
        "holdout_line": holdout_line,
        "holdout_rows": holdout_rows,
        "llm_line": llm_line,
        "llm_rows": llm_rows,
        # "<" escaped so no text in the data can close the script element
        "report_json": data.replace("<", "\\u003c"),
    }


def _nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def render_session_report(summary: Mapping[str, Any]) -> str:
    """The session report as a self-contained HTML page.

    Parameters
    ----------
    summary : mapping
        From :func:`alphaloop.research.summary.session_summary`, with the
        caller's ``holdout`` and ``final_pbo`` keys (both optional).

    Returns
    -------
    str
        The page; plotly.js inlined, no remote resource. The summary itself
        is embedded as JSON in ``<script type="application/json"
        id="session-report-data">``.
    """
    import jinja2

    from alphaloop.research._report_template import SESSION_TEMPLATE

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(SESSION_TEMPLATE).render(
        css=BASE_CSS, plotly_js=plotly_js(), **_context(summary)
    )


def write_session_report(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Render the report and write it to ``path`` atomically (temporary file, then rename).

    The directory is created if needed; on failure the old file, if any, is
    left as it was. Returns the path written.
    """
    target = Path(path)
    write_atomic(target, render_session_report(summary))
    return target
