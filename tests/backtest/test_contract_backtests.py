"""Backtests of a futures contract (multiplier in P&L and costs) and an FX-quoted stock."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.vectorized import simulate
from alphaloop.data import Panel
from alphaloop.data.assets import Instrument, contract_terms
from alphaloop.data.fx import apply_contract_terms, rate_series
from alphaloop.execution.costs import CostModel

INDEX = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
PER_CONTRACT = CostModel(
    commission_per_share=2.5, commission_min=0, commission_bps=0, exchange_fee_bps=0,
    half_spread_bps=1.0, slippage_bps=0, impact="none", borrow_bps_annual=0,
)  # fmt: skip


def _orders(n_assets: int, asset: int, quantity: float) -> np.ndarray:
    orders = np.full((len(INDEX), n_assets), np.nan)
    orders[0, asset] = quantity  # decided after bar 0's close, filled at bar 1's open
    return orders


@pytest.mark.parametrize("engine", ["vectorized", "event"])
def test_futures_multiplier_in_pnl_and_costs(engine: str) -> None:
    rng = np.random.default_rng(3)
    close = 5000 + np.cumsum(rng.normal(0, 20, (len(INDEX), 1)), axis=0)
    opens = close - 2.0
    raw = Panel(INDEX, ["ESH7"], {"close": close, "open": opens})
    es = Instrument(
        symbol="ESH7", asset_class="future", currency="USD", multiplier=50, expiry=date(2027, 3, 19)
    )
    terms = contract_terms(raw.assets, {"ESH7": es})
    panel = apply_contract_terms(raw, terms, base_currency="USD")
    capital = 2_000_000.0
    if engine == "vectorized":
        sim = simulate(
            panel,
            _orders(1, 0, 3),
            kind="orders",
            costs=PER_CONTRACT,
            initial_capital=capital,
            lot_size=terms.lots,
        )
    else:
        from alphaloop.backtest.event import EventEngine
        from alphaloop.backtest.event.strategy import Strategy

        class BuyThree(Strategy):
            def on_bar(self, ctx, row: int) -> None:  # type: ignore[no-untyped-def]
                if row == 0:
                    ctx.order("ESH7", 3)

        sim = EventEngine(
            panel,
            BuyThree(),
            costs=PER_CONTRACT,
            initial_capital=capital,
            lot_size=tuple(terms.lots),
        ).run()
    entry = opens[1, 0]
    notional = 3 * entry * 50
    commission = 3 * 2.5
    spread = notional * 1e-4
    pnl = 3 * 50 * (close[-1, 0] - entry)
    assert sim.trades["notional"].abs().iloc[0] == pytest.approx(notional)
    assert sim.costs["commission"] == pytest.approx(commission)
    assert sim.costs["spread"] == pytest.approx(spread)
    assert sim.equity.iloc[-1] == pytest.approx(capital + pnl - commission - spread)


def test_fx_quoted_stock_pnl_in_base_currency() -> None:
    sap = 100 + np.arange(len(INDEX), dtype=float)
    eurusd = np.array([1.10, 1.12, 1.08, 1.09, 1.11, 1.15])
    close = np.column_stack([sap, eurusd])
    raw = Panel(INDEX, ["SAP", "EURUSD"], {"close": close, "open": close})
    instruments = {
        "SAP": Instrument(symbol="SAP", asset_class="equity", currency="EUR"),
        "EURUSD": Instrument(
            symbol="EURUSD", asset_class="fx", currency="USD", base_currency="EUR"
        ),
    }
    terms = contract_terms(raw.assets, instruments)
    rate = rate_series(raw.frame("close")["EURUSD"], inverted=False)
    panel = apply_contract_terms(raw, terms, base_currency="USD", rates={"EUR": rate})
    sim = simulate(
        panel, _orders(2, 0, 100), kind="orders", costs=CostModel.zero(), initial_capital=100_000.0
    )
    # bought at bar 1's open in EUR at the rate known then (bar 0's close);
    # valued at the last close's rate
    paid = 100 * sap[1] * eurusd[0]
    value = 100 * sap[-1] * eurusd[-1]
    assert sim.trades["notional"].abs().iloc[0] == pytest.approx(paid)
    assert sim.equity.iloc[-1] == pytest.approx(100_000.0 - paid + value)
    # the currency's move is part of the P&L: with a flat rate the result differs
    flat = apply_contract_terms(raw, terms, base_currency="USD", rates={"EUR": rate * 0 + 1.1})
    flat_sim = simulate(
        flat, _orders(2, 0, 100), kind="orders", costs=CostModel.zero(), initial_capital=100_000.0
    )
    assert flat_sim.equity.iloc[-1] == pytest.approx(100_000.0 + 100 * (sap[-1] - sap[1]) * 1.1)
