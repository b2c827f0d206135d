"""A spec's participation cap through the app: both engines, recorded in the assumptions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace, run_backtest
from alphaloop.backtest.spec import StrategySpec
from alphaloop.errors import BacktestError


def _thin_prices(path: Path, n: int = 300, seed: int = 5) -> Path:
    """Two daily OHLCV assets with little volume: a 1e6 book moves them."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2016-01-01", periods=n, tz="UTC")
    frames = []
    for asset in ("AAA", "BBB"):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        open_ = close * np.exp(rng.normal(0, 0.003, n))
        frames.append(pd.DataFrame({
            "timestamp": days, "symbol": asset, "open": open_,
            "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998,
            "close": close, "volume": np.round(rng.uniform(2e4, 6e4, n)),
        }))  # fmt: skip
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("caps")
    workspace = Workspace(root / "ws")
    workspace.data.import_file(_thin_prices(root / "thin.csv"), "thin")
    return workspace


def _spec(**over: object) -> StrategySpec:
    return StrategySpec.from_dict({
        "data": "thin", "signal": {"expr": "Ref($close, 1) / $close - 1"},
        "portfolio": {"method": "top_k", "k": 1}, "rebalance": {"frequency": "weekly"}, **over,
    })  # fmt: skip


def test_a_spec_with_a_cap_runs_in_both_engines_and_says_so(ws: Workspace) -> None:
    free = run_backtest(ws, _spec(), record=False)
    capped = run_backtest(ws, _spec(participation=0.1), record=False)
    assert capped.assumptions["fills"]["participation"] == 0.1
    assert "participation" not in free.assumptions["fills"]
    assert any("participation cap 0.1" in n for n in capped.simulation.notes)
    assert len(capped.simulation.trades) > len(free.simulation.trades)
    assert capped.simulation.final_value != free.simulation.final_value
    event = run_backtest(ws, _spec(participation=0.1), engine="event", record=False)
    assert any("expire at the end of their UTC date" in n for n in event.simulation.notes)
    assert len(event.simulation.trades) < len(capped.simulation.trades)  # DAY legs expire


def test_a_cap_with_stops_is_refused_by_the_vectorized_engine(ws: Workspace) -> None:
    with pytest.raises(BacktestError, match="does not cap them by participation") as exc:
        run_backtest(ws, _spec(participation=0.1, stops={"stop_loss": 0.05}), record=False)
    assert "event engine" in str(exc.value.hint)
