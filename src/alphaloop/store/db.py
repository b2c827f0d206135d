"""Engine, sessions and migrations for one database URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from alphaloop.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


#: key of the PostgreSQL advisory lock held while a schema is created or migrated
_MIGRATION_LOCK = 0x616C7068  # "alph"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_connection.cursor()
    # the busy timeout first: switching a new file to WAL waits for a lock that a
    # process opening the same workspace at the same moment may hold
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


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
    """

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._connect()
            self._migrate()
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    def _connect(self) -> Engine:
        kwargs: dict = {"future": True}
        if self.url.startswith("postgresql") and self.schema:
            kwargs["connect_args"] = {"options": f"-csearch_path={self.schema}"}
        try:
            engine = create_engine(self.url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(
                f"cannot use database URL {self._safe_url()}: {exc}",
                hint="for PostgreSQL install the extra: pip install 'alphaloop[postgres]'",
            ) from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql" and self.schema:
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
        try:
            with self._engine.connect() as conn:
                _lock_for_migration(conn, self.schema)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the database at {self._safe_url()}: {exc}") from exc

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "<invalid URL>"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        _ = self.engine
        assert self._sessions is not None
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """:meth:`session` for a transaction that reads and then writes.

        On SQLite the transaction takes the write lock at its start
        (``BEGIN IMMEDIATE``): a concurrent writer waits for it (up to the busy
        timeout) instead of failing when it upgrades its read snapshot. On
        PostgreSQL it is an ordinary transaction.
        """
        with self.session() as session:
            conn = session.connection()
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None
