"""Composite signals and exits end to end on bundled data: backtest, engines, scan, models."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest, scan_spec, strategy_signal
from alphaloop.app.models import train_from_spec
from alphaloop.backtest.spec import StrategySpec
from alphaloop.models.errors import ModelNotFoundError
from alphaloop.models.spec import ModelSpec

MOM = "$close / Ref($close, 60) - 1"
COMPONENTS = [
    {"factor": "ROC20"},
    {"expr": MOM},
    {"expr": "Std($close / Ref($close, 1) - 1, 20)", "normalize": "zscore", "sign": -1},
]


def spec(**over: object) -> StrategySpec:
    base = {
        "name": "composite",
        "data": "sp500-stocks",
        "start": "2005-01-01",
        "signal": {"components": COMPONENTS, "combine": "ic", "window": 126, "horizon": 5},
        "portfolio": {"k": 5},
        "rebalance": {"frequency": "weekly"},
        "exits": {"hold_bars": 10, "exit_on_flip": True},
        "fills": "next_close",
    }
    return StrategySpec.from_dict({**base, **over})


def test_composite_with_exits_runs_and_both_engines_agree(shared_workspace: Workspace) -> None:
    s = spec()
    a = run_backtest(shared_workspace, s)
    b = run_backtest(shared_workspace, s, engine="event", record=False)
    assert a.run_id is not None
    assert np.isfinite(a.metrics["sharpe_ratio"])
    np.testing.assert_allclose(
        b.simulation.equity.to_numpy(), a.simulation.equity.to_numpy(), rtol=1e-9, atol=0
    )
    assert len(a.simulation.trades) == len(b.simulation.trades) > 0
    # flip exits trade between the weekly rebalances; without exits nothing does
    plain = run_backtest(shared_workspace, spec(exits={}), record=False)
    assert len(a.simulation.trades) != len(plain.simulation.trades)
    assert a.spec_hash != plain.spec_hash


def test_composite_scan_is_clean(shared_workspace: Workspace) -> None:
    short = spec(exits={}, start=None, end="2000-12-31", rebalance={"frequency": "monthly"})
    report = scan_spec(shared_workspace, short, n_points=4)
    assert report.clean, report.summary()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("composite-models") / "ws")
    for name, end in (("early", "2004-12-31"), ("late", "2008-12-31")):
        train_from_spec(
            ws,
            ModelSpec.from_dict(
                {
                    "name": name,
                    "data": "sp500-stocks",
                    "end": end,
                    "features": {"mom20": "$close / Ref($close, 20) - 1", "mom60": MOM},
                    "label": {"horizon": 5},
                    "model": {"family": "ridge"},
                    "training": {"n_splits": 2},
                }
            ),
        )
    yield ws
    ws.close()


def test_model_components_start_after_the_latest_label_end(models: Workspace) -> None:
    s = spec(
        start=None,
        exits={},
        signal={
            "components": [{"model": "early/v1"}, {"expr": MOM}],
            "combine": "model",
            "combiner": "late/v1",
        },
    )
    result = run_backtest(models, s)
    late = models.models.get("late/v1")
    assert result.simulation.equity.index[0] > late.label_end
    for ref in ("early/v1", "late/v1"):
        assert models.models.usage(ref)[-1].strategy_hash == s.hash
    panel = models.data.load("sp500-stocks")
    values = strategy_signal(models, s, panel)
    assert np.nanmin(values) == 0.0
    assert np.nanmax(values) == 1.0
    missing = spec(signal={"components": [{"model": "nope/v1"}, {"expr": MOM}]})
    with pytest.raises(ModelNotFoundError):
        run_backtest(models, missing)
