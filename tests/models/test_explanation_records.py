"""Explanations stored with a model version, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.models import ModelNotFoundError, RegistryError, make_estimator


@pytest.fixture
def ref(workspace: Workspace) -> str:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 2)).astype(np.float32)
    est = make_estimator("ridge").fit(x, x[:, 0])
    version = workspace.models.register(
        "expl",
        est,
        features=["ROC5", "ROC10"],
        label={"target": "forward_return", "horizon": 5},
        dataset="sp500-stocks",
        dataset_hash="ab" * 32,
        train_start="2015-01-02",
        train_end="2019-12-31",
        seed=0,
    )
    return version.ref


def test_explanations_round_trip_newest_of_each_kind(workspace: Workspace, ref: str) -> None:
    reg = workspace.models
    assert reg.explanations(ref) == []
    first = reg.record_explanation(ref, "shap", {"method": "permutation", "base_value": 1.5})
    reg.record_explanation("expl", "permutation", {"baseline": math.nan, "features": [{"a": 1}]})
    newer = reg.record_explanation(ref, "shap", {"method": "tree", "base_value": 0.25})
    stored = reg.explanations("expl/v1")
    assert [e.kind for e in stored] == ["permutation", "shap"]
    assert stored[0].payload == {"baseline": None, "features": [{"a": 1}]}  # NaN -> None
    assert stored[1].payload == {"method": "tree", "base_value": 0.25}
    assert stored[1].id == newer.id
    assert stored[1].model_ref == "expl/v1"
    assert stored[1].created_at.tzinfo is not None
    history = reg.explanations(ref, history=True)
    assert [e.id for e in history] == sorted(e.id for e in history)
    assert first.id in {e.id for e in history}
    assert len(history) == 3
    assert stored[1].to_dict()["created_at"].endswith("+00:00")


def test_bad_kinds_and_unknown_versions_are_refused(workspace: Workspace, ref: str) -> None:
    with pytest.raises(RegistryError, match="unknown explanation kind 'lime'"):
        workspace.models.record_explanation(ref, "lime", {})
    with pytest.raises(ModelNotFoundError):
        workspace.models.record_explanation("expl/v2", "shap", {})
    assert workspace.models.explanations(ref) == []
