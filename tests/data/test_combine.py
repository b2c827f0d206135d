"""Combining datasets: calendars, names, fields, provenance, caveats and the seal."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.backtest.runner import resolve_costs
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data import CombineSource
from alphaloop.errors import (
    DataCombineError,
    DatasetNotFoundError,
    HoldoutClippedWarning,
    HoldoutError,
)
from alphaloop.execution.costs import COST_PRESETS, cost_preset

DAYS = pd.bdate_range("2020-01-01", periods=100)


def frame(
    assets: list[str], days: pd.DatetimeIndex, seed: int, ohlcv: bool = False
) -> pd.DataFrame:
    """Long rows of random-walk closes (and OHLCV when asked) for ``assets`` on ``days``."""
    rng = np.random.default_rng(seed)
    parts = []
    for i, asset in enumerate(assets):
        close = (50.0 + 10 * i) * np.cumprod(1 + 0.01 * rng.standard_normal(len(days)))
        part = pd.DataFrame({"timestamp": days.strftime("%Y-%m-%d"), "asset": asset})
        part["close"] = close.round(4)
        if ohlcv:
            part["open"] = (close * (1 + 0.001 * rng.standard_normal(len(days)))).round(4)
            part["high"] = (np.maximum(part["open"], part["close"]) * 1.01).round(4)
            part["low"] = (np.minimum(part["open"], part["close"]) * 0.99).round(4)
            part["volume"] = 1_000_000.0
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def add(ws: Workspace, tmp: Path, name: str, data: pd.DataFrame, **kw: object) -> None:
    path = tmp / f"{name}.csv"
    data.to_csv(path, index=False)
    ws.data.import_file(path, name, layout="long", **kw)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Datasets on overlapping calendars, no holdout (the seal has its own workspace)."""
    tmp = tmp_path_factory.mktemp("combine")
    workspace = Workspace(tmp / "ws", holdout_fraction=0.0)
    workspace.data._bundled_ready = True
    add(workspace, tmp, "stocks", frame(["AAA", "BBB"], DAYS, 1, ohlcv=True))
    add(workspace, tmp, "oil", frame(["OIL"], DAYS[10:], 2), asset_class="other",
        caveats=["a spot price"])  # fmt: skip
    add(workspace, tmp, "other-stocks", frame(["AAA", "CCC"], DAYS[::2], 3))
    later = pd.bdate_range("2021-01-01", periods=30)
    add(workspace, tmp, "later", frame(["LLL"], later, 4))
    hourly = pd.date_range("2020-01-01", periods=50, freq="h")
    hours = frame(["HHH"], hourly, 5)
    hours["timestamp"] = hourly.strftime("%Y-%m-%d %H:%M")
    add(workspace, tmp, "hourly", hours)
    no_close = frame(["PPP"], DAYS, 6).rename(columns={"close": "price"})
    add(workspace, tmp, "no-close", no_close)
    yield workspace
    workspace.close()


# ---------------------------------------------------------------- calendars
def test_intersect_keeps_the_bars_every_source_has(ws: Workspace) -> None:
    result = ws.data.combine("x-intersect", ["stocks", "oil"])
    panel = ws.data.load("x-intersect")
    assert list(panel.index) == list(DAYS[10:].tz_localize("UTC"))
    assert panel.assets == ("AAA", "BBB", "OIL")
    assert panel.membership.all()
    stocks = ws.data.load("stocks", start=DAYS[10])
    np.testing.assert_array_equal(panel["close"][:, :2], stocks["close"])
    oil = ws.data.load("oil")
    np.testing.assert_array_equal(panel["close"][:, 2], oil["close"][:, 0])
    # fields: the union; a field a source lacks is NaN for its assets
    assert set(panel.field_names) == {"close", "open", "high", "low", "volume"}
    assert np.isnan(panel["open"][:, 2]).all()
    assert np.isfinite(panel["open"][:, :2]).all()
    kept = {s.dataset: (s.bars, s.bars_kept) for s in result.combination.sources}
    assert kept == {"stocks": (100, 90), "oil": (90, 90)}


def test_union_leaves_gaps_unfilled_and_out_of_the_universe(ws: Workspace) -> None:
    ws.data.combine("x-union", ["stocks", "oil"], calendar="union")
    panel = ws.data.load("x-union")
    assert len(panel.index) == 100
    oil = panel.assets.index("OIL")
    assert np.isnan(panel["close"][:10, oil]).all()  # no bar of oil there: NaN, not filled
    assert not panel.membership[:10, oil].any()
    assert panel.membership[10:, oil].all()
    assert panel.membership[:, :2].all()


def test_union_calendar_is_every_bar_of_every_source(ws: Workspace) -> None:
    ws.data.combine("x-union-odd", ["oil", "other-stocks"], calendar="union")
    panel = ws.data.load("x-union-odd")
    expected = DAYS[10:].union(DAYS[::2]).tz_localize("UTC")
    assert list(panel.index) == list(expected)
    ccc = panel.assets.index("CCC")
    on_grid = panel.index.isin(DAYS[::2].tz_localize("UTC"))
    assert panel.membership[on_grid, ccc].all()
    assert not panel.membership[~on_grid, ccc].any()


# -------------------------------------------------------------------- names
def test_repeated_asset_names_are_prefixed_with_their_dataset(ws: Workspace) -> None:
    result = ws.data.combine("x-names", ["stocks", "other-stocks"])
    assert result.dataset.asset_ids == ("stocks/AAA", "BBB", "other-stocks/AAA", "CCC")
    sources = result.dataset.combined["sources"]
    assert sources[0]["assets"] == {"stocks/AAA": "AAA", "BBB": "BBB"}
    assert sources[1]["assets"] == {"other-stocks/AAA": "AAA", "CCC": "CCC"}


def test_selected_assets_keep_the_order_asked(ws: Workspace) -> None:
    result = ws.data.combine("x-select", ["stocks:BBB", CombineSource("oil")])
    assert result.dataset.asset_ids == ("BBB", "OIL")
    result = ws.data.combine("x-select2", ["stocks:BBB,AAA", "other-stocks:CCC"])
    assert result.dataset.asset_ids == ("BBB", "AAA", "CCC")  # AAA is unique here: kept


# --------------------------------------------------------------- provenance
def test_provenance_names_sources_versions_and_hashes(ws: Workspace) -> None:
    result = ws.data.combine("x-prov", ["stocks", "oil"])
    info = ws.data.info("x-prov")
    assert info.combined == result.dataset.combined
    assert info.combined["calendar"] == "intersect"
    recorded = {s["dataset"]: s for s in info.combined["sources"]}
    for name in ("stocks", "oil"):
        src = ws.data.info(name)
        assert recorded[name]["version"] == src.version
        assert recorded[name]["content_hash"] == src.content_hash
    meta = json.loads((Path(info.path) / "meta.json").read_text())
    assert meta["combined"] == info.combined
    assert info.source == "combined:stocks@v1+oil@v1(intersect)"
    assert info.to_dict()["combined"] == info.combined
    assert "combined" not in ws.data.info("stocks").to_dict()


def test_caveats_and_quality_warnings_of_every_source_are_carried(ws: Workspace) -> None:
    info = ws.data.combine("x-cav", ["stocks", "oil"]).dataset
    assert "oil: a spot price" in info.caveats
    stocks_warnings = [w.check for w in ws.data.info("stocks").quality_report.warnings]
    oil_warnings = [w.check for w in ws.data.info("oil").quality_report.warnings]
    for check in stocks_warnings:
        assert any(c.startswith(f"stocks: {check}:") for c in info.caveats), check
    for check in oil_warnings:
        assert any(c.startswith(f"oil: {check}:") for c in info.caveats), check
    assert any(c.startswith("mixed asset classes (equities: stocks; other: oil)") for c in
               info.caveats)  # fmt: skip
    assert any(c.startswith("intersect calendar: 90 bars") for c in info.caveats)


# ------------------------------------------------------------------- market
def test_mixed_classes_are_mixed_with_the_common_calendars_bars_per_year(ws: Workspace) -> None:
    info = ws.data.combine("x-market", ["stocks", "oil"]).dataset
    assert info.market.asset_class == "mixed"
    assert info.market.calendar == "sessions"
    assert info.market.periods_per_year == 252.0
    same = ws.data.combine("x-same", ["stocks", "other-stocks:CCC"]).dataset
    assert same.market.asset_class == "equities"
    given = ws.data.combine("x-ppy", ["stocks", "oil"], periods_per_year=260).dataset
    assert given.market.periods_per_year == 260.0


def test_a_mixed_dataset_costs_the_equities_preset_with_a_note(ws: Workspace) -> None:
    assert cost_preset("mixed") == COST_PRESETS["equities"]
    info = ws.data.combine("x-costs", ["stocks", "oil"]).dataset
    spec = StrategySpec.model_validate(
        {"data": "x-costs", "signal": {"expr": "$close"}, "portfolio": {"k": 1}}
    )
    costs, _, record = resolve_costs(spec, info)
    assert costs == COST_PRESETS["equities"]
    assert any("combines several asset classes" in n for n in record["notes"])


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("sources", "calendar", "error", "words"),
    [
        (["stocks", "nope"], "intersect", DatasetNotFoundError, "'nope' is not in"),
        (["stocks", "later"], "intersect", DataCombineError, "do not overlap"),
        (["stocks", "later"], "union", DataCombineError, "do not overlap"),
        (["stocks", "stocks:AAA"], "intersect", DataCombineError, "duplicate asset names"),
        (["stocks:AAA,AAA"], "intersect", DataCombineError, "duplicate asset names"),
        (["stocks", "no-close"], "intersect", DataCombineError, "has no close"),
        (["stocks", "hourly"], "intersect", DataCombineError, "different bar frequencies"),
        (["stocks:ZZZ"], "intersect", DataCombineError, "has no asset 'ZZZ'"),
        (["stocks", "oil"], "outer", DataCombineError, "not a way to combine"),
        ([], "intersect", DataCombineError, "nothing to combine"),
    ],
)
def test_bad_combinations_are_refused_with_a_hint(
    ws: Workspace, sources: list[str], calendar: str, error: type, words: str
) -> None:
    before = {i.name for i in ws.data.list()}
    with pytest.raises(error, match=words) as caught:
        ws.data.combine("x-bad", sources, calendar=calendar)
    assert caught.value.hint
    assert {i.name for i in ws.data.list()} == before  # nothing stored


def test_a_prefixed_name_that_clashes_is_refused(ws: Workspace, tmp_path: Path) -> None:
    add(ws, tmp_path, "clash", frame(["stocks/AAA", "AAA"], DAYS, 7))
    with pytest.raises(DataCombineError, match="'stocks/AAA' would name an asset"):
        ws.data.combine("x-clash", ["stocks", "clash"])


def test_a_source_cannot_be_the_combined_name(ws: Workspace) -> None:
    with pytest.raises(DataCombineError, match="one of the datasets"):
        ws.data.combine("oil", ["stocks", "oil"])


# --------------------------------------------------------------------- seal
@pytest.fixture
def sealed(tmp_path: Path) -> Iterator[Workspace]:
    """The product's default holdout (20%); two sources on different spans."""
    workspace = Workspace(tmp_path / "ws", holdout_fraction=0.2)
    workspace.data._bundled_ready = True
    add(workspace, tmp_path, "eq", frame(["EQ"], DAYS, 11))
    add(workspace, tmp_path, "cmd", frame(["CMD"], DAYS[:80], 12), asset_class="other")
    yield workspace
    workspace.close()


def test_holdout_rows_of_a_source_cannot_be_read_through_the_combination(
    sealed: Workspace,
) -> None:
    result = sealed.data.combine("both", ["eq", "cmd"], calendar="union")
    eq_boundary = sealed.data.holdout_boundary("eq")  # sealed by the combination
    cmd_boundary = sealed.data.holdout_boundary("cmd")
    assert cmd_boundary == pd.Timestamp(DAYS[64], tz="UTC")  # 20% of cmd's 80 bars
    assert eq_boundary == pd.Timestamp(DAYS[80], tz="UTC")
    # sealed from the earliest source boundary on: cmd's, though eq trades past it
    assert sealed.data.holdout_boundary("both") == cmd_boundary
    assert result.holdout is not None
    assert result.holdout.inherited_from["dataset"] == "cmd"
    assert "the seal follows the data" in (result.holdout_notice or "")
    with warnings.catch_warnings():
        warnings.simplefilter("error", HoldoutClippedWarning)
        panel = sealed.data.load("both")
    assert panel.index[-1] < cmd_boundary
    eq_research = sealed.data.load("eq")
    assert panel.index[-1] < eq_research.index[-1]  # eq's readable rows past it are sealed too
    with pytest.warns(HoldoutClippedWarning):
        clipped = sealed.data.load("both", end=DAYS[-1])
    assert clipped.index[-1] < cmd_boundary
    with pytest.raises(HoldoutError):
        sealed.data.load("both", start=DAYS[70])
    tail = sealed.data.preview("both", limit=500)
    assert tail["timestamp"].max() < cmd_boundary


def test_a_source_sealed_before_the_common_span_is_refused(
    sealed: Workspace, tmp_path: Path
) -> None:
    sealed.data.configure_holdout("cmd", 0.9)  # cmd's 80 bars: sealed from the 9th
    add(sealed, tmp_path, "eq-late", frame(["EQL"], DAYS[40:], 13))  # starts inside it
    with pytest.raises(DataCombineError, match="every bar of the combined dataset") as caught:
        sealed.data.combine("late", ["eq-late", "cmd"])
    assert "'cmd'" in str(caught.value)
    assert sealed.data.holdouts.get("late") is None


def test_combining_seals_only_when_it_succeeds(sealed: Workspace) -> None:
    with pytest.raises(DataCombineError):
        sealed.data.combine("bad", ["eq", "cmd"], calendar="outer")
    with pytest.raises(DataCombineError):
        sealed.data.combine("bad", ["eq", "eq"])
    assert sealed.data.holdouts.get("eq") is None
    assert sealed.data.holdouts.get("cmd") is None


def test_a_spent_source_holdout_is_a_caveat(sealed: Workspace) -> None:
    sealed.data.holdout_boundary("cmd")  # sealed at first use
    sealed.data.holdouts.unseal("cmd", note="final pick evaluated", trials_before=3)
    info = sealed.data.combine("after", ["eq", "cmd"]).dataset
    assert any(
        c.startswith("the holdout of cmd (from ") and "were seen before" in c for c in info.caveats
    )
    assert sealed.data.holdout_boundary("after") == sealed.data.holdout_boundary("cmd")
