"""The model improver on real models: a significant win registers v(N+1), a tie does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import alphaloop.app.models as app_models
from alphaloop.app import Workspace, research_models
from alphaloop.app.research_models import (
    newest_versions,
    run_improver,
    workspace_evaluator,
    workspace_trainer,
)
from alphaloop.errors import ExitCode
from alphaloop.models import ModelSpec
from alphaloop.research import ModelImprover, compare_ic, pick_models_for_improvement
from alphaloop.research.improver import version_spec
from tests.research.ml_workspace import import_forecast_data, write_libraries

SPEC_END = "2009-12-31"  # the data go on to 2010-12-31


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    tmp = tmp_path_factory.mktemp("improver")
    workspace = Workspace(tmp / "ws")
    write_libraries(tmp / "ws")
    import_forecast_data(workspace, tmp)
    yield workspace
    workspace.close()


def weak_incumbent(ws: Workspace, name: str, **over: object):
    """A ridge model on one noise field: nothing to learn."""
    base: dict[str, object] = {
        "name": name,
        "data": "sp500-forecast",
        "start": "2004-01-01",
        "end": SPEC_END,
        "features": "tiny-noise",
        "label": {"horizon": 5},
        "model": {"family": "ridge"},
        "training": {"n_splits": 3},
    }
    return workspace_trainer(ws)(ModelSpec.model_validate({**base, **over}))


def improver(ws: Workspace, **over: object) -> ModelImprover:
    kwargs: dict[str, object] = {"feature_families": ("tiny-forecast",), "families": ("ridge",)}
    kwargs.update(over)
    return ModelImprover(ws.models, workspace_trainer(ws), workspace_evaluator(ws), **kwargs)  # type: ignore[arg-type]


class PanelSpy:
    """Records the last bar of every panel the trainer and the evaluator build data from."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.last_bars: list[pd.Timestamp] = []
        # the trainer and the evaluator both build their data through app.models
        monkeypatch.setattr(app_models, "build_dataset", self._wrap(app_models.build_dataset))

    def _wrap(self, real):
        def spy(panel, *args, **kwargs):
            self.last_bars.append(panel.index[-1])
            return real(panel, *args, **kwargs)

        return spy


def test_a_significant_win_registers_the_next_version(ws: Workspace, monkeypatch) -> None:
    incumbent = weak_incumbent(ws, "weak")
    spy = PanelSpy(monkeypatch)
    imp = improver(ws)
    result = imp.improve(incumbent.ref)
    assert result.decision == "registered"
    assert result.new_ref == "weak/v2"
    won = result.proposals[result.winner]
    assert won.kind == "features"
    assert "tiny-forecast" in won.description
    cmp = won.comparison
    assert cmp.mean_diff > imp.margin
    assert cmp.wilcoxon.p_value < result.alpha_per_test == imp.alpha / len(result.proposals)
    assert cmp.wilcoxon.n == len(range(0, cmp.n_common, 5))  # every 5th date (horizon 5)

    new = ws.models.get("weak")
    assert new.ref == "weak/v2"
    assert new.supersedes == "weak/v1"
    chain = ws.models.lineage("weak/v2")
    assert [v.ref for v in chain] == ["weak/v2", "weak/v1"]
    assert "wilcoxon" in new.note
    assert f"p={cmp.wilcoxon.p_value:.3g}" in new.note
    assert f"n={cmp.wilcoxon.n}" in new.note
    assert "margin 0.005" in new.note
    assert new.metrics["ic"] > incumbent.metrics["ic"]
    # neither the evaluations nor the retraining read a bar after the incumbent's span
    end = pd.Timestamp(SPEC_END, tz="UTC")
    assert spy.last_bars
    assert max(spy.last_bars) <= end
    assert ws.data.info("sp500-forecast").end > end.to_pydatetime()
    assert pd.Timestamp(new.label_end) <= pd.Timestamp(incumbent.label_end)


def test_an_equal_proposal_is_not_registered(ws: Workspace) -> None:
    incumbent = weak_incumbent(ws, "tie")
    # ridge on one feature: a stronger or weaker penalty ranks assets the same way
    imp = improver(ws, feature_families=(), families=("ridge",))
    result = imp.improve(incumbent.ref)
    assert [p.kind for p in result.proposals] == ["hyperparameters", "hyperparameters"]
    assert result.decision == "kept"
    assert result.new_ref is None
    for p in result.proposals:
        assert abs(p.comparison.mean_diff) < 1e-6
        assert not p.significant
    assert [v.ref for v in ws.models.list(name="tie")] == ["tie/v1"]


def test_proposals_are_deterministic_and_one_change_away(ws: Workspace) -> None:
    incumbent = weak_incumbent(ws, "props", model={"family": "lightgbm", "params": {}})
    imp = improver(ws, families=("lightgbm", "xgboost", "ridge"), max_proposals=6)
    first = imp.proposals(incumbent.ref)
    assert [p.description for p in first] == [p.description for p in imp.proposals("props/v1")]
    assert [p.kind for p in first[:3]] == ["features", "hyperparameters", "family"]
    base = version_spec(incumbent)
    for p in first:
        changed = {k for k in ("features", "model") if getattr(p.spec, k) != getattr(base, k)}
        assert len(changed) == 1
        assert p.spec.end == base.end
        assert p.spec.label == base.label
    others = [[p.description for p in imp.proposals(incumbent.ref, attempt=a)] for a in (1, 2, 3)]
    assert any(o != [p.description for p in first] for o in others)


def test_pick_models_of_top_strategies(ws: Workspace) -> None:
    weak_incumbent(ws, "pick-a")
    weak_incumbent(ws, "pick-a")
    weak_incumbent(ws, "pick-b")
    rows = [
        {"hash": "1", "models": ["pick-a/v1", "pick-b/v1"]},
        {"hash": "2", "models": []},
        {"hash": "3", "models": ["missing/v1", "pick-a", "pick-b/v1"]},
    ]
    assert pick_models_for_improvement(rows, ws.models) == ["pick-a/v2", "pick-b/v1"]


def test_run_improver_hands_an_improved_version_to_the_next_round(ws: Workspace) -> None:
    incumbent = weak_incumbent(ws, "rounds", seed=3)
    seen: list = []
    results = run_improver(
        ws,
        "sp500-forecast",
        refs=["rounds"],
        rounds=2,
        feature_families=("tiny-forecast",),
        families=("ridge",),
        max_proposals=2,
        on_result=seen.append,
    )
    assert seen == results
    assert len(results) == 2
    assert results[0].ref == incumbent.ref
    assert results[0].decision == "registered"
    assert results[0].new_ref == "rounds/v2"
    assert results[1].ref == "rounds/v2"


class TopStrategies:
    """Strategy rows as the strategy database's ``top`` returns them, best first."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.asked: list[tuple] = []

    def top(self, metric: str = "sharpe", limit: int = 10, **kwargs: object) -> list[dict]:
        self.asked.append((metric, limit, kwargs))
        return self.rows[:limit]


def test_models_to_improve_come_from_top_strategies_else_the_registry(ws: Workspace) -> None:
    weak_incumbent(ws, "cand-a")
    weak_incumbent(ws, "cand-b")
    newest = newest_versions(ws, "sp500-forecast", 100)
    assert "cand-a/v1" in newest
    assert "cand-b/v1" in newest
    assert len(newest) == len({ref.split("/")[0] for ref in newest})
    ics = [ws.models.get(ref).metrics["ic"] for ref in newest]
    assert ics == sorted(ics, reverse=True)
    assert research_models._candidates(ws, "sp500-forecast", None, 2, None) == newest[:2]
    db = TopStrategies([{"models": ["cand-b/v1"]}, {"models": ["cand-a/v1", "cand-b"]}])
    holder = SimpleNamespace(models=ws.models, strategies=db)
    picked = research_models._candidates(holder, "sp500-forecast", None, 3, 7)
    assert picked == ["cand-b/v1", "cand-a/v1"]
    assert db.asked[0][2] == {"dataset": "sp500-forecast", "session_id": 7}
    empty = SimpleNamespace(models=ws.models, strategies=TopStrategies([]))
    assert research_models._candidates(empty, "sp500-forecast", None, 2, None) == newest[:2]


def test_compare_ic_by_hand() -> None:
    dates = pd.bdate_range("2020-01-01", periods=40)
    rng = np.random.default_rng(0)
    base = pd.Series(rng.normal(0.0, 0.1, 40), index=dates)
    same = compare_ic(base, base.copy(), margin=0.005)
    assert same.mean_diff == 0.0
    assert same.wilcoxon.p_value > 0.5
    assert not same.beats(0.05)
    better = compare_ic(base, base + 0.05 + rng.normal(0, 0.01, 40), margin=0.005)
    assert better.beats(0.05)
    assert better.t_test.p_value < 0.05
    assert better.wilcoxon.n == 40
    assert better.n_common == 40
    small = compare_ic(base, base + 0.004, margin=0.005)  # consistent, but below the margin
    assert not small.beats(0.05)
    thinned = compare_ic(base.iloc[5:], base + 0.05, margin=0.005, step=5)
    assert thinned.n_common == 35
    assert thinned.wilcoxon.n == 7
    diff = (base + 0.05).iloc[5:] - base.iloc[5:]
    assert thinned.mean_diff == pytest.approx(diff.mean())


@pytest.mark.slow
def test_the_improver_process_end_to_end(ws: Workspace) -> None:
    incumbent = weak_incumbent(ws, "proc")
    env = {**os.environ, "PYTHONPATH": str(Path(research_models.__file__).parents[2])}
    cmd = [sys.executable, "-m", "alphaloop.app.research_models", "--home", str(ws.root)]
    args = ["--data", "sp500-forecast", "--ref", incumbent.ref, "--rounds", "1", "--seed", "0"]
    args += ["--feature-family", "tiny-forecast", "--family", "ridge"]
    done = subprocess.run(
        cmd + args, check=False, capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == ExitCode.OK, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 1
    assert lines[0]["ref"] == "proc/v1"
    assert lines[0]["decision"] == "registered"
    assert lines[0]["new_ref"] == "proc/v2"
    assert ws.models.get("proc").supersedes == "proc/v1"
    bad = subprocess.run(
        [*cmd, "--data", "no-such-data"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == ExitCode.BAD_INPUT
    assert json.loads(bad.stderr.strip().splitlines()[-1])["type"] == "DatasetNotFoundError"
