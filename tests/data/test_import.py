"""Importing long, wide, single-asset and Parquet files; versions; loading back; atomicity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphaloop.app import Workspace
from alphaloop.data.store import ParquetStore
from alphaloop.errors import (
    DataQualityError,
    DatasetExistsError,
    DatasetNotFoundError,
    PanelError,
)
from tests.conftest import write_csv

LONG = """
timestamp,symbol,open,high,low,close,volume
2024-01-02,AAA,10,11,9,10.5,1000
2024-01-03,AAA,10.5,11.5,10,11,1200
2024-01-04,AAA,11,12,10.5,11.5,900
2024-01-02,BBB,20,21,19,20.5,500
2024-01-03,BBB,20.5,21.5,20,21,600
2024-01-04,BBB,21,22,20.5,21.5,700
"""


def test_long_csv_round_trip(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "prices.csv", LONG)
    result = workspace.data.import_file(path, "prices")
    assert result.status == "accepted"
    info = result.dataset
    assert (info.name, info.version, info.assets, info.rows) == ("prices", 1, 2, 6)
    assert info.fields == ("open", "high", "low", "close", "volume")
    p = workspace.data.load("prices")
    assert p.assets == ("AAA", "BBB")
    assert p["close"][:, 1].tolist() == [20.5, 21.0, 21.5]
    assert p.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert p.content_hash() == info.content_hash
    assert workspace.data.info("prices").content_hash == info.content_hash
    imports = workspace.data.imports("prices")
    assert imports[0]["status"] == "accepted"
    assert imports[0]["rows_out"] == 6


def test_load_subsets(workspace: Workspace, tmp_path: Path) -> None:
    workspace.data.import_file(write_csv(tmp_path / "p.csv", LONG), "p")
    p = workspace.data.load(
        "p", start="2024-01-03", end="2024-01-03", assets=["BBB"], fields=["volume", "close"]
    )
    assert p.shape == (1, 1)
    assert p.field_names == ("volume", "close")
    assert p["volume"][0, 0] == 600
    empty = workspace.data.load("p", start="2030-01-01")
    assert empty.shape == (0, 2)
    with pytest.raises(PanelError, match="no asset 'ZZZ'"):
        workspace.data.load("p", assets=["ZZZ"])
    with pytest.raises(PanelError, match="no field 'vwap'"):
        workspace.data.load("p", fields=["vwap"])


def test_wide_csv_with_late_listing(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "wide.csv",
        """
        Date,AAA,BBB
        2024-01-02,1.0,
        2024-01-03,1.1,
        2024-01-04,1.2,5.0
        2024-01-05,,5.1
        2024-01-08,1.3,5.2
        """,
    )
    result = workspace.data.import_file(path, "wide", field_name="close")
    assert result.dataset.rows == 8  # BBB starts on the 4th; AAA's gap on the 5th is a row
    missing = result.final_report.issue("missing_values")
    assert missing is not None
    assert missing.count == 1
    p = workspace.data.load("wide")
    assert p.membership[:, 1].tolist() == [False, False, True, True, True]
    assert np.isnan(p["close"][3, 0])
    assert p.membership[3, 0]


def test_single_asset_ohlcv_file_uses_the_file_name(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "spy.csv",
        """
        Date,Open,High,Low,Close,Adj Close,Volume
        1/4/1999,10,11,9,10.5,10.5,100
        1/5/1999,10.5,11,10,10.8,10.8,120
        """,
    )
    info = workspace.data.import_file(path, "spy").dataset
    assert info.asset_ids == ("spy",)
    assert "adj_close" in info.fields
    assert info.start == pd.Timestamp("1999-01-04", tz="UTC").to_pydatetime()
    named = workspace.data.import_file(path, "spy2", asset="SPY").dataset
    assert named.asset_ids == ("SPY",)


def test_parquet_long_file(workspace: Workspace, tmp_path: Path) -> None:
    df = pd.read_csv(write_csv(tmp_path / "p.csv", LONG), parse_dates=["timestamp"])
    df["timestamp"] = df["timestamp"].dt.tz_localize("America/New_York")
    path = tmp_path / "p.parquet"
    df.to_parquet(path)
    p = workspace.data.load(workspace.data.import_file(path, "pq").dataset.name)
    assert p.index[0] == pd.Timestamp("2024-01-02 05:00", tz="UTC")
    assert p["volume"][2, 0] == 900


def test_timestamps_with_offsets_become_utc(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "intraday.csv",
        """
        timestamp,symbol,close
        2024-03-08T09:30:00-05:00,X,1
        2024-03-08T09:35:00-05:00,X,2
        2024-03-11T09:30:00-04:00,X,3
        """,
    )
    p = workspace.data.load(workspace.data.import_file(path, "intra").dataset.name)
    assert p.index[0] == pd.Timestamp("2024-03-08 14:30", tz="UTC")
    assert p.index[2] == pd.Timestamp("2024-03-11 13:30", tz="UTC")


def test_naive_timestamps_in_a_given_zone(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ny.csv", "timestamp,symbol,close\n2024-01-02 09:30,X,1")
    p = workspace.data.load(
        workspace.data.import_file(path, "ny", timezone="America/New_York").dataset.name
    )
    assert p.index[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")


def test_reimport_creates_a_new_version_and_keeps_the_old(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "p.csv", LONG)
    v1 = workspace.data.import_file(path, "p").dataset
    path2 = write_csv(tmp_path / "p2.csv", LONG.replace("11.5,900", "11.6,900"))
    v2 = workspace.data.import_file(path2, "p").dataset
    assert (v1.version, v2.version) == (1, 2)
    assert v1.content_hash != v2.content_hash
    assert workspace.data.versions("p") == [1, 2]
    assert workspace.data.info("p").version == 2
    assert workspace.data.load("p", version=1)["close"][2, 0] == 11.5
    assert workspace.data.load("p")["close"][2, 0] == 11.6
    assert [i.version for i in workspace.data.list() if i.name == "p"] == [2]


def test_bundled_names_and_bad_names_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", LONG)
    with pytest.raises(DatasetExistsError, match="bundled"):
        workspace.data.import_file(path, "sp500-stocks")
    with pytest.raises(Exception, match="invalid dataset name"):
        workspace.data.import_file(path, "../escape")


def test_unknown_dataset_suggests_a_name(workspace: Workspace) -> None:
    with pytest.raises(DatasetNotFoundError, match="sp500") as info:
        workspace.data.info("sp500")
    assert "did you mean" in str(info.value)


def test_refused_import_leaves_the_store_unchanged(workspace: Workspace, tmp_path: Path) -> None:
    workspace.data.ensure_bundled()
    before = [(i.name, i.version, i.content_hash) for i in workspace.data.list()]
    files_before = sorted(p.relative_to(workspace.data_dir) for p in workspace.data_dir.rglob("*"))
    bad = write_csv(tmp_path / "bad.csv", LONG.replace("11,1200", "-11,1200"))
    with pytest.raises(DataQualityError, match="non_positive_price") as exc:
        workspace.data.import_file(bad, "bad")
    assert exc.value.report.issue("non_positive_price").locations[0]["line"] == 3
    after = [(i.name, i.version, i.content_hash) for i in workspace.data.list()]
    files_after = sorted(p.relative_to(workspace.data_dir) for p in workspace.data_dir.rglob("*"))
    assert before == after
    assert files_before == files_after
    assert workspace.data.imports("bad")[0]["status"] == "refused"
    repaired = workspace.data.import_file(bad, "bad", repair=True)
    assert repaired.status == "repaired"
    assert [(r.check, r.count) for r in repaired.repairs] == [("non_positive_price", 1)]
    assert np.isnan(workspace.data.load("bad")["close"][1, 0])


def test_failed_database_write_removes_the_files(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.data.ensure_bundled()
    files_before = sorted(workspace.data_dir.rglob("*"))

    def broken_session():  # the database fails after the files were written
        raise RuntimeError("database went away")

    monkeypatch.setattr(workspace.db, "session", broken_session)
    with pytest.raises(RuntimeError, match="went away"):
        workspace.data._record(
            "x",
            workspace.data._stored_rows(_first_record(workspace)),
            "test",
            "",
            [],
            _empty_report(),
            layout="long",
            repairs=[],
            status="accepted",
        )
    assert sorted(workspace.data_dir.rglob("*")) == files_before


def _first_record(ws: Workspace):
    from sqlalchemy import select

    from alphaloop.store import DatasetRecord

    with ws.db.session() as s:
        return s.scalars(select(DatasetRecord).where(DatasetRecord.name == "vix")).one()


def _empty_report():
    from alphaloop.data.quality import QualityReport

    return QualityReport("test", 0, "long", ())


def test_files_left_by_a_crash_do_not_block_the_next_import(
    workspace: Workspace, tmp_path: Path
) -> None:
    orphan = workspace.data.store.version_dir("p", 1)
    orphan.mkdir(parents=True)
    (orphan / "rows.parquet").write_bytes(b"half-written")
    info = workspace.data.import_file(write_csv(tmp_path / "p.csv", LONG), "p").dataset
    assert info.version == 1
    assert workspace.data.load("p")["close"][0, 0] == 10.5


def test_store_never_overwrites_a_version(tmp_path: Path, shared_workspace: Workspace) -> None:
    store = ParquetStore(tmp_path / "data")
    rows = shared_workspace.data._stored_rows(_first_record(shared_workspace))
    store.write("v", 1, rows)
    with pytest.raises(Exception, match="already exists"):
        store.write("v", 1, rows)
    assert not list((tmp_path / "data").glob(".tmp-*"))


@st.composite
def long_frames(draw: st.DrawFn) -> pd.DataFrame:
    n_assets = draw(st.integers(1, 5))
    n_days = draw(st.integers(2, 30))
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    records = []
    for j in range(n_assets):
        first = draw(st.integers(0, n_days - 1))
        last = draw(st.integers(first, n_days - 1))
        for d in dates[first : last + 1]:
            value = draw(st.one_of(st.none(), st.floats(1.0, 1000.0, allow_nan=False)))
            records.append((d, f"S{j}", value))
    return pd.DataFrame(records, columns=["timestamp", "symbol", "close"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=long_frames())
def test_any_long_frame_round_trips(frame: pd.DataFrame, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    ws = Workspace(tmp / "ws")
    ws.data._bundled_ready = True
    path = tmp / "f.csv"
    frame.to_csv(path, index=False)
    if frame.groupby("symbol")["close"].count().min() == 0:
        # an asset without a single price is refused, and said to be
        with pytest.raises(DataQualityError, match="no_usable_prices"):
            ws.data.import_file(path, "f")
        ws.close()
        return
    result = ws.data.import_file(path, "f")
    p = ws.data.load("f")
    assert result.dataset.rows == len(frame)
    assert p.membership.sum() == len(frame)
    expected = frame.pivot(index="timestamp", columns="symbol", values="close")
    np.testing.assert_array_equal(p["close"], expected.to_numpy(dtype=float))
    back = p.to_long()
    assert len(back) == len(frame)
    ws.close()


def test_huge_integer_volumes_are_read_not_refused(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "big.csv",
        "timestamp,symbol,close,volume\n2024-01-02,X,1.5,9007199254740993\n"
        "2024-01-03,X,1.6,12345678901234567",
    )
    p = workspace.data.load(workspace.data.import_file(path, "big").dataset.name)
    assert p["volume"][0, 0] == pytest.approx(9.007199254740992e15)
    assert p["volume"][1, 0] == pytest.approx(1.2345678901234568e16)


def test_wide_file_locations_name_the_right_asset(workspace: Workspace, tmp_path: Path) -> None:
    rows = ["Date,AAA,BBB"]
    days = pd.bdate_range("2024-01-01", periods=8)
    aaa = [10, 11, 12, 13, 14, 15, 16, 17]
    bbb = [50, 51, 52, 26, 26.5, 27, 27, 27]  # a halving on day 4
    rows += [f"{d:%Y-%m-%d},{a},{b}" for d, a, b in zip(days, aaa, bbb, strict=True)]
    report, _ = workspace.data.check_file(write_csv(tmp_path / "wide.csv", "\n".join(rows)))
    jump = report.issue("split_like_jump")
    assert jump is not None
    assert jump.locations[0]["asset"] == "BBB"
    assert jump.locations[0]["ratio"] == pytest.approx(26 / 52)
