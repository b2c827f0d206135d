"""TradingEnv: gymnasium's checker, determinism, actions, observations, rewards, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from alphaloop.data import Panel
from alphaloop.rl import (
    EnvConfig,
    RLActionWarning,
    RLConfigError,
    RLError,
    RLObservationWarning,
    TradingEnv,
)

from .conftest import ohlcv_panel

CONFIGS = {
    "single-discrete": dict(assets=("S0",)),
    "single-short": dict(assets=("S0",), allow_short=True, action="continuous"),
    "portfolio-discrete": dict(allow_short=True, levels=(-1.0, -0.5, 0.0, 0.5, 1.0)),
    "portfolio-continuous": dict(action="continuous", stack=3),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_passes_gymnasiums_checker(ohlcv: Panel, name: str) -> None:
    env = TradingEnv(EnvConfig(span="all", episode_length=40, **CONFIGS[name]), ohlcv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's own notes (unbounded Box, ...)
        check_env(env, skip_render_check=True)


def test_spaces(ohlcv: Panel) -> None:
    env = TradingEnv(EnvConfig(span="all", assets=("S0",)), ohlcv)
    assert env.action_space == spaces.Discrete(2)
    env = TradingEnv(EnvConfig(span="all", allow_short=True), ohlcv)
    assert env.action_space == spaces.MultiDiscrete([3] * 4)
    cfg = EnvConfig(span="all", action="continuous", returns=2, stack=2,
                    features=["Mean($close, 5) / $close - 1"])  # fmt: skip
    env = TradingEnv(cfg, ohlcv)
    # (1 feature + 2 returns) x 4 assets x 2 frames + 4 weights + cash
    assert env.observation_space.shape == (3 * 4 * 2 + 5,)
    assert len(env.observation_names) == env.observation_space.shape[0]
    assert env.observation_names[-1] == "cash"


def _rollout(env: TradingEnv, seed: int, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    env.reset(seed=seed)
    rng = np.random.default_rng(99)
    eq, obs = [], []
    for _ in range(n):
        o, _, term, trunc, info = env.step(rng.uniform(-1, 1, env.market.n_assets))
        eq.append(info["equity"])
        obs.append(o)
        if term or trunc:
            break
    return np.array(eq), np.array(obs)


def test_same_seed_same_actions_same_equity(ohlcv: Panel) -> None:
    cfg = EnvConfig(span="all", action="continuous", allow_short=True, episode_length=80)
    a = _rollout(TradingEnv(cfg, ohlcv), 4)
    b = _rollout(TradingEnv(cfg, ohlcv), 4)
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-9 * cfg.initial_capital)
    np.testing.assert_array_equal(a[1], b[1])
    c = _rollout(TradingEnv(cfg, ohlcv), 5)  # another seed: another start
    assert not np.array_equal(a[1][0], c[1][0])


def test_episode_starts_follow_the_seed(ohlcv: Panel) -> None:
    env = TradingEnv(EnvConfig(span="all", episode_length=50), ohlcv)
    starts = []
    for seed in (0, 0, 1):
        env.reset(seed=seed)
        starts.append(env.row)
    assert starts[0] == starts[1] != starts[2]
    unseeded = [TradingEnv(EnvConfig(span="all", episode_length=50, seed=3), ohlcv)
                for _ in range(2)]  # fmt: skip
    for e in unseeded:
        e.reset()
    assert unseeded[0].row == unseeded[1].row
    first = TradingEnv(EnvConfig(span="all", episode_length=50, start="first"), ohlcv)
    first.reset(seed=8)
    assert first.row == first.market.first_start


def test_episode_length_and_truncation(ohlcv: Panel) -> None:
    env = TradingEnv(EnvConfig(span="all", episode_length=25), ohlcv)
    env.reset(seed=0)
    steps = 0
    while True:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        if term or trunc:
            break
    assert (steps, trunc, term) == (25, True, False)
    with pytest.raises(RLError, match="reset"):
        env.step(env.action_space.sample())


def test_out_of_range_actions_are_clipped_and_counted(ohlcv: Panel) -> None:
    env = TradingEnv(EnvConfig(span="all", action="continuous"), ohlcv)
    env.reset(seed=0)
    with pytest.warns(RLActionWarning, match="clipped"):
        _, _, _, _, info = env.step(np.array([5.0, -3.0, np.inf, 0.2]))
    assert info["clipped"] == 3
    # 5 -> 1, -3 -> 0 (long-only), inf -> 1, 0.2: projected onto sum <= 1
    w = info["target_weights"]
    assert w.sum() == pytest.approx(1.0)
    assert w[1] == 0.0
    assert (w >= 0).all()
    _, _, _, _, info = env.step(np.array([np.nan, 0.1, 0.1, 0.1]))
    assert info["clipped"] == 1
    assert np.isnan(info["target_weights"][0])
    assert env.action_clip_count == 4
    discrete = TradingEnv(EnvConfig(span="all", assets=("S0",)), ohlcv)
    discrete.reset(seed=0)
    with pytest.warns(RLActionWarning):
        _, _, _, _, info = discrete.step(7)
    assert info["clipped"] == 1
    assert info["target_weights"][0] == 1.0


def test_wrong_action_shape_is_an_error(ohlcv: Panel) -> None:
    env = TradingEnv(EnvConfig(span="all", action="continuous"), ohlcv)
    env.reset(seed=0)
    with pytest.raises(RLError, match="4 assets"):
        env.step(np.zeros(3))


def test_gross_limited_projection(ohlcv: Panel) -> None:
    cfg = EnvConfig(span="all", action="continuous", allow_short=True, max_leverage=1.0)
    env = TradingEnv(cfg, ohlcv)
    env.reset(seed=0)
    raw = np.array([0.9, -0.8, 0.1, 0.0])
    _, _, _, _, info = env.step(raw)
    w = info["target_weights"]
    assert np.abs(w).sum() == pytest.approx(1.0)
    assert np.sign(w[:2]).tolist() == [1.0, -1.0]
    # Euclidean projection onto the L1 ball: w = sign(a) * max(|a| - theta, 0)
    theta = 0.9 - w[0]
    np.testing.assert_allclose(np.abs(w), np.maximum(np.abs(raw) - theta, 0.0), atol=1e-12)


def test_stacked_frames_shift(ohlcv: Panel) -> None:
    cfg = EnvConfig(span="all", stack=3, returns=2)
    env = TradingEnv(cfg, ohlcv)
    o0, _ = env.reset(seed=2)
    o1, *_ = env.step(env.action_space.sample())
    f = len(env.market.feature_names)
    np.testing.assert_array_equal(o1[: 2 * f], o0[f : 3 * f])


def test_observation_holds_weights_and_cash(ohlcv: Panel) -> None:
    cfg = EnvConfig(span="all", assets=("S0",), costs={"commission_per_share": 0.0,
                    "commission_min": 0.0})  # fmt: skip
    env = TradingEnv(cfg, ohlcv)
    obs, _ = env.reset(seed=1)
    assert obs[-2:].tolist() == [0.0, 1.0]  # flat: all cash
    obs, *_ = env.step(1)  # long
    assert obs[-2] == pytest.approx(1.0, abs=1e-3)
    assert obs[-1] == pytest.approx(0, abs=1e-3)
    assert obs[-2] + obs[-1] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("reward", ["pnl", "log_return", "differential_sharpe",
                                    "drawdown_penalised"])  # fmt: skip
def test_rewards_are_after_costs(ohlcv: Panel, reward: str) -> None:
    cfg = EnvConfig(span="all", reward=reward, episode_length=60, start="first")
    env = TradingEnv(cfg, ohlcv)
    env.reset(seed=0)
    rewards, equity = [], [cfg.initial_capital]
    for k in range(60):
        _, r, _, _, info = env.step(np.full(4, k % 2))  # flip all in and out: costly
        rewards.append(r)
        equity.append(info["equity"])
    rewards, equity = np.array(rewards), np.array(equity)
    log_r = np.log(equity[1:] / equity[:-1])
    if reward == "pnl":
        np.testing.assert_allclose(rewards, np.diff(equity) / cfg.initial_capital, atol=1e-15)
    elif reward == "log_return":
        np.testing.assert_allclose(rewards, log_r, atol=1e-15)
    elif reward == "drawdown_penalised":
        assert (rewards <= log_r + 1e-15).all()
        assert (rewards < log_r - 1e-6).any()
        peak = np.maximum.accumulate(equity)
        dd = 1 - equity / peak
        np.testing.assert_allclose(rewards, log_r - np.maximum(np.diff(dd), 0), atol=1e-12)
    else:
        assert np.isfinite(rewards).all()
        assert rewards[0] == 0.0
    # flat steps (entering from cash) still cost: the first step's equity is below capital
    assert equity[2] < cfg.initial_capital or equity[1] < cfg.initial_capital


def test_differential_sharpe_matches_its_definition(ohlcv: Panel) -> None:
    eta = 0.05
    cfg = EnvConfig(span="all", reward="differential_sharpe", sharpe_eta=eta, episode_length=40)
    env = TradingEnv(cfg, ohlcv)
    env.reset(seed=3)
    a = b = 0.0
    prev = cfg.initial_capital
    for _ in range(40):
        _, r, _, _, info = env.step(np.ones(4, dtype=int))
        ret = info["equity"] / prev - 1
        prev = info["equity"]
        var = b - a * a
        expected = (b * (ret - a) - 0.5 * a * (ret * ret - b)) / var**1.5 if var > 1e-12 else 0.0
        assert r == pytest.approx(expected, rel=1e-9, abs=1e-12)
        a, b = a + eta * (ret - a), b + eta * (ret * ret - b)


def test_nan_observations_raise_or_are_filled_with_a_record() -> None:
    panel = ohlcv_panel(n=300)
    close = panel["close"].copy()
    close[150, 1] = np.nan
    holed = Panel(panel.index, panel.assets, {**{k: panel[k] for k in panel.field_names},
                                              "close": close})  # fmt: skip
    with pytest.raises(RLConfigError, match=r"S1.*2012"):
        TradingEnv(EnvConfig(span="all"), holed)
    with pytest.warns(RLObservationWarning, match="replaced by 0"):
        env = TradingEnv(EnvConfig(span="all", nan_policy="zero"), holed)
    assert env.nan_filled > 0
    assert any("replaced by 0" in n for n in env.market.notes)
    obs, _ = env.reset(seed=0)
    assert np.isfinite(obs).all()


def test_bad_settings_are_clear_errors(ohlcv: Panel) -> None:
    with pytest.raises(RLConfigError, match="assets not in the data"):
        TradingEnv(EnvConfig(assets=("NOPE",)), ohlcv)
    with pytest.raises(RLConfigError, match="feature 'bad'"):
        TradingEnv(EnvConfig(span="all", features={"bad": "Mean($close, "}), ohlcv)
    with pytest.raises(RLConfigError, match="episode_length"):
        TradingEnv(EnvConfig(span=(0, 100), episode_length=500), ohlcv)
    closes = ohlcv.select(fields=["close"])
    with pytest.raises(RLConfigError, match="next_close"):
        TradingEnv(EnvConfig(span="all"), closes)
    with pytest.raises(ValueError, match="allow_short"):
        EnvConfig(levels=(-1.0, 1.0))
    with pytest.raises(ValueError, match="extra"):
        EnvConfig(episode_lenght=5)  # type: ignore[call-arg]
    with pytest.raises(RLConfigError, match="a Panel"):
        TradingEnv(EnvConfig())


def test_library_and_expression_features(stocks: Panel) -> None:
    features = ["Mean($close, 10) / $close - 1", 'Factor("alpha158-close/ROC5")']
    cfg = EnvConfig(fills="next_close", assets=("AAPL", "MSFT"), returns=1, features=features)
    env = TradingEnv(cfg, stocks)
    assert env.market.feature_names[0].startswith("Mean($close, 10)")
    obs, _ = env.reset(seed=0)
    assert np.isfinite(obs).all()
    assert np.abs(obs[:-3]).max() <= cfg.obs_clip


def test_an_unchanged_action_sends_no_orders(ohlcv: Panel) -> None:
    env = TradingEnv(EnvConfig(span="all", episode_length=30), ohlcv)
    env.reset(seed=0)
    _, _, _, _, first = env.step(np.ones(4, dtype=int))
    _, _, _, _, again = env.step(np.ones(4, dtype=int))
    assert first["costs"] > 0
    assert first["turnover"] > 0.9
    assert again["costs"] == 0.0
    assert again["turnover"] == 0.0
    assert np.isnan(again["target_weights"]).all()
    churn = TradingEnv(EnvConfig(span="all", episode_length=30, hold_unchanged=False), ohlcv)
    churn.reset(seed=0)
    churn.step(np.ones(4, dtype=int))
    _, _, _, _, rebalanced = churn.step(np.ones(4, dtype=int))
    assert (rebalanced["target_weights"] == 0.25).all()  # drift traded back to 1/4 each


def test_a_ruined_account_ends_the_episode(ohlcv: Panel) -> None:
    # $40 of capital, flipping 4 leveraged positions against a $1 minimum commission per
    # fill: costs eat the account
    cfg = EnvConfig(span="all", initial_capital=40.0, episode_length=200, allow_short=True,
                    levels=(-1.0, 1.0), max_leverage=2.0)  # fmt: skip
    env = TradingEnv(cfg, ohlcv)
    env.reset(seed=0)
    for k in range(200):
        _, reward, terminated, truncated, info = env.step(np.full(4, k % 2))
        if terminated or truncated:
            break
    assert terminated
    assert not truncated
    assert info["equity"] <= 0.0
    assert np.isfinite(reward)


def test_passes_stable_baselines3_checker(ohlcv: Panel) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = TradingEnv(EnvConfig(span="all", action="continuous", episode_length=40), ohlcv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sb3_check(env)


def test_config_round_trips_through_yaml_and_json() -> None:
    import yaml

    doc = yaml.safe_load(
        "dataset: sp500-stocks\nfills: next_close\nspan: [2005-01-03, 2010-12-31]\n"
        "costs: {commission_bps: 1.0}\nlevels: [-1, 0, 1]\nallow_short: true\n"
    )
    cfg = EnvConfig(**doc)
    assert cfg.span == ("2005-01-03", "2010-12-31")
    assert cfg.costs.commission_bps == 1.0
    assert EnvConfig(**cfg.model_dump(mode="json")) == cfg
    with pytest.raises(ValueError, match="span"):
        EnvConfig(span=("2005-01-03", 200))
