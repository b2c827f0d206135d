"""The backtest tearsheet: sections, warnings, escaping, figure data, offline, atomic writes."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.backtest.runner import BacktestResult
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.tearsheet import (
    MAX_PLOT_POINTS,
    TRADE_ROWS,
    _thin,
    render_backtest_report,
)

MOMENTUM = {
    "data": "sp500-stocks",
    "signal": {"expr": "$close/Ref($close,120)-1"},
    "portfolio": {"k": 5},
    "fills": "next_close",
}
HOSTILE_NAME = "<script>alert('name')</script>"
VOID = {"br", "meta", "link", "img", "input", "hr", "col", "area", "base", "wbr"}


class Page(HTMLParser):
    """Tags, ids, scripts and the text inside each element that has an id."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text_by_id: dict[str, str] = {}
        self.order: list[str] = []
        self._stack: list[tuple[str, str | None]] = []
        self._script: dict[str, str | None] | None = None
        self._script_text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.order.append(str(attributes["id"]))
        if tag == "script":
            self._script, self._script_text = attributes, []
        elif tag not in VOID:
            self._stack.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._script_text)))
            self._script = None
            return
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_text.append(data)
            return
        for _, element_id in self._stack:
            if element_id:
                self.text_by_id[element_id] = self.text_by_id.get(element_id, "") + data + " "

    def text(self, element_id: str) -> str:
        return " ".join(self.text_by_id.get(element_id, "").split())

    def ids(self) -> set[str]:
        return set(self.order)


def _run(ws: Workspace, **changes: Any) -> BacktestResult:
    return run_backtest(ws, StrategySpec.from_dict({**MOMENTUM, **changes}), record=False)


@pytest.fixture(scope="module")
def momentum(shared_workspace: Workspace) -> BacktestResult:
    return dataclasses.replace(_run(shared_workspace), run_id=42)


@pytest.fixture(scope="module")
def same_bar(shared_workspace: Workspace) -> BacktestResult:
    return _run(shared_workspace, name=HOSTILE_NAME, fills="same_close", start="2021-01-01")


@pytest.fixture(scope="module")
def written(momentum: BacktestResult, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("report") / "nested" / "dir" / "report.html"
    extra = [("Validation <suite>", '<p id="validation-body">robust <b>enough</b></p>')]
    return path, render_backtest_report(momentum, path, extra_sections=extra)


@pytest.fixture(scope="module")
def page(written: tuple[Path, str]) -> Page:
    return Page(written[1])


@pytest.fixture(scope="module")
def same_bar_page(same_bar: BacktestResult) -> Page:
    return Page(render_backtest_report(same_bar))


def _traces(page: Page, figure_id: str) -> list[dict[str, Any]]:
    """The traces passed to Plotly.newPlot for the figure drawn in ``figure_id``."""
    for _, text in page.scripts:
        if "Plotly.newPlot(" in text and f'"{figure_id}"' in text:
            start = text.index("[", text.index(f'"{figure_id}"'))
            traces, _ = json.JSONDecoder().raw_decode(text, start)
            return traces
    raise AssertionError(f"no figure {figure_id}")


def _values(data: Any) -> np.ndarray:
    """Plotly JSON arrays are plain lists or base64 typed arrays."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return np.asarray(data)


def test_every_section_and_figure_is_present(page: Page) -> None:
    sections = {
        "caveats", "notes", "provenance", "metrics", "headline-metrics", "equity", "drawdown",
        "rolling-sharpe", "monthly-returns", "trades", "fills", "round-trip-summary", "costs",
        "cost-breakdown", "assumptions", "spec",
    }  # fmt: skip
    figures = {
        "fig-equity", "fig-drawdown", "fig-rolling-sharpe", "fig-monthly-returns",
        "fig-round-trips", "fig-costs", "fig-cumulative-costs",
    }  # fmt: skip
    assert sections <= page.ids()
    assert figures <= page.ids()
    heatmap = _traces(page, "fig-monthly-returns")[0]
    assert heatmap["type"] == "heatmap"
    assert heatmap["x"][0] == "Jan"
    cost_bars = _traces(page, "fig-costs")[0]
    assert cost_bars["type"] == "bar"
    assert {"commission", "spread", "slippage", "impact"} <= set(cost_bars["x"])


def test_caveats_and_notes_are_shown(page: Page, momentum: BacktestResult) -> None:
    survivorship = next(c for c in momentum.dataset.caveats if "survivorship" in c)
    assert survivorship in page.text("caveats")
    for note in momentum.assumptions["notes"]:
        assert note in page.text("notes")
    assert page.order.index("caveats") < page.order.index("metrics")


def test_assumptions_are_in_plain_words(page: Page) -> None:
    text = page.text("assumptions")
    assert "Orders decided after a bar's close fill at the next bar's close." in text
    assert "Market impact NOT modelled: the dataset has no volume." in text
    assert "rebalanced at the close of the first bar of each month" in text
    assert "No stop-loss, take-profit or trailing stop." in text


def test_provenance_spec_and_hash(page: Page, momentum: BacktestResult) -> None:
    run = page.text("provenance")
    assert "run id 42" in run
    assert "vectorized" in run
    assert momentum.spec_hash in run
    assert "1990-06-22 to 2022-12-28" in run
    spec = page.text("spec")
    assert momentum.spec_hash in spec
    assert "expr: $close/Ref($close,120)-1" in spec
    data = next(t for a, t in page.scripts if a.get("id") == "backtest-report-data")
    assert json.loads(data)["spec_hash"] == momentum.spec_hash


def test_metrics_are_formatted(page: Page, momentum: BacktestResult) -> None:
    text = page.text("metrics")
    m = momentum.metrics
    assert f"max drawdown {100 * m['max_drawdown']:.2f}%" in text
    assert f"Sharpe ratio {m['sharpe_ratio']:.2f}" in text
    assert f"total costs {m['total_costs']:,.2f}" in text
    assert f"closed round trips {m['n_round_trips']:,.0f}" in text


def test_optimistic_fills_show_the_banner(same_bar_page: Page, page: Page) -> None:
    assert "optimistic-banner" in same_bar_page.ids()
    assert same_bar_page.text("optimistic-banner").startswith("OPTIMISTIC: same-bar fills")
    assert same_bar_page.order[0] == "optimistic-banner"
    assert "optimistic-banner" not in page.ids()
    assert "OPTIMISTIC" not in page.text("provenance") + page.text("assumptions")


def test_user_text_is_escaped(same_bar_page: Page, same_bar: BacktestResult) -> None:
    assert same_bar.spec.name == HOSTILE_NAME
    # the name is text wherever it appears, never a script element of its own
    assert not [t for _, t in same_bar_page.scripts if t.strip().startswith("alert(")]
    assert HOSTILE_NAME not in same_bar_page.html
    assert same_bar_page.text("title") == HOSTILE_NAME
    assert HOSTILE_NAME in same_bar_page.text("spec")


def test_equity_figure_holds_the_equity(page: Page, momentum: BacktestResult) -> None:
    equity = momentum.simulation.equity
    assert len(equity) > MAX_PLOT_POINTS  # long enough to be thinned
    strategy, benchmark = _traces(page, "fig-equity")
    y = _values(strategy["y"])
    assert len(y) <= MAX_PLOT_POINTS
    assert y[-1] == momentum.simulation.final_value
    assert y[0] == equity.iloc[0]
    assert y.max() == equity.max()
    assert strategy["x"][-1] == f"{equity.index[-1]:%Y-%m-%d}"
    assert benchmark["name"].startswith("benchmark")
    assert "thinned for plotting" in page.text("equity")


def test_page_needs_no_network(written: tuple[Path, str]) -> None:
    page = Page(written[1])
    remote = ("http://", "https://", "//")
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value.startswith(remote), (tag, name, value)
    assert any("Plotly" in text and len(text) > 1_000_000 for _, text in page.scripts)


def test_trades_are_bounded(page: Page, momentum: BacktestResult) -> None:
    trades = momentum.simulation.trades
    assert len(trades) > 2 * TRADE_ROWS
    text = page.text("fills")
    assert text.count(" order ") == 2 * TRADE_ROWS
    assert f"{len(trades) - 2 * TRADE_ROWS:,} fills not shown" in text
    assert f"{len(trades):,} fills in all" in page.text("trades")


def test_written_atomically(
    written: tuple[Path, str],
    tmp_path: Path,
    same_bar: BacktestResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, html = written
    assert path.read_text(encoding="utf-8") == html
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]

    target = tmp_path / "report.html"
    target.write_text("previous report", encoding="utf-8")

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        render_backtest_report(same_bar, target)
    assert target.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_extra_sections_are_appended(page: Page, written: tuple[Path, str]) -> None:
    assert "Validation <suite>" in page.text("extra-1")
    assert "validation-body" in page.ids()
    assert "&lt;suite&gt;" in written[1]
    assert page.order.index("extra-1") > page.order.index("spec")


def test_run_without_trades_or_benchmark(shared_workspace: Workspace) -> None:
    result = _run(
        shared_workspace,
        start="2022-01-01",
        portfolio={"method": "threshold", "entry_long": 1e9},
    )
    assert result.simulation.trades.empty
    page = Page(render_backtest_report(dataclasses.replace(result, benchmark=None)))
    assert "0 fills in all" in page.text("trades")
    assert "fig-round-trips" not in page.ids()
    assert "fig-equity" in page.ids()


def test_thin_keeps_ends_and_extremes() -> None:
    index = pd.date_range("2000-01-01", periods=20_001, freq="D", tz="UTC")
    values = np.sin(np.arange(index.size) / 300.0)
    values[12_345] = 5.0
    values[777] = -5.0
    series = pd.Series(values, index=index)
    thin = _thin(series, max_points=1_000)
    assert len(thin) <= 1_000
    assert thin.index[0] == index[0]
    assert thin.index[-1] == index[-1]
    assert thin.max() == 5.0
    assert thin.min() == -5.0
    assert thin.index.is_monotonic_increasing
    short = series.iloc[:500]
    assert _thin(short, max_points=1_000) is short
