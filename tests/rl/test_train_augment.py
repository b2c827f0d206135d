"""RL training with synthetic paths: fitted on the training span only, episodes drawn from
real and synthetic panels, every evaluation on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.errors import SpecError
from alphaloop.rl.augment import MixtureEnv
from alphaloop.rl.spec import RLSpec

BASE = {
    "name": "ppo-aug",
    "data": "sp500-stocks",
    "universe": ["XOM", "JPM"],
    "start": "2010-01-01",
    "hyperparameters": {"n_steps": 64, "batch_size": 32, "n_epochs": 2},
    "env": {"fills": "next_close", "episode_length": 63},
    "timesteps": 256,
    "seeds": 1,
    "evaluation": {"every": 128},
    "checkpoint_every": 128,
    "augment": {"generator": "bootstrap", "paths": 3, "seed": 5},
}


def test_the_generator_sees_the_training_span_only_and_evaluation_stays_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alphaloop.app.rl as app_rl
    import alphaloop.synth.augment as synth_augment
    from alphaloop.app.rl import train_rl

    fitted, mixtures, evaluated = [], [], []
    real_augment = synth_augment.augment_panel
    real_mixture = app_rl._mixture
    real_scorer = app_rl._scorer

    def spy_augment(panel, *args, **kwargs):
        fitted.append(panel)
        return real_augment(panel, *args, **kwargs)

    def spy_mixture(*args, **kwargs):
        env = real_mixture(*args, **kwargs)
        mixtures.append(env)
        return env

    def spy_scorer(config, panel, spec):
        evaluated.append(panel)
        return real_scorer(config, panel, spec)

    monkeypatch.setattr(synth_augment, "augment_panel", spy_augment)
    monkeypatch.setattr(app_rl, "_mixture", spy_mixture)
    monkeypatch.setattr(app_rl, "_scorer", spy_scorer)
    ws = Workspace(tmp_path / "ws")
    try:
        result = train_rl(ws, RLSpec.from_dict(BASE))
        doc = result.doc
        record = doc["augment"]
        train_end = record["fitted_on"][1]
        [seen] = fitted
        assert seen.index[-1].isoformat() == train_end
        assert doc["spans"]["train"]["end"] == train_end
        assert not seen.is_synthetic
        [mix] = mixtures
        assert isinstance(mix, MixtureEnv)
        assert len(mix.envs) == 4  # the real training span and three synthetic paths
        assert sum(mix.episodes[1:]) > 0  # synthetic episodes were trained on
        assert mix.episodes[0] > 0
        assert all(not p.is_synthetic for p in evaluated)  # validation is real
        assert record["paths"] == 3
        assert doc["ref"].startswith("ppo-aug/v")
        assert ws.models.get(doc["ref"]).params["augment"]["paths"] == 3  # in the registry
    finally:
        ws.close()


def test_the_mixture_is_seeded() -> None:
    from alphaloop.rl import EnvConfig, TradingEnv
    from tests.rl._training import one_stock

    panel = one_stock()
    cfg = EnvConfig(fills="next_close", episode_length=20, assets=("XOM",))
    draws = []
    for _ in range(2):
        envs = [TradingEnv(cfg.model_copy(update={"seed": k}), panel) for k in range(3)]
        mix = MixtureEnv(envs, seed=11)
        picks = [mix.reset()[1]["mixture_env"] for _ in range(12)]
        draws.append(picks)
    assert draws[0] == draws[1]
    assert len(set(draws[0])) > 1


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"n_envs": 2}, "use n_envs: 1 with augment"),
        ({"augment": {"generator": "vae"}}, "vae"),
        ({"augment": {"paths": 0}}, "paths"),
    ],
)
def test_bad_augmentation_is_named(extra: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        RLSpec.from_dict({**BASE, **extra})


def test_a_spec_without_augment_keeps_its_identity() -> None:
    plain = {k: v for k, v in BASE.items() if k != "augment"}
    a = RLSpec.from_dict(plain)
    b = RLSpec.from_dict({**plain, "augment": None})
    assert a.hash == b.hash
    assert RLSpec.from_dict(BASE).hash != a.hash
    assert np.isfinite(len(a.hash))
