"""Proofs that the training pipeline can learn and cannot cheat.

- Leakage canary: an agent whose observation holds the return its decision
  will earn (the bar after its next-bar fill) beats buy-and-hold on the test
  span by a wide margin; the same agent with a constant in its place does not.
- Fill timing: with the leak shifted one bar earlier (the bar between the
  close it saw and its fill) the agent gains nothing in our environment; the
  same agent in an environment filling at the observed close (``same_close``,
  optimistic) wins, so the test would catch an environment that filled early.

Bundled XOM adjusted closes 2004-2013, one asset, long or flat, costs on.
Slow: four short PPO trainings.
"""

from __future__ import annotations

import pytest

from alphaloop.rl.env import TradingEnv
from alphaloop.rl.rollout import evaluation_config, rollout
from alphaloop.rl.train import train_seed
from tests.rl._training import Constant, one_stock, spec, with_leak

pytestmark = pytest.mark.slow

STEPS = 4096
WIDE = 0.5  # log growth over buy-and-hold on the ~1.5-year test span


def _test_growth(shift: int, fills: str) -> tuple[float, float]:
    """(policy, buy-and-hold) log growth on the test span after training with the leak."""
    panel = with_leak(one_stock(), shift)
    s = spec(
        env={"features": ["$leak"], "returns": 0, "fills": fills, "episode_length": 126},
        timesteps=STEPS,
        hyperparameters={"n_steps": 256, "batch_size": 64, "n_epochs": 4},
        evaluation={"every": STEPS},
    )
    config = s.env.model_copy(update={"assets": ("XOM",)})
    train_env = TradingEnv(config.model_copy(update={"span": "train"}), panel)
    validation = TradingEnv(evaluation_config(config, "validation"), panel)
    run = train_seed(s, train_env, lambda m: rollout(m, validation).log_growth, seed=0)
    test = TradingEnv(evaluation_config(config, "test"), panel)
    return rollout(run.model, test).log_growth, rollout(Constant(1), test).log_growth


def test_leak_of_the_earned_return_wins_by_a_wide_margin() -> None:
    # next_close: decided at t, filled at t + 1's close, first earns bar t + 2
    policy, hold = _test_growth(shift=2, fills="next_close")
    assert policy > hold + WIDE


def test_without_the_leak_the_agent_does_not_win() -> None:
    policy, hold = _test_growth(shift=0, fills="next_close")  # leak column all zeros
    assert policy < hold + 0.1


def test_leak_shifted_one_bar_does_not_win_with_next_bar_fills() -> None:
    policy, hold = _test_growth(shift=1, fills="next_close")
    assert policy < hold + 0.1


def test_leak_shifted_one_bar_wins_where_fills_are_at_the_observed_close() -> None:
    # the positive control: an environment filling at the close it observed is exploitable
    policy, hold = _test_growth(shift=1, fills="same_close")
    assert policy > hold + WIDE
