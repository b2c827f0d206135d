"""The configuration checks every backtest passes before it runs (pure: spec + panel)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.runner import check_strategy
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError


def panel(n_assets: int, fields: tuple[str, ...] = ("open", "high", "low", "close")) -> Panel:
    rng = np.random.default_rng(7)
    index = pd.date_range("2020-01-01", periods=30, freq="B", tz="UTC")
    close = 100 * np.cumprod(1 + 0.01 * rng.standard_normal((30, n_assets)), axis=0)
    assets = [f"A{j}" for j in range(n_assets)]
    return Panel(index, assets, {f: close.copy() for f in fields})


def spec(**over: object) -> StrategySpec:
    base = {"data": "toy", "signal": {"expr": "$close"}, "fills": "next_close"}
    return StrategySpec.from_dict({**base, **over})


def test_k_above_the_universe_is_refused_with_both_numbers() -> None:
    with pytest.raises(BacktestError, match=r"portfolio\.k is 4 but .* has 3 assets") as exc:
        check_strategy(spec(portfolio={"k": 4}), panel(3))
    assert "at most 3" in str(exc.value)
    with pytest.raises(BacktestError, match="has 1 asset:"):
        check_strategy(spec(portfolio={"k": 2}), panel(1))


@pytest.mark.parametrize("n", [1, 3])
def test_k_equal_to_the_universe_is_noted(n: int) -> None:
    (note,) = check_strategy(spec(portfolio={"k": n}), panel(n))
    assert f"whole universe ({n} asset" in note
    assert "selects nothing" in note


def test_k_below_the_universe_and_other_methods_pass_without_notes() -> None:
    assert check_strategy(spec(portfolio={"k": 2}), panel(3)) == ()
    long_short = spec(
        portfolio={"method": "quantile_long_short", "quantile": 0.5},
        limits={"allow_short": True},
    )
    assert check_strategy(long_short, panel(2)) == ()


def test_fields_the_fills_and_stops_need() -> None:
    closes = panel(3, ("close",))
    with pytest.raises(BacktestError, match="need an 'open' field") as exc:
        check_strategy(spec(fills="next_open", portfolio={"k": 2}), closes)
    assert "next_close" in str(exc.value)
    assert check_strategy(spec(portfolio={"k": 2}), closes) == ()
    with pytest.raises(BacktestError, match="high and low"):
        check_strategy(spec(portfolio={"k": 2}, stops={"stop_loss": 0.1}), closes)
    with pytest.raises(BacktestError, match="no 'close' field"):
        check_strategy(spec(portfolio={"k": 2}), panel(3, ("open",)))


def test_participation_needs_volume() -> None:
    with pytest.raises(BacktestError, match="no 'volume' field") as exc:
        check_strategy(spec(portfolio={"k": 2}, participation=0.1), panel(3))
    assert "remove participation" in str(exc.value)
    with_volume = panel(3, ("close", "volume"))
    assert check_strategy(spec(portfolio={"k": 2}, participation=0.1), with_volume) == ()
