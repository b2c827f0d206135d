"""Where the in-process bus keeps each consumer's offset and the ids it has applied.

A consumer commits, in one transaction per batch, the offset it has reached
(the index of the next event to deliver) and the ids of the events it
applied; on restart it loads both and carries on from the offset, skipping
any id it has already applied (an event published twice, or replayed).

:class:`MemoryOffsets` keeps them in the process (lost with it);
:class:`SqliteOffsets` keeps them in a SQLite file, durable across a kill -9.
A *transactional* handler receives the store's transaction (the
:class:`sqlite3.Connection` for :class:`SqliteOffsets`) and writes its own
effects into it, so its effects, the ids and the offset commit together or
not at all: a killed consumer applies each event exactly once.

The record of applied ids is a window: the newest ``window`` ids per
consumer (default 100,000) are kept, older ones are pruned at commit.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["DEFAULT_WINDOW", "MemoryOffsets", "OffsetStore", "SqliteOffsets"]

#: applied event ids kept per consumer for de-duplication
DEFAULT_WINDOW = 100_000


@runtime_checkable
class OffsetStore(Protocol):
    """A durable home for consumer offsets and applied event ids (see the module docstring)."""

    def load(self, topic: str, consumer: str, window: int) -> tuple[int, list[str]]:
        """The committed offset (0 when none) and up to ``window`` newest applied ids, oldest
        first."""
        ...

    def begin(self) -> Any:
        """Start a transaction; the handle is what transactional handlers receive."""
        ...

    def commit(
        self,
        tx: Any,
        topic: str,
        consumer: str,
        offset: int,
        applied: Sequence[tuple[int, str]],
        window: int,
    ) -> None:
        """Commit ``tx`` with the new ``offset`` and the ``(offset, id)`` pairs applied."""
        ...

    def rollback(self, tx: Any) -> None:
        """Discard ``tx`` (a handler failed inside it)."""
        ...

    def forget_from(self, topic: str, consumer: str, offset: int) -> None:
        """Set the consumer's offset to ``offset`` and drop its applied ids at or after it."""
        ...


class MemoryOffsets:
    """Offsets and applied ids in this process's memory (tests, throwaway consumers)."""

    def __init__(self) -> None:
        self._offsets: dict[tuple[str, str], int] = {}
        self._applied: dict[tuple[str, str], list[tuple[int, str]]] = {}

    def load(self, topic: str, consumer: str, window: int) -> tuple[int, list[str]]:
        key = (topic, consumer)
        return self._offsets.get(key, 0), [i for _, i in self._applied.get(key, [])[-window:]]

    def begin(self) -> None:
        return None

    def commit(
        self,
        tx: Any,
        topic: str,
        consumer: str,
        offset: int,
        applied: Sequence[tuple[int, str]],
        window: int,
    ) -> None:
        key = (topic, consumer)
        self._offsets[key] = offset
        if applied:
            ids = self._applied.setdefault(key, [])
            ids.extend(applied)
            if len(ids) > 2 * window:
                del ids[:-window]

    def rollback(self, tx: Any) -> None:
        return None

    def forget_from(self, topic: str, consumer: str, offset: int) -> None:
        key = (topic, consumer)
        self._offsets[key] = offset
        self._applied[key] = [p for p in self._applied.get(key, []) if p[0] < offset]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_offsets (
    topic TEXT NOT NULL, consumer TEXT NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, consumer));
CREATE TABLE IF NOT EXISTS bus_applied (
    topic TEXT NOT NULL, consumer TEXT NOT NULL, event_offset INTEGER NOT NULL,
    event_id TEXT NOT NULL, PRIMARY KEY (topic, consumer, event_offset));
"""


class SqliteOffsets:
    """Offsets and applied ids in a SQLite file (WAL, synchronous=FULL: a commit survives kill -9).

    Parameters
    ----------
    path : str or Path
        The database file (created with its tables when missing). Handlers
        of transactional consumers receive this store's connection inside
        an open transaction and may create and write their own tables.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def load(self, topic: str, consumer: str, window: int) -> tuple[int, list[str]]:
        con = self.connection
        row = con.execute(
            "SELECT next_offset FROM bus_offsets WHERE topic=? AND consumer=?", (topic, consumer)
        ).fetchone()
        ids = con.execute(
            "SELECT event_id FROM (SELECT event_offset, event_id FROM bus_applied "
            "WHERE topic=? AND consumer=? ORDER BY event_offset DESC LIMIT ?) "
            "ORDER BY event_offset",
            (topic, consumer, window),
        ).fetchall()
        return (row[0] if row else 0), [r[0] for r in ids]

    def begin(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self.connection

    def commit(
        self,
        tx: Any,
        topic: str,
        consumer: str,
        offset: int,
        applied: Sequence[tuple[int, str]],
        window: int,
    ) -> None:
        con = self.connection
        try:
            if applied:
                con.executemany(
                    "INSERT OR REPLACE INTO bus_applied VALUES (?, ?, ?, ?)",
                    [(topic, consumer, o, i) for o, i in applied],
                )
                con.execute(
                    "DELETE FROM bus_applied WHERE topic=? AND consumer=? AND event_offset < "
                    "(SELECT event_offset FROM bus_applied WHERE topic=? AND consumer=? "
                    "ORDER BY event_offset DESC LIMIT 1 OFFSET ?)",
                    (topic, consumer, topic, consumer, window - 1),
                )
            con.execute(
                "INSERT INTO bus_offsets VALUES (?, ?, ?) ON CONFLICT (topic, consumer) "
                "DO UPDATE SET next_offset=excluded.next_offset",
                (topic, consumer, offset),
            )
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            self._lock.release()

    def rollback(self, tx: Any) -> None:
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        finally:
            self._lock.release()

    def forget_from(self, topic: str, consumer: str, offset: int) -> None:
        tx = self.begin()
        self.connection.execute(
            "DELETE FROM bus_applied WHERE topic=? AND consumer=? AND event_offset >= ?",
            (topic, consumer, offset),
        )
        self.commit(tx, topic, consumer, offset, (), 1)
