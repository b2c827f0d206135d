"""Running a policy through an environment: one deterministic pass over a span.

:func:`rollout` steps a trained policy (any stable-baselines3 model, recurrent
ones included) through a :class:`~alphaloop.rl.TradingEnv` episode and keeps
what a report and a backtest need: the equity at every close, each step's
costs and turnover, and the target weights decided at each row. The
environment's ``info["target_weights"]`` is NaN where no order went out
(the previous targets held); :attr:`Rollout.weights` carries the decided
targets forward, so row ``t`` holds the book the policy wanted after ``t``'s
close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Rollout", "evaluation_config", "rollout"]


@dataclass(frozen=True)
class Rollout:
    """One episode of a policy.

    Attributes
    ----------
    equity : Series
        Account value (currency) at the close of the first decision bar (the
        initial capital) and after every step, indexed by bar.
    returns : Series
        Simple per-bar returns of ``equity``, net of costs (one per step).
    turnover : Series
        Traded notional over equity per step.
    costs : float
        Total costs charged (currency).
    rows : ndarray of int
        Market row of each decision.
    weights : ndarray, shape (steps, assets)
        Target weights decided at each row (held targets carried forward).
    actions : list
        The actions sent, as the policy gave them.
    rewards : ndarray
    """

    equity: pd.Series
    returns: pd.Series
    turnover: pd.Series
    costs: float
    rows: np.ndarray
    weights: np.ndarray
    actions: list[Any]
    rewards: np.ndarray

    @property
    def log_growth(self) -> float:
        """``log(final equity / initial equity)``: the validation score."""
        return float(np.log(self.equity.iloc[-1] / self.equity.iloc[0]))


def evaluation_config(config: Any, span: Any) -> Any:
    """``config`` for one deterministic pass over ``span``: first bar to last, one episode."""
    return config.model_copy(update={"span": span, "start": "first", "episode_length": None})


class _Deterministic:
    """``model.predict(..., deterministic=True)`` for a feed-forward stable-baselines3
    policy, without switching the network to evaluation mode at every call (the same
    steps as the library's ``predict``: tensor, greedy action, clip or unscale)."""

    def __init__(self, policy: Any) -> None:
        import torch
        from gymnasium import spaces

        policy.set_training_mode(False)
        self.policy = policy
        self.no_grad = torch.no_grad
        self.box = isinstance(policy.action_space, spaces.Box)

    def predict(self, obs: Any, state=None, episode_start=None, deterministic=True):
        policy = self.policy
        tensor, vectorized = policy.obs_to_tensor(obs)
        with self.no_grad():
            actions = policy._predict(tensor, deterministic=True)
        actions = actions.cpu().numpy().reshape((-1, *policy.action_space.shape))
        if self.box:
            if policy.squash_output:
                actions = policy.unscale_action(actions)
            else:
                actions = np.clip(actions, policy.action_space.low, policy.action_space.high)
        return (actions if vectorized else actions.squeeze(axis=0)), state


def _predictor(model: Any, deterministic: bool) -> Any:
    policy = getattr(model, "policy", None)
    recurrent = policy is not None and hasattr(policy, "lstm_actor")
    if deterministic and policy is not None and not recurrent and hasattr(policy, "_predict"):
        return _Deterministic(policy)
    return model


def rollout(model: Any, env: Any, *, deterministic: bool = True, seed: int = 0) -> Rollout:
    """Run ``model`` through one episode of ``env`` (reset with ``seed``).

    ``model`` is anything with stable-baselines3's ``predict(obs, state,
    episode_start, deterministic)``; a recurrent policy's state is carried.
    """
    predictor = _predictor(model, deterministic)
    obs, info = env.reset(seed=seed)
    base = env.unwrapped
    dates = [info["date"]]
    equity = [info["equity"]]
    rows, targets, actions, rewards, turnover = [], [], [], [], []
    costs = 0.0
    state = None
    start = np.ones((1,), dtype=bool)
    done = False
    while not done:
        rows.append(base.row)
        action, state = predictor.predict(
            obs, state=state, episode_start=start, deterministic=deterministic
        )
        start = np.zeros((1,), dtype=bool)
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        actions.append(action)
        rewards.append(float(reward))
        targets.append(info["target_weights"])
        turnover.append(info["turnover"])
        costs += info["costs"]
        dates.append(info["date"])
        equity.append(info["equity"])
    index = pd.DatetimeIndex(dates)
    eq = pd.Series(equity, index=index, name="equity")
    weights = pd.DataFrame(np.vstack(targets)).ffill().to_numpy()
    return Rollout(
        equity=eq,
        returns=eq.pct_change().iloc[1:],
        turnover=pd.Series(turnover, index=index[1:]),
        costs=costs,
        rows=np.asarray(rows, dtype=np.int64),
        weights=weights,
        actions=actions,
        rewards=np.asarray(rewards),
    )
