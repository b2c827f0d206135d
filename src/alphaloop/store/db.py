"""Engine, sessions and migrations for one database URL."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from alphaloop.errors import ReadOnlyWorkspaceError, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


#: key of the PostgreSQL advisory lock held while a schema is created or migrated
_MIGRATION_LOCK = 0x616C7068  # "alph"


#: how long a connection keeps trying to switch a new SQLite file to WAL, seconds
_WAL_SWITCH_SECONDS = 30.0


def _switch_to_wal(cur) -> None:  # type: ignore[no-untyped-def]
    """Put the database in WAL mode, waiting out a process that opens it at the same moment.

    Switching a new file to WAL needs an exclusive lock; SQLite reports
    "database is locked" at once, without calling its busy handler, when
    another connection is inside the same switch or WAL recovery. The mode
    is kept in the file, so the first connection that succeeds settles it
    for all; the others retry with a growing pause.
    """
    deadline = time.monotonic() + _WAL_SWITCH_SECONDS
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if ("locked" not in message and "busy" not in message) or (
                time.monotonic() + pause > deadline
            ):
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_connection.cursor()
    # the busy timeout first: switching a new file to WAL waits for a lock that a
    # process opening the same workspace at the same moment may hold
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    _switch_to_wal(cur)
    # in WAL mode, NORMAL syncs at checkpoints: a committed transaction survives a crash or
    # kill of the process (the WAL holds it); only a power loss may drop the last commits
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_read_only_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _read_only_url(url: str) -> str:
    """``url`` opened read-only: a SQLite file through a ``mode=ro`` URI.

    A WAL database read through ``mode=ro`` needs its ``-wal`` and ``-shm``
    files, or a directory where SQLite can create them. Where neither holds
    (a read-only directory of a database closed cleanly, so no ``-wal``
    file with pending pages), the file is opened ``immutable``: it cannot
    change while it is read-only.
    """
    path = sqlite_path(url)
    if path is None:
        return url
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    usable = os.access(path.parent, os.W_OK) or (wal.exists() and shm.exists())
    query = "mode=ro" + ("" if usable else "&immutable=1")
    return f"sqlite:///file:{urllib.parse.quote(str(path))}?{query}&uri=true"


def _lock_for_migration(conn: Connection, schema: str | None) -> None:
    """Serialize schema creation and migration between processes opening one database.

    SQLite: take the write lock before alembic reads its version table
    (``BEGIN IMMEDIATE``), so a second process waits and then finds the schema
    migrated. PostgreSQL: a transaction-scoped advisory lock per schema.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:a, hashtext(:s))"),
            {"a": _MIGRATION_LOCK, "s": schema or ""},
        )


class Database:
    """A SQLAlchemy engine whose schema is migrated to the latest revision on first use.

    Parameters
    ----------
    url : str
        Any SQLAlchemy URL, e.g. ``sqlite:////path/alphaloop.db`` or
        ``postgresql+psycopg://user@127.0.0.1:5432/db``.
    schema : str, optional
        PostgreSQL schema to use (created if missing); lets several
        workspaces or test runs share one database without meeting.
    read_only : bool, default False
        Open the database for reading only: SQLite through a read-only
        connection, PostgreSQL in read-only transactions; the schema is
        checked, never migrated. A write raises
        :class:`~alphaloop.errors.ReadOnlyWorkspaceError`.
    """

    def __init__(self, url: str, *, schema: str | None = None, read_only: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.read_only = read_only
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._unit = threading.local()  # the session of this thread's atomic() block, if any

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._connect()
            self._migrate()
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    def _connect(self) -> Engine:
        kwargs: dict = {"future": True}
        if self.url.startswith("postgresql"):
            options = [f"-csearch_path={self.schema}"] if self.schema else []
            if self.read_only:
                options.append("-cdefault_transaction_read_only=on")
            if options:
                kwargs["connect_args"] = {"options": " ".join(options)}
        url = _read_only_url(self.url) if self.read_only else self.url
        try:
            engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(
                f"cannot use database URL {self._safe_url()}: {exc}",
                hint="for PostgreSQL install the extra: pip install 'alphaloop[postgres]'",
            ) from exc
        if engine.dialect.name == "sqlite":
            pragmas = _sqlite_read_only_pragmas if self.read_only else _sqlite_pragmas
            event.listen(engine, "connect", pragmas)
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql" and self.schema and not self.read_only:
                    _lock_for_migration(conn, self.schema)
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        except OperationalError as exc:
            raise StoreError(
                f"cannot connect to the database at {self._safe_url()}: "
                f"{str(exc.orig).strip().splitlines()[0]}",
                hint="check ALPHALOOP_DATABASE_URL and that the server is running",
            ) from exc
        return engine

    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        assert self._engine is not None
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        if self.read_only:
            self._check_revision(cfg)
            return
        try:
            with self._engine.connect() as conn:
                _lock_for_migration(conn, self.schema)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the database at {self._safe_url()}: {exc}") from exc

    def _check_revision(self, cfg: object) -> None:
        """Read-only: the schema must already be at the latest revision."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        assert self._engine is not None
        head = ScriptDirectory.from_config(cfg).get_current_head()  # type: ignore[arg-type]
        try:
            with self._engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot read the database at {self._safe_url()}: {_first_line(exc)}"
            ) from exc
        if current != head:
            raise StoreError(
                f"the database at {self._safe_url()} is at schema revision {current}, "
                f"this alphaloop needs {head}, and it is open read-only",
                hint="run a command that records something where the workspace is writable; "
                "it upgrades the schema",
            )

    def _safe_url(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "<invalid URL>"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error.

        On a read-only database a write raises
        :class:`~alphaloop.errors.ReadOnlyWorkspaceError`.
        """
        _ = self.engine
        assert self._sessions is not None
        outer: Session | None = getattr(self._unit, "session", None)
        if outer is not None:  # inside atomic(): a savepoint of the one transaction
            with outer.begin_nested():
                yield outer
            return
        try:
            with self._sessions() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            if self.read_only and _is_read_only_failure(exc):
                raise ReadOnlyWorkspaceError(
                    f"the database at {self._safe_url()} is open read-only, and this needs to "
                    "record something in it (a run, an import, or the seal of a dataset's "
                    f"holdout at its first use): {_first_line(exc)}",
                    hint="run the command where the workspace can be written",
                ) from exc
            raise

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """:meth:`session` for a transaction that reads and then writes.

        On SQLite the transaction takes the write lock at its start
        (``BEGIN IMMEDIATE``): a concurrent writer waits for it (up to the busy
        timeout) instead of failing when it upgrades its read snapshot. On
        PostgreSQL it is an ordinary transaction.
        """
        if getattr(self._unit, "session", None) is not None:  # atomic() holds the lock
            with self.session() as session:
                yield session
            return
        with self.session() as session:
            conn = session.connection()
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    @contextmanager
    def atomic(self) -> Iterator[Session]:
        """One transaction for every session this thread opens inside the block.

        Within it, :meth:`session` and :meth:`write_session` yield the block's
        session in a savepoint (an error inside one rolls back its own writes
        and propagates); everything commits together when the block ends, or
        nothing does (an exception, or the process killed at any instant).
        The write lock is taken at the start (``BEGIN IMMEDIATE`` on SQLite),
        so a block should be short: one bar of a loop, not a whole run.
        Blocks do not nest.
        """
        if getattr(self._unit, "session", None) is not None:
            raise StoreError("Database.atomic() blocks do not nest")
        with self.write_session() as session:
            self._unit.session = session
            try:
                yield session
            finally:
                self._unit.session = None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_read_only_failure(exc: SQLAlchemyError) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(
        marker in text
        for marker in ("readonly", "read-only", "read only", "query_only", "query-only")
    )
