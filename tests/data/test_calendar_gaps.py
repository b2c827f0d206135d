"""Gap checks against the dataset's trading calendar, given at import or inferred."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.cli import main
from alphaloop.data import DataCatalog
from alphaloop.data.calendar_fill import fill_to_calendar
from alphaloop.data.calendars import TradingCalendar
from alphaloop.data.panel import Panel
from alphaloop.errors import ConfigError

NYSE = TradingCalendar("XNYS")


def _csv(path: Path, stamps: pd.DatetimeIndex, assets: tuple[str, ...] = ("AAA", "BBB")) -> Path:
    rng = np.random.default_rng(7)
    frames = []
    for asset in assets:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, len(stamps))))
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "asset": asset,
                    "close": close.round(4),
                    "volume": rng.integers(1, 1000, len(stamps)),
                }
            )
        )
    pd.concat(frames).to_csv(path, index=False)
    return path


def _index(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def test_a_missing_monday_is_a_gap_for_crypto(tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", "2024-03-31", freq="D", tz="UTC")
    without = days[days != pd.Timestamp("2024-02-05", tz="UTC")]  # a Monday, every asset
    report, _ = DataCatalog.check_file(_csv(tmp_path / "c.csv", without))
    gaps = report.issue("calendar_gaps")
    assert gaps is not None
    assert gaps.count == 2
    assert gaps.locations[0]["timestamp"].startswith("2024-02-05")
    assert any("24/7" in note and "inferred" in note for note in report.notes)
    # the same file checked on the dataset's own timestamps sees no gap
    plain, _ = DataCatalog.check_file(_csv(tmp_path / "c.csv", without), calendar="none")
    assert plain.issue("calendar_gaps") is None


def test_weekends_and_holidays_are_not_gaps_for_equities(tmp_path: Path) -> None:
    sessions = NYSE.sessions("2024-01-01", "2024-06-30")
    report, _ = DataCatalog.check_file(_csv(tmp_path / "e.csv", sessions), calendar="XNYS")
    assert report.issue("calendar_gaps") is None
    assert report.issue("off_calendar_bars") is None
    # a bar on Good Friday (a holiday) is off the calendar; a missing session is a gap
    holiday = pd.DatetimeIndex([pd.Timestamp("2024-03-29", tz="UTC")])
    odd = sessions.drop(pd.Timestamp("2024-04-02", tz="UTC")).append(holiday).sort_values()
    report, _ = DataCatalog.check_file(_csv(tmp_path / "e2.csv", odd), calendar="XNYS")
    off, gaps = report.issue("off_calendar_bars"), report.issue("calendar_gaps")
    assert off is not None
    assert off.count == 2
    assert off.severity == "warning"
    assert off.locations[0]["timestamp"].startswith("2024-03-29")
    assert gaps is not None
    assert gaps.count == 2
    assert gaps.locations[0]["timestamp"].startswith("2024-04-02")


def test_minute_gaps_inside_a_session_but_not_overnight(tmp_path: Path) -> None:
    stamps = NYSE.bar_stamps("2024-11-18", "2024-11-29", "1min")  # nights, a holiday
    full = _index(stamps)
    report, _ = DataCatalog.check_file(_csv(tmp_path / "m.csv", full, ("AAA",)))
    assert report.issue("calendar_gaps") is None  # the early close on 11-29 is no gap
    assert any("XNYS" in n for n in report.notes)  # inferred from the hours and the holiday
    holed = full.delete([100, 101, 102])  # three minutes inside the first session
    report, _ = DataCatalog.check_file(_csv(tmp_path / "m2.csv", holed, ("AAA",)), calendar="XNYS")
    gaps = report.issue("calendar_gaps")
    assert gaps is not None
    assert gaps.count == 3
    assert pd.Timestamp(gaps.locations[0]["timestamp"]) == full[100]
    # pre-market bars are off the calendar
    early = full.append(pd.DatetimeIndex([full[0] - pd.Timedelta(minutes=30)])).sort_values()
    report, _ = DataCatalog.check_file(_csv(tmp_path / "m3.csv", early, ("AAA",)), calendar="XNYS")
    off = report.issue("off_calendar_bars")
    assert off is not None
    assert off.count == 1


def test_end_stamped_minutes_are_recognised(tmp_path: Path) -> None:
    ends = _index(NYSE.bar_stamps("2024-11-26", "2024-11-27", "1min", label="end"))
    report, _ = DataCatalog.check_file(_csv(tmp_path / "end.csv", ends, ("AAA",)), calendar="XNYS")
    assert report.issue("calendar_gaps") is None
    assert report.issue("off_calendar_bars") is None
    holed = ends.delete(5)
    report, _ = DataCatalog.check_file(_csv(tmp_path / "e2.csv", holed, ("AAA",)), calendar="XNYS")
    gaps = report.issue("calendar_gaps")
    assert gaps is not None
    assert "end-stamped" in gaps.message


def test_import_records_the_calendar_and_rechecks_with_it(ws: Workspace, tmp_path: Path) -> None:
    stamps = _index(NYSE.bar_stamps("2024-11-25", "2024-12-06", "5min"))
    path = _csv(tmp_path / "five.csv", stamps.delete(40))
    info = ws.data.import_file(path, "nyse-5min", calendar="NYSE").dataset
    market = info.market
    assert market.trading_calendar == "XNYS"
    assert "trading_calendar" in market.given
    per_session = NYSE.bars_per_session("5min", "2024-01-01", "2024-12-31")
    assert market.bars_per_day == pytest.approx(per_session, abs=1e-4)
    assert market.periods_per_year == pytest.approx(
        NYSE.sessions_per_year("2024-01-01", "2024-12-31") * per_session
    )
    again = ws.data.check_dataset("nyse-5min")
    assert again.issue("calendar_gaps") is not None
    assert again.issue("calendar_gaps").count == 2  # type: ignore[union-attr]


def test_cli_calendar_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    sessions = NYSE.sessions("2024-01-01", "2024-03-31")
    path = _csv(tmp_path / "d.csv", sessions)
    base = ["--workspace", str(home), "data", "import", str(path), "--name", "eq"]
    assert main([*base, "--calendar", "XNYZ"]) == 2
    err = capsys.readouterr().err
    assert "XNYZ" in err
    assert "Traceback" not in err
    assert main([*base, "--calendar", "xnys"]) == 0
    out = capsys.readouterr().out
    assert "(XNYS)" in out
    assert main(["--workspace", str(home), "data", "check", str(path), "--calendar", "24/7"]) == 1
    out = capsys.readouterr().out
    assert "calendar_gaps" in out  # weekends are gaps on a 24/7 calendar


def _panel(index: pd.DatetimeIndex, close: np.ndarray) -> Panel:
    close = close.reshape(len(index), -1)
    fields = {k: close for k in ("open", "high", "low", "close")}
    fields["volume"] = np.ones_like(close)
    return Panel(index, tuple(f"A{i}" for i in range(close.shape[1])), fields)


def test_fills_add_the_calendars_bars_only() -> None:
    days = pd.date_range("2024-02-01", "2024-02-29", freq="D", tz="UTC")
    monday = pd.Timestamp("2024-02-05", tz="UTC")
    crypto = _panel(days.drop(monday), np.arange(1.0, 29.0))
    out = fill_to_calendar(crypto, "24/7")
    assert out.added == 1
    assert monday in out.panel.index
    row = out.panel.index.get_loc(monday)
    assert np.isnan(out.panel.field("close")[row, 0])
    assert not out.panel.membership[row, 0]
    flat = fill_to_calendar(crypto, "24/7", method="previous_close")
    assert flat.filled == 1
    assert flat.panel.field("close")[row, 0] == crypto.field("close")[row - 1, 0]
    assert flat.panel.field("high")[row, 0] == flat.panel.field("close")[row - 1, 0]
    assert flat.panel.field("volume")[row, 0] == 0.0
    # on the NYSE calendar the weekends and Presidents' Day (02-19) are not added
    sessions = NYSE.sessions("2024-02-01", "2024-02-29")
    gap = sessions[5]
    equities = _panel(sessions.drop(gap), np.arange(1.0, len(sessions)))
    filled = fill_to_calendar(equities, "XNYS").panel
    assert list(filled.index) == list(sessions)


def test_minute_fills_stay_inside_sessions() -> None:
    stamps = _index(NYSE.bar_stamps("2024-11-26", "2024-11-27", "1min"))
    holed = stamps.delete([10, 11])
    panel = _panel(holed, np.linspace(1, 2, len(holed) * 2))
    out = fill_to_calendar(panel, "XNYS", method="previous_close")
    assert out.added == 2
    assert out.filled == 4  # two bars of two assets
    assert len(out.panel.index) == len(stamps)  # nothing added overnight
    close = out.panel.field("close")
    np.testing.assert_array_equal(close[10], close[9])
    np.testing.assert_array_equal(close[11], close[9])
    with pytest.raises(ConfigError, match="fill method"):
        fill_to_calendar(panel, "XNYS", method="linear")  # type: ignore[arg-type]
