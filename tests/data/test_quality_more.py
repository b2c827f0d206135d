"""No usable prices, synthetic opens, fields that peek at the next return, reports as text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.bundled import load_bundled
from alphaloop.data.long import LongData
from alphaloop.data.price_checks import (
    FUTURE_RHO,
    synthetic_open_mask,
    synthetic_open_rows,
)
from alphaloop.data.quality import (
    CHECKS,
    QualityIssue,
    QualityReport,
    check_long,
    format_location,
)
from alphaloop.errors import DataQualityError
from tests.conftest import write_csv

DAY = 86_400 * 10**9
T0 = pd.Timestamp("2020-01-01", tz="UTC").value


def frame_rows(frames: dict[str, pd.DataFrame]) -> LongData:
    """Sorted LongData from one DataFrame per asset (index: day number, columns: fields)."""
    assets = tuple(sorted(frames))
    names = list(next(iter(frames.values())).columns)
    ts, codes, values = [], [], {f: [] for f in names}
    for k, a in enumerate(assets):
        df = frames[a]
        ts.append(T0 + df.index.to_numpy(dtype=np.int64) * DAY)
        codes.append(np.full(len(df), k, dtype=np.int32))
        for f in names:
            values[f].append(df[f].to_numpy(dtype=float))
    n = sum(len(t) for t in ts)
    return LongData(
        np.concatenate(ts),
        np.concatenate(codes),
        assets,
        {f: np.concatenate(v) for f, v in values.items()},
        np.arange(n, dtype=np.int64) + 2,
    )


def walk(n: int, seed: int) -> pd.DataFrame:
    """A random-walk OHLC bar series with real (not synthetic) opens."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.003, n))
    return pd.DataFrame({"open": open_, "close": close})


def checks(data: LongData) -> dict[str, QualityIssue]:
    return {i.check: i for i in check_long(data)}


# --------------------------------------------------------------- registry
def test_new_checks_are_registered_with_their_severity() -> None:
    assert CHECKS["no_usable_prices"] == ("error", None)
    assert CHECKS["synthetic_open"] == ("warning", None)
    assert CHECKS["future_correlated_field"] == ("warning", None)


# --------------------------------------------------------- usable prices
def test_every_price_missing_is_an_unrepairable_error() -> None:
    df = pd.DataFrame({"close": [np.nan, np.nan, np.nan]})
    issue = checks(frame_rows({"A": df}))["no_usable_prices"]
    assert issue.severity == "error"
    assert issue.repair is None
    assert issue.count == 1
    assert "no usable close at all" in issue.message


def test_an_asset_without_prices_is_named() -> None:
    good = pd.DataFrame({"close": [10.0, 11.0, 12.0]})
    bad = pd.DataFrame({"close": [-1.0, np.nan, 0.0]})
    issue = checks(frame_rows({"A": good, "B": bad, "C": bad}))["no_usable_prices"]
    assert issue.count == 2
    assert "2 of 3 asset(s)" in issue.message
    assert "B, C" in issue.message
    assert [loc["asset"] for loc in issue.locations] == ["B", "C"]
    assert issue.locations[0]["rows"] == 3


def test_datasets_without_price_fields_are_not_judged() -> None:
    df = pd.DataFrame({"signal": [np.nan, np.nan]})
    assert "no_usable_prices" not in checks(frame_rows({"A": df}))


def test_import_of_a_file_without_prices_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "empty.csv", "timestamp,asset,close\n2024-01-02,A,\n2024-01-03,A,\n"
    )
    with pytest.raises(DataQualityError, match="no_usable_prices") as info:
        workspace.data.import_file(path, "empty")
    assert "no automatic repair" in str(info.value)
    with pytest.raises(DataQualityError, match="no_usable_prices"):
        workspace.data.import_file(path, "empty", repair=True)
    assert workspace.data.imports("empty")[0]["status"] == "refused"


def test_repair_cannot_leave_every_close_missing(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "neg.csv", "timestamp,asset,close\n2024-01-02,A,-1\n2024-01-03,A,-2\n"
    )
    with pytest.raises(DataQualityError, match="no_usable_prices") as info:
        workspace.data.import_file(path, "neg", repair=True)
    report = info.value.report
    assert {i.check for i in report.errors} == {"non_positive_price", "no_usable_prices"}
    assert not report.repairable


def test_wide_file_with_an_empty_column_names_the_asset(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "wide.csv", "date,AAA,BBB\n2024-01-02,1,\n2024-01-03,2,\n")
    with pytest.raises(DataQualityError) as info:
        workspace.data.import_file(path, "wide")
    issue = info.value.report.issue("no_usable_prices")
    assert issue is not None
    assert issue.locations == [{"asset": "BBB", "column": "close", "rows": 0}]


# --------------------------------------------------------- synthetic opens
def _synthetic_from(df: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    """``df`` with open = previous close on bars start..stop-1."""
    out = df.copy()
    out.loc[start : stop - 1, "open"] = df["close"].shift(1)[start:stop].to_numpy()
    return out


def test_synthetic_opens_are_flagged_with_their_span() -> None:
    fake = _synthetic_from(walk(400, seed=1), 100, 250)
    data = frame_rows({"A": walk(400, seed=2), "B": fake})
    issue = checks(data)["synthetic_open"]
    assert issue.severity == "warning"
    assert issue.count == 150
    (span,) = issue.locations
    assert span["asset"] == "B"
    assert span["timestamp"] == pd.Timestamp(T0 + 100 * DAY, tz="UTC").isoformat()
    assert span["end"] == pd.Timestamp(T0 + 249 * DAY, tz="UTC").isoformat()
    assert span["bars"] == 150
    assert span["share"] == 1.0


def test_real_opens_and_rare_equalities_are_not_flagged() -> None:
    df = walk(400, seed=3)
    # a few opens equal to the previous close, far apart: what real data has
    for k in (50, 120, 300):
        df.loc[k, "open"] = df.loc[k - 1, "close"]
    assert "synthetic_open" not in checks(frame_rows({"A": df}))


def test_a_window_needs_half_of_its_bars() -> None:
    df = walk(300, seed=4)
    # every 3rd bar for a while: a third of the bars, below the threshold
    idx = np.arange(60, 240, 3)
    df.loc[idx, "open"] = df["close"].shift(1)[idx].to_numpy()
    assert "synthetic_open" not in checks(frame_rows({"A": df}))
    # every other bar: half of them, flagged
    df = walk(300, seed=4)
    idx = np.arange(60, 240, 2)
    df.loc[idx, "open"] = df["close"].shift(1)[idx].to_numpy()
    assert checks(frame_rows({"A": df}))["synthetic_open"].count == len(idx)


def test_panel_mask_marks_the_same_bars_as_the_check() -> None:
    frames = {"A": walk(300, seed=5), "B": _synthetic_from(walk(300, seed=6), 30, 200)}
    data = frame_rows(frames)
    panel = data.to_panel()
    mask = synthetic_open_mask(panel)
    assert mask.shape == panel.shape
    assert mask.dtype == bool
    assert not mask[:, 0].any()
    assert mask[:, 1].sum() == 170
    assert np.flatnonzero(mask[:, 1]).tolist() == list(range(30, 200))
    rows = synthetic_open_rows(data)
    assert rows.sum() == mask.sum()
    # a panel without opens has nothing to flag
    assert not synthetic_open_mask(panel.select(fields=["close"])).any()


def test_bundled_sp500_ohlcv_has_synthetic_opens_and_says_so(shared_workspace: Workspace) -> None:
    issue = checks(load_bundled("sp500-ohlcv"))["synthetic_open"]
    first = issue.locations[0]
    assert first["asset"] == "SP500"
    assert first["timestamp"].startswith("1999-01-05")
    assert first["end"].startswith("2006-")
    assert first["share"] > 0.9
    assert issue.count > 1500
    info = shared_workspace.data.info("sp500-ohlcv")
    caveat = next(c for c in info.caveats if c.startswith("synthetic_open:"))
    assert "SP500 1999-01-05.." in caveat
    panel = shared_workspace.data.load("sp500-ohlcv")
    mask = synthetic_open_mask(panel)
    early = panel.index < pd.Timestamp("2006-01-01", tz="UTC")
    assert mask[early].mean() > 0.9
    assert mask[panel.index >= pd.Timestamp("2014-01-01", tz="UTC")].sum() == 0


def test_bundled_nasdaq_opens_are_real() -> None:
    # 8 of 5031 NASDAQ opens equal the previous close, spread out: not synthetic
    assert "synthetic_open" not in checks(load_bundled("nasdaq-ohlcv"))


# ------------------------------------------------------- future returns
def _with_fields(n: int, seed: int, assets: tuple[str, ...] = ("A", "B")) -> dict:
    rng = np.random.default_rng(seed)
    frames = {}
    for k, a in enumerate(assets):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        nxt = np.r_[close[1:] / close[:-1] - 1, np.nan]
        frames[a] = pd.DataFrame(
            {
                "close": close,
                "fwd_ret": nxt,  # the next bar's return: a leak
                "noise": rng.normal(size=n),
                "momentum": np.r_[np.nan, close[1:] / close[:-1] - 1],  # the current return
                "half_leak": nxt + rng.normal(0, 0.005, n) * (k + 1),
            }
        )
    return frames


def test_a_column_holding_the_next_return_is_flagged() -> None:
    issue = checks(frame_rows(_with_fields(300, seed=7)))["future_correlated_field"]
    assert issue.severity == "warning"
    by_field = {loc["column"]: loc for loc in issue.locations}
    assert "fwd_ret" in by_field
    assert by_field["fwd_ret"]["rho"] == pytest.approx(1.0)
    assert by_field["fwd_ret"]["pairs"] == 2 * 299
    assert by_field["fwd_ret"]["assets_flagged"] == 2
    assert "noise" not in by_field
    assert "momentum" not in by_field
    assert "fwd_ret (rho +1.00 on 598 bars)" in issue.message


def test_rho_matches_scipy_per_asset() -> None:
    from scipy.stats import spearmanr

    frames = _with_fields(300, seed=8, assets=("A",))
    issue = checks(frame_rows(frames))["future_correlated_field"]
    loc = next(loc for loc in issue.locations if loc["column"] == "half_leak")
    df = frames["A"].iloc[:-1]
    expected = spearmanr(df["half_leak"], df["fwd_ret"]).statistic
    assert abs(expected) > FUTURE_RHO
    assert loc["asset_rho"] == pytest.approx(expected, abs=1e-3)
    assert loc["rho"] == pytest.approx(expected, abs=1e-3)


def test_a_leak_in_one_asset_only_is_found() -> None:
    frames = _with_fields(300, seed=9, assets=("A", "B", "C", "D"))
    rng = np.random.default_rng(10)
    for a in ("A", "B", "C"):
        frames[a]["fwd_ret"] = rng.normal(size=300)
    issue = checks(frame_rows(frames))["future_correlated_field"]
    loc = next(loc for loc in issue.locations if loc["column"] == "fwd_ret")
    assert loc["assets_flagged"] == 1
    assert loc["asset"] == "D"
    assert abs(loc["rho"]) < FUTURE_RHO  # pooled it is diluted, per asset it shows


def test_pooled_pairs_flag_many_short_series() -> None:
    # 4 assets x 49 pairs: too few per asset, enough pooled
    issue = checks(frame_rows(_with_fields(50, seed=13, assets=("A", "B", "C", "D"))))
    loc = next(
        loc for loc in issue["future_correlated_field"].locations if loc["column"] == "fwd_ret"
    )
    assert loc["rho"] == pytest.approx(1.0)
    assert loc["pairs"] == 4 * 49
    assert loc["assets_flagged"] == 0
    assert "asset" not in loc  # no asset has enough pairs on its own


def test_short_series_are_not_judged() -> None:
    assert "future_correlated_field" not in checks(frame_rows(_with_fields(40, seed=11)))


def test_no_bundled_dataset_has_a_future_correlated_field() -> None:
    for name in ("sp500-ohlcv", "nasdaq-ohlcv", "sp500-stocks", "wti"):
        assert "future_correlated_field" not in checks(load_bundled(name)), name


def test_import_warns_and_keeps_the_caveat(workspace: Workspace, tmp_path: Path) -> None:
    frames = _with_fields(200, seed=12)
    long = pd.concat(
        [
            df.assign(asset=a, timestamp=pd.bdate_range("2020-01-01", periods=len(df)))
            for a, df in frames.items()
        ]
    )[["timestamp", "asset", "close", "fwd_ret", "noise"]]
    path = tmp_path / "leaky.csv"
    long.to_csv(path, index=False)
    result = workspace.data.import_file(path, "leaky")
    assert result.status == "accepted"
    warning = result.final_report.issue("future_correlated_field")
    assert warning is not None
    assert warning.locations[0]["column"] == "fwd_ret"
    assert any(c.startswith("future_correlated_field: ") for c in result.dataset.caveats)


# ------------------------------------------------ stored report after repair
def test_stored_report_describes_the_rows_after_repair(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "rep.csv",
        "timestamp,asset,close\n2024-01-02,A,10\n2024-01-03,A,-1\n2024-01-04,A,11\n"
        "2024-01-05,A,abc\n2024-01-08,A,12\n",
    )
    result = workspace.data.import_file(path, "rep", repair=True)
    assert {i.check for i in result.report.errors} == {"non_numeric", "non_positive_price"}
    info = workspace.data.info("rep")
    stored = info.quality_report
    assert stored.errors == ()
    assert stored.issue("missing_values").count == 2  # what the repairs left
    assert stored.rows == 5
    assert [(r.check, r.count) for r in info.repairs] == [
        ("non_numeric", 1),
        ("non_positive_price", 1),
    ]
    assert info.to_dict()["quality"] == {"errors": 0, "warnings": 1, "repairs": 2}
    assert workspace.data.quality_report("rep").to_dict() == stored.to_dict()
    # the import attempt keeps the file's report, errors included
    with workspace.db.session() as s:
        from alphaloop.store import ImportRecord

        rec = s.query(ImportRecord).filter_by(name="rep").one()
        assert rec.report["errors"] == 2


# ----------------------------------------------------------- text rendering
def test_issue_lines_show_the_first_locations() -> None:
    recs = pd.DataFrame({"close": [10.0, -1.0, -2.0, -3.0, -4.0, 5.0]})
    report = QualityReport("f.csv", 6, "long", tuple(check_long(frame_rows({"X": recs}))))
    lines = report.lines(max_locations=2)
    assert lines[0] == "f.csv: 6 rows (long): 1 error(s), 1 warning(s)"
    i = lines.index(
        "  - error: non_positive_price: 4 price(s) at or below zero in ['close'] "
        "(repair: non-positive prices become missing (NaN))"
    )
    assert lines[i + 1] == "      at line 3, X, 2020-01-02, close=-1"
    assert lines[i + 2] == "      at line 4, X, 2020-01-03, close=-2"
    assert lines[i + 3] == "      ... 2 more location(s) in the JSON report"


def test_locations_render_every_key() -> None:
    assert format_location(
        {"line": 7, "asset": "A", "timestamp": "2024-01-02T00:00:00+00:00", "column": "close",
         "value": None}
    ) == "line 7, A, 2024-01-02, close=missing"  # fmt: skip
    assert format_location(
        {"asset": "SP500", "timestamp": "1999-01-04T00:00:00+00:00",
         "end": "2006-06-27T00:00:00+00:00", "bars": 1781, "share": 0.947}
    ) == "SP500, 1999-01-04 .. 2006-06-27, bars 1781, share 0.947"  # fmt: skip
    assert (
        format_location(
            {"timestamp": "2024-01-02T09:30:00+00:00", "previous": "2024-01-01T00:00:00+00:00"}
        )
        == "2024-01-02T09:30:00+00:00, previous 2024-01-01"
    )
    assert format_location({}) == "(whole dataset)"


def test_reports_round_trip_through_dicts() -> None:
    recs = pd.DataFrame({"close": [10.0, -1.0, 11.0]})
    report = QualityReport("f", 3, "long", tuple(check_long(frame_rows({"X": recs}))), ("n",))
    again = QualityReport.from_dict(report.to_dict())
    assert again == report
    assert again.lines() == report.lines()


def test_imported_synthetic_opens_are_a_caveat_without_dates(
    workspace: Workspace, tmp_path: Path
) -> None:
    df = _synthetic_from(walk(200, seed=14), 20, 180)
    df["timestamp"] = pd.bdate_range("2021-01-04", periods=len(df))
    df["asset"] = "X"
    path = tmp_path / "opens.csv"
    df.to_csv(path, index=False)
    result = workspace.data.import_file(path, "opens")
    (caveat,) = [c for c in result.dataset.caveats if c.startswith("synthetic_open: ")]
    assert "160 bar(s) of 1 asset(s)" in caveat
    assert "2021" not in caveat
    span = workspace.data.quality_report("opens").issue("synthetic_open").locations[0]
    assert span["timestamp"].startswith("2021-02-01")
