"""A small OHLCV dataset and a valid draft for the ``generate`` tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alphaloop.app import Workspace
from alphaloop.factors.mining import planted_panel

DATA = "planted"
#: the planted panel runs from 2015-01-02 for 900 business days; a 20% holdout
#: starts in October 2017, so about 200 searchable bars follow this cut-off
CUTOFF = dt.date(2017, 1, 1)

DRAFT = {
    "name": "llm-momentum",
    "signal": {"kind": "template", "family": "momentum", "template": "mom", "lookback": 21,
               "skip": None, "window": None, "fast": None, "slow": None},
    "side": "long_only",
    "method": "top_k",
    "k": 3,
    "quantile": None,
    "weighting": "equal",
    "rebalance": "weekly",
    "exits": {"hold_bars": 0, "exit_on_flip": False, "stop_loss": 0.0, "trailing_stop": 0.0},
    "universe": None,
    "assumptions": ["one month is 21 bars"],
}  # fmt: skip


def planted_csv(root: Path) -> Path:
    """The planted panel (no planted alpha) as a long CSV under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "planted.csv"
    if not csv.exists():
        pp = planted_panel(alpha="none", seed=3, n_times=900, n_assets=12)
        pp.panel.to_long().to_csv(csv, index=False)
    return csv


def planted_workspace(root: Path, *, holdout: float = 0.2) -> Workspace:
    """A workspace holding the planted dataset, with the product's default holdout."""
    ws = Workspace(root / "ws", holdout_fraction=holdout)
    ws.data.import_file(planted_csv(root), DATA)
    return ws
