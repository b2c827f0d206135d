"""Library runs with missing fields, the time-series mode and name resolution on bundled data."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.factors import analyze_dataset
from alphaloop.cli import main
from alphaloop.factors.analysis import FactorAnalysisError
from alphaloop.factors.library import UnknownLibraryError
from alphaloop.factors.report_pages import time_series_lines, write_report


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("factor-service") / "ws")


def test_alpha158_on_ohlcv_without_vwap_runs_the_rest(ws: Workspace, tmp_path: Path) -> None:
    result = analyze_dataset(
        ws.data, "alpha158", "sp500-ohlcv", start="2012-01-01", end="2014-12-31",
        library_root=ws.root,
    )  # fmt: skip
    assert len(result.reports) == 157
    assert "VWAP0" not in result.reports
    assert result.selection.skipped == {"VWAP0": ("vwap",)}
    doc = result.to_dict()
    assert doc["skipped_summary"] == ["1 factor skipped: needs $vwap (not in dataset)"]
    assert doc["factors_skipped"] == {"VWAP0": ["$vwap"]}
    assert doc["n_factors_tested"] == 157
    # one asset: every factor is analyzed over time, and the p-values still adjust
    assert doc["analysis_mode"] == "time-series"
    assert doc["market"] == "none (not used in the time-series mode)"
    assert doc["multiple_testing"]["n_tests"] == 157
    assert "pooled time-series rank IC" in doc["multiple_testing"]["method"]
    html = write_report(result, tmp_path / "lib.html").read_text(encoding="utf-8")
    assert "1 factor skipped: needs $vwap (not in dataset)" in html
    assert "157 factors were tested" in html
    assert "Time-series analysis" in html


def test_the_vwap_proxy_is_labelled_in_every_result(ws: Workspace) -> None:
    result = analyze_dataset(
        ws.data, "alpha158", "sp500-ohlcv", start="2014-01-01", end="2014-12-31",
        field_proxies=("vwap",),
    )  # fmt: skip
    assert len(result.reports) == 158
    doc = result.to_dict()
    assert doc["skipped_summary"] == []
    assert doc["factors_proxied"] == {"VWAP0": ["$vwap"]}
    assert doc["field_proxies"]["vwap"]["formula"] == "($high+$low+$close)/3"
    proxy_caveats = [c for c in doc["caveats"] if c.startswith("proxy: $vwap")]
    assert len(proxy_caveats) == 1
    assert all(proxy_caveats[0] in r.caveats for r in result.reports.values())


def test_a_single_asset_expression_is_analyzed_over_time(ws: Workspace, tmp_path: Path) -> None:
    result = analyze_dataset(
        ws.data, "Ref($close, 1) / Ref($close, 21) - 1", "sp500-ohlcv", start="2010-01-01"
    )
    doc = result.to_dict()
    assert doc["analysis_mode"] == "time-series"
    assert doc["analysis_mode_reason"].startswith("auto: a median of 1 asset")
    assert doc["time_series"]["pooled"]["n_bars"] > 2000
    assert doc["ic_mean"] is None
    lines = time_series_lines(doc)
    assert lines[0].startswith("time-series analysis: auto: a median of 1 asset")
    spx = doc["time_series"]["assets"]["SP500"]
    assert f"({spx['n_hits']:,} of {spx['n_signed']:,}; chance" in lines[2]
    assert lines[-1].startswith("not shown in this mode")
    html = write_report(result, tmp_path / "one.html").read_text(encoding="utf-8")
    assert 'id="ts-assets"' in html
    assert "quantile returns and the top-minus-bottom spread" in html
    with pytest.raises(FactorAnalysisError, match="needs at least 5 assets per period"):
        analyze_dataset(ws.data, "$close", "sp500-ohlcv", analysis_mode="cross-section")


def test_a_wide_dataset_stays_cross_sectional(ws: Workspace) -> None:
    result = analyze_dataset(
        ws.data, "Ref($close, 1) / Ref($close, 21) - 1", "sp500-stocks", start="2020-01-01",
        known=[],
    )  # fmt: skip
    doc = result.to_dict()
    assert doc["analysis_mode"] == "cross-section"
    assert doc["time_series"] is None
    assert doc["rank_ic_mean"] is not None
    assert time_series_lines(doc) == []


def test_a_mistyped_library_name_is_refused_before_any_data_is_read(ws: Workspace) -> None:
    with pytest.raises(UnknownLibraryError, match="did you mean 'alpha158'"):
        analyze_dataset(ws.data, "alpha185", "no-such-dataset", library_root=ws.root)


def test_the_command_line_shows_the_library_errors(
    capsys: pytest.CaptureFixture[str], ws: Workspace, tmp_path: Path
) -> None:
    code = main(["--workspace", str(ws.root), "factor", "analyze", "alpha185", "--data", "x"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown factor library 'alpha185'; did you mean 'alpha158'? known: alpha158" in err
    peek = tmp_path / "peek.yaml"
    peek.write_text("name: peek\nfactors:\n  FUT: Ref($close, -1) / $close - 1\n")
    code = main(["--workspace", str(ws.root), "factor", "library", "add", str(peek)])
    err = capsys.readouterr().err
    assert code == 2
    assert "factor 'FUT' reads the future: Ref($close, -1) looks 1 bar ahead" in err
    assert not (ws.root / "libraries" / "peek.yaml").exists()
