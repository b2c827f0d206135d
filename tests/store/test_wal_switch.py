"""A connection waits out another process switching a new SQLite file to WAL."""

from __future__ import annotations

import sqlite3

import pytest

from alphaloop.store import db


class _Cursor:
    """Answers "database is locked" a given number of times, as SQLite does mid-switch."""

    def __init__(self, failures: int, message: str = "database is locked") -> None:
        self.failures = failures
        self.message = message
        self.calls = 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError(self.message)


def test_switch_retries_a_locked_database() -> None:
    cur = _Cursor(failures=3)
    db._switch_to_wal(cur)
    assert cur.calls == 4


def test_switch_gives_up_after_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "_WAL_SWITCH_SECONDS", 0.05)
    cur = _Cursor(failures=10_000)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db._switch_to_wal(cur)
    assert 1 < cur.calls < 10_000


def test_other_errors_are_not_retried() -> None:
    cur = _Cursor(failures=5, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        db._switch_to_wal(cur)
    assert cur.calls == 1


def test_real_file_ends_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = db.Database(f"sqlite:///{tmp_path / 'a.db'}")
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    database.engine.dispose()
