"""RLSpec: a bad file fails at load naming the field, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaloop.errors import SpecError
from alphaloop.rl.spec import RLSpec, load_rl_spec


def _spec(**fields: object) -> RLSpec:
    return RLSpec.from_dict({"name": "a", "data": "sp500-stocks", **fields})


def test_defaults_are_honest() -> None:
    spec = _spec()
    assert spec.algorithm == "PPO"
    assert spec.seed_list == (0, 1, 2, 3, 4)  # five seeds, reported as a distribution
    assert spec.env.costs.half_spread_bps > 0  # costs on
    assert str(spec.env.fills.value) == "next_open"  # next-bar fills
    assert spec.policy_name == "MlpPolicy"
    assert _spec(algorithm="RecurrentPPO").policy_name == "MlpLstmPolicy"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"algorithm": "PPO2"}, ["algorithm", "'PPO2' is not allowed", "RecurrentPPO"]),
        ({"algorithm": "DQN", "env": {"action": "continuous"}}, ["DQN needs discrete"]),
        ({"algorithm": "SAC"}, ["SAC needs continuous"]),
        ({"hyperparameters": {"lr": 0.1}}, ["hyperparameters", "'lr'", "learning_rate"]),
        ({"hyperparameters": {"seed": 3}}, ["hyperparameters.seed is set by the spec"]),
        ({"hyperparameters": {"learning_rate": "1e-3"}}, ["write 1.0e-3"]),
        ({"env": {"seed": 3}}, ["env.seed is set by the spec"]),
        ({"env": {"span": "test"}}, ["env.span is set by the spec"]),
        ({"env": {"assets": ["AAPL"]}}, ["env.assets is set by the spec"]),
        ({"env": {"actions": "discrete"}}, ["env.actions is not a known field", "action"]),
        ({"env": {"reward": "sharpe"}}, ["env.reward", "differential_sharpe"]),
        ({"seeds": [1, 1]}, ["seeds: a list of distinct seeds"]),
        ({"seeds": 0}, ["seeds: a count between 1 and 100"]),
        ({"timesteps": 0}, ["timesteps"]),
        ({"start": "2010-01-01", "end": "2009-01-01"}, ["start 2010-01-01 is not before end"]),
        ({"ensemble": {"n_regimes": 9}}, ["ensemble.n_regimes"]),
        ({"risk": {"drawdown_stop": 1.5}}, ["risk.drawdown_stop"]),
        ({"n_envs": 4, "risk": {"max_position": 0.5}}, ["risk limits wrap one environment"]),
    ],
)
def test_bad_fields_are_named(fields: dict, words: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        _spec(**fields)
    for word in words:
        assert word in str(info.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("name: a\ndata: sp500-stocks\nalgorithm: [\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_rl_spec(path)
    path.write_text("name: a\ndata: sp500-stocks\ntimesteps: lots\n")
    with pytest.raises(SpecError, match=r"agent\.yaml: timesteps"):
        load_rl_spec(path)
    with pytest.raises(SpecError, match="not found"):
        load_rl_spec(tmp_path / "missing.yaml")


def test_seeds_and_identity() -> None:
    spec = _spec(seed=10, seeds=3)
    assert spec.seed_list == (10, 11, 12)
    assert spec.with_seeds([4, 2]).seed_list == (4, 2)
    assert spec.hash == _spec(seed=10, seeds=3).hash
    assert spec.hash != spec.with_seeds(4).hash
