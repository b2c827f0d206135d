"""Hyperparameter search with Optuna, scored on the validation span only.

:func:`tune` runs ``trials`` Optuna trials (TPE sampler, seeded). Each trial
draws hyperparameters from the algorithm's search space
(:data:`SEARCH_SPACES`, an explicit table), trains one agent on the training
span with the spec's first seed, and scores it by the log growth of equity
over the validation span (costs inside). The caller builds the environments:
the training one on the training span and the scoring one on the validation
span, so the test span (and the sealed holdout, which the loaded data never
holds) is never read. Every trial counts, failed ones included: the result
carries the number of trials next to the best score, which is optimistic by
selection.

Trials run in rounds of ``concurrent`` (ask that many, train them, tell
their scores in trial order), on a task pool (:mod:`alphaloop.compute`):
in this process, in a local process pool or on Ray actors. The sampler
sees the same history whatever ran the trials, so the search depends on
the seed and ``concurrent`` only, never on the executor. With
``concurrent=1`` (the default) it is the sequential search.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alphaloop.compute.pools import InlinePool, TaskPool, make_pool
from alphaloop.progress import Progress, no_progress
from alphaloop.rl.spec import RLSpec

__all__ = ["SEARCH_SPACES", "TuneData", "TuneResult", "score_trial", "tune"]


def _common(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "gamma": trial.suggest_float("gamma", 0.9, 0.9999),
    }


def _on_policy(trial: Any) -> dict[str, Any]:
    return {
        **_common(trial),
        "n_steps": trial.suggest_categorical("n_steps", [64, 128, 256, 512]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.05, log=True),
    }


def _ppo(trial: Any) -> dict[str, Any]:
    params = _on_policy(trial)
    params["batch_size"] = trial.suggest_categorical("batch_size", [32, 64])
    params["clip_range"] = trial.suggest_float("clip_range", 0.1, 0.3)
    return params


def _dqn(trial: Any) -> dict[str, Any]:
    return {
        **_common(trial),
        "exploration_fraction": trial.suggest_float("exploration_fraction", 0.05, 0.5),
        "learning_starts": trial.suggest_categorical("learning_starts", [100, 500, 1000]),
        "target_update_interval": trial.suggest_categorical(
            "target_update_interval", [250, 1000, 5000]
        ),
    }


def _off_policy_continuous(trial: Any) -> dict[str, Any]:
    return {
        **_common(trial),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "tau": trial.suggest_float("tau", 0.001, 0.05, log=True),
        "learning_starts": trial.suggest_categorical("learning_starts", [100, 500, 1000]),
    }


SEARCH_SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "PPO": _ppo,
    "A2C": _on_policy,
    "RecurrentPPO": _ppo,
    "DQN": _dqn,
    "SAC": _off_policy_continuous,
    "TD3": _off_policy_continuous,
}
"""Algorithm -> the function drawing one trial's hyperparameters."""


@dataclass(frozen=True)
class TuneResult:
    """The search: every trial counted, the best by validation score."""

    algorithm: str
    n_trials: int
    n_failed: int
    best_trial: int | None
    best_value: float
    best_params: dict[str, Any]
    trials: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "n_trials": self.n_trials,
            "n_failed": self.n_failed,
            "best_trial": self.best_trial,
            "best_value": self.best_value,
            "best_params": self.best_params,
            "trials": list(self.trials),
            "score": "log growth of equity over the validation span, costs inside",
        }


@dataclass(frozen=True)
class TuneData:
    """What every trial reads: the spec and the two environment factories.

    ``make_train_env(seed)`` builds a training environment;
    ``make_validation_score()`` returns ``score(model)`` on the validation
    span. Off this process they must pickle (module-level functions or
    :func:`functools.partial` of them; Ray also takes closures).
    """

    spec: RLSpec
    make_train_env: Callable[[int], Any]
    make_validation_score: Callable[[], Callable[[Any], float]]


def score_trial(data: TuneData, params: dict[str, Any]) -> tuple[str, float | str]:
    """Train one trial's agent with ``params``: ``("ok", validation score)`` or
    ``("failed", "ErrorType: message")`` (a failed trial still counts)."""
    from alphaloop.rl.train import train_seed

    seed = data.spec.seed_list[0]
    try:
        run = train_seed(
            data.spec,
            data.make_train_env(seed),
            data.make_validation_score(),
            seed,
            hyperparameters=params,
        )
    except Exception as exc:  # the trial failed; the search goes on and counts it
        return "failed", f"{type(exc).__name__}: {exc}"
    return "ok", float(run.validation_score)


def tune(
    spec: RLSpec,
    make_train_env: Callable[[int], Any],
    make_validation_score: Callable[[], Callable[[Any], float]],
    *,
    trials: int,
    seed: int = 0,
    progress: Progress | None = None,
    executor: str = "local",
    workers: int = 1,
    address: str | None = None,
    concurrent: int = 1,
) -> TuneResult:
    """Search ``spec.algorithm``'s hyperparameters (``spec.hyperparameters`` are the fixed
    base each trial's draw overrides).

    ``make_train_env(seed)`` builds a training environment; ``make_validation_score()``
    returns ``score(model)`` on the validation span. ``executor`` (``local`` or
    ``ray``), ``workers`` and ``address`` say where trials run; ``concurrent``
    trials are asked per round (see the module's docstring).
    """
    import optuna

    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    if concurrent < 1:
        raise ValueError(f"concurrent must be at least 1, got {concurrent}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = progress or no_progress
    space = SEARCH_SPACES[spec.algorithm]
    data = TuneData(spec, make_train_env, make_validation_score)
    local = executor == "local" and workers == 1 and address is None
    pool: TaskPool[TuneData] = (
        InlinePool(data) if local else make_pool(executor, data, workers=workers, address=address)
    )
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    failed = 0
    try:
        while len(study.trials) < trials:
            asked = [study.ask() for _ in range(min(concurrent, trials - len(study.trials)))]
            drawn = [{**spec.hyperparameters, **space(t)} for t in asked]
            for trial, (status, value) in zip(
                asked, pool.map(score_trial, drawn, batch_size=1), strict=True
            ):
                if status == "ok" and math.isfinite(float(value)):
                    study.tell(trial, float(value))
                else:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    failed += 1
            report("tuning: trials", len(study.trials), trials)
    finally:
        pool.close()
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(done, key=lambda t: t.value) if done else None
    return TuneResult(
        algorithm=spec.algorithm,
        n_trials=len(study.trials),
        n_failed=failed,
        best_trial=None if best is None else best.number,
        best_value=math.nan if best is None else float(best.value),
        best_params={} if best is None else dict(best.params),
        trials=tuple(
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params}
            for t in study.trials
        ),
    )
