"""The tearsheet's risk section: figures equal the risk functions, factor sets by overlap."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.backtest.runner import BacktestResult
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.tearsheet import render_backtest_report
from alphaloop.data import factor_returns
from alphaloop.reports import format_number
from alphaloop.risk import (
    backtest_var,
    estimate_var,
    factor_set_exposure,
    replay_scenarios,
    rolling_var_forecasts,
)

SPEC = {
    "name": "momentum-risk-section",
    "data": "sp500-stocks",
    "start": "2013-06-01",
    "end": "2016-12-31",
    "signal": {"expr": "Ref($close, 21) / Ref($close, 126) - 1"},
    "portfolio": {"k": 5},
    "fills": "next_close",
}


class Tables(HTMLParser):
    """Rows of cell texts of each element with an id (tables and paragraphs)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[list[str]]] = {}
        self.text: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.feed(html)

    def _ids(self) -> list[str]:
        return [i for _, i in self._open if i]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "meta", "link"):
            return
        self._open.append((tag, dict(attrs).get("id")))
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            for i in self._ids():
                self.rows.setdefault(i, []).append(self._row)
            self._row = None
        for k in range(len(self._open) - 1, -1, -1):
            if self._open[k][0] == tag:
                del self._open[k:]
                break

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._open and self._open[-1][0] != "script":
            for i in self._ids():
                self.text[i] = self.text.get(i, "") + data

    def said(self, element_id: str) -> str:
        return " ".join(self.text.get(element_id, "").split())


def _pct(x: float) -> str:
    return f"{100 * x:,.2f}%"


@pytest.fixture(scope="module")
def result(shared_workspace: Workspace) -> BacktestResult:
    return run_backtest(shared_workspace, StrategySpec.from_dict(SPEC), record=False)


@pytest.fixture(scope="module")
def page(result: BacktestResult) -> Tables:
    return Tables(render_backtest_report(result))


def test_var_table_equals_estimate_var(result: BacktestResult, page: Tables) -> None:
    returns = result.simulation.returns.astype(float)
    rows = {r[0]: r[1:] for r in page.rows["risk-var"][1:]}
    assert list(rows) == [
        "historical",
        "Student-t",
        "Cornish-Fisher",
        "filtered historical (GARCH)",
    ]
    for label, method in (("historical", "historical"), ("Student-t", "student_t"),
                          ("Cornish-Fisher", "cornish_fisher"),
                          ("filtered historical (GARCH)", "filtered_historical")):  # fmt: skip
        cells = []
        for c in (0.95, 0.99):
            est = estimate_var(returns, confidence=c, method=method)  # type: ignore[arg-type]
            cells += [_pct(est.var), _pct(est.cvar)]
        assert rows[label] == cells


def test_var_backtest_rows_equal_backtest_var(result: BacktestResult, page: Tables) -> None:
    returns = result.simulation.returns.astype(float)
    window = min(250, len(returns) // 2)
    rows = page.rows["risk-var-backtest"][1:]
    assert [r[0] for r in rows] == ["95%", "99%"]
    for row, c in zip(rows, (0.95, 0.99), strict=True):
        f = rolling_var_forecasts(returns, window=window, confidence=c)
        bt = backtest_var(returns, f["var"], c)
        assert row[1] == f"{bt.n_obs:,}"
        assert row[2] == f"{bt.n_exceptions:,}"
        assert row[3] == f"{(1 - c) * bt.n_obs:,.1f}"
        assert row[5] == f"{bt.kupiec.p_value:.3f}"
        assert row[6] == f"{bt.independence.p_value:.3f}"
        assert row[7] == f"{bt.conditional_coverage.p_value:.3f}"


def test_crisis_windows_inside_the_span(result: BacktestResult, page: Tables) -> None:
    stress = replay_scenarios(result.simulation.returns.astype(float))
    rows = page.rows["risk-scenarios"][1:]
    assert [r[0] for r in rows] == [r.name for r in stress.results] == ["china-2015"]
    assert rows[0][2] == _pct(stress.results[0].pnl)
    assert "gfc-2008" in page.said("risk-scenarios-skipped")


def test_factor_exposures_by_overlap(result: BacktestResult, page: Tables) -> None:
    returns = result.simulation.returns.astype(float)
    market = factor_set_exposure(returns, factor_returns("market"))
    assert market.exposure is not None
    rows = {r[0]: r[1:] for r in page.rows["risk-exposure-market"][1:]}
    beta, t = market.exposure.betas["market"], market.exposure.beta_t["market"]
    assert rows["beta: market"] == [format_number(beta, 3), format_number(t, 3)]
    assert rows["R²"][0] == format_number(market.exposure.r_squared, 3)
    said = page.said("risk-exposure-market")
    assert f"{market.n_obs:,} shared daily observations" in said
    etf = page.said("risk-exposure-etf")
    assert "shared daily observations" in etf
    assert "MTUM" in " ".join(r[0] for r in page.rows["risk-exposure-etf"])
    ff = factor_set_exposure(returns, factor_returns("ff"))
    assert f"{ff.n_obs:,} shared monthly observations" in page.said("risk-exposure-ff")
    assert 36 <= ff.n_obs <= 43  # whole months of mid-2013 .. 2016


def test_the_section_says_when_no_factor_data_overlaps(shared_workspace: Workspace) -> None:
    spec = StrategySpec.from_dict({**SPEC, "start": "1995-01-01", "end": "1999-12-31"})
    page = Tables(render_backtest_report(run_backtest(shared_workspace, spec, record=False)))
    etf = page.said("risk-exposure-etf")
    assert re.search(r"No regression: no overlap: the factors cover 2014-\d\d-\d\d", etf)
    assert "shared daily observations" in page.said("risk-exposure-market")
    assert "ltcm-1998" in [r[0] for r in page.rows["risk-scenarios"][1:]]


def test_the_section_sits_in_the_page(page: Tables, result: BacktestResult) -> None:
    html: Any = render_backtest_report(result)
    assert html.index('<section id="monthly-returns">') < html.index('<section id="risk">')
    assert html.index('<section id="risk">') < html.index('<section id="trades">')
    assert '<a href="#risk">Risk</a>' in html
    assert 'id="fig-risk-var-backtest"' in html
