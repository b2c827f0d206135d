"""RLSpec: a typed, serializable description of a reinforcement-learning agent to train.

```yaml
name: ppo-aapl                    # registry name: [a-z0-9][a-z0-9_-]*
data: sp500-stocks
universe: [AAPL]                  # or all
algorithm: PPO                    # PPO | A2C | DQN | SAC | TD3 | RecurrentPPO
hyperparameters: {learning_rate: 3.0e-4, n_steps: 256, batch_size: 64}
env:                              # EnvConfig fields (alphaloop.rl.EnvConfig)
  action: discrete
  fills: next_close
  validation_fraction: 0.15       # spans: the last rows, purged and embargoed
  test_fraction: 0.15
timesteps: 20000                  # per seed
n_envs: 1                         # > 1: a VecTradingEnv of that many accounts trains
seeds: 5                          # a count (seed, seed+1, ...) or a list of seeds
seed: 0
start: 2010-01-01                 # optional: first date loaded
evaluation: {every: 2000, episodes: 1}
checkpoint_every: 5000
risk: {max_position: 1.0, drawdown_stop: 0.25}
```

A bad file fails at load with the field, the value and what is allowed
(:func:`alphaloop.specfile.describe_validation_error`), before any data is
read: the algorithm must be one of :data:`ALGORITHMS`, every hyperparameter a
parameter of its constructor, and the action space one it can drive (DQN
needs discrete actions; SAC and TD3 continuous ones).

Spans: the search span is what the data catalog returns (it stops before the
sealed holdout, so no span here can reach it), from ``start`` to ``end``. The
environment cuts it in time order into training, validation and test spans
(:func:`alphaloop.rl.split_spans`: purged by each decision's label end and
embargoed), so no reward of one span reads a bar of the next. ``env`` may not
set ``dataset``, ``assets``, ``span`` or ``seed``: ``data``, ``universe``, the
span being trained or evaluated and ``seeds`` set them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alphaloop.errors import SpecError
from alphaloop.models.spec import AugmentSpec
from alphaloop.rl.config import EnvConfig
from alphaloop.specfile import describe_validation_error, load_spec_file

__all__ = [
    "ALGORITHMS",
    "CONTINUOUS_ONLY",
    "DISCRETE_ONLY",
    "EnsembleConfig",
    "EvaluationConfig",
    "RLSpec",
    "RiskConfig",
    "algorithm_class",
    "check_hyperparameters",
    "load_rl_spec",
]

ALGORITHMS: Mapping[str, tuple[str, str]] = {
    "PPO": ("stable_baselines3", "PPO"),
    "A2C": ("stable_baselines3", "A2C"),
    "DQN": ("stable_baselines3", "DQN"),
    "SAC": ("stable_baselines3", "SAC"),
    "TD3": ("stable_baselines3", "TD3"),
    "RecurrentPPO": ("sb3_contrib", "RecurrentPPO"),
}
"""Algorithm name -> (module, class): an explicit table, imported on first use."""

DISCRETE_ONLY = frozenset({"DQN"})
CONTINUOUS_ONLY = frozenset({"SAC", "TD3"})

_DEFAULT_POLICY = {"RecurrentPPO": "MlpLstmPolicy"}
_RESERVED = ("policy", "env", "seed", "verbose", "device", "tensorboard_log", "_init_setup_model")


def algorithm_class(name: str) -> Any:
    """The stable-baselines3 (or sb3-contrib) class of algorithm ``name``."""
    import importlib

    if name not in ALGORITHMS:
        raise SpecError(f"algorithm {name!r} is not known; use one of {', '.join(ALGORITHMS)}")
    module, cls = ALGORITHMS[name]
    return getattr(importlib.import_module(module), cls)


def check_hyperparameters(algorithm: str, params: Mapping[str, Any]) -> None:
    """Refuse hyperparameters the algorithm's constructor does not take.

    Names come from the class's ``__init__`` signature; the spec sets
    ``policy``, ``env``, ``seed``, ``verbose`` and ``device`` itself.

    Raises
    ------
    ValueError
        Naming the algorithm, the parameter and the allowed names.
    """
    reserved = sorted(set(_RESERVED) & set(params))
    if reserved:
        raise ValueError(
            f"hyperparameters.{reserved[0]} is set by the spec (seed: the spec's seeds; "
            "policy: 'policy'), not inside hyperparameters"
        )
    cls = algorithm_class(algorithm)
    allowed = sorted(
        p for p in inspect.signature(cls.__init__).parameters if p not in ("self", *_RESERVED)
    )
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        verb = "is not a parameter" if len(unknown) == 1 else "are not parameters"
        raise ValueError(
            f"hyperparameters: {', '.join(map(repr, unknown))} {verb} of {algorithm}; "
            f"its parameters: {', '.join(allowed)}"
        )
    for key, value in params.items():
        if isinstance(value, str) and key in ("learning_rate", "gamma", "ent_coef_value"):
            raise ValueError(
                f"hyperparameters.{key} must be a number, got {value!r} "
                "(YAML reads 1e-3 as text: write 1.0e-3)"
            )


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluationConfig(_Frozen):
    """Evaluation on the validation span during training.

    Every ``every`` timesteps the current policy runs ``episodes`` deterministic
    episodes over the validation span; with ``keep: best`` the policy kept is
    the one with the best mean validation reward (selection on validation
    only), with ``keep: last`` the final one.
    """

    every: int = Field(5_000, ge=1, le=100_000_000)
    episodes: int = Field(1, ge=1, le=100)
    keep: Literal["best", "last"] = "best"


class RiskConfig(_Frozen):
    """Hard limits a policy runs under, whatever it outputs.

    ``max_position``: largest absolute weight of one asset (a fraction of
    equity). ``max_gross``: largest sum of absolute weights.
    ``drawdown_stop``: once equity falls this fraction below its running peak,
    the book goes flat for the rest of the episode.
    """

    max_position: float = Field(1.0, gt=0, le=10)
    max_gross: float = Field(1.0, gt=0, le=10)
    drawdown_stop: float | None = Field(None, gt=0, lt=1)


class EnsembleConfig(_Frozen):
    """Regime ensembles: one agent per regime, chosen or weighted by a meta-controller.

    Regimes are the risk layer's causal volatility regimes
    (:func:`alphaloop.risk.volatility_regimes`) of the equal-weight return:
    the label at bar t uses returns up to t. Each regime's agent trains on the
    training span's runs of that regime (runs shorter than ``min_run`` bars
    are skipped). The meta-controller scores each agent by the return of its
    own book over the last ``lookback`` bars (validation bars first, then
    test bars as they pass) in the current regime, and either follows the best
    (``select``) or weights them by a softmax of ``temperature`` times their
    scores (``weight``).
    """

    n_regimes: int = Field(2, ge=2, le=5)
    window: int = Field(21, ge=2, le=1000)
    min_history: int = Field(252, ge=1, le=10_000)
    min_run: int = Field(20, ge=2, le=10_000)
    lookback: int = Field(63, ge=2, le=10_000)
    mode: Literal["select", "weight"] = "select"
    temperature: float = Field(50.0, gt=0, le=1e6)


class RLSpec(_Frozen):
    """An agent: data, algorithm and hyperparameters, environment, budget, seeds, spans."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)
    data: str = Field(min_length=1)
    version: int | None = Field(None, ge=1)
    universe: Literal["all"] | list[str] = "all"
    algorithm: Literal["PPO", "A2C", "DQN", "SAC", "TD3", "RecurrentPPO"] = "PPO"
    policy: str | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    env: EnvConfig = Field(default_factory=EnvConfig)
    timesteps: int = Field(20_000, ge=1, le=1_000_000_000)
    n_envs: int = Field(1, ge=1, le=256)
    seeds: int | list[int] = 5
    seed: int = Field(0, ge=0)
    start: date | None = None
    end: date | None = None
    evaluation: EvaluationConfig = EvaluationConfig()
    checkpoint_every: int = Field(10_000, ge=1, le=1_000_000_000)
    risk: RiskConfig | None = None
    ensemble: EnsembleConfig | None = None
    augment: AugmentSpec | None = None
    supersedes: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> RLSpec:
        if isinstance(self.seeds, int):
            if not 1 <= self.seeds <= 100:
                raise ValueError(f"seeds: a count between 1 and 100, got {self.seeds}")
        else:
            if not self.seeds or len(set(self.seeds)) != len(self.seeds):
                raise ValueError("seeds: a list of distinct seeds, at least one")
            if any(s < 0 for s in self.seeds):
                raise ValueError("seeds: every seed must be >= 0")
        # set other than to its default (a dumped spec holds every field, and loads again)
        defaults = type(self.env).model_fields
        owned = [
            f
            for f in ("dataset", "assets", "span", "seed")
            if getattr(self.env, f) != defaults[f].default
        ]
        if owned:
            raise ValueError(
                f"env.{owned[0]} is set by the spec (data, universe, the span trained or "
                "evaluated, seeds); remove it from env"
            )
        if self.n_envs > 1 and self.risk is not None:
            raise ValueError(
                "risk limits wrap one environment: use n_envs: 1 with risk, or drop risk"
            )
        if self.augment is not None and self.n_envs > 1:
            raise ValueError("augment mixes real and synthetic episodes in one environment: "
                             "use n_envs: 1 with augment")  # fmt: skip
        if self.augment is not None and self.ensemble is not None:
            raise ValueError("augment and ensemble: per-regime agents train on real regimes "
                             "only; drop one of them")  # fmt: skip
        if isinstance(self.universe, list) and not self.universe:
            raise ValueError("universe: name at least one asset, or use all")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}")
        check_hyperparameters(self.algorithm, self.hyperparameters)
        action = self.env.action
        if self.algorithm in DISCRETE_ONLY and action != "discrete":
            raise ValueError(
                f"algorithm {self.algorithm} needs discrete actions; set env.action: discrete "
                "or use PPO, A2C or RecurrentPPO"
            )
        if self.algorithm in CONTINUOUS_ONLY and action == "discrete":
            raise ValueError(
                f"algorithm {self.algorithm} needs continuous actions; set env.action to a "
                "continuous kind or use PPO, A2C or DQN"
            )
        return self

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds trained: ``seed .. seed + seeds - 1`` for a count, else the list."""
        if isinstance(self.seeds, int):
            return tuple(range(self.seed, self.seed + self.seeds))
        return tuple(self.seeds)

    @property
    def policy_name(self) -> str:
        """The stable-baselines3 policy (``MlpPolicy``; ``MlpLstmPolicy`` for RecurrentPPO)."""
        return self.policy or _DEFAULT_POLICY.get(self.algorithm, "MlpPolicy")

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON form: the spec's identity (checkpoints are keyed by it)."""
        # a spec without augmentation or a participation cap keeps the identity it had
        # before those fields existed
        exclude: dict[str, Any] = {}
        if self.augment is None:
            exclude["augment"] = True
        if self.env.participation is None:
            exclude["env"] = {"participation"}
        dump = self.model_dump(mode="json", exclude=exclude or None)
        text = json.dumps(dump, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_seeds(self, seeds: int | list[int]) -> RLSpec:
        """The same spec with other seeds (the CLI's ``--seeds``)."""
        return type(self).from_dict({**self.model_dump(mode="json"), "seeds": seeds})

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "rl spec") -> RLSpec:
        """Validate a mapping; errors become one :class:`SpecError` naming each bad field."""
        if not isinstance(data, dict):
            raise SpecError(f"{source}: an RL spec must be a mapping of fields")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(f"{source}: {describe_validation_error(exc, cls)}") from None


def load_rl_spec(path: str | Path) -> RLSpec:
    """Read an RL spec from a YAML or JSON file (:class:`SpecError` on any problem)."""
    return load_spec_file(path, RLSpec, "rl spec")
