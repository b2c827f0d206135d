"""``Database.atomic``: every session of a block in one transaction, on both backends."""

from __future__ import annotations

import pytest

from alphaloop.errors import StoreError
from alphaloop.execution.audit_log import AuditLog
from alphaloop.live.loop_state import Checkpoint, LoopCheckpoints


def test_a_block_commits_together_or_not_at_all(workspace) -> None:
    db = workspace.db
    audit, checkpoints = AuditLog(db), LoopCheckpoints(db)
    audit.append("tester", "one")

    def dies() -> None:
        with db.atomic():
            audit.append("tester", "two")
            checkpoints.save(Checkpoint("run", "h", 0, 1, None, "running", {"x": 1}))
            assert audit.count() == 2  # the block reads its own writes
            raise RuntimeError("the process dies here")

    with pytest.raises(RuntimeError, match="dies here"):
        dies()
    assert [e.action for e in audit.entries()] == ["one"]
    assert checkpoints.get("run") is None
    with db.atomic():
        audit.append("tester", "three")
        checkpoints.save(Checkpoint("run", "h", 0, 2, None, "running", {"x": 2}))
    assert [e.action for e in audit.entries()] == ["one", "three"]
    cp = checkpoints.get("run")
    assert cp is not None
    assert (cp.bars_done, cp.state) == (2, {"x": 2})
    assert audit.verify().ok


def test_an_inner_failure_rolls_back_its_own_writes_only(workspace) -> None:
    db = workspace.db
    audit = AuditLog(db)

    def fails() -> None:
        with db.session():
            audit.append("tester", "dropped")
            raise ValueError("inner")

    with db.atomic():
        audit.append("tester", "kept")
        with pytest.raises(ValueError, match="inner"):
            fails()
        audit.append("tester", "kept too")
    assert [e.action for e in audit.entries()] == ["kept", "kept too"]
    assert audit.verify().ok


def test_blocks_do_not_nest(workspace) -> None:
    db = workspace.db
    with db.atomic(), pytest.raises(StoreError, match="do not nest"), db.atomic():
        pass
