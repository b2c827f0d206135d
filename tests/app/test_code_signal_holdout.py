"""A code signal sees only the arrays the runner passes: never the sealed holdout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alphaloop.app import Workspace
from alphaloop.app.backtests import prepare
from alphaloop.backtest import StrategySpec

# the code reports how many bars it was given, and the last close it saw
COUNTING = """
def signal(close):
    out = np.full_like(close, close.shape[0])
    out[:, 1] = close[-1, 0]
    return out
"""


def test_the_code_never_receives_holdout_bars(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", holdout_fraction=0.2)
    ws.data.ensure_bundled()
    boundary = ws.data.holdout_boundary("sp500-stocks")
    assert boundary is not None
    spec = StrategySpec.from_dict(
        {
            "name": "counting",
            "data": "sp500-stocks",
            "signal": {"code": COUNTING},
            "portfolio": {"method": "top_k", "k": 5},
            "fills": "next_close",
        }
    )
    prep = prepare(ws, spec)
    n_seen = prep.panel.n_times
    assert prep.panel.index[-1] < boundary
    assert np.all(prep.signal[:, 0] == n_seen)  # the code got exactly the research span
    assert boundary < pd.Timestamp("2022-01-01", tz=boundary.tz)  # the data runs to 2022-12-28
    last_close = float(np.asarray(prep.panel["close"])[-1, 0])
    assert np.all(prep.signal[:, 1] == last_close)
    ws.close()
