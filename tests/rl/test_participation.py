"""Participation caps in the environments: an episode's equity equals a capped backtest of
the targets it sent (1e-9 of capital), in the single and the vectorized environment."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.backtest import simulate
from alphaloop.backtest.vectorized import SimulationResult
from alphaloop.data import Panel
from alphaloop.data.bundled import load_bundled
from alphaloop.errors import SpecError
from alphaloop.rl import EnvConfig, RLConfigError, TradingEnv, VecTradingEnv
from alphaloop.rl.spec import RLSpec

from .test_parity import run_episode


@pytest.fixture(scope="module")
def indexes() -> Panel:
    """The bundled S&P 500 and Nasdaq OHLCV series (with volume) as one two-asset panel."""
    parts = [load_bundled(name).to_panel() for name in ("sp500-ohlcv", "nasdaq-ohlcv")]
    fields = {
        f: np.column_stack([p[f][:, 0] for p in parts])
        for f in ("open", "high", "low", "close", "volume")
    }
    return Panel(parts[0].index, ("SP500", "NASDAQ"), fields)


def capped_backtest(
    panel: Panel, env: TradingEnv, start: int, infos: list[dict], *, cap: bool = True
) -> SimulationResult:
    """The vectorized backtest of the targets an episode sent (capped as the env, or not)."""
    cfg = env.config
    sub = panel.select(assets=list(env.market.assets)).iloc(slice(0, start + len(infos) + 1))
    decisions = np.full((len(infos) + 1, env.market.n_assets), np.nan)
    for k, info in enumerate(infos):
        decisions[k] = info["target_weights"]
    return simulate(
        sub, decisions, fills=cfg.fills, costs=cfg.costs, initial_capital=cfg.initial_capital,
        max_leverage=cfg.max_leverage, allow_short=cfg.allow_short, lot_size=cfg.lot_size,
        min_trade_value=cfg.min_trade_value, history=start,
        participation=cfg.participation if cap else None,
    )  # fmt: skip


CASES = {
    "continuous-next-open": dict(action="continuous"),
    "discrete-short-next-close": dict(action="discrete", allow_short=True, fills="next_close"),
    "continuous-gross-leverage": dict(action="continuous", allow_short=True, max_leverage=1.5),
}  # fmt: skip


@pytest.mark.parametrize("participation", [None, 0.0005])
@pytest.mark.parametrize("name", list(CASES))
def test_episode_equity_equals_the_capped_backtest_on_bundled_data(
    indexes: Panel, name: str, participation: float | None
) -> None:
    cfg = EnvConfig(
        span="train", episode_length=150, initial_capital=1e10, participation=participation,
        **CASES[name],
    )  # fmt: skip
    env = TradingEnv(cfg, indexes)
    start, infos = run_episode(env, 3, 4)
    equity = np.array([cfg.initial_capital] + [i["equity"] for i in infos])
    result = capped_backtest(indexes, env, start, infos)
    assert np.max(np.abs(result.equity.to_numpy() - equity)) <= 1e-9 * cfg.initial_capital
    if participation is None:
        return
    uncapped = capped_backtest(indexes, env, start, infos, cap=False)
    # the cap binds on many bars, and it changes the result
    trades = result.trades
    rows = indexes.index.get_indexer(pd.DatetimeIndex(trades["time"]))
    cols = pd.Index(indexes.assets).get_indexer(trades["asset"].astype(str))
    share = np.abs(trades["shares"].to_numpy()) / indexes["volume"][rows, cols]
    assert (share <= participation * (1 + 1e-12)).all()
    assert np.mean(share >= participation * (1 - 1e-9)) > 0.2
    assert abs(uncapped.final_value - result.final_value) > 1e-6 * cfg.initial_capital
    assert any("participation cap" in n for n in env.market.notes)


def test_vectorized_accounts_play_the_single_environment_under_a_cap(indexes: Panel) -> None:
    cfg = EnvConfig(span="all", action="continuous", allow_short=True, episode_length=30,
                    initial_capital=1e10, participation=0.0005)  # fmt: skip
    vec = VecTradingEnv(cfg, indexes, n_envs=3, seed=11)
    single = TradingEnv(cfg, indexes, market=vec.market)
    vec.reset()
    single.reset(seed=11)
    rng = np.random.default_rng(0)
    for _ in range(70):  # through two automatic resets
        actions = rng.uniform(-1.0, 1.0, (3, 2))
        obs_v, rew_v, dones, _ = vec.step(actions)
        obs_s, rew_s, term, trunc, _ = single.step(actions[0])
        if term or trunc:
            obs_s, _ = single.reset()
        assert dones[0] == (term or trunc)
        np.testing.assert_array_equal(obs_v[0], obs_s)
        assert rew_v[0] == pytest.approx(rew_s, rel=1e-6)
    runs = []
    for parallel in (False, True):
        env = VecTradingEnv(cfg, indexes, n_envs=8, parallel=parallel, seed=2)
        env.reset_arrays()
        rng = np.random.default_rng(1)
        for _ in range(40):
            env.step_arrays(rng.uniform(-1, 1, (8, 2)))
        runs.append(env.equity)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_a_cap_needs_volume(stocks: Panel) -> None:
    with pytest.raises(RLConfigError, match="no 'volume' field"):
        TradingEnv(EnvConfig(fills="next_close", participation=0.1), stocks)


def test_config_and_spec_checks_and_old_hashes() -> None:
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValidationError, match="participation"):
            EnvConfig(participation=bad)
        with pytest.raises(SpecError, match="participation"):
            RLSpec.from_dict({"name": "a", "data": "d", "env": {"participation": bad}})
    spec = RLSpec.from_dict({"name": "a", "data": "d"})
    dump = spec.model_dump(mode="json", exclude={"augment": True, "env": {"participation"}})
    old = hashlib.sha256(json.dumps(dump, sort_keys=True, separators=(",", ":")).encode())
    assert spec.hash == old.hexdigest()  # the identity it had before the field existed
    capped = RLSpec.from_dict({"name": "a", "data": "d", "env": {"participation": 0.1}})
    assert capped.env.participation == 0.1
    assert capped.hash != spec.hash
