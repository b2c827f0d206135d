"""How factor reports show numbers, flags and chart titles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app.factors import AnalysisResult
from alphaloop.factors.analysis import analyze_factor, render_tearsheet
from alphaloop.factors.library import select_factors
from alphaloop.factors.report_pages import write_report
from alphaloop.reports.html import (
    NA,
    chart_layout,
    format_cell,
    format_flag,
    format_number,
    format_percent,
)


@pytest.mark.parametrize(
    ("value", "kwargs", "text"),
    [
        (0.0031623, {}, "0.003162"),
        (0.6014, {"sig": 3}, "0.601"),
        (2.1749, {"sig": 3}, "2.17"),
        (1992.4, {}, "1,992"),
        (1234567.0, {"sig": 3}, "1,234,567"),
        (9.99996, {}, "10.00"),
        (-0.0412, {"sig": 2}, "-0.041"),
        (0.0000412, {}, "4.120e-05"),
        (0.0, {}, "0"),
        (0.12345678, {"decimals": 4}, "0.1235"),
        (7, {}, "7"),
        (12345, {}, "12,345"),
        (float("nan"), {}, NA),
        (None, {}, NA),
        (float("inf"), {}, "∞"),
    ],
)
def test_format_number(value: object, kwargs: dict, text: str) -> None:
    assert format_number(value, **kwargs) == text


def test_booleans_read_yes_or_no_never_true_or_false() -> None:
    assert format_flag(True) == "yes"
    assert format_flag(False) == "no"
    assert format_flag(None) == NA
    assert format_number(True) == "yes"  # a bool is not shown as 1 or True
    assert format_cell(False) == "no"
    assert format_cell(np.float64(0.25)) == "0.2500"
    assert format_cell("text") == "text"


def test_percent_signs_only_when_asked() -> None:
    assert format_percent(0.1534) == "15.3%"
    assert format_percent(0.1534, signed=True) == "+15.3%"
    assert format_percent(-0.05, signed=True) == "-5.00%"
    assert format_percent(0.0, signed=True) == "0%"
    assert format_percent(None) == NA


def test_chart_titles_sit_below_the_toolbar_and_wrap_to_the_width() -> None:
    title = "Growth of 1 by quantile (1-period returns, rebalanced every period, no costs)"
    half = chart_layout(title, width="half", yaxis_type="log", margin={"b": 60})
    lines = half["title"]["text"].split("<br>")
    assert len(lines) == 2
    assert all(len(line) <= 50 for line in lines)
    assert " ".join(lines) == title
    assert half["title"]["yref"] == "container"
    assert half["title"]["pad"]["t"] >= 30
    assert half["margin"]["t"] >= half["title"]["pad"]["t"] + 18 * len(lines)
    assert half["margin"]["b"] == 60  # merged, not replaced
    assert half["margin"]["l"] == 60
    assert half["yaxis_type"] == "log"
    full = chart_layout(title)
    assert "<br>" not in full["title"]["text"]
    assert full["margin"]["t"] < half["margin"]["t"]


# ------------------------------------------------------------ rendered pages


def _panel(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, (n, k)), axis=0))
    factor = np.full((n, k), np.nan)
    factor[20:] = close[20:] / close[:-20] - 1
    return factor, close, pd.bdate_range("2015-01-01", periods=n, tz="UTC")


def _visible(html: str) -> str:
    """The page's text outside scripts and styles."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def _layouts(html: str) -> dict[str, dict]:
    calls = re.finditer(
        r'Plotly\.newPlot\(\s*"([^"]+)",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{', html, re.S
    )
    return {m.group(1): json.loads(m.group(3)) for m in calls}


@pytest.fixture(scope="module")
def cross_section_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    factor, close, idx = _panel(1, 700, 12)
    market = pd.Series(np.nanmean(close[1:] / close[:-1] - 1, axis=1), index=idx[1:])
    report = analyze_factor(factor, close, index=idx, assets=[f"S{j}" for j in range(12)],
                            market=market)  # fmt: skip
    assert report.regimes is not None
    path = tmp_path_factory.mktemp("fmt") / "cs.html"
    return render_tearsheet(report, path).read_text(encoding="utf-8")


def test_tables_show_no_raw_booleans(cross_section_html: str) -> None:
    text = _visible(cross_section_html)
    assert not re.search(r"\b(True|False)\b", text)
    assert re.search(r"cut points annualized\s+yes", text)


def test_volatility_has_no_sign_but_trend_thresholds_do(cross_section_html: str) -> None:
    text = _visible(cross_section_html)
    match = re.search(r"volatility cut points \(low / high\)\s+(\S+) / (\S+)", text)
    assert match is not None
    for cut in match.groups():
        assert re.fullmatch(r"\d[\d.,]*%", cut), cut
    assert re.search(r"trend thresholds \(up / down\)\s+\+5\.00% / -5\.00%", text)


def test_table_numbers_have_few_significant_digits(cross_section_html: str) -> None:
    cells = re.findall(r"<td>([^<]*)</td>", cross_section_html)
    assert len(cells) > 50
    long = [c for c in cells if re.search(r"\d\.\d{7,}", c)]
    assert long == []


def test_every_chart_title_clears_the_toolbar(cross_section_html: str) -> None:
    layouts = _layouts(cross_section_html)
    assert len(layouts) == 6
    for fid, layout in layouts.items():
        title = layout["title"]
        lines = title["text"].split("<br>")
        assert title["yref"] == "container", fid
        assert title["xanchor"] == "left", fid
        assert title["pad"]["t"] >= 30, fid
        assert layout["margin"]["t"] >= title["pad"]["t"] + 18 * len(lines), fid
        assert max(len(line) for line in lines) <= 100, fid
    cumulative = layouts["fig-cumulative"]["title"]["text"]
    assert cumulative.count("<br>") == 1
    assert layouts["fig-cumulative"]["yaxis"]["type"] == "log"


def test_library_page_lists_skipped_and_proxied_factors(tmp_path: Path) -> None:
    factor, close, idx = _panel(2, 400, 8)
    factors = {"MOM": "$close / Ref($close, 20) - 1", "V": "$vwap / $close", "O": "$open"}
    selection = select_factors(factors, ["close", "high", "low"], proxies=["vwap"], library="t")
    assert selection.skipped == {"O": ("open",)}
    reports = {
        name: analyze_factor(factor * (k + 1), close, index=idx, assets=list("ABCDEFGH"))
        for k, name in enumerate(selection.factors)
    }
    result = AnalysisResult(
        "t", True, reports, "synthetic", "0" * 64, "none", (), tuple(selection.proxy_caveats()),
        "strict", selection,
    )  # fmt: skip
    doc = result.to_dict()
    assert doc["skipped_summary"] == ["1 factor skipped: needs $open (not in dataset)"]
    assert doc["factors_proxied"] == {"V": ["$vwap"]}
    html = write_report(result, tmp_path / "lib.html").read_text(encoding="utf-8")
    text = _visible(html)
    assert "1 factor skipped: needs $open (not in dataset)" in text
    assert "Not run: O." in text
    assert "V *" in text
    assert "proxy: $vwap is not in the dataset" in text
    assert not re.search(r"\b(True|False)\b", text)
    assert [c for c in re.findall(r"<td>([^<]*)</td>", html) if re.search(r"\d\.\d{7,}", c)] == []
