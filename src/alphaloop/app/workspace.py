"""The Workspace: one explicit object for a root directory, its settings and stores.

Nothing in alphaloop reads global state; two workspaces can live side by side
in one process (tests do exactly that).

>>> from alphaloop.app.workspace import Workspace
>>> ws = Workspace("/tmp/my-research")            # doctest: +SKIP
>>> panel = ws.data.load("sp500-stocks", start="2020-01-01")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from alphaloop.data.catalog import DataCatalog
from alphaloop.errors import ConfigError
from alphaloop.settings import Settings
from alphaloop.store import Database
from alphaloop.store.runs import RunLog

if TYPE_CHECKING:
    from alphaloop.models.registry import ModelRegistry

__all__ = ["Workspace"]


class Workspace:
    """A root directory with a database, a data store and a run log.

    Parameters
    ----------
    root : str or Path, optional
        Root directory. Default: ``settings.home``, which is ``ALPHALOOP_HOME``
        or ``./.alphaloop``. Created on first use.
    settings : Settings, optional
        Explicit settings; default read from ``ALPHALOOP_*`` variables.
    **overrides
        Setting values that take precedence (e.g. ``database_url=...``).

    Attributes
    ----------
    data : DataCatalog
        Datasets (bundled and imported).
    runs : RunLog
        Records of work done in this workspace.
    """

    def __init__(
        self, root: str | Path | None = None, *, settings: Settings | None = None, **overrides: Any
    ) -> None:
        try:
            base = settings or Settings()
            self.settings = Settings(**{**base.model_dump(), **overrides}) if overrides else base
        except ValidationError as exc:
            first = exc.errors()[0]
            key = str(first["loc"][0]) if first["loc"] else "?"
            raise ConfigError(
                f"invalid setting {key!r} (ALPHALOOP_{key.upper()}): {first['msg']}"
            ) from exc
        self.root = Path(root if root is not None else self.settings.home).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"workspace {self.root} exists and is not a directory")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create workspace directory {self.root}: {exc}") from exc
        if not os.access(self.root, os.W_OK):
            raise ConfigError(f"workspace directory {self.root} is not writable")

    @property
    def database_url(self) -> str:
        """The database URL in force (default: SQLite file in the workspace)."""
        return self.settings.database_url or f"sqlite:///{self.root / 'alphaloop.db'}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @cached_property
    def db(self) -> Database:
        return Database(self.database_url, schema=self.settings.database_schema)

    @cached_property
    def data(self) -> DataCatalog:
        return DataCatalog(self.db, self.data_dir, holdout_fraction=self.settings.holdout_fraction)

    @cached_property
    def runs(self) -> RunLog:
        return RunLog(self.db)

    @cached_property
    def models(self) -> ModelRegistry:
        """The model registry: versions, artifacts under ``models/``, lineage, usage."""
        from alphaloop.models.registry import ModelRegistry

        return ModelRegistry(self.db, self.root)

    def close(self) -> None:
        """Release database connections (files stay as they are)."""
        if "db" in self.__dict__:
            self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"
