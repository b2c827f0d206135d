"""An episode's equity equals a backtest of the target weights it sent (1e-9 of capital)."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.backtest import simulate
from alphaloop.data import Panel
from alphaloop.execution.costs import CostModel
from alphaloop.rl import EnvConfig, TradingEnv

from .conftest import ohlcv_panel


def run_episode(env: TradingEnv, seed: int, actions_seed: int) -> tuple[int, list[dict]]:
    rng = np.random.default_rng(actions_seed)
    env.action_space.seed(actions_seed)
    env.reset(seed=seed)
    start = env.row
    infos = []
    done = False
    last = None
    while not done:
        action = env.action_space.sample()
        if (
            rng.random() < 0.3 and last is not None
        ):  # repeat the last action: no orders (hold_unchanged)
            action = last
        _, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        done = terminated or truncated
    return start, infos


def backtest_equity(panel: Panel, env: TradingEnv, start: int, infos: list[dict]) -> np.ndarray:
    cfg = env.config
    end = start + len(infos)
    sub = panel.select(assets=list(env.market.assets)).iloc(slice(0, end + 1))
    decisions = np.full((len(infos) + 1, env.market.n_assets), np.nan)
    for k, info in enumerate(infos):
        decisions[k] = info["target_weights"]
    result = simulate(
        sub, decisions, fills=cfg.fills, costs=cfg.costs, initial_capital=cfg.initial_capital,
        max_leverage=cfg.max_leverage, allow_short=cfg.allow_short, lot_size=cfg.lot_size,
        min_trade_value=cfg.min_trade_value, history=start,
    )  # fmt: skip
    return result.equity.to_numpy()


CASES = {
    "discrete-long-next-open": dict(action="discrete"),
    "discrete-short-next-close": dict(action="discrete", allow_short=True, fills="next_close"),
    "continuous-long": dict(action="continuous"),
    "continuous-gross-leverage": dict(
        action="continuous", allow_short=True, max_leverage=1.5,
        costs=CostModel(borrow_bps_annual=300.0),
    ),
    "continuous-lots-min-trade": dict(action="continuous", lot_size=10.0, min_trade_value=5e3),
    "single-asset-discrete": dict(action="discrete", assets=("S1",), allow_short=True),
    "single-asset-continuous": dict(action="continuous", assets=("S2",)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_episode_equity_equals_the_backtest(ohlcv: Panel, name: str) -> None:
    cfg = EnvConfig(span="all", episode_length=120, returns=3, **CASES[name])
    env = TradingEnv(cfg, ohlcv)
    for seed in (1, 2):
        start, infos = run_episode(env, seed, actions_seed=seed + 10)
        equity = np.array([cfg.initial_capital] + [i["equity"] for i in infos])
        expected = backtest_equity(ohlcv, env, start, infos)
        assert len(expected) == len(equity)
        assert np.max(np.abs(equity - expected)) <= 1e-9 * cfg.initial_capital
        # costs were charged: the episode is not a frictionless one
        assert sum(i["costs"] for i in infos) > 0


def test_parity_on_the_bundled_stocks(stocks: Panel) -> None:
    cfg = EnvConfig(fills="next_close", action="continuous", span="train", episode_length=200)
    env = TradingEnv(cfg, stocks)
    start, infos = run_episode(env, 3, 4)
    equity = np.array([cfg.initial_capital] + [i["equity"] for i in infos])
    expected = backtest_equity(stocks, env, start, infos)
    assert np.max(np.abs(equity - expected)) <= 1e-9 * cfg.initial_capital


def test_impact_is_charged_from_volume() -> None:
    thin = ohlcv_panel(volume=2e3)  # tiny volume: large square-root impact
    costs = {}
    for impact in ("sqrt", "none"):
        cfg = EnvConfig(span="all", action="continuous", episode_length=50, start="first",
                        costs=CostModel(impact=impact))  # fmt: skip
        env = TradingEnv(cfg, thin)
        _, infos = run_episode(env, 0, 0)
        costs[impact] = sum(i["costs"] for i in infos)
    assert costs["sqrt"] > 2 * costs["none"]


def test_same_close_is_optimistic_and_labelled(ohlcv: Panel) -> None:
    cfg = EnvConfig(span="all", fills="same_close", episode_length=60)
    env = TradingEnv(cfg, ohlcv)
    assert any("OPTIMISTIC" in n for n in env.market.notes)
    start, infos = run_episode(env, 5, 6)
    equity = np.array([i["equity"] for i in infos])
    costs = np.array([i["costs"] for i in infos] + [0.0])
    expected = backtest_equity(ohlcv, env, start, infos)
    # step k marks row t + 1 before the fill decided there; the backtest's row
    # t + 1 is after it, which at the same close only subtracts that fill's costs
    after_fill = equity - costs[1:]
    assert np.max(np.abs(after_fill - expected[1:])) <= 1e-9 * cfg.initial_capital
