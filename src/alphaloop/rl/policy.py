"""A trained policy on disk, and its target weights on any Panel.

Artifact format ``alphaloop-rl/1`` (a directory the model registry stores and
checksums): ``rl.json`` (format, algorithm, the spec, the environment config,
the seeds), ``seed_<s>.zip`` per seed (stable-baselines3's own save format),
and ``recipe.json`` (the observation's factor expressions, so the lookahead
scan can size its warm-up).

:func:`policy_weights` runs every seed's policy deterministically through a
:class:`~alphaloop.rl.TradingEnv` over the whole Panel (from its first bar
with a full observation), under the spec's hard limits when it has any, and
averages the target weights the seeds decide at each bar: row ``t`` holds the
book wanted after ``t``'s close, from data up to ``t`` only, the last bar
included (:func:`_padded`), so truncating the data after ``t`` leaves row
``t`` unchanged. Rows before the first decision are NaN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.rl.config import EnvConfig
from alphaloop.rl.errors import RLError
from alphaloop.rl.spec import RLSpec, algorithm_class

__all__ = [
    "FORMAT",
    "PolicyBundle",
    "is_policy_directory",
    "load_policy",
    "policy_weights",
    "run_weights",
    "save_policy",
]

FORMAT = "alphaloop-rl/1"
MANIFEST = "rl.json"
RECIPE = "recipe.json"


@dataclass(frozen=True)
class PolicyBundle:
    """The policies of one training run: one per seed, with the spec and env config."""

    spec: RLSpec
    config: EnvConfig
    models: dict[int, Any]
    assets: tuple[str, ...]

    @property
    def family(self) -> str:
        return "rl"


def is_policy_directory(path: str | Path) -> bool:
    """Whether ``path`` holds an ``alphaloop-rl/1`` artifact."""
    file = Path(path) / MANIFEST
    return file.is_file() and json.loads(file.read_text()).get("format") == FORMAT


def save_policy(
    path: str | Path,
    spec: RLSpec,
    config: EnvConfig,
    models: dict[int, Any],
    assets: tuple[str, ...],
    features: dict[str, str],
) -> Path:
    """Write the artifact directory ``path`` (it must not exist)."""
    target = Path(path)
    target.mkdir(parents=True)
    for seed, model in models.items():
        model.save(target / f"seed_{seed}.zip")
    manifest = {
        "format": FORMAT,
        "algorithm": spec.algorithm,
        "seeds": sorted(models),
        "assets": list(assets),
        "spec": spec.model_dump(mode="json"),
        "env": config.model_dump(mode="json"),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    recipe = {"family": "rl", "features": features, "assets": list(assets)}
    (target / RECIPE).write_text(json.dumps(recipe, indent=2))
    return target


def load_policy(path: str | Path) -> PolicyBundle:
    """Read an artifact written by :func:`save_policy` (models on CPU)."""
    root = Path(path)
    if not is_policy_directory(root):
        raise RLError(f"{root} is not an RL policy directory ({FORMAT})")
    manifest = json.loads((root / MANIFEST).read_text())
    spec = RLSpec.from_dict(manifest["spec"], source=str(root / MANIFEST))
    config = EnvConfig.model_validate(manifest["env"])
    cls = algorithm_class(manifest["algorithm"])
    models = {int(s): cls.load(root / f"seed_{s}.zip", device="cpu") for s in manifest["seeds"]}
    return PolicyBundle(spec, config, models, tuple(manifest["assets"]))


def run_weights(model: Any, config: EnvConfig, panel: Any, spec: RLSpec) -> tuple[np.ndarray, Any]:
    """One policy's target weights on ``panel`` (time, env assets; NaN before its first
    decision) and its :class:`~alphaloop.rl.rollout.Rollout`."""
    from alphaloop.rl.env import TradingEnv
    from alphaloop.rl.hardstop import HardStopWrapper
    from alphaloop.rl.rollout import evaluation_config, rollout

    env: Any = TradingEnv(evaluation_config(config, "all"), _padded(panel))
    if spec.risk is not None:
        env = HardStopWrapper(env, spec.risk)
    run = rollout(model, env, seed=spec.seed)
    out = np.full((panel.n_times, len(env.unwrapped.market.assets)), np.nan)
    out[run.rows] = run.weights  # the padding row takes no decision: rows stop at the last
    return out, run


def _padded(panel: Any) -> Any:
    """``panel`` with one more bar, a copy of its last, one day later.

    An environment decides on every bar of its span but the last (a decision
    needs the next bar to fill). The copy lets the policy decide on the real
    last bar too, from data up to it, so the decision at ``t`` is the same
    whether or not the data goes on after ``t`` (the lookahead scan's
    truncation test). The copied bar's prices only fill that decision, which
    is dropped.
    """
    from alphaloop.data import Panel

    index = panel.index.append(panel.index[-1:] + pd.Timedelta(days=1))
    fields = {f: np.vstack([panel[f], panel[f][-1:]]) for f in panel.field_names}
    return Panel(index, panel.assets, fields)


def policy_weights(bundle: PolicyBundle, panel: Any) -> np.ndarray:
    """Mean target weights of the bundle's seeds on ``panel``, shape (time, panel assets).

    Assets the policy does not trade get weight 0 (NaN before the first decision).
    """
    import torch

    torch.set_num_threads(1)
    missing = [a for a in bundle.assets if a not in panel.assets]
    if missing:
        raise RLError(
            f"the policy trades {missing[:5]}, which the data does not hold",
            hint="backtest it on the dataset it was trained on",
        )
    config = bundle.config.model_copy(update={"assets": bundle.assets, "dataset": None})
    runs = [run_weights(m, config, panel, bundle.spec)[0] for m in bundle.models.values()]
    mean = np.mean(np.stack(runs), axis=0)
    out = np.full((panel.n_times, panel.n_assets), np.nan)
    decided = np.isfinite(mean).all(axis=1)
    out[decided] = 0.0
    cols = [list(panel.assets).index(a) for a in bundle.assets]
    out[:, cols] = np.where(decided[:, None], mean, np.nan)
    return out
