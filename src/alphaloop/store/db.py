"""Engine, sessions and migrations for one database URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from alphaloop.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


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
            with self._engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
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

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None
