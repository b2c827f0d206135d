"""analyze_factor end to end on bundled data, its JSON form, and the HTML tearsheet."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.panel import Panel
from alphaloop.factors.analysis import (
    FactorAnalysisError,
    FactorReport,
    analyze_factor,
    forward_returns,
    information_coefficient,
    render_tearsheet,
    simple_returns,
    usable_mask,
)

FIGURE_IDS = (
    "fig-ic",
    "fig-ic-histogram",
    "fig-ic-decay",
    "fig-quantile-means",
    "fig-cumulative",
    "fig-turnover",
)


@dataclass
class Data:
    stocks: Panel
    momentum: np.ndarray
    market: pd.Series
    etfs: pd.DataFrame
    fama_french: pd.DataFrame
    caveats: tuple[str, ...]
    report: FactorReport  # horizon 5, market + Fama-French, caveats


def _momentum(close: np.ndarray, window: int = 20) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    out[window:] = close[window:] / close[:-window] - 1.0
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    ws = Workspace(tmp_path_factory.mktemp("report") / "ws")
    stocks = ws.data.load("sp500-stocks")
    market = simple_returns(ws.data.load("sp500-index").frame("close")["SP500"])
    etfs = simple_returns(ws.data.load("factor-etfs").frame("close"))
    ff = ws.data.load("fama-french").frame("return")[["MKT_RF", "SMB", "HML"]]
    caveats = ws.data.info("sp500-stocks").caveats
    ws.close()
    momentum = _momentum(stocks["close"])
    report = analyze_factor(
        momentum,
        stocks["close"],
        index=stocks.index,
        assets=stocks.assets,
        horizon=5,
        market=market,
        known_factors=ff,
        caveats=caveats,
    )
    return Data(stocks, momentum, market, etfs, ff, caveats, report)


def test_to_dict_is_json_ready_with_the_promised_keys(data: Data):
    out = data.report.to_dict()
    json.dumps(out, allow_nan=False)
    for key in (
        "ic_mean", "rank_ic_mean", "icir", "rank_icir", "ic_std", "t_stat", "t_stat_hac",
        "n_periods", "horizon", "ic_decay", "turnover", "quantile_returns", "orthogonality",
        "regimes", "caveats",
    ):  # fmt: skip
        assert key in out, key
    assert set(out["ic_decay"]) == {"1", "5", "20"}
    assert set(out["ic_decay"]["20"]) >= {"ic_mean", "rank_ic_mean"}
    assert set(out["quantile_returns"]) >= {"1", "2", "3", "4", "5", "spread", "monotonicity"}
    assert set(out["turnover"]["rank_autocorrelation"]) == {"1", "5"}
    assert out["caveats"] == list(data.caveats)


def test_summary_numbers_are_those_of_the_series(data: Data):
    r = data.report
    close = data.stocks["close"]
    fwd = forward_returns(close, 5)
    mask = usable_mask(data.momentum, fwd, min_assets=5)
    rank_ic = information_coefficient(data.momentum, fwd, "spearman", membership=mask)
    assert r.rank_ic_mean == pytest.approx(np.nanmean(rank_ic.to_numpy()), abs=1e-14)
    assert r.ic_mean == pytest.approx(r.ic.mean(), abs=1e-14)
    assert r.icir == pytest.approx(r.ic.mean() / r.ic.std())
    assert r.ic_summary.hac_lags >= 4  # at least horizon - 1
    assert r.ic_decay[5].rank_ic_mean == pytest.approx(r.rank_ic_mean)
    # every calendar period is either analyzed or counted as skipped
    assert r.n_periods + sum(r.n_skipped.values()) == data.stocks.n_times
    assert r.n_skipped["beyond_data"] == 5
    assert r.n_skipped["too_few_assets"] == 20  # the 20-day momentum warm-up
    spread = r.quantile_returns.spread
    assert r.quantile_returns.spread_mean == pytest.approx(spread.mean())


def test_orthogonality_on_monthly_fama_french_and_regimes(data: Data):
    orth = data.report.orthogonality
    assert orth is not None
    assert orth.frequency == "monthly"
    assert set(orth.betas) == {"market", "MKT_RF", "SMB", "HML"}
    # February 1990 .. November 2018: the first month has no data before it
    assert orth.n == 346
    assert orth.alpha_annualized == pytest.approx(orth.alpha * 12)
    regimes = data.report.regimes
    assert regimes is not None
    assert set(regimes.volatility) == {"low", "mid", "high"}
    assert set(regimes.trend) == {"up", "sideways", "down"}
    per_tercile = [row["n_periods"] for row in regimes.volatility.values()]
    assert max(per_tercile) - min(per_tercile) <= 1  # terciles of the analyzed periods
    # the market's first return is at the second date; the trend window needs 63 of them
    assert regimes.n_unclassified == {"volatility": 1, "trend": 63 - 20}
    classified = sum(row["n_periods"] for row in regimes.trend.values())
    assert classified + regimes.n_unclassified["trend"] == data.report.n_periods


def test_daily_factor_etfs_as_known_factors(data: Data):
    recent = data.stocks.slice("2014-01-01")
    report = analyze_factor(
        _momentum(recent["close"]),
        recent["close"],
        index=recent.index,
        assets=recent.assets,
        market=data.market,
        known_factors=data.etfs,
        decay_horizons=(1,),
    )
    orth = report.orthogonality
    assert orth is not None
    assert orth.frequency == "daily"
    assert orth.periods_per_year == 252
    assert set(orth.betas) == {"market", "MTUM", "QUAL", "SIZE", "USMV", "VLUE"}
    assert orth.n > 2000


def test_membership_equals_analyzing_the_members_only(data: Data):
    close = data.stocks["close"][-1500:]
    index = data.stocks.index[-1500:]
    factor = _momentum(close)
    members = np.ones(close.shape, dtype=bool)
    members[:, :2] = False
    members[:300, 2:16] = False  # 4 members only: those periods are skipped
    masked = analyze_factor(
        factor, close, index=index, assets=data.stocks.assets, membership=members,
        decay_horizons=(1,),
    )  # fmt: skip
    subset = analyze_factor(
        factor[:, 2:], close[:, 2:], index=index, assets=data.stocks.assets[2:],
        decay_horizons=(1,),
    )  # fmt: skip
    assert masked.n_skipped["too_few_assets"] == 300
    later = index[300:]
    assert np.allclose(masked.ic[later], subset.ic[later], equal_nan=True)
    assert masked.ic.iloc[:300].isna().all()
    assert subset.ic.iloc[20:300].notna().all()


def test_bad_parameters_are_refused(data: Data):
    close = data.stocks["close"][:100]
    kwargs = {"index": data.stocks.index[:100], "assets": data.stocks.assets}
    with pytest.raises(FactorAnalysisError, match="min_assets"):
        analyze_factor(close, close, quantiles=5, min_assets=3, **kwargs)
    with pytest.raises(FactorAnalysisError, match="shape"):
        analyze_factor(close[:, :5], close, **kwargs)


# ---------------------------------------------------------------- tearsheet

VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "wbr", "source"}


class StrictParser(HTMLParser):
    """Checks that every element is closed in order; collects ids and caveat text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.caveat_text: list[str] = []
        self.json_text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id"):
            self.ids.append(str(attr["id"]))
        if tag not in VOID:
            self.stack.append(tag)
            self._in.append(str(attr.get("id", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        self._in.pop()

    def handle_data(self, data: str) -> None:
        if "caveats" in self._in:
            self.caveat_text.append(data)
        if self._in and self._in[-1] == "factor-report-data":
            self.json_text.append(data)


@pytest.fixture(scope="module")
def tearsheet(data: Data, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("sheets") / "nested" / "momentum.html"
    written = render_tearsheet(data.report, path, title="20-day momentum")
    return written, written.read_text(encoding="utf-8")


def test_tearsheet_is_written_atomically(tearsheet: tuple[Path, str]):
    path, html = tearsheet
    assert path.exists()
    assert html.startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["momentum.html"]  # no temp file left


def test_tearsheet_is_well_formed_html_with_every_figure(tearsheet: tuple[Path, str]):
    _, html = tearsheet
    parser = StrictParser()
    parser.feed(html)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    assert len(parser.ids) == len(set(parser.ids))
    for fig in FIGURE_IDS:
        assert fig in parser.ids
    assert html.count("Plotly.newPlot(") == len(FIGURE_IDS)


def test_tearsheet_works_offline(tearsheet: tuple[Path, str]):
    _, html = tearsheet
    assert "cdn.plot.ly" not in html
    assert 'src="http' not in html
    assert html.count("<script") == len(FIGURE_IDS) + 2  # plotly.js, figures, data


def test_tearsheet_shows_caveats_numbers_and_definitions(data: Data, tearsheet: tuple[Path, str]):
    _, html = tearsheet
    parser = StrictParser()
    parser.feed(html)
    caveats = "".join(parser.caveat_text)
    for caveat in data.caveats:
        assert caveat in caveats
    assert json.loads("".join(parser.json_text)) == json.loads(json.dumps(data.report.to_dict()))
    assert f"{data.report.ic_mean:.4f}" in html
    assert f"{data.report.rank_icir:.4f}" in html
    assert "NOT annualized" in html
    assert "close[t+h] / close[t] - 1" in html


def test_tearsheet_escapes_caveat_text(data: Data, tmp_path: Path):
    hostile = '</script><b id="x">bold</b> & "quotes"'
    report = dataclasses.replace(data.report, caveats=(hostile,))
    html = render_tearsheet(report, tmp_path / "t.html").read_text(encoding="utf-8")
    assert '<b id="x">' not in html
    parser = StrictParser()
    parser.feed(html)
    assert parser.errors == []
    assert hostile in "".join(parser.caveat_text)
    assert json.loads("".join(parser.json_text))["caveats"] == [hostile]
