"""The hard-stop wrapper: limits hold whatever the policy outputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.rl import EnvConfig, TradingEnv
from alphaloop.rl.hardstop import HardStopWrapper
from alphaloop.rl.rollout import evaluation_config, rollout
from alphaloop.rl.spec import RiskConfig
from tests.rl._training import Constant
from tests.rl.conftest import ohlcv_panel


class Wild:
    """Huge, signed, infinite and NaN actions from a seeded stream."""

    def __init__(self, shape: int, discrete: bool, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.shape, self.discrete = shape, discrete

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        if self.discrete:
            return self.rng.integers(-3, 8, self.shape), None
        a = self.rng.normal(0, 1e6, self.shape)
        a[self.rng.random(self.shape) < 0.1] = np.nan
        a[self.rng.random(self.shape) < 0.1] = np.inf
        return a, None


def _sent(run) -> np.ndarray:
    return run.weights[np.isfinite(run.weights).all(axis=1)]


def test_continuous_actions_stay_within_position_and_gross_limits() -> None:
    config = EnvConfig(action="continuous", allow_short=True, span="all", fills="next_open")
    env = HardStopWrapper(
        TradingEnv(evaluation_config(config, "all"), ohlcv_panel(300)),
        RiskConfig(max_position=0.2, max_gross=0.5),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the environment never has to clip: the wrapper did
        run = rollout(Wild(4, discrete=False), env)
    w = _sent(run)
    assert len(w) > 100
    assert np.abs(w).max() <= 0.2 + 1e-12
    assert np.abs(w).sum(axis=1).max() <= 0.5 + 1e-12
    assert np.abs(w).max() > 0.19  # it trades: limited, not switched off
    assert env.limited_count == len(run.actions)


def test_discrete_levels_are_replaced_by_allowed_ones() -> None:
    config = EnvConfig(allow_short=True, levels=(-1, -0.5, 0, 0.5, 1), fills="next_open")
    env = HardStopWrapper(
        TradingEnv(evaluation_config(config, "all"), ohlcv_panel(300)),
        RiskConfig(max_position=0.2, max_gross=0.3),
    )
    run = rollout(Wild(4, discrete=True), env)
    w = _sent(run)
    assert np.abs(w).max() <= 0.2 + 1e-12  # level weights are +-0.25, +-0.125
    assert np.abs(w).sum(axis=1).max() <= 0.3 + 1e-12
    assert set(np.unique(np.round(w, 6))) <= {-0.125, 0.0, 0.125}


def _falling(n: int = 120) -> Panel:
    index = pd.date_range("2015-01-02", periods=n, freq="B", tz="UTC")
    close = 100 * 0.99 ** np.arange(n)[:, None]
    return Panel(index, ["X"], {"close": close})


def test_drawdown_stop_goes_flat_and_stays_flat() -> None:
    config = EnvConfig(fills="next_close", returns=1, norm_min_periods=2)
    panel = _falling()
    free = rollout(Constant(1), TradingEnv(evaluation_config(config, "all"), panel))
    env = HardStopWrapper(
        TradingEnv(evaluation_config(config, "all"), panel), RiskConfig(drawdown_stop=0.1)
    )
    run = rollout(Constant(1), env)
    assert env.stopped_at is not None
    after = run.equity[run.equity.index > panel.index[env.stopped_at + 1]]
    assert len(after) > 50
    assert after.max() - after.min() < 1e-9  # flat: no position, nothing changes
    start = run.equity.iloc[0]
    assert run.equity.iloc[-1] / start > 0.87  # stopped near -10% (one bar's move and costs)
    assert free.equity.iloc[-1] / start < 0.45  # without the stop it rides the fall


def test_a_level_set_without_an_allowed_position_is_refused() -> None:
    from alphaloop.rl.errors import RLConfigError

    config = EnvConfig(levels=(0.5, 1.0), fills="next_close", returns=1, norm_min_periods=2)
    env = TradingEnv(evaluation_config(config, "all"), _falling())
    with pytest.raises(RLConfigError, match="max_position"):
        HardStopWrapper(env, RiskConfig(max_position=0.2))
