"""Training one agent for one seed: validation callbacks, checkpoints, resume after Ctrl-C.

:func:`train_seed` builds the algorithm of an :class:`~alphaloop.rl.spec.RLSpec`
on a training environment and learns for ``spec.timesteps`` steps. Every
``evaluation.every`` steps the current policy runs once, deterministically,
over the validation environment; its score is the log growth of equity there
(costs inside). With ``keep: best`` the policy returned is the one with the
best validation score (selection on validation only; the test span is never
read here).

Checkpoints live in one directory per (spec, seed): ``latest.zip`` every
``checkpoint_every`` steps and when interrupted (Ctrl-C), ``best.zip``,
``final.zip`` once finished, and ``state.json``. A later call with the same
directory resumes from ``latest.zip`` (the remaining steps only) or, for a
finished seed, loads ``final.zip`` without training. Off-policy replay
buffers are not checkpointed: a resumed DQN, SAC or TD3 refills its buffer.
Every file is written to a temporary name and renamed, so an interruption
never leaves a half-written checkpoint.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaloop.progress import Progress, no_progress
from alphaloop.rl.spec import RLSpec, algorithm_class

__all__ = ["CheckpointDir", "SeedRun", "make_model", "train_seed"]

STATE = "state.json"


@dataclass(frozen=True)
class SeedRun:
    """One seed's trained policy and how it got there.

    ``validation_score``: log growth of equity over the validation span of the
    policy kept (NaN when never evaluated). ``resumed_from``: steps already
    done when this call started (0: a fresh start).
    """

    seed: int
    model: Any
    timesteps: int
    validation_score: float
    evaluations: tuple[tuple[int, float], ...]
    resumed_from: int
    checkpoint_dir: Path


class CheckpointDir:
    """The checkpoint files of one (spec, seed) (see the module docstring)."""

    def __init__(self, path: Path, spec_hash: str, seed: int) -> None:
        self.path = Path(path)
        self.spec_hash = spec_hash
        self.seed = seed

    def state(self) -> dict[str, Any] | None:
        """The recorded state, or None when absent or for another spec or seed."""
        file = self.path / STATE
        if not file.is_file():
            return None
        state = json.loads(file.read_text())
        if state.get("spec_hash") != self.spec_hash or state.get("seed") != self.seed:
            return None
        return state

    def save(self, model: Any, name: str, **state: Any) -> None:
        """Write ``model`` as ``name.zip`` and update ``state.json``, each atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{name}.tmp.zip"
        model.save(tmp)
        os.replace(tmp, self.path / f"{name}.zip")
        self.write_state(**state)

    def write_state(self, **state: Any) -> None:
        current = self.state() or {"spec_hash": self.spec_hash, "seed": self.seed}
        current.update(state)
        tmp = self.path / f".{STATE}.tmp"
        tmp.write_text(json.dumps(current, indent=2))
        os.replace(tmp, self.path / STATE)

    def file(self, name: str) -> Path:
        return self.path / f"{name}.zip"


def make_model(spec: RLSpec, env: Any, seed: int, hyperparameters: dict[str, Any] | None = None):
    """The spec's algorithm on ``env`` (CPU, quiet, seeded)."""
    cls = algorithm_class(spec.algorithm)
    params = dict(spec.hyperparameters if hyperparameters is None else hyperparameters)
    return cls(spec.policy_name, env, seed=seed, verbose=0, device="cpu", **params)


def _callback(
    total: int,
    every: int,
    checkpoint_every: int,
    evaluate: Callable[[Any], float],
    checkpoints: CheckpointDir | None,
    on_step: Callable[[int], None],
    best: list[Any],
):
    from stable_baselines3.common.callbacks import BaseCallback

    class _Training(BaseCallback):
        """Validation scores and checkpoints on a schedule of timesteps."""

        def __init__(self) -> None:
            super().__init__()
            self.next_eval = 0
            self.next_checkpoint = 0

        def _on_training_start(self) -> None:
            n = self.num_timesteps
            self.next_eval = (n // every + 1) * every
            self.next_checkpoint = (n // checkpoint_every + 1) * checkpoint_every

        def _on_step(self) -> bool:
            n = self.num_timesteps
            if n >= self.next_eval and n < total:  # the finished policy is scored after
                self.next_eval += every
                score = evaluate(self.model)
                best[1].append((n, score))
                if best[0] is None or score > best[0]:
                    best[0] = score
                    best[2] = copy.deepcopy(self.model.get_parameters())
                    if checkpoints is not None:
                        checkpoints.save(self.model, "best", best_score=score, best_at=n)
            if checkpoints is not None and n >= self.next_checkpoint:
                self.next_checkpoint += checkpoint_every
                checkpoints.save(self.model, "latest", timesteps=n)
            on_step(n)
            return True

    return _Training()


def train_seed(
    spec: RLSpec,
    train_env: Any,
    evaluate: Callable[[Any], float],
    seed: int,
    *,
    checkpoints: CheckpointDir | None = None,
    hyperparameters: dict[str, Any] | None = None,
    progress: Progress | None = None,
    step_name: str = "training",
) -> SeedRun:
    """Train ``spec``'s algorithm on ``train_env`` for ``spec.timesteps`` steps.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(model) -> score`` on the validation span (higher is better).
    checkpoints : CheckpointDir, optional
        Where to checkpoint and resume from; None trains without checkpoints.
    hyperparameters : dict, optional
        Instead of ``spec.hyperparameters`` (tuning).

    Raises
    ------
    KeyboardInterrupt
        After saving ``latest.zip`` with the steps done (re-raised).
    """
    import math

    import torch

    torch.set_num_threads(1)
    report = progress or no_progress
    cls = algorithm_class(spec.algorithm)
    total = spec.timesteps
    state = checkpoints.state() if checkpoints is not None else None
    best: list[Any] = [None, [], None]  # best score, (steps, score) pairs, best parameters
    if state is not None and state.get("finished") and checkpoints.file("final").is_file():
        model = cls.load(checkpoints.file("final"), env=train_env, device="cpu")
        score = float(state.get("kept_score", math.nan))
        evals = tuple((int(n), float(s)) for n, s in state.get("evaluations", []))
        return SeedRun(seed, model, int(state["timesteps"]), score, evals, total, checkpoints.path)
    done = 0
    if state is not None and checkpoints.file("latest").is_file():
        model = cls.load(checkpoints.file("latest"), env=train_env, device="cpu")
        done = int(model.num_timesteps)
        best[0] = state.get("best_score")
        best[1] = [tuple(e) for e in state.get("evaluations", [])]
    else:
        model = make_model(spec, train_env, seed, hyperparameters)
    every = spec.evaluation.every
    callback = _callback(
        total,
        every,
        spec.checkpoint_every,
        evaluate,
        checkpoints,
        lambda n: report(step_name, min(n, total), total),
        best,
    )
    remaining = max(total - done, 0)
    try:
        if remaining:
            model.learn(remaining, callback=callback, reset_num_timesteps=done == 0)
    except KeyboardInterrupt:
        if checkpoints is not None:
            checkpoints.save(
                model, "latest", timesteps=int(model.num_timesteps), evaluations=best[1]
            )
        raise
    # the finished policy is always scored: a score taken inside the last rollout
    # predates the last update
    score = evaluate(model)
    n_done = int(model.num_timesteps)
    best[1] = [e for e in best[1] if e[0] != n_done] + [(n_done, score)]
    if best[0] is None or score >= best[0]:
        best[0] = score
        best[2] = None  # the current parameters are the best
        if checkpoints is not None:
            checkpoints.save(model, "best", best_score=score, best_at=n_done)
    kept_score = best[1][-1][1]
    if spec.evaluation.keep == "best" and best[0] is not None and best[0] > kept_score:
        if best[2] is not None:
            model.set_parameters(best[2])
            kept_score = float(best[0])
        elif checkpoints is not None and checkpoints.file("best").is_file():
            model = cls.load(checkpoints.file("best"), env=train_env, device="cpu")
            kept_score = float(best[0])
    if checkpoints is not None:
        checkpoints.save(
            model,
            "final",
            timesteps=int(total),
            finished=True,
            kept_score=kept_score,
            evaluations=best[1],
        )
    return SeedRun(
        seed, model, int(total), float(kept_score), tuple(best[1]), done, checkpoints.path
        if checkpoints is not None else Path()
    )  # fmt: skip
