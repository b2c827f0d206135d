"""On a local multi-process Ray instance (started once for the module): task pools, a
backtest sweep, a factor-mining run and a model's hyperparameter search give the
in-process results for the same seed, and each actor deserializes the shared payload once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.backtest.sweep import SmaCross, run_sweep, sweep_data
from alphaloop.compute import InlinePool, RayPool, make_pool
from alphaloop.factors.mining import MiningConfig, mine, planted_panel

from .tasks import shifted, weighted_draws, worker_and_payload_id

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHARED = np.random.default_rng(7).standard_normal(1000)


@pytest.fixture(scope="module", autouse=True)
def ray_instance() -> Iterator[None]:
    if ray.is_initialized():
        ray.shutdown()
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},  # the actors import tests.compute
    )
    yield
    ray.shutdown()


def test_a_ray_pool_gives_the_in_process_results_in_order() -> None:
    items = [(i, 42) for i in range(300)]
    serial = InlinePool(SHARED).map(weighted_draws, items)
    with RayPool(SHARED, workers=2) as pool:
        for batch_size in (None, 1, 64):
            assert pool.map(weighted_draws, items, batch_size=batch_size) == serial
        assert pool.map(shifted, [0, 1], common=1.5) == [SHARED[0] + 1.5, SHARED[1] + 1.5]
        seen = pool.map(worker_and_payload_id, list(range(40)), batch_size=1)
    per_actor: dict[int, set[int]] = {}
    for pid, payload in seen:
        per_actor.setdefault(pid, set()).add(payload)
    assert len(per_actor) == 2  # both actors worked
    assert all(len(ids) == 1 for ids in per_actor.values())  # each kept one copy
    assert ray.is_initialized()  # a pool does not stop an instance it did not start


def test_a_backtest_sweep_on_ray_matches_the_local_runs(shared_workspace: Workspace) -> None:
    panel = shared_workspace.data.load("nasdaq-ohlcv").iloc(slice(0, 1000))
    data = sweep_data(panel)
    points = [SmaCross("NASDAQ", f, s) for f in (3, 5, 10, 20) for s in (30, 60, 120)]
    local = run_sweep(InlinePool(data), points)
    with make_pool("ray", data, workers=2) as pool:
        remote = run_sweep(pool, points, batch_size=5)
    assert remote == local  # dataclass equality: every float bit for bit
    assert len({p.total_return for p in local}) > 1  # the points differ


def test_factor_mining_on_ray_matches_the_in_process_run() -> None:
    pp = planted_panel(alpha="corr_close_volume", seed=4, n_times=400, n_assets=30)
    config = MiningConfig(budget=160, population=40, pool=3, seed=3)
    local = mine(pp.panel, config)
    remote = mine(pp.panel, config, executor="ray", workers=2)
    assert remote.n_scored == local.n_scored == 160
    assert [m.expression for m in remote.members] == [m.expression for m in local.members]
    assert [c.to_dict() for c in remote.candidates] == [c.to_dict() for c in local.candidates]
    assert remote.pool_valid_ic == local.pool_valid_ic
    other = mine(pp.panel, MiningConfig(budget=160, population=40, pool=3, seed=4))
    assert [c.key for c in other.candidates] != [c.key for c in local.candidates]


def test_rl_tuning_on_ray_matches_the_in_process_search(tmp_path: Path) -> None:
    pytest.importorskip("stable_baselines3")
    from alphaloop.app.rl import tune_rl
    from alphaloop.rl.spec import RLSpec

    spec = RLSpec.from_dict(
        {
            "name": "ppo-xom",
            "data": "sp500-stocks",
            "universe": ["XOM"],
            "start": "2010-01-01",
            "hyperparameters": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
            "env": {"fills": "next_close", "episode_length": 126},
            "timesteps": 64,
            "seeds": 1,
            "evaluation": {"every": 64},
            "checkpoint_every": 64,
        }
    )
    with Workspace(tmp_path / "ws") as ws:
        local = tune_rl(ws, spec, trials=4, seed=5, concurrent=2).to_dict()
        remote = tune_rl(ws, spec, trials=4, seed=5, concurrent=2, executor="ray", workers=2)
    doc = remote.to_dict()
    assert doc["n_trials"] == local["n_trials"] == 4
    assert doc["trials"] == local["trials"]  # the same draws and the same scores
    assert doc["best_params"] == local["best_params"]
    assert len({str(t["params"]) for t in local["trials"]}) == 4


def test_a_model_search_on_ray_matches_the_in_process_search(
    shared_workspace: Workspace,
) -> None:
    from dataclasses import asdict

    from alphaloop.models.dataset import build_dataset
    from alphaloop.models.labels import LabelSpec
    from alphaloop.models.training import train

    panel = shared_workspace.data.load("sp500-stocks").slice("2015-01-01", "2015-12-31")
    data = build_dataset(
        panel, {"MOM5": "$close/Ref($close, 5) - 1", "REV1": "-($close/Ref($close, 1) - 1)"},
        LabelSpec(horizon=5),
    )  # fmt: skip
    runs = [
        train(data, "ridge", n_splits=2, hpo_trials=12, seed=3, hpo_concurrent=4, **where)
        for where in ({}, {"hpo_executor": "ray", "hpo_workers": 2})
    ]
    local, remote = (asdict(r.search) for r in runs)
    assert remote == local  # best parameters, every trial's value and state
    assert local["n_trials"] == 12
    assert runs[0].params == runs[1].params
