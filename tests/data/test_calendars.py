"""Trading calendars: sessions, holidays, early closes, bar stamps, bars per year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.calendars import TradingCalendar, check_calendar_name, step_nanoseconds
from alphaloop.data.market_calendar import infer_market_calendar, infer_trading_calendar
from alphaloop.errors import ConfigError

MIN = 60 * 10**9


def _utc(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


def _days(index: pd.DatetimeIndex) -> list[str]:
    return [f"{d:%Y-%m-%d}" for d in index]


def test_nyse_holidays_and_early_closes_of_2024() -> None:
    nyse = TradingCalendar("XNYS")
    # NYSE's published 2024 holidays (weekdays only) and its three 13:00 closes
    assert _days(nyse.holidays("2024-01-01", "2024-12-31")) == [
        "2024-01-01",
        "2024-01-15",
        "2024-02-19",
        "2024-03-29",
        "2024-05-27",
        "2024-06-19",
        "2024-07-04",
        "2024-09-02",
        "2024-11-28",
        "2024-12-25",
    ]
    assert _days(nyse.early_closes("2024-01-01", "2024-12-31")) == [
        "2024-07-03",
        "2024-11-29",
        "2024-12-24",
    ]
    assert len(nyse.sessions("2024-01-01", "2024-12-31")) == 366 - 104 - 10


def test_session_opens_and_closes_follow_new_york_time() -> None:
    sched = TradingCalendar("NYSE").schedule("2024-03-08", "2024-03-11")  # DST starts 03-10
    assert list(sched.opens) == [_utc("2024-03-08 14:30"), _utc("2024-03-11 13:30")]
    assert list(sched.closes) == [_utc("2024-03-08 21:00"), _utc("2024-03-11 20:00")]
    early = TradingCalendar("XNYS").schedule("2024-11-29", "2024-11-29")
    assert early.closes[0] == _utc("2024-11-29 18:00")  # 13:00 New York


def test_minute_stamps_of_regular_and_early_close_sessions() -> None:
    nyse = TradingCalendar("XNYS")
    regular = nyse.bar_stamps("2024-11-27", "2024-11-27", "1min")
    early = nyse.bar_stamps("2024-11-29", "2024-11-29", "1min")
    assert len(regular) == 390
    assert len(early) == 210
    assert regular[0] == _utc("2024-11-27 14:30")
    assert regular[-1] == _utc("2024-11-27 20:59")
    assert (np.diff(regular) == MIN).all()
    # no stamp on the Thanksgiving holiday between them
    both = nyse.bar_stamps("2024-11-27", "2024-11-29", "1min")
    assert len(both) == 600
    hourly_end = nyse.bar_stamps("2024-11-27", "2024-11-27", "1h", label="end")
    assert hourly_end[-2:].tolist() == [_utc("2024-11-27 20:30"), _utc("2024-11-27 21:00")]


def test_a_lunch_break_has_no_bars() -> None:
    tokyo = TradingCalendar("XTKS")
    sched = tokyo.schedule("2024-03-04", "2024-03-04")
    stamps = tokyo.bar_stamps("2024-03-04", "2024-03-04", "1min")
    inside_break = (stamps >= sched.break_starts[0]) & (stamps < sched.break_ends[0])
    assert sched.break_starts[0] < sched.break_ends[0]
    assert not inside_break.any()
    assert len(stamps) == sched.minutes_open()[0]
    assert not tokyo.is_open(np.array([sched.break_starts[0]]))[0]
    assert tokyo.is_open(np.array([sched.break_ends[0]]))[0]


def test_crypto_trades_every_minute_and_fx_five_days() -> None:
    crypto = TradingCalendar("crypto")
    assert crypto.name == "24/7"
    assert crypto.market == "24/7"
    assert len(crypto.bar_stamps("2024-03-02", "2024-03-03", "1h")) == 48  # a weekend
    fx = TradingCalendar("fx")
    assert fx.market == "24x5"
    winter = fx.schedule("2024-01-08", "2024-01-08")  # Monday: opens Sunday 17:00 New York
    summer = fx.schedule("2024-07-08", "2024-07-08")
    assert winter.opens[0] == _utc("2024-01-07 22:00")
    assert summer.opens[0] == _utc("2024-07-07 21:00")
    week = fx.bar_stamps("2024-01-08", "2024-01-12", "1h")
    assert len(week) == 5 * 24
    assert not fx.is_open(np.array([_utc("2024-01-13 12:00")]))[0]  # Saturday


def test_bars_per_year_come_from_the_exchange_sessions() -> None:
    nyse = TradingCalendar("XNYS")
    sessions = nyse.schedule("2021-01-01", "2025-12-31")
    per_year = len(sessions) / 5
    assert nyse.periods_per_year("daily", "2021-03-01", "2025-06-30") == pytest.approx(per_year)
    minutes = sessions.minutes_open().mean()
    assert 385 < minutes < 390  # early closes shorten the average session
    assert nyse.periods_per_year("1min", "2021-03-01", "2025-06-30") == pytest.approx(
        per_year * minutes
    )
    assert TradingCalendar("24/7").periods_per_year("1h", "2024-01-01", "2024-02-01") == 8760
    assert TradingCalendar("24/5").periods_per_year("daily", "2024-01-01", "2024-02-01") == 260


def test_names_aliases_and_errors() -> None:
    assert check_calendar_name(" nasdaq ") == "XNAS"
    assert check_calendar_name("24x5") == "24/5"
    assert check_calendar_name("cmes") == "CMES"
    with pytest.raises(ConfigError, match="XNYZ") as err:
        check_calendar_name("XNYZ")
    assert "XNYS" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="not an intraday bar size"):
        step_nanoseconds("weekly")
    with pytest.raises(ConfigError, match="label"):
        TradingCalendar("XNYS").bar_stamps("2024-01-02", "2024-01-02", "1min", "middle")  # type: ignore[arg-type]


def test_futures_sessions_open_the_evening_before() -> None:
    cme = TradingCalendar("CMES")
    sched = cme.schedule("2024-03-05", "2024-03-05")
    assert sched.opens[0] < _utc("2024-03-05 00:00") < sched.closes[0]


def test_an_exchange_is_inferred_from_its_holidays_and_hours() -> None:
    nyse = TradingCalendar("XNYS")
    days = nyse.sessions("2023-01-01", "2024-12-31")
    assert infer_trading_calendar(days, "daily")[0] == "XNYS"
    weekdays = pd.bdate_range("2023-01-01", "2024-12-31", tz="UTC")
    assert infer_trading_calendar(weekdays, "daily")[0] is None  # bars on US holidays too
    minutes = pd.DatetimeIndex(
        nyse.bar_stamps("2024-05-01", "2024-06-28", "5min").view("datetime64[ns]")
    ).tz_localize("UTC")
    assert infer_trading_calendar(minutes, "5min")[0] == "XNYS"
    london = TradingCalendar("XLON")
    lse = pd.DatetimeIndex(
        london.bar_stamps("2024-05-01", "2024-06-28", "15min").view("datetime64[ns]")
    ).tz_localize("UTC")
    assert infer_trading_calendar(lse, "15min")[0] == "XLON"
    hours = pd.date_range("2024-01-01", "2024-03-01", freq="h", tz="UTC")
    assert infer_trading_calendar(hours, "1h") == ("24/7", infer_trading_calendar(hours, "1h")[1])


def test_the_market_records_the_exchange_and_its_bars_per_year() -> None:
    nyse = TradingCalendar("XNYS")
    stamps = nyse.bar_stamps("2024-01-01", "2024-12-31", "1min")
    market = infer_market_calendar(
        stamps, "1min", has_volume=True, trading_calendar="XNYS", calendar_given=True
    )
    sched = nyse.schedule("2024-01-01", "2024-12-31")
    assert market.trading_calendar == "XNYS"
    assert "trading_calendar" in market.given
    assert market.calendar == "sessions"
    assert market.periods_per_year == pytest.approx(len(stamps))  # one whole year of bars
    assert market.days_per_year == pytest.approx(len(sched))
    assert "XNYS sessions" in market.describe()
