"""Training one seed: determinism, validation selection, checkpoints and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alphaloop.rl import TradingEnv
from alphaloop.rl.rollout import evaluation_config, rollout
from alphaloop.rl.train import CheckpointDir, train_seed
from tests.rl._training import one_stock, spec


def _setup(**fields):
    s = spec(**fields)
    panel = one_stock(start="2008-01-01", end="2013-12-31")
    config = s.env.model_copy(update={"assets": ("XOM",)})
    validation = TradingEnv(evaluation_config(config, "validation"), panel)
    test = TradingEnv(evaluation_config(config, "test"), panel)

    def train_env(seed: int) -> TradingEnv:
        return TradingEnv(config.model_copy(update={"span": "train", "seed": seed}), panel)

    return s, train_env, (lambda m: rollout(m, validation).log_growth), test


def test_same_seed_same_actions_and_equity() -> None:
    s, train_env, score, test = _setup()
    runs = [rollout(train_seed(s, train_env(7), score, 7).model, test) for _ in range(2)]
    assert [int(a) for a in runs[0].actions] == [int(a) for a in runs[1].actions]
    np.testing.assert_allclose(runs[0].equity, runs[1].equity, rtol=0, atol=1e-9)


def test_keep_best_returns_the_best_validation_policy() -> None:
    s, train_env, score, _ = _setup(timesteps=512, evaluation={"every": 256, "keep": "best"})
    run = train_seed(s, train_env(0), score, 0)
    assert len(run.evaluations) == 2
    assert run.validation_score == pytest.approx(max(v for _, v in run.evaluations))
    assert score(run.model) == pytest.approx(run.validation_score)


def test_interrupted_training_keeps_its_checkpoint_and_resumes(tmp_path: Path) -> None:
    s, train_env, score, _ = _setup(timesteps=1024, checkpoint_every=128)
    calls = []

    def interrupting(model) -> float:
        calls.append(model.num_timesteps)
        if len(calls) == 2:  # Ctrl-C during the second validation run (step 512)
            raise KeyboardInterrupt
        return score(model)

    ckpt = CheckpointDir(tmp_path / "seed_0", s.hash, 0)
    with pytest.raises(KeyboardInterrupt):
        train_seed(s, train_env(0), interrupting, 0, checkpoints=ckpt)
    state = json.loads((tmp_path / "seed_0" / "state.json").read_text())
    assert state["timesteps"] == 512
    assert (tmp_path / "seed_0" / "latest.zip").is_file()
    assert not list((tmp_path / "seed_0").glob(".*tmp*"))  # no half-written file

    resumed = train_seed(s, train_env(0), score, 0, checkpoints=ckpt)
    assert resumed.resumed_from == 512
    assert resumed.model.num_timesteps == 1024
    assert ckpt.state()["finished"] is True

    again = train_seed(s, train_env(0), score, 0, checkpoints=ckpt)  # finished: loads
    assert again.resumed_from == 1024
    assert again.validation_score == pytest.approx(resumed.validation_score)

    other = CheckpointDir(tmp_path / "seed_0", s.with_seeds(3).hash, 0)
    assert other.state() is None  # another spec never resumes this one's checkpoint


def test_a_vectorized_environment_trains_and_is_scored_on_validation() -> None:
    from alphaloop.rl import VecTradingEnv

    s, _, score, test = _setup(n_envs=4)
    config = s.env.model_copy(update={"assets": ("XOM",), "span": "train"})
    vec = VecTradingEnv(config, one_stock(start="2008-01-01", end="2013-12-31"), n_envs=4, seed=0)
    run = train_seed(s, vec, score, 0)
    assert run.model.num_timesteps >= 512
    assert np.isfinite(run.validation_score)
    assert len(rollout(run.model, test).actions) > 100
