"""Settings read from the environment (prefix ``ALPHALOOP_``) or given explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Workspace settings.

    Attributes
    ----------
    home : Path
        Workspace root (``ALPHALOOP_HOME``); default ``./.alphaloop``.
    database_url : str or None
        Any SQLAlchemy URL (``ALPHALOOP_DATABASE_URL``); default a SQLite
        file ``alphaloop.db`` in the workspace.
    database_schema : str or None
        PostgreSQL schema (``ALPHALOOP_DATABASE_SCHEMA``); default the
        server's search path.
    """

    model_config = SettingsConfigDict(env_prefix="ALPHALOOP_", extra="forbid")

    home: Path = Field(default=Path(".alphaloop"))
    database_url: str | None = None
    database_schema: str | None = None
