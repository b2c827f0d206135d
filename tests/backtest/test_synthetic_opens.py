"""Next-open fills on synthetic opens (open equal to the previous close) are counted and said."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alphaloop.app import Workspace, run_backtest
from alphaloop.backtest.spec import StrategySpec


def _prices(path: Path, n: int = 400, synthetic: int = 200, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2015-01-01", periods=n, tz="UTC")
    frames = []
    for asset in ("AAA", "BBB"):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        open_ = close * np.exp(rng.normal(0, 0.004, n))
        open_[1:synthetic] = close[: synthetic - 1]  # the early opens copy the previous close
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": days,
                    "symbol": asset,
                    "open": open_,
                    "high": np.maximum(open_, close) * 1.002,
                    "low": np.minimum(open_, close) * 0.998,
                    "close": close,
                    "volume": 1e6,
                }
            )
        )
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_next_open_fills_on_synthetic_opens_are_counted(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.data.import_file(_prices(tmp_path / "two.csv"), "two")
    assert any("synthetic" in c for c in ws.data.info("two").caveats)
    spec = StrategySpec.from_dict(
        {
            "data": "two",
            # the asset that fell more over the last bar: the pick changes often
            "signal": {"expr": "Ref($close, 1) / $close - 1"},
            "portfolio": {"method": "top_k", "k": 1},
            "rebalance": {"frequency": "daily"},
        }
    )
    result = run_backtest(ws, spec, record=False)
    synthetic = result.assumptions["fills"]["synthetic_open_fills"]
    trades = result.simulation.trades
    last_copied = pd.bdate_range("2015-01-01", periods=200, tz="UTC")[-1]
    early = int((pd.DatetimeIndex(trades["time"]) <= last_copied).sum())
    assert synthetic["fills"] == len(trades)
    assert 0 < synthetic["count"] <= early
    assert synthetic["count"] >= early - 5  # the flagged span covers the copied opens
    assert any("synthetic opens" in note for note in result.assumptions["notes"])


def test_close_fills_do_not_count_synthetic_opens(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.data.import_file(_prices(tmp_path / "two.csv"), "two")
    spec = StrategySpec.from_dict(
        {"data": "two", "signal": {"expr": "Ref($close, 1) / $close - 1"},
         "portfolio": {"method": "top_k", "k": 1}, "fills": "next_close"}
    )  # fmt: skip
    result = run_backtest(ws, spec, record=False)
    assert result.assumptions["fills"]["synthetic_open_fills"] is None
