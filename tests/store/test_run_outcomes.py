"""A run ends succeeded, failed or interrupted; what it filled in is kept either way."""

from __future__ import annotations

import pytest

from alphaloop.app import Workspace
from alphaloop.errors import recorded_interruptions


def _interrupted_scan(workspace: Workspace) -> None:
    with workspace.runs.start("scan", {"a": 1}) as run:
        run.params["later"] = 2  # completed while it ran
        run.data_hashes = {"d": "abc"}
        raise KeyboardInterrupt


def test_interruption_is_recorded_and_noted(workspace: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt) as caught:
        _interrupted_scan(workspace)
    (rec,) = workspace.runs.list()
    assert rec["status"] == "interrupted"
    assert rec["error"] == "interrupted by the user"
    assert rec["params"] == {"a": 1, "later": 2}
    assert rec["data_hashes"] == {"d": "abc"}
    assert rec["finished_at"] is not None
    assert recorded_interruptions(caught.value) == (f"scan run {rec['id']}",)


def test_nested_runs_note_every_interruption(workspace: Workspace) -> None:
    with (
        pytest.raises(KeyboardInterrupt) as caught,
        workspace.runs.start("outer"),
        workspace.runs.start("inner"),
    ):
        raise KeyboardInterrupt
    inner, outer = workspace.runs.list()
    assert {inner["status"], outer["status"]} == {"interrupted"}
    assert recorded_interruptions(caught.value) == (
        f"inner run {inner['id']}",
        f"outer run {outer['id']}",
    )


def test_other_errors_still_fail(workspace: Workspace) -> None:
    with pytest.raises(ValueError, match="bad"), workspace.runs.start("x"):
        raise ValueError("bad")
    assert workspace.runs.list()[0]["status"] == "failed"
    assert workspace.runs.list()[0]["error"] == "ValueError: bad"
