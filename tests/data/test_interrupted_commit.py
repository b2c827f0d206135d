"""A Ctrl-C that lands after a dataset's row committed, before the write returned, keeps
the files with the row: the dataset stays readable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaloop.app import Workspace


def test_an_interrupt_after_the_commit_keeps_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(tmp_path / "ws")
    db = ws.data.db
    real = db.write_session

    @contextlib.contextmanager
    def interrupted_after_commit() -> Iterator[object]:
        with real() as session:
            yield session
        raise KeyboardInterrupt  # the transaction has committed

    monkeypatch.setattr(db, "write_session", interrupted_after_commit)
    with pytest.raises(KeyboardInterrupt):
        ws.data.ensure_bundled()
    monkeypatch.undo()
    names = [d.name for d in ws.data.list()]  # raised DataReadError: files missing
    assert names
    first = names[0]
    assert ws.data.load(first).n_times > 0
    ws.close()
