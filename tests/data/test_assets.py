"""Instruments: the metadata file, the store, per-asset terms and FX conversion."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.data.assets import Instrument, InstrumentStore, contract_terms, parse_instruments
from alphaloop.data.fx import apply_contract_terms, asof_rates, pair_for, rate_series
from alphaloop.errors import AssetDataError, InstrumentNotFoundError
from tests.conftest import write_csv

FILE = """
symbol,asset_class,currency,multiplier,tick_size,lot_size,min_notional,expiry,base_currency,root
ESH7,future,USD,50,0.25,,,2027-03-19,,ES
AAPL,equity,usd,,0.01,1,,,,
SAP,equity,EUR,,0.01,1,,,,
EURUSD,fx,USD,,0.00001,1000,,,EUR,
BTC/USDT,crypto,USDT,,0.01,0.0001,5,,BTC,
"""


def test_instrument_file_round_trip(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = InstrumentStore(workspace.db)
    items = store.import_file(write_csv(tmp_path / "inst.csv", FILE))
    assert [i.symbol for i in items][:2] == ["ESH7", "AAPL"]
    es = store.get("ESH7")
    assert es == Instrument(
        symbol="ESH7", asset_class="future", currency="USD", multiplier=50, tick_size=0.25,
        expiry=date(2027, 3, 19), root="ES",
    )  # fmt: skip
    assert store.get("AAPL").currency == "USD"  # upper-cased
    assert [i.symbol for i in store.list("fx")] == ["EURUSD"]
    assert set(store.for_assets(["AAPL", "NOPE", "SAP"])) == {"AAPL", "SAP"}
    assert len(store.frame()) == 5
    with pytest.raises(InstrumentNotFoundError, match="NOPE"):
        store.get("NOPE")
    with pytest.raises(AssetDataError, match="unknown asset class"):
        store.list("bond")
    # a second import replaces the rows of the symbols it names, keeps the others
    store.import_file(
        write_csv(tmp_path / "two.csv", "symbol,asset_class,currency,lot_size\nAAPL,equity,USD,10")
    )
    assert store.get("AAPL").lot_size == 10
    assert store.get("ESH7").multiplier == 50


def test_instrument_rules() -> None:
    es = Instrument(
        symbol="ES", asset_class="future", currency="USD", multiplier=50, expiry=date(2027, 3, 19)
    )
    assert es.notional(-2, 5000.0) == 500_000.0
    assert es.unit_lot == 1.0  # futures trade whole contracts
    assert es.round_quantity(2.7) == 2.0
    assert es.round_quantity(-2.7) == -2.0
    btc = Instrument(symbol="BTC", asset_class="crypto", currency="USDT", lot_size=0.001)
    assert btc.round_quantity(0.0123) == pytest.approx(0.012)
    assert Instrument(symbol="X", asset_class="equity", currency="USD").round_quantity(1.5) == 1.5
    for bad, match in [
        ({"asset_class": "future"}, "needs an expiry"),
        ({"asset_class": "equity", "expiry": date(2027, 1, 1)}, "only futures expire"),
        ({"asset_class": "fx"}, "needs base_currency"),
        ({"asset_class": "fx", "base_currency": "USD"}, "must differ"),
        ({"asset_class": "equity", "multiplier": 0}, "greater than 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            Instrument(symbol="X", currency="USD", **bad)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("symbol,asset_class,currency\nX,bond,USD", r"line 2 \(X\): asset_class"),
        ("symbol,asset_class,currency,multiplier\nX,equity,USD,-5", r"line 2 \(X\): multiplier"),
        ("symbol,asset_class,currency,expiry\nX,future,USD,19/03/2027", "non-ISO dates on line"),
        ("symbol,asset_class,currency\nX,equity,USD\nX,equity,USD", "repeated"),
        ("symbol,asset_class\nX,equity", "lacks column"),
        ("symbol,asset_class,currency,size\nX,equity,USD,1", "unknown column"),
    ],
)
def test_bad_instrument_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(AssetDataError, match=match):
        parse_instruments(write_csv(tmp_path / "bad.csv", text))


def test_contract_terms_default_to_shares() -> None:
    instruments = {i.symbol: i for i in parse_instruments_text()}
    terms = contract_terms(["ESH7", "MSFT", "BTC/USDT"], instruments, default_lot=5.0)
    np.testing.assert_array_equal(terms.multiplier, [50, 1, 1])
    np.testing.assert_array_equal(terms.lots, [1, 5, 0.0001])
    assert terms.currency == ("USD", None, "USDT")
    assert list(terms.known) == [True, False, True]
    assert contract_terms(["MSFT"], instruments).neutral
    lines = terms.describe("USD")
    assert lines[0] == "ESH7: multiplier 50, lots of 1"
    assert "quoted in USDT, converted to USD" in lines[1]


def parse_instruments_text() -> list[Instrument]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return parse_instruments(write_csv(Path(tmp) / "i.csv", FILE))


def test_fx_rates_are_known_at_the_bar() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    # observed at 12:00 each day from the second day on, and one at midnight of day 4
    rates = pd.Series(
        [1.10, 1.20, 1.30],
        index=pd.DatetimeIndex(
            ["2024-01-02 12:00", "2024-01-03 12:00", "2024-01-04 00:00"], tz="UTC"
        ),
    )
    close_rate, open_rate = asof_rates(index, rates)
    # bar 3 (midnight of Jan 3) sees only the Jan 2 noon rate, not the one at Jan 3 noon
    np.testing.assert_allclose(close_rate, [np.nan, np.nan, 1.10, 1.30])
    np.testing.assert_allclose(open_rate, [np.nan, np.nan, np.nan, 1.10])
    # truncation: rates after a bar never change its value
    cut_close, _ = asof_rates(index[:3], rates[rates.index <= index[2]])
    np.testing.assert_allclose(cut_close, close_rate[:3])


def test_apply_contract_terms_scales_prices_and_converts() -> None:
    instruments = {i.symbol: i for i in parse_instruments_text()}
    index = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    close = np.array([[5000.0, 100.0, 1.1], [5010.0, 101.0, 1.2], [5020.0, 102.0, 1.0]])
    panel = Panel(
        index,
        ["ESH7", "SAP", "EURUSD"],
        {"close": close, "open": close - 1, "volume": np.ones((3, 3))},
    )
    assert pair_for("EUR", "USD", instruments) == ("EURUSD", False)
    assert pair_for("USD", "EUR", instruments) == ("EURUSD", True)
    assert pair_for("JPY", "USD", instruments) is None
    rate = rate_series(panel.frame("close")["EURUSD"], inverted=False)
    terms = contract_terms(panel.assets, instruments)
    out = apply_contract_terms(panel, terms, base_currency="USD", rates={"EUR": rate})
    np.testing.assert_allclose(out["close"][:, 0], close[:, 0] * 50)
    np.testing.assert_allclose(out["close"][:, 1], close[:, 1] * close[:, 2])
    np.testing.assert_allclose(out["open"][:, 1], [np.nan, 100 * 1.1, 101 * 1.2])
    np.testing.assert_allclose(out["close"][:, 2], close[:, 2])  # quoted in USD already
    np.testing.assert_allclose(out["volume"], 1.0)  # volume stays in contracts
    with pytest.raises(AssetDataError, match="quoted in EUR"):
        apply_contract_terms(panel, terms, base_currency="USD", rates={})
    neutral = contract_terms(panel.assets, {})
    assert apply_contract_terms(panel, neutral, base_currency="USD") is panel
