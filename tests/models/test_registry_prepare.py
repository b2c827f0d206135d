"""A version prepared outside a transaction and registered inside a short one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.models.errors import RegistryError
from alphaloop.models.registry import ModelRegistry

sys.path.insert(0, str(Path(__file__).parent))
from test_registry import META, StubEstimator


@pytest.fixture
def registry(workspace: Workspace) -> ModelRegistry:
    return ModelRegistry(workspace.db, workspace.root)


def test_a_prepared_version_writes_no_row_until_committed(registry: ModelRegistry) -> None:
    prepared = registry.prepare("ret5", StubEstimator(3.0), tag="loop.drill", **META)
    assert registry.list(name="ret5") == []
    assert prepared.staging.parent == registry.models_dir / ".staging"
    assert prepared.staging.name.startswith("loop.drill-")
    with registry.db.atomic():
        v1 = registry.commit_prepared(prepared)
    assert v1.ref == "ret5/v1"
    assert v1.artifact_sha256 == prepared.artifact_sha256
    assert registry.load("ret5/v1", loader=StubEstimator.load).coef == 3.0
    prepared.discard()
    assert not prepared.staging.exists()
    with pytest.raises(RegistryError, match="has no artifact"):
        registry.commit_prepared(prepared)


def test_staged_versions_of_a_tag_are_dropped_and_others_kept(registry: ModelRegistry) -> None:
    mine = registry.prepare("ret5", StubEstimator(), tag="loop.drill", **META)
    other = registry.prepare("ret5", StubEstimator(), tag="loop.drill2", **META)
    plain = registry.prepare("ret5", StubEstimator(), **META)
    gone = registry.drop_staged("loop.drill")
    assert gone == [str(mine.staging)]
    assert not mine.staging.exists()
    assert other.staging.exists()
    assert plain.staging.exists()
    assert registry.drop_staged("") == []
    registry.commit_prepared(other)
    assert [v.ref for v in registry.list(name="ret5")] == ["ret5/v1"]
