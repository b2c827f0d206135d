"""Cost presets by asset class: chosen from the dataset unless the spec sets costs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.backtest.spec import StrategySpec
from alphaloop.errors import SpecError
from alphaloop.execution.costs import (
    COST_PRESETS,
    CostModel,
    cost_preset,
    describe_preset,
    preset_name,
)


def test_presets() -> None:
    assert COST_PRESETS["equities"] == CostModel()
    fx = COST_PRESETS["fx"]
    assert (fx.commission_per_share, fx.commission_min, fx.commission_bps) == (0, 0, 0)
    assert fx.exchange_fee_bps == 0
    assert fx.impact == "none"
    assert fx.half_spread_bps > 0
    crypto = COST_PRESETS["crypto"]
    assert crypto.commission_per_share == 0
    assert crypto.commission_bps == 10.0
    assert crypto.impact == "sqrt"
    assert cost_preset("other") == CostModel()
    assert cost_preset(" Crypto ") == crypto
    with pytest.raises(ValueError, match="not a cost preset"):
        cost_preset("bonds")
    assert preset_name(crypto) == "crypto"
    assert preset_name(CostModel(half_spread_bps=3)) is None
    assert describe_preset("crypto").startswith("crypto preset (taker fee 10 bps")
    assert "no commission" in describe_preset("fx")


def test_describe_speaks_of_what_is_charged() -> None:
    fx = COST_PRESETS["fx"].describe(has_volume=True, volume="tick")
    assert "no commission" in fx
    assert not any("per share" in line for line in fx)
    crypto = COST_PRESETS["crypto"].describe(has_volume=True, volume="tick")
    assert any("tick volume" in line and "NOT modelled" in line for line in crypto)
    traded = COST_PRESETS["crypto"].describe(has_volume=True, volume="traded")
    assert any(line.startswith("square-root market impact") for line in traded)


BASE = {"data": "x", "signal": {"expr": "$close"}}


def test_spec_costs_name_a_preset_or_start_from_one() -> None:
    assert StrategySpec.from_dict(BASE).costs is None
    assert StrategySpec.from_dict({**BASE, "costs": "fx"}).costs == COST_PRESETS["fx"]
    tuned = StrategySpec.from_dict({**BASE, "costs": {"preset": "crypto", "commission_bps": 7.5}})
    assert tuned.costs == COST_PRESETS["crypto"].model_copy(update={"commission_bps": 7.5})
    with pytest.raises(SpecError, match="costs: 'bonds' is not a cost preset"):
        StrategySpec.from_dict({**BASE, "costs": "bonds"})
    with pytest.raises(SpecError, match=r"costs\.fee is not a known field"):
        StrategySpec.from_dict({**BASE, "costs": {"preset": "fx", "fee": 1}})


# -- backtests --------------------------------------------------------------------------

START = pd.Timestamp("2023-01-02", tz="UTC")


def _write(path: Path, index: pd.DatetimeIndex, *, volume: bool, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frames = []
    for asset in ("A", "B", "C"):
        close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, len(index))))
        frame = pd.DataFrame(
            {"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "asset": asset, "close": close}
        )
        if volume:
            frame["volume"] = rng.uniform(5e3, 2e4, len(index)).round()
        frames.append(frame)
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("presets")
    workspace = Workspace(root / "ws")
    hours = pd.date_range(START, periods=24 * 60, freq="h")
    fx_hours = hours[hours.day_of_week < 5]
    data = workspace.data
    data.import_file(_write(root / "fx.csv", fx_hours, volume=True, seed=1), "fx")
    data.import_file(_write(root / "btc.csv", hours, volume=True, seed=2), "btc")
    data.import_file(_write(root / "btc-nv.csv", hours, volume=False, seed=3), "btc-novol")
    return workspace


def _rotate(data: str, **over: object) -> StrategySpec:
    """Hold the best 24-bar performer, rebalanced daily: a fill most days."""
    return StrategySpec.from_dict(
        {
            "data": data,
            "signal": {"expr": "$close / Ref($close, 24) - 1"},
            "portfolio": {"k": 1},
            "rebalance": {"frequency": "daily"},
            "fills": "next_close",
            "capital": 100_000.0,
            **over,
        }
    )


def test_fx_takes_the_spread_only_preset_without_volume_impact(ws: Workspace) -> None:
    assert ws.data.info("fx").market.volume == "tick"
    result = run_backtest(ws, _rotate("fx"), record=False)
    sim, costs = result.simulation, result.assumptions["costs"]
    assert (costs["source"], costs["preset"]) == ("preset", "fx")
    assert costs["description"][0].startswith("fx preset (spread only")
    assert costs["impact_modelled"] is False
    assert sim.costs["commission"] == 0.0
    assert sim.costs["fees"] == 0.0
    assert sim.costs["impact"] == 0.0
    assert sim.costs["spread"] > 0.0
    traded = float(sim.trades["notional"].abs().sum())
    assert sim.costs["spread"] == pytest.approx(1e-4 * traded, rel=1e-9)


def test_crypto_pays_the_taker_fee_and_impact_from_traded_volume(ws: Workspace) -> None:
    result = run_backtest(ws, _rotate("btc"), record=False)
    sim, costs = result.simulation, result.assumptions["costs"]
    assert (costs["source"], costs["preset"], costs["impact_modelled"]) == (
        "preset",
        "crypto",
        True,
    )
    assert costs["description"][0].startswith("crypto preset (taker fee 10 bps")
    traded = float(sim.trades["notional"].abs().sum())
    assert sim.costs["commission"] == pytest.approx(1e-3 * traded, rel=1e-9)
    assert sim.costs["impact"] > 0.0


def test_crypto_without_volume_has_no_impact_and_says_so(ws: Workspace) -> None:
    result = run_backtest(ws, _rotate("btc-novol"), record=False)
    costs = result.assumptions["costs"]
    assert costs["preset"] == "crypto"
    assert costs["impact_modelled"] is False
    assert result.simulation.costs["impact"] == 0.0
    assert any("has no volume" in line for line in costs["description"])


def test_explicit_costs_win_and_equity_conventions_are_pointed_out(ws: Workspace) -> None:
    result = run_backtest(ws, _rotate("btc", costs={"half_spread_bps": 5.0}), record=False)
    costs = result.assumptions["costs"]
    assert costs["source"] == "spec"
    assert costs["preset"] is None
    assert costs["half_spread_bps"] == 5.0
    assert costs["commission_per_share"] == 0.005
    assert result.simulation.costs["commission"] > 0.0
    assert any("an equity convention" in n for n in result.assumptions["notes"])
    named = run_backtest(ws, _rotate("btc", costs="fx"), record=False)
    assert named.assumptions["costs"]["label"] == "set in the spec (equal to the fx preset)"


def test_tick_volume_never_feeds_impact_even_when_asked(ws: Workspace) -> None:
    result = run_backtest(ws, _rotate("fx", costs={"preset": "crypto"}), record=False)
    costs = result.assumptions["costs"]
    assert costs["impact"] == "sqrt"
    assert costs["impact_modelled"] is False
    assert result.simulation.costs["impact"] == 0.0
    assert any("tick volume" in line for line in costs["description"])


def test_equities_keep_their_defaults(shared_workspace: Workspace) -> None:
    spec = {
        "data": "sp500-ohlcv",
        "signal": {"expr": "$close / Ref($close, 20) - 1"},
        "portfolio": {"k": 1},
        "rebalance": {"frequency": "weekly"},
        "start": "2015-01-01",
    }
    by_dataset = run_backtest(shared_workspace, StrategySpec.from_dict(spec), record=False)
    explicit = StrategySpec.from_dict({**spec, "costs": CostModel().model_dump()})
    by_spec = run_backtest(shared_workspace, explicit, record=False)
    assert by_dataset.assumptions["costs"]["preset"] == "equities"
    assert by_dataset.simulation.costs == by_spec.simulation.costs
    assert by_dataset.simulation.costs["impact"] > 0.0  # traded volume feeds impact
