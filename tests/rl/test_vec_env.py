"""VecTradingEnv: the same accounts as TradingEnv, stepped together, and usable from SB3."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.data import Panel
from alphaloop.rl import EnvConfig, RLError, TradingEnv, VecTradingEnv, seed_keys


@pytest.mark.filterwarnings("ignore::alphaloop.rl.errors.RLActionWarning")
def test_account_zero_plays_the_single_environment(ohlcv: Panel) -> None:
    cfg = EnvConfig(span="all", action="continuous", allow_short=True, episode_length=30)
    vec = VecTradingEnv(cfg, ohlcv, n_envs=3, seed=11)
    single = TradingEnv(cfg, ohlcv, market=vec.market)
    obs_v = vec.reset()
    obs_s, _ = single.reset(seed=11)
    np.testing.assert_array_equal(obs_v[0], obs_s)
    rng = np.random.default_rng(0)
    for _ in range(75):  # through two automatic resets
        actions = rng.uniform(-1.2, 1.2, (3, 4))
        with np.errstate(all="ignore"):
            obs_v, rew_v, dones, infos = vec.step(actions)
            obs_s, rew_s, term, trunc, _ = single.step(actions[0])
        if term or trunc:
            np.testing.assert_array_equal(infos[0]["terminal_observation"], obs_s)
            assert infos[0]["TimeLimit.truncated"] is True
            obs_s, _ = single.reset()
        assert dones[0] == (term or trunc)
        np.testing.assert_array_equal(obs_v[0], obs_s)
        assert rew_v[0] == pytest.approx(rew_s, rel=1e-6)
    assert vec.action_clip_count > 0


def test_parallel_and_serial_steps_agree(ohlcv: Panel) -> None:
    cfg = EnvConfig(span="all", action="continuous", episode_length=20)
    runs = []
    for parallel in (False, True):
        vec = VecTradingEnv(cfg, ohlcv, n_envs=16, parallel=parallel, seed=2)
        vec.reset_arrays()
        rng = np.random.default_rng(1)
        for _ in range(50):
            vec.step_arrays(rng.uniform(-1, 1, (16, 4)))
        runs.append(vec.equity)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_seeds_and_keys(ohlcv: Panel) -> None:
    assert seed_keys(5, 3)[0] == seed_keys(5, 1)[0]
    vec = VecTradingEnv(EnvConfig(span="all", episode_length=30), ohlcv, n_envs=4)
    vec.seed(7)
    a = vec.reset()
    vec.seed(7)
    b = vec.reset()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(RLError, match="shape"):
        vec.step_arrays(np.zeros((3, 4)))
    assert vec.get_attr("market")[0] is vec.market
    assert vec.env_is_wrapped(object) == [False] * 4


def test_trains_with_stable_baselines3(ohlcv: Panel) -> None:
    from stable_baselines3 import PPO

    cfg = EnvConfig(span="train", action="continuous", episode_length=32)
    vec = VecTradingEnv(cfg, ohlcv, n_envs=4, seed=0)
    model = PPO("MlpPolicy", vec, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    action, _ = model.predict(vec.reset(), deterministic=True)
    assert action.shape == (4, 4)
