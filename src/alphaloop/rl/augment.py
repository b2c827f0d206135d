"""Opt-in data augmentation of RL training: episodes on synthetic paths beside the real ones.

With ``augment: {generator, paths, seed, params}`` in an RLSpec, a generator from
:mod:`alphaloop.synth` is fitted on the **training span only** (every other bar of
the panel is hidden by :func:`alphaloop.synth.augment.training_span`, so no return
that crosses into validation or test is fitted on) and draws ``paths`` synthetic
panels, each as long as the training span. Training then runs on a
:class:`MixtureEnv`: at each reset one environment is drawn, uniformly, among the
real training span and the synthetic panels (each used whole). Validation,
keep-best, the test span and every reported figure stay on real data only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from alphaloop.data.panel import Panel
from alphaloop.rl.errors import RLConfigError

__all__ = ["MixtureEnv", "augmented_panels"]


class MixtureEnv(gym.Env):
    """Episodes from one of several environments with the same spaces, drawn at each reset.

    Parameters
    ----------
    envs : sequence of gymnasium.Env
        The first is the real training span by convention.
    seed : int
        Seeds the draws (and each drawn environment's reset).

    Attributes
    ----------
    episodes : list of int
        Episodes started on each environment so far.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(self, envs: Sequence[gym.Env], seed: int = 0) -> None:
        super().__init__()
        if not envs:
            raise RLConfigError("a mixture needs at least one environment")
        first = envs[0]
        for k, env in enumerate(envs[1:], start=1):
            if env.observation_space != first.observation_space:
                raise RLConfigError(
                    f"environment {k} observes {env.observation_space}, the real one "
                    f"{first.observation_space}: a synthetic panel must have the real fields"
                )
            if env.action_space != first.action_space:
                raise RLConfigError(f"environment {k} acts in {env.action_space}")
        self.envs = list(envs)
        self.observation_space = first.observation_space
        self.action_space = first.action_space
        self.episodes = [0] * len(self.envs)
        self._rng = np.random.default_rng(seed)
        self._current = first

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        k = int(self._rng.integers(len(self.envs)))
        self._current = self.envs[k]
        self.episodes[k] += 1
        obs, info = self._current.reset(seed=int(self._rng.integers(2**31 - 1)), options=options)
        return obs, {**info, "mixture_env": k}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return self._current.step(action)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def augmented_panels(
    panel: Panel, train_rows: tuple[int, int], augment: Any, *, label: str
) -> tuple[list[Panel], dict[str, Any]]:
    """Synthetic panels for training, from a generator fitted on ``train_rows`` only.

    Parameters
    ----------
    panel : Panel
        The real data of the spec.
    train_rows : (first, last)
        The training span's rows (inclusive).
    augment : AugmentSpec
        Generator, paths, seed and parameters.
    label : str
        The draw's name in every path's origin.

    Returns
    -------
    panels : list of Panel
        Labelled synthetic, each as long as the training span, with the real assets.
    record : dict
        What was drawn and from which bars (for the run and the registry).
    """
    from alphaloop.synth.augment import augment_panel, training_span

    first, last = train_rows
    keep = np.zeros(panel.n_times, dtype=bool)
    keep[first : last + 1] = True
    seen = training_span(panel, keep).iloc(slice(first, last + 1))
    panels, _ = augment_panel(seen, augment.config(), length=last - first + 1, label=label)
    for p in panels:
        if tuple(p.assets) != tuple(panel.assets):
            raise RLConfigError(
                f"generator {augment.generator!r} drew assets {list(p.assets)[:5]}, "
                f"the spec trades {list(panel.assets)[:5]}"
            )
    record = {
        "generator": augment.generator,
        "paths": augment.paths,
        "seed": augment.seed,
        "params": dict(augment.params),
        "fitted_on": [panel.index[first].isoformat(), panel.index[last].isoformat()],
        "bars_per_path": last - first + 1,
        "fields": list(panels[0].field_names) if panels else [],
    }
    return panels, record
