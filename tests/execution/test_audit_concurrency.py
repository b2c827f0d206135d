"""Appenders in several processes at once keep one valid chain (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.execution.audit_log import AuditLog

WORKER = textwrap.dedent(
    """
    import sys
    from alphaloop.store import Database
    from alphaloop.execution.audit_log import AuditLog

    url, schema, name, n = sys.argv[1], sys.argv[2] or None, sys.argv[3], int(sys.argv[4])
    db = Database(url, schema=schema)
    log = AuditLog(db)
    for k in range(n):
        log.append(name, "test.append", f"{name}-{k}", {"k": k})
    db.dispose()
    """
)

N_PROCESSES = 4
N_EACH = 25


@pytest.mark.slow
def test_concurrent_appenders_keep_one_chain(workspace: Workspace, tmp_path: Path) -> None:
    db = workspace.db
    _ = db.engine  # migrate once before the workers start
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), db.url, db.schema or "", f"p{i}", str(N_EACH)],
            env=dict(os.environ),
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N_PROCESSES)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    log = AuditLog(db)
    result = log.verify()
    assert result.ok, result.problem
    assert result.n_entries == N_PROCESSES * N_EACH
    entries = log.entries()
    assert [e.seq for e in entries] == list(range(1, N_PROCESSES * N_EACH + 1))
    # every worker's appends are all there, each in its own order
    for i in range(N_PROCESSES):
        mine = [e.data["k"] for e in entries if e.actor == f"p{i}"]
        assert mine == list(range(N_EACH))
    # the workers did interleave (otherwise the test proves nothing about serialization)
    actors = [e.actor for e in entries]
    switches = sum(a != b for a, b in itertools.pairwise(actors))
    assert switches >= N_PROCESSES - 1
