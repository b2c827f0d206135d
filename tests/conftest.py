"""Shared fixtures: workspaces on SQLite and on the real PostgreSQL server.

The PostgreSQL variant runs against ``ALPHALOOP_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), each test in a schema
of its own that is dropped afterwards. Where no server answers, those tests
are skipped with the reason; they are never silently dropped.

Tests read whole datasets (round trips, parity with peers), so the sealed
holdout is off by default here (``ALPHALOOP_HOLDOUT_FRACTION=0``, inherited
by CLI subprocesses); tests of the holdout and of the demo turn it back on
with the product's default.

Property tests run derandomized (hypothesis profile ``ci``: the same examples
on every run, no deadline, a reproduction blob on failure), so ``make test``
is deterministic. ``HYPOTHESIS_PROFILE=dev`` explores fresh random examples.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from alphaloop.app import Workspace

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("ALPHALOOP_HOLDOUT_FRACTION", "0")

POSTGRES_URL = os.environ.get(
    "ALPHALOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_unavailable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'alphaloop[postgres]')"
    dsn = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL server answers at {POSTGRES_URL}: {str(exc).strip()[:120]}"
    return None


_PG_REASON = _postgres_unavailable()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Settings overrides for a fresh database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield {}
        return
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield {"database_url": POSTGRES_URL, "database_schema": schema}
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture
def workspace(tmp_path: Path, db_settings: dict[str, str]) -> Iterator[Workspace]:
    """A fresh workspace on each database backend."""
    ws = Workspace(tmp_path / "ws", **db_settings)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One SQLite workspace with the bundled data registered, for read-only tests."""
    ws = Workspace(tmp_path_factory.mktemp("shared") / "ws")
    ws.data.ensure_bundled()
    yield ws
    ws.close()


def write_csv(path: Path, text: str) -> Path:
    """Write ``text`` (dedented lines) as a CSV file and return its path."""
    lines = [line.strip() for line in text.strip().splitlines()]
    path.write_text("\n".join(lines) + "\n")
    return path
