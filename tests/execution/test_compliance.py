"""Compliance rules: hours by exchange calendar (holidays, early closes, outside hours, 24/7),
restricted list, participation cap and short-sale rules, each refusal naming rule and values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alphaloop.execution import ComplianceRules, ShortSales
from alphaloop.execution.compliance import ComplianceChecker


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NYSE = ComplianceChecker(ComplianceRules(calendar="XNYS"))


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        ("2024-11-27T14:30", True),  # Wednesday 09:30 New York: the open
        ("2024-11-27T14:29", False),  # a minute before the open
        ("2024-11-27T20:59", True),  # the last minute
        ("2024-11-27T21:00", False),  # the close
        ("2024-11-29T17:59", True),  # the day after Thanksgiving closes at 13:00 New York
        ("2024-11-29T18:30", False),
        ("2024-07-03T16:59", True),  # July 3rd 2024 closed at 13:00 New York (17:00 UTC)
        ("2024-07-03T17:30", False),
    ],
)
def test_nyse_hours(when: str, is_open: bool) -> None:
    refusal = NYSE.check(1, "AAPL", 10.0, at(when))
    assert (refusal is None) is is_open, refusal


def test_early_close_names_the_session_hours() -> None:
    refusal = NYSE.check(7, "AAPL", 10.0, at("2024-11-29T18:30"))
    assert refusal is not None
    assert refusal.rule == "trading_hours"
    assert "14:30 to 18:00 UTC (early close)" in refusal.detail
    assert refusal.message.startswith("compliance: order #7 AAPL refused by trading_hours")


def test_holiday_and_weekend_are_refused() -> None:
    christmas = NYSE.check(1, "AAPL", 1.0, at("2024-12-25T15:00"))
    assert christmas is not None
    assert "2024-12-25 is not a XNYS trading day" in christmas.detail
    saturday = NYSE.check(1, "AAPL", 1.0, at("2024-11-30T15:00"))
    assert saturday is not None
    assert "not a XNYS trading day" in saturday.detail


def test_time_outside_the_calendar_is_refused() -> None:
    refusal = NYSE.check(1, "AAPL", 1.0, at("2045-01-03T15:00"))
    assert refusal is not None
    assert "outside the range of the XNYS calendar" in refusal.detail


def test_crypto_trades_around_the_clock() -> None:
    crypto = ComplianceChecker(ComplianceRules(calendar="24/7"))
    for when in ("2024-12-25T03:00", "2024-11-30T23:59", "2025-01-01T00:00"):
        assert crypto.check(1, "BTC/USDT", 0.1, at(when)) is None


def test_naive_time_is_an_error() -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        NYSE.check(1, "AAPL", 1.0, datetime(2024, 11, 27, 15))


def test_unknown_calendar_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="unknown exchange calendar 'NOPE'"):
        ComplianceRules(calendar="NOPE")


def test_restricted_list_lets_reductions_out() -> None:
    c = ComplianceChecker(ComplianceRules(restricted=("TSLA",)))
    refusal = c.check(1, "TSLA", 5.0, at("2024-11-27T15:00"))
    assert refusal is not None
    assert refusal.rule == "restricted"
    assert c.check(1, "TSLA", -5.0, at("2024-11-27T15:00"), position=10.0) is None
    assert c.check(1, "TSLA", -15.0, at("2024-11-27T15:00"), position=10.0) is not None
    assert c.check(1, "AAPL", 5.0, at("2024-11-27T15:00")) is None


def test_participation_cap() -> None:
    c = ComplianceChecker(ComplianceRules(max_participation=0.1))
    when = at("2024-11-27T15:00")
    assert c.check(1, "A", 100.0, when, recent_volume=1000.0) is None
    refusal = c.check(1, "A", -101.0, when, recent_volume=1000.0)
    assert refusal is not None
    assert (refusal.rule, refusal.value, refusal.threshold) == ("max_participation", 0.101, 0.1)
    unknown = c.check(1, "A", 1.0, when, recent_volume=None)
    assert unknown is not None
    assert "no recent volume" in unknown.detail
    assert c.check(1, "A", 1.0, when, recent_volume=0.0) is not None


@pytest.mark.parametrize(
    ("rule", "borrowable", "asset", "quantity", "position", "refused"),
    [
        (ShortSales.ALLOWED, (), "A", -10.0, 0.0, False),
        (ShortSales.FORBIDDEN, (), "A", -10.0, 10.0, False),  # a sale of what is held
        (ShortSales.FORBIDDEN, (), "A", -10.0, 5.0, True),  # would leave -5
        (ShortSales.FORBIDDEN, (), "A", 10.0, -5.0, False),  # a buy is never a short sale
        (ShortSales.LOCATE, ("A",), "A", -10.0, 0.0, False),
        (ShortSales.LOCATE, ("A",), "B", -10.0, 0.0, True),
    ],
)
def test_short_sale_rules(
    rule: ShortSales,
    borrowable: tuple[str, ...],
    asset: str,
    quantity: float,
    position: float,
    refused: bool,
) -> None:
    c = ComplianceChecker(ComplianceRules(short_sales=rule, borrowable=borrowable))
    refusal = c.check(3, asset, quantity, at("2024-11-27T15:00"), position=position)
    assert (refusal is not None) is refused
    if refusal is not None:
        assert refusal.rule == "short_sales"
        assert refusal.value == -(quantity + position)


def test_rules_reject_unknown_fields_and_bad_caps() -> None:
    with pytest.raises(ValidationError):
        ComplianceRules(max_participation=1.5)
    with pytest.raises(ValidationError):
        ComplianceRules(restricted_list=("A",))  # type: ignore[call-arg]
