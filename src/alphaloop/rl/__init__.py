"""Reinforcement learning: gymnasium trading environments, rewards and agents.

Decisions are taken at bar ``t`` and filled at bar ``t + 1`` through the backtester's
cost and fill model, so an episode's equity is a backtest of the same target weights.
Training (:mod:`.spec`, :mod:`.train`, :mod:`.rollout`, :mod:`.evaluation`,
:mod:`.hardstop`, :mod:`.policy`, :mod:`.ensemble`, :mod:`.meta`, :mod:`.tuning`)
sits on the environments. Public names load on first use (gymnasium and
stable-baselines3 are the ``rl`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.rl.config import EnvConfig
    from alphaloop.rl.core import seed_keys
    from alphaloop.rl.env import TradingEnv, load_panel
    from alphaloop.rl.errors import RLActionWarning, RLConfigError, RLError, RLObservationWarning
    from alphaloop.rl.hardstop import HardStopWrapper
    from alphaloop.rl.market import PreparedMarket, prepare_market
    from alphaloop.rl.policy import load_policy, policy_weights
    from alphaloop.rl.rollout import rollout
    from alphaloop.rl.spans import EnvSpans, resolve_span, split_spans
    from alphaloop.rl.spec import EnsembleConfig, RiskConfig, RLSpec, load_rl_spec
    from alphaloop.rl.train import train_seed
    from alphaloop.rl.vec_env import VecTradingEnv

_HOMES: dict[str, str] = {
    "EnvConfig": "alphaloop.rl.config",
    "EnvSpans": "alphaloop.rl.spans",
    "PreparedMarket": "alphaloop.rl.market",
    "RLActionWarning": "alphaloop.rl.errors",
    "RLConfigError": "alphaloop.rl.errors",
    "RLError": "alphaloop.rl.errors",
    "RLObservationWarning": "alphaloop.rl.errors",
    "TradingEnv": "alphaloop.rl.env",
    "VecTradingEnv": "alphaloop.rl.vec_env",
    "load_panel": "alphaloop.rl.env",
    "prepare_market": "alphaloop.rl.market",
    "resolve_span": "alphaloop.rl.spans",
    "seed_keys": "alphaloop.rl.core",
    "split_spans": "alphaloop.rl.spans",
    "EnsembleConfig": "alphaloop.rl.spec",
    "HardStopWrapper": "alphaloop.rl.hardstop",
    "RLSpec": "alphaloop.rl.spec",
    "RiskConfig": "alphaloop.rl.spec",
    "load_policy": "alphaloop.rl.policy",
    "load_rl_spec": "alphaloop.rl.spec",
    "policy_weights": "alphaloop.rl.policy",
    "rollout": "alphaloop.rl.rollout",
    "train_seed": "alphaloop.rl.train",
}

__all__ = [
    "EnsembleConfig",
    "EnvConfig",
    "EnvSpans",
    "HardStopWrapper",
    "PreparedMarket",
    "RLActionWarning",
    "RLConfigError",
    "RLError",
    "RLObservationWarning",
    "RLSpec",
    "RiskConfig",
    "TradingEnv",
    "VecTradingEnv",
    "load_panel",
    "load_policy",
    "load_rl_spec",
    "policy_weights",
    "prepare_market",
    "resolve_span",
    "rollout",
    "seed_keys",
    "split_spans",
    "train_seed",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access (PEP 562)."""
    value = load_public(__name__, _HOMES, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
