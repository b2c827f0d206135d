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
    holdout_fraction : float
        Share of each dataset's final bars sealed as a holdout at its first
        use (``ALPHALOOP_HOLDOUT_FRACTION``); default 0.2. 0 disables the
        holdout (reports then say so).
    ray_address : str or None
        Address of a Ray cluster for ``--executor ray`` (``ALPHALOOP_RAY_ADDRESS``,
        e.g. ``ray://head:10001``); default a local Ray instance started for the run.
    base_currency : str
        The account's currency (``ALPHALOOP_BASE_CURRENCY``); default ``USD``.
        Instruments quoted in another currency are converted to it in
        backtests (see :mod:`alphaloop.data.fx`).
    """

    model_config = SettingsConfigDict(env_prefix="ALPHALOOP_", extra="forbid")

    home: Path = Field(default=Path(".alphaloop"))
    database_url: str | None = None
    database_schema: str | None = None
    holdout_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    ray_address: str | None = None
    base_currency: str = Field(default="USD", min_length=2, max_length=12)
