"""Several processes opening one new workspace at once register each bundled dataset once.

Each worker is a separate Python process that waits for a common start
signal, opens a fresh :class:`Workspace` on the same root (SQLite) or the
same PostgreSQL schema, and calls ``ensure_bundled``. Afterwards every
bundled dataset has exactly one version, its files are in place and load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alphaloop.app import Workspace
from alphaloop.data.bundled import BUNDLED
from alphaloop.store import DatasetRecord

WORKERS = 4

WORKER = r"""
import json, os, sys, time
from pathlib import Path
from alphaloop.app import Workspace

root, go, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
overrides = json.loads(sys.argv[4])
ready.touch()
deadline = time.monotonic() + 120
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.005)
ws = Workspace(root, **overrides)
added = ws.data.ensure_bundled()
ws.close()
print(json.dumps(added))
"""


def _race(tmp_path: Path, overrides: dict[str, str], script: str = WORKER) -> list[list[str]]:
    """Start WORKERS processes on one workspace at the same moment; their outputs."""
    root = tmp_path / "ws"
    go = tmp_path / "go"
    worker = tmp_path / "worker.py"
    worker.write_text(script)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = []
    readies = []
    for k in range(WORKERS):
        ready = tmp_path / f"ready-{k}"
        readies.append(ready)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(worker),
                    str(root),
                    str(go),
                    str(ready),
                    json.dumps(overrides),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in readies) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


@pytest.mark.slow
def test_concurrent_first_use_registers_each_bundled_dataset_once(
    tmp_path: Path, db_settings: dict[str, str]
) -> None:
    outputs = _race(tmp_path, db_settings)
    # every dataset was added by exactly one process
    added = sorted(name for out in outputs for name in out)
    assert added == sorted(BUNDLED)
    ws = Workspace(tmp_path / "ws", **db_settings)
    with ws.db.session() as s:
        counts = dict(
            s.execute(
                select(DatasetRecord.name, func.count(DatasetRecord.id)).group_by(
                    DatasetRecord.name
                )
            ).all()
        )
    assert counts == {name: 1 for name in BUNDLED}
    assert {i.name: i.version for i in ws.data.list()} == {name: 1 for name in BUNDLED}
    # the winner's files are in place and nothing is left half-written
    for name in BUNDLED:
        assert ws.data.load(name).n_times > 0
    assert list(ws.data_dir.glob(".staging/*")) == []
    assert not list(ws.data_dir.glob(".tmp-*"))
    ws.close()


IMPORTER = r"""
import json, sys, time
from pathlib import Path
from alphaloop.app import Workspace

root, go, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
overrides = json.loads(sys.argv[4])
ws = Workspace(root, **overrides)
ws.data.ensure_bundled()
csv = root.parent / f"prices-{ready.name}.csv"
csv.write_text("timestamp,asset,close\n" + "".join(
    f"2024-01-{d:02d},A,{10 + d + int(ready.name.split('-')[1]) / 100}\n"
    for d in range(2, 20)))
ready.touch()
while not go.exists():
    time.sleep(0.005)
result = ws.data.import_file(csv, "shared")
ws.close()
print(json.dumps([result.dataset.version]))
"""


@pytest.mark.slow
def test_concurrent_imports_under_one_name_get_distinct_versions(
    tmp_path: Path, db_settings: dict[str, str]
) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    ws.data.ensure_bundled()  # the race is between imports, not registrations
    ws.close()
    outputs = _race(tmp_path, db_settings, IMPORTER)
    versions = sorted(v for out in outputs for v in out)
    assert versions == list(range(1, WORKERS + 1))
    ws = Workspace(tmp_path / "ws", **db_settings)
    assert ws.data.versions("shared") == versions
    hashes = {ws.data.info("shared", v).content_hash for v in versions}
    assert len(hashes) == WORKERS  # each version holds its own process's file
    for v in versions:
        assert ws.data.load("shared", version=v).n_times == 18
    ws.close()


def test_leftover_files_without_a_row_are_replaced(workspace: Workspace, tmp_path: Path) -> None:
    """Files a crashed process moved in without committing do not block the version."""
    workspace.data.ensure_bundled()
    orphan = workspace.data.store.version_dir("fresh", 1)
    orphan.mkdir(parents=True)
    (orphan / "junk").write_text("left by a crash")
    csv = tmp_path / "p.csv"
    csv.write_text("timestamp,asset,close\n2024-01-02,A,10\n2024-01-03,A,10.5\n")
    info = workspace.data.import_file(csv, "fresh").dataset
    assert info.version == 1
    assert not (orphan / "junk").exists()
    assert workspace.data.load("fresh")["close"][:, 0].tolist() == [10.0, 10.5]
