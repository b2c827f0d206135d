"""Synthetic panels for the research tests: a planted edge, noise, and model predictors.

The panel has a ``close`` and a field ``edge``: a persistent per-asset score
known at the close of bar ``t`` that moves the return from the close of
``t + 1`` to the close of ``t + 2`` (what a decision at ``t``, filled at the
next close, earns). Fields ``noise0`` .. ``noise9`` predict nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from alphaloop.backtest.spec import StrategySpec
from alphaloop.data import DatasetInfo, Panel
from alphaloop.data.market_calendar import infer_market_calendar

N_NOISE = 10


def make_panel(
    n_times: int = 1500, n_assets: int = 20, seed: int = 11, beta: float = 0.004
) -> Panel:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2010-01-04", periods=n_times, freq="B", tz="UTC")
    edge = np.zeros((n_times, n_assets))
    for t in range(1, n_times):
        edge[t] = 0.9 * edge[t - 1] + np.sqrt(1 - 0.81) * rng.standard_normal(n_assets)
    rets = 0.012 * rng.standard_normal((n_times, n_assets)) + 0.0003
    rets[2:] += beta * edge[:-2]
    close = 50.0 * np.cumprod(1.0 + rets, axis=0)
    fields = {"close": close, "edge": edge}
    for i in range(N_NOISE):
        fields[f"noise{i}"] = rng.standard_normal((n_times, n_assets))
    return Panel(index, [f"S{j:02d}" for j in range(n_assets)], fields)


def make_info(panel: Panel, name: str = "synth") -> DatasetInfo:
    market = infer_market_calendar(panel.index, "daily", has_volume=False, asset_class="equities")
    start, end = panel.index[0].to_pydatetime(), panel.index[-1].to_pydatetime()
    return DatasetInfo(
        name, 1, "test", "synthetic", "daily", start, end, panel.n_assets, panel.n_times,
        panel.n_times * panel.n_assets, panel.field_names, panel.assets, (), {},
        panel.content_hash(), "", datetime(2024, 1, 1, tzinfo=UTC), market,
    )  # fmt: skip


def spec(signal: dict, *, k: int = 5, rebalance: str = "daily", name: str = "c") -> StrategySpec:
    return StrategySpec.from_dict(
        {
            "name": name,
            "data": "synth",
            "signal": signal,
            "portfolio": {"method": "top_k", "k": k},
            "rebalance": {"frequency": rebalance},
            "fills": "next_close",
        }
    )


class Predictor:
    """Model predictions by reference: ``peek/v1`` reads two bars ahead, ``crash/v1`` raises,
    ``edge/v1`` is the planted score. Picklable."""

    def __call__(self, ref: str, panel: Panel) -> np.ndarray:
        close = np.asarray(panel["close"], dtype=np.float64)
        if ref == "peek/v1":
            out = np.full(close.shape, np.nan)
            out[:-2] = close[2:] / close[1:-1] - 1.0  # the return a next-close fill earns
            return out
        if ref == "crash/v1":
            raise RuntimeError("the model's feature pipeline broke")
        if ref == "edge/v1":
            return np.asarray(panel["edge"], dtype=np.float64)
        raise KeyError(ref)
