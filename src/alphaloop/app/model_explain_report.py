"""A model version's explanations as one page: HTML (self-contained, offline) or Markdown.

Top to bottom: the version, then permutation importance by feature family
and by feature (measured out of sample, with its spread over folds and
shuffles, and the folds it was measured on), SHAP (mean |SHAP| by family
and by feature, with the rows it used and why they are in sample), and,
for models that expose them, variable-selection weights and attention.
:func:`explanation_lines` gives the same content as terminal lines.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alphaloop.reports import BASE_CSS, NA, format_number, write_atomic

__all__ = ["explanation_lines", "write_explanation_report"]

MAX_FEATURES = 30
"""Features listed per table (families are all listed)."""


def _num(value: Any) -> str:
    return NA if value is None else format_number(value, 3)


def _permutation_tables(p: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    head = ["importance (IC fall)", "std over folds", "std over shuffles", "folds > 0"]
    n_folds = len(p.get("folds", []))

    def rows(records: list[dict[str, Any]], key: str) -> list[list[str]]:
        return [
            [r[key], _num(r["importance"]), _num(r["std_folds"]), _num(r["std_repeats"]),
             f"{r['positive_folds']} of {n_folds}"]
            for r in records
        ]  # fmt: skip

    return [
        ("By feature family", ["family", *head], rows(p["families"], "family")),
        ("By feature", ["feature", *head], rows(p["features"][:MAX_FEATURES], "feature")),
    ]


def _shap_tables(s: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    return [
        ("By feature family", ["family", "mean |SHAP|"],
         [[r["family"], _num(r["mean_abs"])] for r in s["families"]]),
        ("By feature", ["feature", "mean |SHAP|"],
         [[r["feature"], _num(r["mean_abs"])] for r in s["features"][:MAX_FEATURES]]),
    ]  # fmt: skip


def _tft_tables(t: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    n = len(t["attention"])
    return [
        ("Variable selection by family", ["family", "weight"],
         [[r["family"], _num(r["weight"])] for r in t["families"]]),
        ("Variable selection by feature", ["feature", "weight"],
         [[r["feature"], _num(r["weight"])] for r in t["variable_weights"][:MAX_FEATURES]]),
        ("Attention by past position (0 = the decision bar)", ["bars back", "weight"],
         [[str(n - 1 - i), _num(w)] for i, w in enumerate(t["attention"])]),
    ]  # fmt: skip


def _notes(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Plain sentences for each section (shared by HTML, Markdown and the terminal)."""
    ex = doc["explanations"]
    notes: dict[str, list[str]] = {}
    if "permutation" in ex:
        p = ex["permutation"]["payload"]
        splitter = str(p.get("splitter", "walk_forward")).replace("_", "-")
        folds = ", ".join(
            f"{f['test_start'][:10]}..{f['test_end'][:10]} (IC {_num(f['baseline_ic'])})"
            for f in p["folds"]
        )
        notes["permutation"] = [
            f"Out of sample: each {splitter} fold's model, on its own test fold; a feature "
            "is shuffled across assets within each date and the fall of the mean per-date IC "
            f"is its importance ({p['n_repeats']} shuffles per fold, seed {p['seed']}).",
            f"Test folds: {folds}.",
            f"The re-run reproduced the recorded out-of-sample IC ({_num(p['recorded_ic'])})."
            if p["reproduced"]
            else f"Warning: the re-run's IC ({_num(p['rerun_ic'])}) differs from the recorded "
            f"one ({_num(p['recorded_ic'])}): the data or the code changed since training.",
        ]
    if "shap" in ex:
        s = ex["shap"]["payload"]
        notes["shap"] = [f"{s['reason']}."]
        if s["method"] != "skipped":
            rows = s.get("rows", "the data given")
            notes["shap"].append(
                f"{s['n_rows']} rows of {rows}; output explained: {s['output']}, "
                f"base value {_num(s['base_value'])}. SHAP shows how the model uses its "
                "inputs, not out-of-sample skill."
            )
    if "tft" in ex:
        t = ex["tft"]["payload"]
        notes["tft"] = [
            f"Mean weights of the model's variable selection and attention over "
            f"{t['n_rows']} windows of {t.get('rows', 'the data given')}."
        ]
    return notes


_SECTIONS = (
    ("permutation", "Permutation importance", _permutation_tables),
    ("shap", "SHAP", _shap_tables),
    ("tft", "Variable selection and attention", _tft_tables),
)


def explanation_lines(doc: dict[str, Any], top: int = 10) -> list[str]:
    """Terminal lines: each section's notes and its first table's ``top`` rows."""
    lines: list[str] = []
    notes = _notes(doc)
    for kind, title, tables in _SECTIONS:
        if kind not in doc["explanations"]:
            continue
        lines.append(f"{title}:")
        lines.extend(f"  {n}" for n in notes[kind])
        payload = doc["explanations"][kind]["payload"]
        if kind == "shap" and payload["method"] == "skipped":
            continue
        caption, head, rows = tables(payload)[0]
        lines.append(f"  {caption.lower()}: " + ", ".join(head[1:2]))
        lines.extend(f"    {r[0]}: {r[1]}" for r in rows[:top])
    return lines


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(c: str) -> str:
        return c.replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, head)) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return "\n".join(lines)


def write_explanation_report(doc: dict[str, Any], path: str | Path) -> Path:
    """Write ``ExplainedModel.to_dict()`` as Markdown (``.md``) or else as HTML.

    Returns
    -------
    Path
        The file written (atomically).
    """
    target = Path(path)
    markdown = target.suffix.lower() in (".md", ".markdown")
    notes = _notes(doc)
    title = f"What {doc['ref']} ({doc['family']}) uses"
    parts: list[str] = []
    for kind, heading, tables in _SECTIONS:
        if kind not in doc["explanations"]:
            continue
        payload = doc["explanations"][kind]["payload"]
        made = doc["explanations"][kind]["created_at"][:19].replace("T", " ")
        section_notes = [*notes[kind], f"Computed {made} UTC."]
        shown = [] if kind == "shap" and payload["method"] == "skipped" else tables(payload)
        if markdown:
            parts.append(f"## {heading}\n\n" + "\n\n".join(section_notes))
            parts += [f"### {c}\n\n{_md_table(h, r)}" for c, h, r in shown]
        else:
            body = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in section_notes)
            body += "".join(f"<h3>{html.escape(c)}</h3>{_html_table(h, r)}" for c, h, r in shown)
            parts.append(f"<section id='{kind}'><h2>{html.escape(heading)}</h2>{body}</section>")
    if markdown:
        text = f"# {title}\n\n" + "\n\n".join(parts) + "\n"
    else:
        text = (
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{BASE_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>\n"
        )
    write_atomic(target, text)
    return target
