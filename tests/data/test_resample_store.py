"""Storing a resampled dataset: equal to ``resample``, provenance, the seal, versions, errors."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace, run_backtest
from alphaloop.backtest import quick_spec
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data.calendars import TradingCalendar
from alphaloop.data.derived import derived_boundary, normalize_rule, panel_rows
from alphaloop.data.panel import Panel
from alphaloop.data.resample import resample
from alphaloop.errors import (
    DataResampleError,
    DatasetExistsError,
    DatasetNotFoundError,
    HoldoutClippedWarning,
    HoldoutError,
)

NYSE = TradingCalendar("XNYS")
START, END = "2024-11-11", "2024-11-29"  # a holiday (11-28) and an early close (11-29)
ASSETS = ("AAA", "BBB", "CCC")
MIN = pd.Timedelta(minutes=1)
PRE_MARKET = pd.Timestamp("2024-11-13 13:00", tz="UTC")  # 08:00 in New York


def minute_frame(seed: int = 5, *, shift: pd.Timedelta | None = None) -> pd.DataFrame:
    """Random-walk OHLCV minute bars (and a ``spread``) on the NYSE sessions, with holes.

    About 2% of the rows are missing, BBB has no bar on 2024-11-12, and one
    pre-market bar of AAA lies outside the sessions. ``shift`` moves every
    stamp (one minute: end-stamped bars).
    """
    stamps = NYSE.bar_stamps(START, END, "1min")
    index = pd.DatetimeIndex(stamps.view("datetime64[ns]")).tz_localize("UTC")
    rng = np.random.default_rng(seed)
    frames = []
    for k, asset in enumerate(ASSETS):
        close = (40 + 15 * k) * np.exp(np.cumsum(rng.normal(0, 7e-4, len(index))))
        open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0, 2e-4, len(index)))
        part = pd.DataFrame(
            {
                "timestamp": index,
                "asset": asset,
                "open": open_.round(4),
                "high": (np.maximum(open_, close) * 1.0004).round(4),
                "low": (np.minimum(open_, close) * 0.9996).round(4),
                "close": close.round(4),
                "volume": rng.integers(100, 10_000, len(index)).astype(float),
                "spread": rng.uniform(0.01, 0.05, len(index)).round(4),
            }
        )
        part = part[rng.random(len(part)) > 0.02]
        if asset == "BBB":  # a whole session missing: buckets where BBB is not a member
            part = part[part["timestamp"].dt.strftime("%Y-%m-%d") != "2024-11-12"]
        frames.append(part)
    extra = frames[0].iloc[:1].copy()
    extra["timestamp"] = PRE_MARKET
    frame = pd.concat([*frames, extra], ignore_index=True)
    frame = frame.sort_values(["asset", "timestamp"], kind="stable", ignore_index=True)
    if shift is not None:
        frame["timestamp"] = frame["timestamp"] + shift
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return frame


def add(ws: Workspace, tmp: Path, name: str, frame: pd.DataFrame) -> None:
    path = tmp / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    ws.data.import_file(path, name, layout="long")


def full(ws: Workspace, name: str, version: int | None = None) -> Panel:
    """Every stored bar of a version, the sealed ones too (what resampling reads)."""
    info = ws.data.info(name, version)
    return ws.data.store.load(info.name, info.version)


def assert_same_cells(a: Panel, b: Panel) -> None:
    assert list(a.index) == list(b.index)
    assert a.assets == b.assets
    assert set(a.field_names) == set(b.field_names)
    for name in a.field_names:
        np.testing.assert_array_equal(a.field(name), b.field(name), err_msg=name)
    np.testing.assert_array_equal(a.membership, b.membership)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Minute bars of three assets, the product's default holdout (20%), sealed at first use."""
    tmp = tmp_path_factory.mktemp("resample-store")
    workspace = Workspace(tmp / "ws", holdout_fraction=0.2)
    workspace.data._bundled_ready = True
    add(workspace, tmp, "m1", minute_frame())
    add(workspace, tmp, "daily-prices", minute_frame(seed=9).iloc[::390])
    yield workspace
    workspace.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose minute dataset was never used (no holdout yet)."""
    workspace = Workspace(tmp_path / "ws", holdout_fraction=0.2)
    workspace.data._bundled_ready = True
    add(workspace, tmp_path, "m1", minute_frame())
    yield workspace
    workspace.close()


# ------------------------------------------------------------------ content
@pytest.mark.parametrize("rule", ["5min", "1h", "daily"])
def test_the_stored_dataset_equals_resample_cell_by_cell(ws: Workspace, rule: str) -> None:
    result = ws.data.resample("m1", rule)
    assert result.status in ("created", "up-to-date")
    expected = resample(full(ws, "m1"), rule, calendar="XNYS")
    assert expected.dropped == 1  # the pre-market bar
    stored = full(ws, result.dataset.name)
    assert_same_cells(stored, expected.panel)
    assert set(stored.field_names) == {"open", "high", "low", "close", "volume", "spread"}
    assert not stored.membership.all()  # a bucket every minute of which an asset missed
    # research reads the same bars, up to the seal
    research = ws.data.load(result.dataset.name)
    n = len(research.index)
    assert 0 < n < len(expected.panel.index)
    assert_same_cells(research, expected.panel.iloc(slice(0, n)))


def test_rows_round_trip_cells_without_membership_and_empty_bars() -> None:
    index = pd.date_range("2024-01-02", periods=3, freq="h", tz="UTC")
    close = np.array([[1.0, np.nan], [np.nan, np.nan], [3.0, 4.0]])
    member = np.array([[False, True], [False, False], [True, True]])
    panel = Panel(index, ("A", "B"), {"close": close}, member)
    rows = panel_rows(panel)
    back = rows.to_panel()
    assert list(back.index) == list(index)  # the bar where nothing is kept stays
    np.testing.assert_array_equal(back.field("close"), close)
    np.testing.assert_array_equal(back.membership, member)


def test_provenance_frequency_and_calendar_are_recorded(ws: Workspace) -> None:
    result = ws.data.resample("m1", "1h")
    source = ws.data.info("m1")
    info = ws.data.info("m1-1h")
    meta = json.loads((Path(info.path) / "meta.json").read_text())
    assert meta["resampled"] == info.resampled == result.dataset.resampled
    origin = meta["resampled"]
    assert origin["dataset"] == "m1"
    assert origin["version"] == source.version
    assert origin["content_hash"] == source.content_hash
    assert origin["rule"] == "1h"
    assert origin["source_frequency"] == "1min"
    assert origin["trading_calendar"] == "XNYS"
    assert origin["label"] == "start"
    assert origin["dropped"] == 1
    assert info.source == f"resampled:m1@v{source.version}(1h)"
    assert info.frequency == "1h"
    assert info.market.trading_calendar == "XNYS"
    assert info.market.asset_class == source.market.asset_class
    # annualized with the hourly bars of the XNYS sessions, not the minutes'
    bars = NYSE.bars_per_session("1h", START, END)
    assert info.market.periods_per_year == pytest.approx(NYSE.sessions_per_year(START, END) * bars)
    assert any("outside the XNYS sessions were left out" in c for c in info.caveats)
    assert info.to_dict()["resampled"] == origin
    assert "resampled" not in source.to_dict()
    daily = ws.data.resample("m1", "1d").dataset
    assert daily.name == "m1-daily"
    assert daily.frequency == "daily"
    assert daily.market.periods_per_year == 252.0


def test_the_quality_checks_of_an_import_run_on_the_result(ws: Workspace) -> None:
    info = ws.data.resample("m1", "15min").dataset
    report = info.quality_report
    assert report.layout == "resampled"
    assert report.rows == info.rows
    assert not report.errors
    # the checks read the bars on the XNYS grid of end-stamped 15-minute bars: the only gap
    # is BBB's missing session (26 bars), and no bar lies off the calendar
    gaps = report.issue("calendar_gaps")
    assert gaps is not None
    assert gaps.count == 26
    assert "end-stamped" in gaps.message
    assert [loc["asset"] for loc in gaps.locations] == ["BBB"]
    assert report.issue("off_calendar_bars") is None
    assert any(c.startswith("calendar_gaps: 26 bar(s)") for c in info.caveats)


def test_end_stamped_source_bars_are_read_as_such(ws: Workspace, tmp_path: Path) -> None:
    add(ws, tmp_path, "m1-end", minute_frame(shift=MIN))
    result = ws.data.resample("m1-end", "1h")
    assert result.origin.label == "end"
    start_stamped = full(ws, ws.data.resample("m1", "1h").dataset.name)
    assert_same_cells(full(ws, result.dataset.name), start_stamped)


# --------------------------------------------------------------------- seal
def sealed_bars(source: Panel, rule: str, boundary: pd.Timestamp) -> pd.DatetimeIndex:
    """Stamps of the resampled bars that hold at least one source bar at or after ``boundary``."""
    out = resample(source, rule, calendar="XNYS")
    ends = source.index.asi8 + MIN.value  # a start-stamped minute is known at its end
    inside = NYSE.schedule(int(source.index.asi8[0]), int(source.index.asi8[-1]) + 86_400 * 10**9)
    starts, stops = inside.segments()
    seg = np.searchsorted(starts, source.index.asi8, side="right") - 1
    kept = (seg >= 0) & (source.index.asi8 < stops[np.clip(seg, 0, None)])
    bar_of = np.searchsorted(out.available_at, ends, side="left")
    hit = np.unique(bar_of[kept & (source.index >= boundary)])
    return out.panel.index[hit]


@pytest.mark.parametrize("rule", ["5min", "1h", "daily"])
def test_no_research_bar_aggregates_a_holdout_bar(ws: Workspace, rule: str) -> None:
    name = ws.data.resample("m1", rule).dataset.name
    boundary = ws.data.holdout_boundary("m1")
    derived = ws.data.holdout_boundary(name)
    assert boundary is not None
    assert derived is not None
    assert derived <= boundary  # never later than the source's
    sealed = sealed_bars(full(ws, "m1"), rule, boundary)
    assert len(sealed)
    assert derived <= sealed[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", HoldoutClippedWarning)
        research = ws.data.load(name)
    assert research.index[-1] < sealed[0]
    assert not research.index.isin(sealed).any()
    # no more is sealed than a bar holding a sealed minute or stamped at or after the boundary
    stored = full(ws, name).index
    assert research.index[-1] == stored[stored < min(boundary, sealed[0])][-1]
    with pytest.warns(HoldoutClippedWarning):
        clipped = ws.data.load(name, end=stored[-1])
    assert clipped.index[-1] == research.index[-1]
    with pytest.raises(HoldoutError):
        ws.data.load(name, start=sealed[0])
    assert ws.data.preview(name, limit=10_000)["timestamp"].max() < sealed[0]


def test_a_boundary_inside_a_bar_seals_the_whole_bar(ws: Workspace) -> None:
    boundary = ws.data.holdout_boundary("m1")
    source = full(ws, "m1")
    hourly = resample(source, "1h", calendar="XNYS")
    # the hour bar whose bucket holds the boundary minute
    holding = hourly.panel.index[int(np.searchsorted(hourly.available_at, boundary.value, "right"))]
    assert holding > boundary  # the boundary falls inside it (the fixture's 20% does)
    opened = holding - pd.Timedelta(hours=1)
    assert opened < boundary  # its first minutes are research bars of the source ...
    name = ws.data.resample("m1", "1h").dataset.name
    research = ws.data.load(name)
    assert research.index[-1] <= opened  # ... but the bar is sealed whole
    daily = ws.data.resample("m1", "daily").dataset.name
    day = boundary.normalize()
    assert ws.data.holdout_boundary(daily) == day  # the session's bar is stamped at its date
    assert ws.data.load(daily).index[-1] < day


def test_the_holdout_record_is_inherited_and_fixed(ws: Workspace) -> None:
    result = ws.data.resample("m1", "1h")
    holdout = ws.data.holdouts.get("m1-1h")
    assert holdout is not None
    assert holdout.inherited_from is not None
    assert holdout.inherited_from["dataset"] == "m1"
    assert holdout.inherited_from["resampled"] is True
    assert holdout.boundary == result.origin.boundary
    assert result.origin.source_boundary == ws.data.holdout_boundary("m1")
    assert "the seal follows the data" in (result.holdout_notice or "")
    with pytest.raises(HoldoutError, match="inherited when it was resampled from 'm1'"):
        ws.data.configure_holdout("m1-1h", 0.5)


def test_resampling_seals_the_source_only_when_it_succeeds(fresh: Workspace) -> None:
    for bad in ("weekly", "30s"):
        with pytest.raises(DataResampleError):
            fresh.data.resample("m1", bad)
    assert fresh.data.holdouts.get("m1") is None
    prospective = fresh.data.holdouts.prospective_boundary("m1", fresh.data.store.calendar("m1", 1))
    result = fresh.data.resample("m1", "1h")
    source = fresh.data.holdouts.get("m1")
    assert source is not None
    assert source.boundary == prospective
    assert result.holdout is not None
    assert result.holdout.boundary == result.origin.boundary <= source.boundary


def test_a_source_without_a_holdout_gives_none(fresh: Workspace) -> None:
    fresh.data.configure_holdout("m1", 0.0)
    fresh.data.resample("m1", "1h")
    assert fresh.data.holdout_boundary("m1-1h") is None
    assert_same_cells(fresh.data.load("m1-1h"), full(fresh, "m1-1h"))


def test_a_source_sealed_inside_the_first_bar_is_refused(fresh: Workspace) -> None:
    fresh.data.configure_holdout("m1", 0.99)  # sealed from the first session's afternoon
    with pytest.raises(DataResampleError, match="every bar of 'm1' resampled to daily") as caught:
        fresh.data.resample("m1", "daily")
    assert caught.value.hint
    assert fresh.data.holdouts.get("m1-daily") is None
    assert "m1-daily" not in {i.name for i in fresh.data.list()}


def test_a_new_version_holding_another_datasets_sealed_rows_is_refused(
    fresh: Workspace, tmp_path: Path
) -> None:
    fresh.data.configure_holdout("m1", 0.0)  # no holdout: the resampled dataset has none
    fresh.data.resample("m1", "1h", as_name="x")
    assert fresh.data.holdout_boundary("x") is None
    # someone imports the hourly bars under another name: sealed there at first use
    frame = full(fresh, "x").to_long()
    frame.to_parquet(tmp_path / "copy.parquet", index=False)
    fresh.data.import_file(tmp_path / "copy.parquet", "y", layout="long")
    assert fresh.data.holdout_boundary("y") is not None
    changed = minute_frame()
    changed.loc[changed.index[:100], ["open", "high", "low", "close"]] *= 1.01
    add(fresh, tmp_path, "m1", changed)  # new source content, the same later bars
    with pytest.raises(HoldoutError, match="resampling into 'x' refused") as caught:
        fresh.data.resample("m1", "1h", as_name="x")
    assert "--as" in (caught.value.hint or "")
    assert fresh.data.versions("x") == [1]
    fresh.data.resample("m1", "1h", as_name="x2")  # a new name inherits the seal of y
    assert fresh.data.holdout_boundary("x2") == fresh.data.holdout_boundary("y")


def test_a_spent_source_holdout_is_a_caveat(fresh: Workspace) -> None:
    fresh.data.holdout_boundary("m1")
    fresh.data.holdouts.unseal("m1", note="final pick evaluated", trials_before=2)
    info = fresh.data.resample("m1", "1h").dataset
    assert any(c.startswith("the holdout of m1 (from ") for c in info.caveats)


def test_boundary_rounding_by_hand() -> None:
    index = pd.date_range("2024-01-02 14:30", periods=120, freq="min", tz="UTC")
    mid = pd.Timestamp("2024-01-02 15:45", tz="UTC")  # inside the 15:30-16:30 bucket
    got = derived_boundary(index, mid, "1h", calendar="XNYS", label="start")
    assert got == mid  # the 15:30 bar (14:30-15:30) is research, the 16:30 one sealed
    edge = pd.Timestamp("2024-01-02 15:30", tz="UTC")  # the first minute of a bucket
    assert derived_boundary(index, edge, "1h", calendar="XNYS", label="start") == edge
    day = derived_boundary(index, mid, "daily", calendar="XNYS", label="start")
    assert day == pd.Timestamp("2024-01-02", tz="UTC")
    assert derived_boundary(index, None, "1h", calendar="XNYS", label="start") is None


# ----------------------------------------------------------------- versions
def test_a_rerun_is_up_to_date_until_the_source_changes(ws: Workspace, tmp_path: Path) -> None:
    add(ws, tmp_path, "m2", minute_frame(seed=21))
    first = ws.data.resample("m2", "30min", as_name="m2-half")
    assert first.status == "created"
    again = ws.data.resample("m2", "30min", as_name="m2-half")
    assert again.status == "up-to-date"
    assert again.dataset.version == first.dataset.version == 1
    assert ws.data.versions("m2-half") == [1]
    boundary = ws.data.holdout_boundary("m2-half")
    changed = minute_frame(seed=21)
    changed.loc[changed.index[:100], ["open", "high", "low", "close"]] *= 1.01
    add(ws, tmp_path, "m2", changed)  # a new version of the source, new content hash
    source = ws.data.info("m2")
    assert source.version == 2
    second = ws.data.resample("m2", "30min", as_name="m2-half")
    assert second.status == "created"
    assert second.dataset.version == 2
    assert second.dataset.resampled["content_hash"] == source.content_hash
    assert second.dataset.resampled["version"] == 2
    assert ws.data.holdout_boundary("m2-half") == boundary  # the seal is the name's, fixed
    assert_same_cells(full(ws, "m2-half"), resample(full(ws, "m2"), "30min", calendar="XNYS").panel)
    # an older source version is other content: a new version too
    older = ws.data.resample("m2", "30min", as_name="m2-half", version=1)
    assert older.status == "created"
    assert older.dataset.version == 3
    assert older.dataset.resampled["version"] == 1


# ----------------------------------------------------------------- backtest
def test_a_backtest_runs_on_the_resampled_dataset(ws: Workspace) -> None:
    name = ws.data.resample("m1", "1h").dataset.name
    base = quick_spec("$close / Ref($close, 7) - 1", name, top_k=1)
    doc = {**base.model_dump(mode="json"), "rebalance": {"frequency": "bars", "every": 7}}
    result = run_backtest(ws, StrategySpec.from_dict(doc), record=False)
    assert result.metrics["periods_per_year"] == pytest.approx(
        ws.data.info(name).market.periods_per_year
    )
    assert len(result.simulation.trades) > 0
    assert result.simulation.equity.index[-1] < ws.data.holdout_boundary(name)


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("source", "rule", "kw", "error", "words"),
    [
        ("nope", "1h", {}, DatasetNotFoundError, "'nope' is not in"),
        ("m1", "1h", {"version": 9}, DatasetNotFoundError, "v9 is not in"),
        ("m1", "1min", {}, DataResampleError, "not finer than 1min"),
        ("m1", "30s", {}, DataResampleError, "not finer than 30s"),
        ("daily-prices", "1h", {}, DataResampleError, "not finer than 1h"),
        ("m1", "weekly", {}, DataResampleError, "'weekly' is not a bar size"),
        ("m1", "1x", {}, DataResampleError, "is not a bar size"),
        ("m1", "1h", {"as_name": "daily-prices"}, DatasetExistsError, "was not resampled"),
        ("m1", "1h", {"as_name": "m1"}, DataResampleError, "is the dataset being resampled"),
        ("m1", "1h", {"as_name": "bad name!"}, Exception, "invalid dataset name"),
        ("m1", "1h", {"label": "middle"}, DataResampleError, "not a bar label"),
    ],
)
def test_bad_requests_are_refused_with_a_hint(
    ws: Workspace, source: str, rule: str, kw: dict[str, object], error: type, words: str
) -> None:
    before = {(i.name, i.version) for i in ws.data.list()}
    with pytest.raises(error, match=words) as caught:
        ws.data.resample(source, rule, **kw)  # type: ignore[arg-type]
    assert caught.value.hint
    assert {(i.name, i.version) for i in ws.data.list()} == before  # nothing stored


def test_a_name_resampled_from_another_source_or_rule_is_refused(
    ws: Workspace, tmp_path: Path
) -> None:
    ws.data.resample("m1", "1h", as_name="hourly")
    add(ws, tmp_path, "m3", minute_frame(seed=3))
    with pytest.raises(DatasetExistsError, match="resampled from 'm1', not from 'm3'"):
        ws.data.resample("m3", "1h", as_name="hourly")
    with pytest.raises(DatasetExistsError, match=r"resampled to 1h .*not to 15min"):
        ws.data.resample("m1", "15min", as_name="hourly")
    assert ws.data.versions("hourly") == [1]


def test_rules_are_normalized() -> None:
    assert normalize_rule("60min") == "1h"
    assert normalize_rule(" 5MIN ") == "5min"
    assert normalize_rule("1D") == "daily"
    assert normalize_rule("90s") == "90s"
    assert normalize_rule("120s") == "2min"
