"""The sealed holdout says when it cuts a request, hides its locations, and follows copied rows."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.holdout import HoldoutError
from alphaloop.errors import HoldoutClippedWarning

INDEX = "sp500-index"


@pytest.fixture
def sealed(tmp_path: Path, db_settings: dict[str, str]) -> Workspace:
    """A workspace with the product's default holdout (20%), on SQLite and PostgreSQL."""
    ws = Workspace(tmp_path / "ws", holdout_fraction=0.2, **db_settings)
    yield ws
    ws.close()


def stored_rows(ws: Workspace, name: str) -> pd.DataFrame:
    """Every stored row of a dataset, read from its Parquet file as anyone could."""
    info = ws.data.info(name)
    frame = pd.read_parquet(Path(info.path) / "rows.parquet")
    return frame[["timestamp", "asset", *info.fields]]


def day(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d}"


# ----------------------------------------------------------------- clipping
def test_an_end_inside_the_holdout_is_cut_and_said(sealed: Workspace) -> None:
    boundary = sealed.data.holdout_boundary(INDEX)
    with pytest.warns(HoldoutClippedWarning) as caught:
        panel = sealed.data.load(INDEX, end="2022-12-28")
    data_end = panel.index[-1]
    expected = (
        f"{INDEX}: end 2022-12-28 is inside the sealed holdout (from {day(boundary)}); "
        f"data ends {day(data_end)}"
    )
    assert [str(w.message) for w in caught] == [expected]
    assert panel.notice == expected
    assert panel.sealed_end is not None
    assert panel.sealed_end.boundary == boundary
    assert panel.sealed_end.data_end == data_end
    assert data_end < boundary


def test_loads_inside_the_research_span_say_nothing(sealed: Workspace) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", HoldoutClippedWarning)
        whole = sealed.data.load(INDEX)
        early = sealed.data.load(INDEX, end="2000-01-01")
    assert whole.notice is None
    assert early.notice is None
    # the panel still knows where the seal starts
    assert whole.sealed_end is not None
    assert whole.sealed_end.data_end == whole.index[-1]


def test_no_holdout_no_notice(workspace: Workspace) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", HoldoutClippedWarning)
        panel = workspace.data.load(INDEX, end="2030-01-01")
    assert panel.sealed_end is None
    assert panel.notice is None
    assert panel.index[-1] == pd.Timestamp("2022-12-28", tz="UTC")


def test_slicing_past_a_clipped_panel_says_so(sealed: Workspace) -> None:
    panel = sealed.data.load(INDEX)
    boundary = panel.sealed_end.boundary
    with pytest.warns(HoldoutClippedWarning, match=r"end 2021-06-30 is inside the sealed holdout"):
        part = panel.slice("2010-01-01", "2021-06-30")
    assert part.index[-1] == panel.index[-1]
    assert part.notice is not None
    assert f"(from {day(boundary)})" in part.notice
    with warnings.catch_warnings():
        warnings.simplefilter("error", HoldoutClippedWarning)
        inside = panel.slice("2010-01-01", "2012-01-01")
    assert inside.notice is None
    assert inside.sealed_end is None  # it stops before the panel's end, not at the seal
    with pytest.raises(HoldoutError, match="inside the sealed holdout") as info:
        panel.slice("2021-01-04")
    assert f"(from {day(boundary)})" in str(info.value)
    assert f"research data ends {day(panel.index[-1])}" in str(info.value)


def test_views_keep_the_seal_while_they_reach_the_end(sealed: Workspace) -> None:
    panel = sealed.data.load("sp500-stocks")
    assert panel.select(assets=["AAPL"]).sealed_end == panel.sealed_end
    assert panel.iloc(slice(10, None)).sealed_end == panel.sealed_end
    assert panel.iloc(slice(0, 10)).sealed_end is None
    with pytest.raises(HoldoutError):
        panel.select(assets=["AAPL"]).slice(panel.sealed_end.boundary)


def test_a_holdout_key_reads_past_the_boundary(sealed: Workspace) -> None:
    boundary = sealed.data.holdout_boundary(INDEX)
    key = sealed.data.holdouts.unseal(INDEX, note="final check", trials_before=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HoldoutClippedWarning)
        panel = sealed.data.load(INDEX, end="2030-01-01", holdout_key=key)
    assert panel.index[-1] > boundary
    assert panel.sealed_end is None
    assert panel.slice(boundary).n_times > 0


# --------------------------------------------------------------- reports
def _file_with_problems_everywhere(tmp_path: Path) -> Path:
    """Daily closes 2020-2023 of one asset, with a missing value in every quarter."""
    dates = pd.bdate_range("2020-01-01", "2023-12-29")
    close = 100 + np.arange(len(dates)) * 0.01
    frame = pd.DataFrame({"timestamp": dates, "asset": "Q", "close": close})
    frame.loc[frame.index % 63 == 5, "close"] = np.nan
    path = tmp_path / "quarters.csv"
    frame.to_csv(path, index=False)
    return path


def test_quality_reports_hide_locations_inside_the_holdout(
    sealed: Workspace, tmp_path: Path
) -> None:
    sealed.data.import_file(_file_with_problems_everywhere(tmp_path), "quarters")
    stored_before_use = sealed.data.info("quarters").quality_report
    assert sealed.data.holdouts.get("quarters") is None  # showing it did not seal it
    boundary = sealed.data.holdout_boundary("quarters")
    for report in (stored_before_use, sealed.data.quality_report("quarters")):
        missing = report.issue("missing_values")
        assert missing is not None
        assert missing.locations  # the research span's are shown
        assert all(pd.Timestamp(loc["timestamp"]) < boundary for loc in missing.locations)
    fresh = sealed.data.check_dataset("quarters")
    missing = fresh.issue("missing_values")
    n_sealed = int(
        sum(
            1
            for i, d in enumerate(pd.bdate_range("2020-01-01", "2023-12-29"))
            if i % 63 == 5 and pd.Timestamp(d, tz="UTC") >= boundary
        )
    )
    assert n_sealed > 0
    assert missing.sealed_locations == n_sealed
    assert all(pd.Timestamp(loc["timestamp"]) < boundary for loc in missing.locations)
    text = "\n".join(fresh.lines())
    assert f"{n_sealed} more inside the sealed holdout (not shown)" in text
    assert f"rows from {day(boundary)} on are the sealed holdout" in text
    assert missing.count == len(range(5, len(pd.bdate_range("2020-01-01", "2023-12-29")), 63))


def test_every_location_inside_the_holdout_leaves_a_count(sealed: Workspace) -> None:
    from alphaloop.data.quality import QualityIssue

    issue = QualityIssue(
        "stale_prices",
        "warning",
        3,
        "3 run(s)",
        [
            {"asset": "A", "timestamp": "2020-01-02T00:00:00+00:00", "bars": 5},
            {"asset": "A", "timestamp": "2021-01-04T00:00:00+00:00", "bars": 6},
            {"timestamp": "2019-01-02T00:00:00+00:00", "previous": "2021-05-01T00:00:00+00:00"},
        ],
    )
    cut = issue.without_sealed(pd.Timestamp("2021-01-01", tz="UTC"))
    assert cut.locations == [issue.locations[0]]
    assert cut.sealed_locations == 2
    assert cut.lines()[-1] == "    ... 2 more inside the sealed holdout (not shown)"
    assert issue.without_sealed(None) is issue


# --------------------------------------------------------- the seal follows
def test_a_copy_of_sealed_rows_inherits_the_seal(sealed: Workspace, tmp_path: Path) -> None:
    boundary = sealed.data.holdout_boundary(INDEX)
    rows = stored_rows(sealed, INDEX)
    copied = rows[rows["timestamp"] >= boundary - pd.Timedelta(days=60)].copy()
    copied["asset"] = "SPX"  # renaming the asset does not hide the copy
    copied = copied.rename(columns={"close": "level"})  # nor renaming the field
    copied["timestamp"] = copied["timestamp"].dt.strftime("%Y-%m-%d")
    path = tmp_path / "copy.csv"
    copied.to_csv(path, index=False)
    result = sealed.data.import_file(path, "my-index")
    (copy,) = result.sealed_copies
    assert copy.dataset == INDEX
    assert copy.first == boundary
    assert copy.rows == int((rows["timestamp"] >= boundary).sum())
    assert copy.assets == (("SPX", rows["asset"].iloc[0]),)
    info = sealed.data.holdouts.get("my-index")
    assert info is not None
    assert info.boundary == boundary
    assert info.inherited_from["dataset"] == INDEX
    assert result.holdout_notice is not None
    assert "the seal follows the data" in result.holdout_notice
    panel = sealed.data.load("my-index")
    assert panel.index[-1] < boundary
    assert panel.n_times == int(
        (
            (rows["timestamp"] >= boundary - pd.Timedelta(days=60)) & (rows["timestamp"] < boundary)
        ).sum()
    )
    with pytest.raises(HoldoutError, match="sealed holdout"):
        sealed.data.load("my-index", start=boundary)
    with pytest.raises(HoldoutError, match=f"inherited at import from '{INDEX}'"):
        sealed.data.configure_holdout("my-index", 0.5)
    listed = {h.dataset: h.to_dict() for h in sealed.data.holdouts.list()}
    assert listed["my-index"]["inherited_from"]["first_copied"] == boundary.isoformat()


def test_research_rows_and_other_vendors_are_not_sealed(sealed: Workspace, tmp_path: Path) -> None:
    boundary = sealed.data.holdout_boundary(INDEX)
    rows = stored_rows(sealed, INDEX)
    early = rows[rows["timestamp"] < boundary]
    early.to_csv(tmp_path / "early.csv", index=False)
    result = sealed.data.import_file(tmp_path / "early.csv", "early")
    assert result.sealed_copies == ()
    assert sealed.data.holdouts.get("early") is None
    # the same days from another source: prices differ in the last digits
    late = rows[rows["timestamp"] >= boundary].copy()
    late["close"] = (late["close"] * 1.0001).round(2)
    late.to_csv(tmp_path / "vendor.csv", index=False)
    assert sealed.data.import_file(tmp_path / "vendor.csv", "vendor").sealed_copies == ()


def test_a_copy_into_a_name_sealed_later_is_refused(sealed: Workspace, tmp_path: Path) -> None:
    boundary = sealed.data.holdout_boundary(INDEX)
    rows = stored_rows(sealed, INDEX)
    own = rows[rows["timestamp"] < boundary - pd.Timedelta(days=400)].copy()
    own["close"] = own["close"] * 2  # not a copy: research rows, scaled
    own.to_csv(tmp_path / "own.csv", index=False)
    sealed.data.import_file(tmp_path / "own.csv", "mine")
    own_boundary = sealed.data.holdout_boundary("mine")  # sealed at its first use
    assert own_boundary < boundary
    # a later version of "mine" now holds the sealed rows of the index from the boundary on:
    # they lie inside the own holdout, which starts earlier: accepted
    both = pd.concat([own, rows[rows["timestamp"] >= boundary]])
    both.to_csv(tmp_path / "both.csv", index=False)
    assert sealed.data.import_file(tmp_path / "both.csv", "mine").dataset.version == 2
    # a name whose holdout starts after the copied rows cannot take them
    later = rows.copy()
    later["close"] = later["close"] * 3  # unrelated rows over the whole span
    later.to_csv(tmp_path / "later.csv", index=False)
    sealed.data.import_file(tmp_path / "later.csv", "later")
    later_boundary = sealed.data.configure_holdout("later", 0.01).boundary
    assert later_boundary > boundary
    rows[rows["timestamp"] >= boundary].to_csv(tmp_path / "late.csv", index=False)
    with pytest.raises(HoldoutError, match="import into 'later' refused") as info:
        sealed.data.import_file(tmp_path / "late.csv", "later")
    # the rows are sealed in the index and in "mine" v2: both are named
    assert f"'{INDEX}'" in str(info.value)
    assert "'mine'" in str(info.value)
    assert "import the file under a new name" in str(info.value)
    assert sealed.data.versions("later") == [1]
    assert sealed.data.imports("later")[0]["status"] == "refused"
