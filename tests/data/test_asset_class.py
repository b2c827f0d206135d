"""Market calendars: read from the timestamps at import, overridable, recorded, shown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.cli import main
from alphaloop.data.market_calendar import MarketCalendar, infer_market_calendar, periods_per_year
from alphaloop.data.panel import infer_frequency
from alphaloop.errors import ConfigError


def _infer(index: pd.DatetimeIndex, **kw: object) -> MarketCalendar:
    kw.setdefault("has_volume", True)
    return infer_market_calendar(index, infer_frequency(index), **kw)  # type: ignore[arg-type]


def _weekdays(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return index[index.day_of_week < 5]


HOURS_24_7 = pd.date_range("2021-01-01", "2022-12-31 23:00", freq="h", tz="UTC")
DAYS_24_7 = pd.date_range("2021-01-01", "2022-12-31", freq="D", tz="UTC")
HOURS_FX = _weekdays(HOURS_24_7)
BUSINESS_DAYS = pd.bdate_range("2021-01-01", "2022-12-31", tz="UTC")


def _sessions(days: pd.DatetimeIndex, bars: int) -> pd.DatetimeIndex:
    """``bars`` hourly bars a day from 14:30 UTC (a US session)."""
    offsets = [pd.Timedelta(hours=14, minutes=30) + pd.Timedelta(hours=h) for h in range(bars)]
    return pd.DatetimeIndex([d + o for d in days for o in offsets])


@pytest.mark.parametrize(
    ("index", "asset_class", "calendar", "ppy", "per_day"),
    [
        (HOURS_24_7, "crypto", "24/7", 8760.0, 24.0),
        (DAYS_24_7, "crypto", "24/7", 365.0, 1.0),
        (HOURS_FX, "fx", "24x5", 6240.0, 24.0),
        (BUSINESS_DAYS, "equities", "sessions", 252.0, 1.0),
        (_sessions(BUSINESS_DAYS[:200], 7), "equities", "sessions", 252.0 * 7, 7.0),
        (pd.date_range("2000-01-31", periods=120, freq="ME", tz="UTC"), "other", "periodic", 12.0,
         None),
        (pd.date_range("2000-01-07", periods=120, freq="W-FRI", tz="UTC"), "other", "periodic",
         52.0, None),
    ],
)  # fmt: skip
def test_calendar_is_read_from_the_timestamps(
    index: pd.DatetimeIndex, asset_class: str, calendar: str, ppy: float, per_day: float | None
) -> None:
    m = _infer(index)
    assert (m.asset_class, m.calendar, m.periods_per_year, m.bars_per_day) == (
        asset_class,
        calendar,
        ppy,
        per_day,
    )
    assert m.given == ()
    assert m.basis


def test_fx_daily_bars_need_the_asset_class_or_sunday_bars() -> None:
    # weekday daily bars cannot tell FX from an exchange: sessions unless told
    assert _infer(BUSINESS_DAYS).periods_per_year == 252.0
    fx = _infer(BUSINESS_DAYS, asset_class="fx")
    assert (fx.calendar, fx.periods_per_year, fx.given) == ("24x5", 260.0, ("asset_class",))
    # the FX week: Sunday evening to Friday, never Saturday
    sunday_to_thursday = DAYS_24_7[DAYS_24_7.day_of_week.isin([6, 0, 1, 2, 3])]
    week = _infer(sunday_to_thursday)
    assert (week.asset_class, week.calendar, week.periods_per_year) == ("fx", "24x5", 260.0)


def test_volume_kind_follows_the_asset_class() -> None:
    assert _infer(HOURS_24_7).volume == "traded"
    assert _infer(HOURS_FX).volume == "tick"  # FX volume counts quotes, not traded size
    assert _infer(HOURS_24_7, has_volume=False).volume == "none"
    assert _infer(HOURS_FX, volume="traded").volume == "traded"


def test_short_data_takes_the_calendar_of_its_asset_class() -> None:
    two_days = pd.date_range("2024-01-08", periods=48, freq="h", tz="UTC")  # Mon-Tue
    assert _infer(two_days, asset_class="crypto").periods_per_year == 8760.0
    assert _infer(two_days, asset_class="fx").periods_per_year == 6240.0
    assert _infer(two_days).calendar == "sessions"  # equities by default


def test_the_bars_present_win_over_a_given_asset_class() -> None:
    m = _infer(BUSINESS_DAYS, asset_class="crypto")
    assert (m.asset_class, m.calendar, m.periods_per_year) == ("crypto", "sessions", 252.0)
    assert "usually trades 24/7" in m.basis


def test_irregular_calendars_have_no_factor_unless_given() -> None:
    steps = np.cumsum([1, 3, 17, 40, 2, 90, 5, 33, 61, 8])
    index = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(steps, unit="D")
    assert _infer(index).periods_per_year is None
    given = _infer(index, periods_per_year_given=24)
    assert given.periods_per_year == 24.0
    assert "given at import" in given.describe()


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"asset_class": "stocks"}, "not a known asset class"),
        ({"periods_per_year_given": 0}, "not a usable number"),
        ({"periods_per_year_given": float("inf")}, "not a usable number"),
        ({"volume": "huge"}, "not a volume kind"),
    ],
)
def test_bad_overrides_are_refused(kw: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        _infer(DAYS_24_7, **kw)


def test_periods_per_year_table() -> None:
    assert periods_per_year("daily", "24/7") == 365.0
    assert periods_per_year("1h", "24/7") == 8760.0
    assert periods_per_year("1h", "24x5") == 6240.0
    assert periods_per_year("daily", "24x5") == 260.0
    assert periods_per_year("5min", "sessions") == 252.0 * 78
    assert periods_per_year("1h", "sessions", 7) == 252.0 * 7
    assert periods_per_year("monthly", "24/7") == 12.0
    assert periods_per_year("irregular", "24/7") is None
    assert periods_per_year("daily", "irregular") is None


def test_round_trip_through_dict() -> None:
    m = _infer(HOURS_FX, asset_class="fx")
    assert MarketCalendar.from_dict(json.loads(json.dumps(m.to_dict()))) == m


# -- through the catalog --------------------------------------------------------------


def _csv(path: Path, index: pd.DatetimeIndex, *, volume: bool = True) -> Path:
    n = len(index)
    frame = pd.DataFrame(
        {"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "asset": "X"}
        | {"close": 100.0 * 1.0001 ** np.arange(n)}
        | ({"volume": np.full(n, 1000.0)} if volume else {})
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("asset-class")
    workspace = Workspace(root / "ws")
    workspace.data.import_file(_csv(root / "btc.csv", HOURS_24_7[:2000]), "btc-hourly")
    workspace.data.import_file(_csv(root / "eurusd.csv", HOURS_FX[:2000]), "eurusd-hourly")
    return workspace


def test_imports_record_the_market(ws: Workspace) -> None:
    btc = ws.data.info("btc-hourly").market
    assert (btc.asset_class, btc.calendar, btc.periods_per_year, btc.volume) == (
        "crypto",
        "24/7",
        8760.0,
        "traded",
    )
    fx = ws.data.info("eurusd-hourly").market
    assert (fx.asset_class, fx.calendar, fx.periods_per_year, fx.volume) == (
        "fx",
        "24x5",
        6240.0,
        "tick",
    )
    listed = {i.name: i.to_dict() for i in ws.data.list()}
    assert listed["btc-hourly"]["market"]["periods_per_year"] == 8760.0
    assert listed["eurusd-hourly"]["market"]["calendar"] == "24x5"


def test_bundled_datasets_are_sessions_and_monthly(ws: Workspace) -> None:
    stocks = ws.data.info("sp500-stocks").market
    assert (stocks.asset_class, stocks.calendar, stocks.periods_per_year) == (
        "equities",
        "sessions",
        252.0,
    )
    ff = ws.data.info("fama-french").market
    assert (ff.calendar, ff.periods_per_year) == ("periodic", 12.0)


def test_import_overrides_are_recorded(ws: Workspace, tmp_path: Path) -> None:
    path = _csv(tmp_path / "days.csv", BUSINESS_DAYS)
    info = ws.data.import_file(path, "eurusd-daily", asset_class="FX").dataset
    assert (info.market.asset_class, info.market.periods_per_year) == ("fx", 260.0)
    info = ws.data.import_file(path, "eurusd-daily", periods_per_year=250).dataset
    assert info.version == 2
    assert (info.market.asset_class, info.market.periods_per_year) == ("equities", 250.0)
    assert info.market.given == ("periods_per_year",)
    # each version keeps its own
    assert ws.data.info("eurusd-daily", 1).market.periods_per_year == 260.0


def test_bad_override_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv", BUSINESS_DAYS[:50])
    with pytest.raises(ConfigError, match="asset class"):
        ws.data.import_file(path, "never", asset_class="bonds")
    assert "never" not in {i.name for i in ws.data.list()}


def test_versions_stored_without_a_calendar_get_one_read_back(ws: Workspace) -> None:
    info = ws.data.info("btc-hourly")
    meta_path = Path(info.path) / "meta.json"
    meta = json.loads(meta_path.read_text())
    recorded = meta.pop("market")
    meta_path.write_text(json.dumps(meta))
    try:
        again = ws.data.info("btc-hourly").market
        assert again.to_dict() == recorded
    finally:
        meta_path.write_text(json.dumps({**meta, "market": recorded}))


# -- command line -----------------------------------------------------------------------


def test_cli_import_options_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    path = _csv(tmp_path / "fx.csv", BUSINESS_DAYS[:300], volume=False)
    args = ["--workspace", str(home), "data", "import", str(path), "--name", "fxd"]
    assert main([*args, "--asset-class", "fx", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    market = doc["dataset"]["market"]
    assert (market["asset_class"], market["calendar"], market["periods_per_year"]) == (
        "fx",
        "24x5",
        260.0,
    )
    assert main([*args, "--periods-per-year", "261"]) == 0
    assert "261 bars a year" in capsys.readouterr().out
    assert main(["--workspace", str(home), "data", "show", "fxd"]) == 0
    assert "market: equities, sessions calendar: 261 bars a year" in capsys.readouterr().out
    assert main(["--workspace", str(home), "data", "list", "--json"]) == 0
    listed = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed["fxd"]["market"]["periods_per_year"] == 261.0
    assert listed["sp500-stocks"]["market"]["calendar"] == "sessions"
    assert main([*args, "--asset-class", "bonds"]) == 2
    assert "not a known asset class" in capsys.readouterr().err
