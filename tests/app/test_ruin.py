"""A strategy whose losses and costs exceed its capital ends with a clear error, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.backtest import StrategySpec
from alphaloop.errors import BacktestError


@pytest.mark.parametrize("engine", ["vectorized", "event"])
def test_a_ruined_account_is_reported_with_its_date(tmp_path: Path, engine: str) -> None:
    spec = StrategySpec.from_dict(
        {
            "data": "sp500-stocks",
            "signal": {"expr": "-($close / Ref($close, 3) - 1)"},
            "portfolio": {"method": "top_k", "k": 3, "weighting": "inverse_volatility"},
            "rebalance": {"frequency": "daily"},
            "fills": "next_close",
            # two decades of daily reversal trading: costs take the million, and the last
            # fills' minimum commissions push the equity through zero
        }
    )
    with Workspace(tmp_path / "ws") as ws:
        ws.data.ensure_bundled()
        with pytest.raises(BacktestError, match=r"the account was ruined on 20\d\d-\d\d-\d\d"):
            run_backtest(ws, spec, engine=engine)
        # it ran: a failed trial, counted
        assert ws.strategies.n_trials("sp500-stocks") == 1
