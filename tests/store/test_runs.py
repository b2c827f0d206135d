"""The run log: one run by id, and what ``get`` says when there is none."""

from __future__ import annotations

import pytest

from alphaloop.app import Workspace, spec_from_run
from alphaloop.errors import RunNotFoundError, SpecError


def test_get_returns_the_run_recorded(workspace: Workspace) -> None:
    with workspace.runs.start("backtest", {"spec_hash": "abc", "spec": {"data": "x"}}) as run:
        run.result = {"sharpe": 1.5}
        run.data_hashes = {"x": "h"}
    with workspace.runs.start("other"):
        pass
    got = workspace.runs.get(run.id)
    assert got["id"] == run.id
    assert got["kind"] == "backtest"
    assert got["status"] == "succeeded"
    assert got["result"] == {"sharpe": 1.5}
    assert got["data_hashes"] == {"x": "h"}
    assert got == next(r for r in workspace.runs.list() if r["id"] == run.id)


def test_get_of_a_missing_run_says_so(workspace: Workspace) -> None:
    with pytest.raises(RunNotFoundError, match="no run 42 in this workspace"):
        workspace.runs.get(42)


def test_spec_from_run_refuses_a_run_without_a_spec(workspace: Workspace) -> None:
    with workspace.runs.start("model-train", {"model_spec": {}}) as run:
        pass
    with pytest.raises(SpecError, match=rf"run {run.id} \(model-train\) has no strategy spec"):
        spec_from_run(workspace, run.id)


def test_spec_from_run_rebuilds_the_recorded_spec(workspace: Workspace) -> None:
    from alphaloop.backtest.spec import quick_spec

    spec = quick_spec("$close", "sp500-stocks", top_k=3)
    with workspace.runs.start("backtest", {"spec": spec.model_dump(mode="json")}) as run:
        pass
    assert spec_from_run(workspace, run.id).hash == spec.hash
