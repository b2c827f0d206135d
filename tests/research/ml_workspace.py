"""A workspace for the ML agent tests: bundled prices, small factor libraries, a forecast canary.

``sp500-forecast`` is the bundled ``sp500-stocks`` closes (2000-2010) with two
more fields: ``forecast``, the label's own forward return (close ``t + 1`` to
``t + 6``) plus seeded noise, published at ``t`` (a canary that must be
learned: a model that reads it must beat one that does not), and ``noise``,
seeded noise with no information.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from alphaloop.app import Workspace

HORIZON = 5
LIBRARIES = {
    "tiny-momentum": {
        "mom20": "$close / Ref($close, 20) - 1",
        "rev5": "Ref($close, 5) / $close - 1",
        "vol20": "Std($close / Ref($close, 1) - 1, 20)",
    },
    "tiny-noise": {"noise": "$noise"},
    "tiny-forecast": {"forecast": "$forecast", "mom20": "$close / Ref($close, 20) - 1"},
}


def write_libraries(root: Path) -> None:
    lib_dir = root / "libraries"
    lib_dir.mkdir(parents=True, exist_ok=True)
    for name, factors in LIBRARIES.items():
        doc = {"name": name, "description": "test library", "factors": factors}
        (lib_dir / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def import_forecast_data(ws: Workspace, tmp: Path, *, seed: int = 7) -> str:
    """Import ``sp500-forecast`` (see the module docstring); returns its name."""
    panel = ws.data.load("sp500-stocks", start="2000-01-01", end="2010-12-31")
    close = panel.frame("close")
    forward = close.shift(-(1 + HORIZON)) / close.shift(-1) - 1
    rng = np.random.default_rng(seed)
    scale = float(np.nanstd(forward.to_numpy()))
    forecast = forward + rng.normal(0.0, 2.0 * scale, size=forward.shape)
    noise = pd.DataFrame(rng.normal(size=close.shape), index=close.index, columns=close.columns)
    long = pd.concat(
        {"close": close, "forecast": forecast.fillna(0.0), "noise": noise}, axis=1
    ).stack(future_stack=True)
    long.index.names = ["timestamp", "asset"]
    frame = long.reset_index().dropna(subset=["close"])
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%d")
    path = tmp / "sp500-forecast.csv"
    frame.to_csv(path, index=False)
    ws.data.import_file(path, "sp500-forecast")
    return "sp500-forecast"
