"""The ledger prices each fill with fill_cost's plain-Python twin: the same numbers, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.execution import CostModel, FillTiming, Ledger, MarketData, fill_cost


def _market(rng: np.random.Generator, impact: bool) -> tuple[MarketData, CostModel]:
    n = 80
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (n, 2)), axis=0))
    volume = np.rint(rng.lognormal(np.log(1e5), 0.5, (n, 2)))
    index = pd.date_range("2021-01-04", periods=n, freq="D", tz="UTC")
    panel = Panel(index, ["A", "B"], {"open": close, "close": close, "volume": volume})
    costs = CostModel(
        commission_per_share=float(rng.choice([0.0, 0.005])),
        commission_min=float(rng.choice([0.0, 1.0])),
        commission_bps=float(rng.uniform(0.0, 10.0)),
        exchange_fee_bps=float(rng.uniform(0.0, 2.0)),
        half_spread_bps=float(rng.uniform(0.0, 5.0)),
        slippage_bps=float(rng.uniform(0.0, 5.0)),
        impact="sqrt" if impact else "none",
    )
    return MarketData.from_panel(panel, FillTiming.NEXT_OPEN, costs, None), costs


@pytest.mark.parametrize("seed", range(6))
def test_fill_costs_equal_the_compiled_kernel(seed: int) -> None:
    rng = np.random.default_rng(seed)
    market, costs = _market(rng, impact=seed % 2 == 0)
    ledger = Ledger(market, costs, 1e9)
    params, out = costs.as_array(), np.zeros(5)
    for row in range(30, 80):
        j = int(rng.integers(2))
        shares = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 5e4))
        price = float(market.close[row, j])
        want = fill_cost(params, shares, price, market.adv[row, j], market.sigma[row, j], out)
        assert ledger.fill_cost(row, j, shares, price) == want
        booked = ledger.fill(row, j, shares, price, "order")
        assert booked == want
        assert ledger.trades[-1][5:10] == tuple(out.tolist())  # each category, exactly
    if seed % 2 == 0:
        assert ledger.cost_totals[4] > 0.0  # impact was charged
