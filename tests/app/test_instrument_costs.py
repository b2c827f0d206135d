"""Cost presets chosen from stored instruments: futures per contract, FX in pips, crypto in
bps; equities unchanged. Every expected value is computed by hand from the preset's terms."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data.assets import Instrument, InstrumentStore
from alphaloop.execution.costs import COST_PRESETS, CostModel, fill_cost
from alphaloop.store import InstrumentRow

ASSETS = ("F1", "F2")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("costs")
    rng = np.random.default_rng(3)
    index = pd.bdate_range("2023-01-02", periods=120)
    rows = []
    for k, asset in enumerate(ASSETS):
        close = (4000.0 + 1000 * k) * np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))
        for t, day in enumerate(index):
            rows.append((day.date().isoformat(), asset, close[t] * 0.999, close[t], 1e5))
    frame = pd.DataFrame(rows, columns=["date", "asset", "open", "close", "volume"])
    frame.to_csv(root / "f.csv", index=False)
    workspace = Workspace(root / "ws")
    workspace.data._bundled_ready = True
    workspace.data.import_file(root / "f.csv", "fut")
    yield workspace
    workspace.close()


@pytest.fixture
def store(ws: Workspace) -> Iterator[InstrumentStore]:
    yield InstrumentStore(ws.db)
    with ws.db.session() as session:
        session.query(InstrumentRow).delete()


def _spec(**over: object) -> StrategySpec:
    base = {
        "name": "mom", "data": "fut", "signal": {"expr": "$close / Ref($close, 10) - 1"},
        "portfolio": {"k": 1}, "rebalance": {"every": 5}, "capital": 5_000_000,
    }  # fmt: skip
    return StrategySpec.from_dict({**base, **over})


def _future(symbol: str, tick: float | None, multiplier: float = 50.0) -> Instrument:
    return Instrument(symbol=symbol, asset_class="future", currency="USD", multiplier=multiplier,
                      tick_size=tick, expiry="2030-12-20")  # fmt: skip


def test_fill_cost_per_contract_by_hand() -> None:
    model = COST_PRESETS["futures"].model_copy(update={"half_spread_per_unit": 6.25})
    out = np.zeros(5)
    # 3 contracts at 5,000 points x 50 = 250,000 each (no volume: no impact)
    total = fill_cost(model.as_array(), -3.0, 250_000.0, np.nan, np.nan, out)
    commission, fees, spread, slippage = 0.85 * 3, 1.40 * 3, 6.25 * 3, 0.5e-4 * 3 * 250_000
    np.testing.assert_allclose(out[:4], [commission, fees, spread, slippage], rtol=1e-12)
    assert total == pytest.approx(commission + fees + spread + slippage, rel=1e-12)


def test_equity_costs_are_unchanged_bit_for_bit() -> None:
    model = CostModel()
    params = model.as_array()
    assert params[7] == 0.0
    assert params[8] == 0.0
    rng = np.random.default_rng(0)
    out = np.zeros(5)
    for _ in range(200):
        q, price = rng.uniform(-5000, 5000), rng.uniform(1, 900)
        adv, sigma = rng.uniform(1e4, 1e7), rng.uniform(0.001, 0.05)
        total = fill_cost(params, q, price, adv, sigma, out)
        # the formulas before per-unit charges existed, term by term
        notional = abs(q) * price
        commission = max(0.005 * abs(q), 1.0)
        impact = 0.5 * sigma * np.sqrt(abs(q) / adv) * notional
        expected = [commission, 0.3e-4 * notional, 2.0e-4 * notional, 1.0e-4 * notional, impact]
        assert list(out) == expected
        assert total == commission + expected[1] + expected[2] + expected[3] + impact
    assert COST_PRESETS["equities"] == CostModel()
    # a spec's explicit costs keep their hash: the new fields are left out at their default
    spec = _spec(costs={"half_spread_bps": 3.0})
    assert "fee_per_unit" not in spec.canonical()["costs"]


def test_futures_take_the_futures_preset_per_contract(ws: Workspace, store) -> None:  # type: ignore[no-untyped-def]
    store.put([_future("F1", 0.25), _future("F2", 0.5, multiplier=20.0)])
    result = run_backtest(ws, _spec(), record=False)
    record = result.assumptions["costs"]
    assert record["source"] == "preset"
    assert record["preset"] == "futures"
    assert "chosen by the stored instruments' asset class future" in record["label"]
    # half a tick x multiplier: 0.125 x 50 = 6.25 and 0.25 x 20 = 5; the larger is charged
    assert record["half_spread_per_unit"] == 6.25
    assert record["fee_per_unit"] == 1.40
    assert record["commission_per_share"] == 0.85
    trades = result.simulation.trades
    assert len(trades) > 0
    contracts = trades["shares"].abs().to_numpy()
    np.testing.assert_allclose(trades["spread"], 6.25 * contracts, rtol=1e-12)
    np.testing.assert_allclose(trades["fees"], 1.40 * contracts, rtol=1e-12)
    np.testing.assert_allclose(trades["commission"], 0.85 * contracts, rtol=1e-12)
    np.testing.assert_allclose(
        trades["slippage"], 0.5e-4 * contracts * trades["price"].to_numpy(), rtol=1e-12
    )
    # a spec's own costs win over the preset
    own = run_backtest(ws, _spec(costs={"half_spread_bps": 3.0}), record=False)
    assert own.assumptions["costs"]["source"] == "spec"
    assert own.assumptions["costs"]["half_spread_per_unit"] == 0.0


def test_fx_spread_in_pips(ws: Workspace, store) -> None:  # type: ignore[no-untyped-def]
    # the two series as dollar-quoted pairs (unrealistic levels do not matter to the check)
    store.put([
        Instrument(symbol=s, asset_class="fx", currency="USD", base_currency=b, lot_size=1000)
        for s, b in (("F1", "EUR"), ("F2", "GBP"))
    ])  # fmt: skip
    result = run_backtest(ws, _spec(), record=False)
    record = result.assumptions["costs"]
    assert record["preset"] == "fx"
    assert record["half_spread_bps"] == 0.0
    assert record["half_spread_per_unit"] == pytest.approx(0.5 * 0.0001)  # half a pip per unit
    trades = result.simulation.trades
    np.testing.assert_allclose(trades["spread"], 0.00005 * trades["shares"].abs(), rtol=1e-12)
    assert (trades["commission"] == 0).all()
    assert (trades["fees"] == 0).all()


def test_crypto_and_mixed_classes(ws: Workspace, store) -> None:  # type: ignore[no-untyped-def]
    store.put([
        Instrument(symbol=s, asset_class="crypto", currency="USD", base_currency=s)
        for s in ASSETS
    ])  # fmt: skip
    record = run_backtest(ws, _spec(), record=False).assumptions["costs"]
    assert record["preset"] == "crypto"
    assert record["commission_bps"] == 10.0
    # one future among equities: the dataset's class decides (the equity defaults)
    store.put([Instrument(symbol="F1", asset_class="equity", currency="USD"), _future("F2", 0.25)])
    record = run_backtest(ws, _spec(), record=False).assumptions["costs"]
    assert record["half_spread_per_unit"] == 0.0
    assert record["half_spread_bps"] == 2.0
