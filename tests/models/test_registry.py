"""The model registry on SQLite and PostgreSQL: versions, immutability, lineage, usage, stages."""

from __future__ import annotations

import json
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from alphaloop import __version__
from alphaloop.app import Workspace
from alphaloop.models.artifacts import artifact_sha256
from alphaloop.models.errors import (
    ArtifactTamperedError,
    ModelError,
    ModelNotFoundError,
    RegistryError,
)
from alphaloop.models.labels import LabelSpec
from alphaloop.models.registry import ModelRegistry
from alphaloop.models.sklearn_models import RidgeEstimator
from alphaloop.store import ModelVersionRecord


class StubEstimator:
    """Stand-in estimator: ``save`` writes a directory with a nested file."""

    family = "stub"
    task = "regression"

    def __init__(self, coef: float = 1.0) -> None:
        self.coef = coef

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {"coef": self.coef}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        (path / "weights").mkdir(parents=True)
        (path / "model.json").write_text(json.dumps({"coef": self.coef}))
        (path / "weights" / "w.bin").write_bytes(np.float64(self.coef).tobytes())
        return path

    @classmethod
    def load(cls, path: str | Path) -> StubEstimator:
        return cls(json.loads((Path(path) / "model.json").read_text())["coef"])


META: dict[str, Any] = {
    "features": ["mom_5", "vol_20"],
    "label": {"target": "forward_return", "horizon": 5, "kind": "simple"},
    "dataset": "sp500-stocks",
    "dataset_version": 1,
    "dataset_hash": "ab" * 32,
    "train_start": "2015-01-02",
    "train_end": "2019-12-31",
    "label_end": "2020-01-08",
    "seed": 7,
    "metrics": {"ic": 0.04, "rank_ic": 0.05},
    "feature_family": "alpha158-close",
}


@pytest.fixture
def registry(workspace: Workspace) -> ModelRegistry:
    return ModelRegistry(workspace.db, workspace.root)


def register(reg: ModelRegistry, name: str = "ret5", coef: float = 1.0, **overrides: Any):
    return reg.register(name, StubEstimator(coef), **{**META, **overrides})


def test_registering_a_name_twice_creates_v1_then_v2(registry: ModelRegistry) -> None:
    v1 = register(registry, coef=1.0)
    v2 = register(registry, coef=2.0)
    assert (v1.ref, v1.version, v2.ref, v2.version) == ("ret5/v1", 1, "ret5/v2", 2)
    assert registry.latest("ret5") == v2
    assert registry.get("ret5") == v2
    assert registry.get("ret5/v1") == v1
    assert [v.ref for v in registry.list()] == ["ret5/v1", "ret5/v2"]
    assert v1.stage == "candidate"
    assert v1.features == ("mom_5", "vol_20")
    assert v1.label == META["label"]
    assert v1.target == "forward_return"
    assert v1.params == {"coef": 1.0}
    assert (v1.family, v1.task, v1.feature_family) == ("stub", "regression", "alpha158-close")
    assert v1.train_start == datetime(2015, 1, 2, tzinfo=UTC)
    assert v1.train_end == datetime(2019, 12, 31, tzinfo=UTC)
    assert v1.label_end == datetime(2020, 1, 8, tzinfo=UTC)
    assert (v1.dataset, v1.dataset_version, v1.dataset_hash) == ("sp500-stocks", 1, "ab" * 32)
    assert (v1.seed, v1.code_version) == (7, __version__)
    assert v1.metrics == {"ic": 0.04, "rank_ic": 0.05}
    assert v1.artifact_path == registry.models_dir / "ret5" / "v1"
    assert json.loads(json.dumps(v1.to_dict()))["ref"] == "ret5/v1"
    assert registry.load("ret5/v1", loader=StubEstimator.load).coef == 1.0
    assert registry.load("ret5", loader=StubEstimator.load).coef == 2.0


def test_artifact_is_hashed_and_read_only(registry: ModelRegistry) -> None:
    v1 = register(registry)
    files = sorted(p for p in v1.artifact_path.rglob("*") if p.is_file())
    assert [p.relative_to(v1.artifact_path).as_posix() for p in files] == [
        "model.json",
        "weights/w.bin",
    ]
    assert all(p.stat().st_mode & 0o222 == 0 for p in files)
    assert v1.artifact_path.stat().st_mode & 0o222 == 0
    assert v1.artifact_sha256 == artifact_sha256(v1.artifact_path)
    assert not any((registry.models_dir / ".staging").iterdir())


def test_an_existing_version_directory_is_never_overwritten(registry: ModelRegistry) -> None:
    register(registry)
    orphan = registry.models_dir / "ret5" / "v2"
    orphan.mkdir()
    (orphan / "keep.txt").write_text("not mine")
    with pytest.raises(RegistryError, match=r"v2 already exists; refusing to overwrite"):
        register(registry)
    assert (orphan / "keep.txt").read_text() == "not mine"
    assert [v.ref for v in registry.list()] == ["ret5/v1"]
    assert registry.stage_history("ret5/v1")[-1].to_stage == "candidate"
    assert not any((registry.models_dir / ".staging").iterdir())
    (orphan / "keep.txt").unlink()
    orphan.rmdir()
    assert register(registry).ref == "ret5/v2"


def test_the_database_refuses_a_second_row_for_a_version(
    registry: ModelRegistry, workspace: Workspace
) -> None:
    v1 = register(registry)
    row = {
        **{k: v for k, v in META.items() if not k.startswith(("train", "label_end"))},
        "name": "ret5",
        "version": 1,
        "ref": "ret5/v1-copy",
        "family": "stub",
        "task": "regression",
        "target": "forward_return",
        "params": {},
        "stage": "candidate",
        "note": "",
        "code_version": "x",
        "artifact_path": str(v1.artifact_path),
        "artifact_sha256": v1.artifact_sha256,
    }
    for duplicate in ({}, {"version": 9, "ref": "ret5/v1"}):
        with pytest.raises(IntegrityError), workspace.db.session() as s:
            s.add(ModelVersionRecord(**{**row, **duplicate}))
    assert [v.ref for v in registry.list()] == ["ret5/v1"]


def test_concurrent_registrations_get_distinct_versions(registry: ModelRegistry) -> None:
    register(registry, coef=0.0)  # opens and migrates the database before the race
    errors: list[BaseException] = []

    def work(coef: float) -> None:
        try:
            register(registry, coef=coef)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(float(i),)) for i in range(1, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = registry.list("ret5")
    assert [v.version for v in versions] == [1, 2, 3, 4, 5, 6]
    coefs = {registry.load(v.ref, loader=StubEstimator.load).coef for v in versions}
    assert coefs == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}


def test_lineage_follows_supersedes_with_notes(registry: ModelRegistry) -> None:
    register(registry, note="first")
    register(registry, supersedes="ret5/v1", note="added volume features")
    v3 = register(registry, supersedes="ret5", note="tuned depth")  # "ret5" is v2 now
    assert v3.supersedes == "ret5/v2"
    chain = registry.lineage("ret5/v3")
    assert [(v.ref, v.supersedes, v.note) for v in chain] == [
        ("ret5/v3", "ret5/v2", "tuned depth"),
        ("ret5/v2", "ret5/v1", "added volume features"),
        ("ret5/v1", None, "first"),
    ]
    assert [v.ref for v in registry.lineage("ret5/v1")] == ["ret5/v1"]
    with pytest.raises(ModelNotFoundError, match="no model named 'other'"):
        register(registry, supersedes="other/v1")
    assert len(registry.list()) == 3


def test_usage_returns_what_was_recorded(registry: ModelRegistry, workspace: Workspace) -> None:
    register(registry)
    register(registry)
    with workspace.runs.start("backtest") as run:
        pass
    registry.record_usage("ret5/v1", "h1", "momentum-long", 1.25, run_id=run.id)
    registry.record_usage("ret5/v1", "h2", "momentum-short", float("nan"))
    registry.record_usage("ret5", "h3", "latest-user", -0.5)
    used = registry.usage("ret5/v1")
    assert [(u.strategy_hash, u.strategy_name, u.sharpe, u.run_id) for u in used] == [
        ("h1", "momentum-long", 1.25, run.id),
        ("h2", "momentum-short", None, None),
    ]
    assert [(u.model_ref, u.sharpe) for u in registry.usage("ret5/v2")] == [("ret5/v2", -0.5)]
    with pytest.raises(RegistryError, match="no run has id 99999"):
        registry.record_usage("ret5/v1", "h4", "s", 1.0, run_id=99999)
    with pytest.raises(ModelNotFoundError):
        registry.record_usage("ret5/v7", "h5", "s", 1.0)


def test_stages_move_by_the_table_and_are_audited(
    registry: ModelRegistry, workspace: Workspace
) -> None:
    register(registry)
    register(registry)
    with pytest.raises(ModelNotFoundError, match="no model version 'ret5@production'"):
        registry.get("ret5@production")
    registry.set_stage("ret5/v1", "production", reason="best OOS IC")
    assert registry.get("ret5@production").ref == "ret5/v1"
    registry.set_stage("ret5/v2", "production", reason="retrained")
    assert registry.get("ret5@production").ref == "ret5/v2"
    assert registry.get("ret5/v1").stage == "archived"
    assert registry.list(stage="production") == [registry.get("ret5/v2")]
    history = [(c.from_stage, c.to_stage, c.reason) for c in registry.stage_history("ret5/v1")]
    assert history == [
        (None, "candidate", "registered"),
        ("candidate", "production", "best OOS IC"),
        ("production", "archived", "replaced by ret5/v2"),
    ]
    with pytest.raises(RegistryError, match="cannot move from archived to production"):
        registry.set_stage("ret5/v1", "production")
    with pytest.raises(RegistryError, match="cannot move from production to production"):
        registry.set_stage("ret5/v2", "production")
    with pytest.raises(RegistryError, match="unknown stage 'live'"):
        registry.set_stage("ret5/v2", "live")
    assert registry.set_stage("ret5/v1", "candidate").stage == "candidate"
    assert registry.stage_history("ret5/v1")[-1].from_stage == "archived"
    # the database itself holds at most one production version per name
    promote_v1 = update(ModelVersionRecord).where(ModelVersionRecord.ref == "ret5/v1")
    with pytest.raises(IntegrityError), workspace.db.session() as s:
        s.execute(promote_v1.values(stage="production"))
    assert registry.get("ret5@production").ref == "ret5/v2"


def test_search_by_target_feature_family_family_and_metric(registry: ModelRegistry) -> None:
    register(registry, "ret5")
    register(registry, "ret5", metrics={"ic": 0.01})
    register(
        registry,
        "vol20",
        label={"target": "realized_vol", "horizon": 20},
        feature_family="custom",
        features=["range_10"],
    )
    register(registry, "cls5", family="stub_classifier", metrics={"ic": 0.08})
    assert [v.ref for v in registry.search(target="forward_return")] == [
        "cls5/v1",
        "ret5/v1",
        "ret5/v2",
    ]
    assert [v.ref for v in registry.search(feature_family="custom")] == ["vol20/v1"]
    assert [v.ref for v in registry.search(family="stub_classifier")] == ["cls5/v1"]
    assert [v.ref for v in registry.search(feature="range_10")] == ["vol20/v1"]
    assert [v.ref for v in registry.search(min_metric=("ic", 0.04))] == [
        "cls5/v1",
        "ret5/v1",
        "vol20/v1",
    ]
    assert [v.ref for v in registry.search(target="forward_return", max_metric=("ic", 0.02))] == [
        "ret5/v2"
    ]
    assert registry.search(target="nothing") == []


def test_get_by_id(registry: ModelRegistry) -> None:
    v1 = register(registry)
    assert registry.get_by_id(v1.id) == v1
    with pytest.raises(ModelNotFoundError, match="no model version has id 424242"):
        registry.get_by_id(424242)


def test_a_modified_artifact_is_refused_at_load(registry: ModelRegistry) -> None:
    v1 = register(registry, coef=1.0)
    weights = v1.artifact_path / "weights" / "w.bin"
    weights.chmod(stat.S_IRUSR | stat.S_IWUSR)
    weights.write_bytes(np.float64(3.0).tobytes())
    with pytest.raises(ArtifactTamperedError, match="was modified after registration"):
        registry.load("ret5/v1", loader=StubEstimator.load)
    v2 = register(registry)
    v2.artifact_path.chmod(0o755)
    (v2.artifact_path / "extra.txt").write_text("smuggled")
    with pytest.raises(ArtifactTamperedError, match="ret5/v2"):
        registry.load("ret5/v2", loader=StubEstimator.load)


def test_bad_names_and_unknown_references_are_clear_errors(registry: ModelRegistry) -> None:
    for bad in ("Ret5", "-ret", "a/b", "", "x" * 101, "ret 5"):
        with pytest.raises(RegistryError, match="invalid model name"):
            register(registry, bad)
    with pytest.raises(ModelNotFoundError) as info:
        registry.get("ret5")
    assert "no models are registered yet" in str(info.value)
    register(registry)
    with pytest.raises(ModelNotFoundError, match="no model version 'ret5/v9'") as info:
        registry.get("ret5/v9")
    assert "v1 (candidate)" in str(info.value)
    with pytest.raises(ModelNotFoundError, match="registered: ret5"):
        registry.get("nope")
    for bad_ref in ("ret5/v0", "ret5/1", "ret5@", "RET5"):
        with pytest.raises(RegistryError, match="invalid model reference"):
            registry.get(bad_ref)
    with pytest.raises(RegistryError, match="unknown stage 'prod'"):
        registry.get("ret5@prod")


def test_registration_checks_its_metadata(registry: ModelRegistry) -> None:
    with pytest.raises(RegistryError, match="no 'target'"):
        register(registry, label={"horizon": 5})
    with pytest.raises(RegistryError, match="training period"):
        register(registry, train_start="2020-01-01", train_end="2019-01-01")
    with pytest.raises(RegistryError, match="params cannot be stored as JSON"):
        register(registry, params={"fn": object()})
    with pytest.raises(RegistryError, match="no features"):
        register(registry, features=[])
    with pytest.raises(
        RegistryError, match="dataset_hash must be a non-empty string of at most 64"
    ):
        register(registry, dataset_hash="f" * 65)
    assert registry.list() == []


def test_a_saved_directory_can_be_registered(registry: ModelRegistry, tmp_path: Path) -> None:
    saved = StubEstimator(4.0).save(tmp_path / "saved")
    with pytest.raises(RegistryError, match="estimator family"):
        registry.register("from-dir", saved, **META)
    v1 = registry.register("from-dir", saved, family="stub", **META)
    assert registry.load(v1.ref, loader=StubEstimator.load).coef == 4.0
    assert v1.params == {}


def test_a_real_estimator_round_trips_through_the_default_loader(
    registry: ModelRegistry,
) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = X @ np.array([0.5, -0.2]) + rng.normal(scale=0.1, size=200)
    model = RidgeEstimator(alpha=1.0, seed=3).fit(X, y)
    v1 = registry.register("ridge5", model, **{**META, "label": LabelSpec(horizon=5)})
    assert (v1.family, v1.task, v1.params["alpha"]) == ("ridge", "regression", 1.0)
    assert v1.target == "forward_return"
    assert v1.label["horizon"] == 5
    loaded = registry.load("ridge5")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert issubclass(RegistryError, ModelError)
