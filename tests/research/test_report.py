"""The research session report: sections, numbers, genealogy, holdout, escaping, offline, atomic."""

from __future__ import annotations

import copy
import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from alphaloop.research import (
    genealogy_layout,
    render_session_report,
    write_session_report,
)

HOSTILE_GOAL = "<script>alert('goal')</script> long-only momentum & more"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
VOID = {"br", "meta", "link", "img", "input", "hr", "col", "area", "base", "wbr"}

A, B, C, D, E, R = (c * 64 for c in "abcdef")  # strategy hashes; R = shared root


def _survivor(h: str, name: str, sharpe: float, dsr: float, n_trials: int) -> dict[str, Any]:
    return {
        "hash": h,
        "name": name,
        "kind": "pure_technical",
        "family": "momentum",
        "logic": "top_k",
        "models": [],
        "sharpe": sharpe,
        "dsr": dsr,
        "pbo": 0.21,
        "regime_share": 0.75,
        "n_trials": n_trials,
        "folds": [
            {"start": "2010-01-04", "end": "2012-01-03", "sharpe": 0.91},
            {"start": "2012-01-04", "end": "2014-01-03", "sharpe": -0.37},
            {"start": "2014-01-04", "end": "2016-01-03", "sharpe": 1.42},
        ],
        "metrics": {
            "annual_return": 0.1234,
            "max_drawdown": -0.2155,
            "turnover": 3.1,
            "n_round_trips": 140,
            "years": 9.5,
        },
    }


def _genealogy() -> list[dict[str, Any]]:
    root = {
        "hash": R,
        "name": "seed-mom",
        "operator": None,
        "exploration": {},
        "sharpe": 0.4,
        "parents": [],
    }
    b = {
        "hash": B,
        "name": "mom-126",
        "operator": "param",
        "sharpe": 0.7,
        "exploration": {"new_parameter": True, "changed": ["signal.expr"]},
        "parents": [root],
    }
    c = {
        "hash": C,
        "name": "meanrev-5",
        "operator": "indicator",
        "sharpe": 0.5,
        "exploration": {"new_indicator": True},
        "parents": [root],
    }
    winner_a = {
        "hash": A,
        "name": HOSTILE_NAME,
        "operator": "crossover",
        "exploration": {
            "crossover": True,
            "new_indicator": False,
            "changed": ["signal.components"],
        },
        "sharpe": 1.31,
        "parents": [b, c],  # c is the crossover's second parent
    }
    winner_d = {
        "hash": D,
        "name": "mom-126-weekly",
        "operator": "rebalance",
        "sharpe": 1.12,
        "exploration": {"changed": ["rebalance"]},
        "parents": [copy.deepcopy(b)],
    }
    return [winner_a, winner_d]


def _summary(**over: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "session": {
            "id": 7,
            "dataset": "sp500-stocks",
            "goal": HOSTILE_GOAL,
            "constraints": {
                "long_only": True,
                "universe": "all",
                "max_turnover": 4.0,
                "max_drawdown": 0.25,
                "horizon": "monthly",
                "kinds": ["pure_technical", "hybrid_ml"],
                "min_sharpe": None,
            },
            "config": {
                "seed": 11,
                "budget": 400,
                "executor": "ray",
                "workers": 4,
                "batch_size": 32,
                "picks": 2,
            },
            "status": "finished",
            "n_batches": 13,
        },
        "assumptions": ["no universe named: every asset of the dataset", "rebalanced monthly"],
        "counts": {
            "evaluated": 397,
            "failed": 6,
            "passed": 4,
            "reused": 9,
            "refused": 1,
            "decisions": {"exploit": 250, "explore": 120, "seed": 6},
            "trials_on_dataset": 1873,
        },
        "by_kind": [
            {
                "kind": "hybrid_ml",
                "n": 97,
                "failed": 4,
                "passed": 1,
                "mean_sharpe": 0.3821,
                "best_sharpe": 1.12,
            },
            {
                "kind": "pure_technical",
                "n": 300,
                "failed": 2,
                "passed": 3,
                "mean_sharpe": 0.41,
                "best_sharpe": 1.31,
            },
        ],
        "by_family": [
            {
                "family": "composite",
                "n": 150,
                "failed": 1,
                "passed": 2,
                "mean_sharpe": 0.55,
                "best_sharpe": 1.31,
            },
            {
                "family": "volatility",
                "n": 247,
                "failed": 5,
                "passed": 2,
                "mean_sharpe": None,
                "best_sharpe": None,
            },
        ],
        "funnel": [
            {"gate": "evaluated", "removed": 0, "left": 397},
            {"gate": "crashed", "removed": 6, "left": 391},
            {"gate": "lookahead", "removed": 12, "left": 379},
            {"gate": "dsr", "removed": 360, "left": 19},
            {"gate": "pbo", "removed": 15, "left": 4},
        ],
        "rejections": {"dsr": 371, "regimes": 44, "pbo": 15, "lookahead": 12, "crashed": 6},
        "survivors": [
            _survivor(A, HOSTILE_NAME, 1.31, 0.987, 1502),
            _survivor(D, "mom-126-weekly", 1.12, 0.962, 1710),
            _survivor(E, "vol-carry", 0.98, 0.951, 1811),
        ],
        "n_survivors": 4,
        "genealogy": _genealogy(),
        "models_start": ["lgbm-alpha158/v1"],
        "models_end": ["lgbm-alpha158/v1", "lgbm-alpha158/v2"],
        "holdout": {
            "evaluated": True,
            "reason": "",
            "trials_before": 1873,
            "strategies": [
                {
                    "name": HOSTILE_NAME,
                    "spec_hash": A,
                    "start": "2021-01-04",
                    "end": "2023-12-29",
                    "metrics": {
                        "sharpe": 0.6644,
                        "annual_return": 0.071,
                        "max_drawdown": -0.18,
                        "n_round_trips": 41,
                    },
                },
            ],
        },
        "final_pbo": 0.3125,
    }
    summary.update(over)
    return summary


class Page(HTMLParser):
    """Tags, scripts and the text inside each element that has an id."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text_by_id: dict[str, str] = {}
        self.order: list[str] = []
        self._stack: list[tuple[str, str | None]] = []
        self._script: dict[str, str | None] | None = None
        self._parts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.order.append(str(attributes["id"]))
        if tag == "script":
            self._script, self._parts = attributes, []
        elif tag not in VOID:
            self._stack.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._parts)))
            self._script = None
            return
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._parts.append(data)
            return
        for _, element_id in self._stack:
            if element_id:
                self.text_by_id[element_id] = self.text_by_id.get(element_id, "") + data + " "

    def text(self, element_id: str) -> str:
        return " ".join(self.text_by_id[element_id].split())

    def figure(self, div_id: str) -> dict[str, Any]:
        """The plotly figure drawn into ``div_id`` (its JSON arguments to ``Plotly.newPlot``)."""
        for _, text in self.scripts:
            start = text.find(f'"{div_id}",')
            if "Plotly.newPlot" in text and start >= 0:
                args = json.JSONDecoder().raw_decode(text[start + len(div_id) + 3 :].lstrip())
                data = args[0]
                rest = text[start + len(div_id) + 3 :].lstrip()[args[1] :].lstrip(", ")
                layout = json.JSONDecoder().raw_decode(rest)[0]
                return {"data": data, "layout": layout}
        raise AssertionError(f"no figure {div_id}")


@pytest.fixture(scope="module")
def page() -> Page:
    return Page(render_session_report(_summary()))


def test_sections_in_order_with_the_holdout_last(page: Page) -> None:
    sections = [
        "header",
        "assumptions",
        "integrity",
        "counts",
        "by-kind",
        "by-family",
        "models",
        "funnel",
        "rejections",
        "survivors",
        "genealogy",
        "holdout",
    ]
    positions = [page.order.index(s) for s in sections]
    assert positions == sorted(positions)
    assert page.order[-2:] == ["holdout-table", "session-report-data"]


def test_header_and_assumptions(page: Page) -> None:
    header = page.text("header")
    for expected in (
        "sp500-stocks",
        "finished",
        "seed 11",
        "budget (candidates) 400",
        "executor ray",
        "workers 4",
        "batches 13",
    ):
        assert expected in header
    assumptions = page.text("assumptions")
    assert "max turnover (one-way, per year, of equity) 400%" in assumptions
    assert "max drawdown 25.0%" in assumptions
    assert "long only yes" in assumptions
    assert "strategy types pure_technical, hybrid_ml" in assumptions
    assert "min Sharpe (annualized) none" in assumptions
    assert "rebalanced monthly" in page.text("assumption-list")


def test_integrity_line_carries_the_trial_count(page: Page) -> None:
    assert page.text("integrity") == (
        "1,873 trials on this dataset; every Sharpe below is from the search span and judged "
        "with the number of trials shown."
    )


def test_counts_and_groups(page: Page) -> None:
    counts = page.text("counts")
    assert "candidates evaluated in this session (new trials) 397" in counts
    assert "decisions: exploit 250" in counts
    assert "pure_technical 300 2 3 0.41 1.31" in page.text("by-kind")
    assert "hybrid_ml 97 4 1 0.38 1.12" in page.text("by-kind")
    assert "volatility 247 5 2 — —" in page.text("by-family")


def test_models_start_end_and_new(page: Page) -> None:
    assert page.text("models-start") == "lgbm-alpha158/v1"
    assert page.text("models-end") == "lgbm-alpha158/v1, lgbm-alpha158/v2"
    assert page.text("models-new") == "lgbm-alpha158/v2"


def test_funnel_chart_and_table(page: Page) -> None:
    assert "dsr 360 19" in page.text("funnel-table")
    fig = page.figure("fig-funnel")
    trace = fig["data"][0]
    assert trace["type"] == "funnel"
    assert trace["x"] == [397, 391, 379, 19, 4]
    assert trace["y"][-1] == "pbo"
    rejections = page.text("rejections")
    assert "regimes 44" in rejections
    assert "dsr 371" in rejections


def test_survivors_table(page: Page) -> None:
    table = page.text("survivor-table")
    assert "mom-126-weekly " + D[:12] in table
    assert "1.12 0.962 21.0% 75.0% 1,710" in table
    assert "0.91 · -0.37 · 1.42 (2/3 positive)" in table
    assert "12.3% -21.6%" in table
    assert "4 candidate(s) passed the gate; the best 3" in page.text("survivors")
    assert page.text("final-pbo").endswith("31.2%.")


def test_genealogy_merges_shared_ancestors_and_second_parents() -> None:
    layout = genealogy_layout(_genealogy())
    assert set(layout.nodes) == {A, B, C, D, R}  # B and R appear once though reached twice
    assert layout.nodes[R].x == 0
    assert layout.nodes[B].x == layout.nodes[C].x == 1
    assert layout.nodes[A].x == layout.nodes[D].x == 2
    assert [h for h, n in layout.nodes.items() if n.winner] == [A, D]
    edges = {(e.parent, e.child): e for e in layout.edges}
    assert set(edges) == {(R, B), (R, C), (B, A), (C, A), (B, D)}
    assert edges[(C, A)].second
    assert edges[(C, A)].operator == "crossover"
    assert not edges[(B, A)].second
    assert edges[(B, D)].operator == "rebalance"
    assert layout.dropped_cycles == 0


def test_genealogy_guards_against_cycles_and_odd_nodes() -> None:
    x = {"hash": "x" * 64, "name": "x", "operator": "param", "parents": []}
    y = {"hash": "y" * 64, "name": "y", "operator": "param", "parents": [x]}
    x["parents"] = [{"hash": "y" * 64, "parents": [x]}, "z" * 64, None, {"name": "no hash"}]
    layout = genealogy_layout([y])
    assert set(layout.nodes) == {"x" * 64, "y" * 64, "z" * 64}
    assert layout.dropped_cycles == 1
    assert all(layout.nodes[e.parent].x < layout.nodes[e.child].x for e in layout.edges)


def test_genealogy_figure_has_every_node_and_edge(page: Page) -> None:
    fig = page.figure("fig-genealogy")
    nodes = fig["data"][-1]
    assert len(nodes["x"]) == 5
    hover = " ".join(nodes["hovertext"])
    assert "search Sharpe: 1.31" in hover
    assert "crossover: yes" in hover
    assert "&lt;img" in hover
    assert "<img" not in hover
    labels = fig["data"][0]["text"]
    assert "crossover (2nd parent)" in labels
    assert sum("crossover" in label for label in labels) == 2  # both parents of the winner
    assert len(fig["layout"]["annotations"]) == 5


def test_holdout_evaluated(page: Page) -> None:
    assert page.text("holdout-status").startswith(
        "Evaluated once, after 1,873 trials on this dataset"
    )
    table = page.text("holdout-table")
    assert "2021-01-04 to 2023-12-29 0.66 1.31 7.10% -18.0% n round trips: 41" in table


def test_holdout_not_evaluated() -> None:
    holdout = {
        "evaluated": False,
        "reason": "the session was interrupted",
        "trials_before": 90,
        "strategies": [],
    }
    page = Page(render_session_report(_summary(holdout=holdout, final_pbo=None)))
    assert page.text("holdout-status") == (
        "The holdout was not evaluated: the session was interrupted"
    )
    assert "holdout-table" not in page.order
    assert "final-pbo" not in page.order


def test_zero_survivors() -> None:
    summary = _summary(survivors=[], n_survivors=0, genealogy=[], holdout=None, final_pbo=None)
    summary["counts"]["passed"] = 0
    page = Page(render_session_report(summary))
    assert page.text("holdout-status") == (
        "Nothing passed the gate, so there was no pick and the holdout was not touched."
    )
    assert "No candidate passed the gate." in page.text("survivors")
    assert "No winner to trace." in page.text("genealogy")
    assert "survivor-table" not in page.order
    assert page.order[-1] == "session-report-data"


def test_sparse_summary_still_renders() -> None:
    page = Page(render_session_report({"session": {"id": 1}}))
    assert "trials on this dataset" in page.text("integrity")
    assert "no pick" in page.text("holdout-status")


def test_text_is_escaped(page: Page) -> None:
    assert HOSTILE_GOAL not in page.html
    assert HOSTILE_NAME not in page.html
    assert page.text("goal") == " ".join(HOSTILE_GOAL.split())
    assert HOSTILE_NAME in page.text("survivor-table")
    assert not any(t.strip().startswith("alert(") for _, t in page.scripts)
    assert all(tag != "img" for tag, _ in page.tags)
    data = next(t for a, t in page.scripts if a.get("id") == "session-report-data")
    assert json.loads(data)["session"]["goal"] == HOSTILE_GOAL


def test_page_needs_no_network(page: Page) -> None:
    remote = ("http://", "https://", "//")
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value.startswith(remote), (tag, name, value)
    assert "cdn.plot.ly" not in page.html
    assert any("Plotly" in text and len(text) > 1_000_000 for _, text in page.scripts)


def test_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = _summary()
    path = write_session_report(summary, tmp_path / "out" / "session-7.html")
    assert path == tmp_path / "out" / "session-7.html"
    assert path.read_text(encoding="utf-8") == render_session_report(summary)
    assert [p.name for p in path.parent.iterdir()] == ["session-7.html"]

    path.write_text("previous report", encoding="utf-8")

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_session_report(summary, path)
    assert path.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in path.parent.iterdir()] == ["session-7.html"]
