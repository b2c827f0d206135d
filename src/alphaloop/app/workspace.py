"""The Workspace: one explicit object for a root directory, its settings and stores.

Nothing in alphaloop reads global state; two workspaces can live side by side
in one process (tests do exactly that).

>>> from alphaloop.app.workspace import Workspace
>>> ws = Workspace("/tmp/my-research")            # doctest: +SKIP
>>> panel = ws.data.load("sp500-stocks", start="2020-01-01")  # doctest: +SKIP

Opening one to read only, never creating it and tolerating a read-only
directory (what the CLI's reading commands do):

>>> ws = Workspace("/shared/research", create=False, read_only=None)  # doctest: +SKIP
>>> ws.read_only                                   # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from alphaloop.data import DataCatalog, DocumentStore
from alphaloop.errors import ReadOnlyWorkspaceError, WorkspaceError, WorkspaceNotFoundError
from alphaloop.factors.references import reset_references, set_references
from alphaloop.settings import Settings
from alphaloop.store import Database, RunLog, sqlite_path

if TYPE_CHECKING:
    from alphaloop.models import ModelRegistry
    from alphaloop.research.strategy_db import StrategyDB

__all__ = ["Workspace"]


class Workspace:
    """A root directory with a database, a data store and a run log.

    Parameters
    ----------
    root : str or Path, optional
        Root directory. Default: ``settings.home``, which is ``ALPHALOOP_HOME``
        or ``./.alphaloop``.
    create : bool, default True
        Create the directory when it does not exist (``created`` says so).
        False: a missing directory raises
        :class:`~alphaloop.errors.WorkspaceNotFoundError`; for work that
        only reads, where a mistyped path must not become a new, empty
        workspace.
    read_only : bool or None, default False
        False: the workspace must be writable
        (:class:`~alphaloop.errors.ReadOnlyWorkspaceError` otherwise).
        True: open it for reading only: the database read-only, bundled
        datasets not registered, nothing written; a write raises
        ``ReadOnlyWorkspaceError``. None: read-only exactly when the
        directory or its SQLite file cannot be written by this process.
        A read-only workspace is never created.
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
    documents : DocumentStore
        Documents (news, filings, ...) with publication times, for text factors.
    strategies : StrategyDB
        Every strategy tried, its evaluations, the trial counts per dataset,
        research sessions and agent decisions.
    created : bool
        The directory was created by this object.
    read_only : bool
        The workspace is open for reading only.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        create: bool = True,
        read_only: bool | None = False,
        settings: Settings | None = None,
        **overrides: Any,
    ) -> None:
        try:
            base = settings or Settings()
            self.settings = Settings(**{**base.model_dump(), **overrides}) if overrides else base
        except ValidationError as exc:
            first = exc.errors()[0]
            key = str(first["loc"][0]) if first["loc"] else "?"
            raise WorkspaceError(
                f"invalid setting {key!r} (ALPHALOOP_{key.upper()}): {first['msg']}"
            ) from exc
        self.root = Path(root if root is not None else self.settings.home).expanduser().resolve()
        self.created = False
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} exists and is not a directory")
        if not self.root.exists():
            if not create or read_only is True:
                raise WorkspaceNotFoundError(
                    f"no workspace at {self.root}: the directory does not exist",
                    hint="check --workspace (or ALPHALOOP_HOME); "
                    "`alphaloop --workspace DIR init` creates one",
                )
            try:
                self.root.mkdir(parents=True)
                self.created = True
            except FileExistsError:
                pass  # another process created it first: open it as any existing workspace
            except OSError as exc:
                raise WorkspaceError(
                    f"cannot create workspace directory {self.root}: {exc.strerror or exc}"
                ) from exc
            if not self.root.is_dir():
                raise WorkspaceError(f"workspace {self.root} exists and is not a directory")
        writable = self._writable()
        if read_only is False and not writable:
            raise ReadOnlyWorkspaceError(
                f"workspace {self.root} is read-only: this needs to write to it",
                hint="use a writable copy, or commands that only read (data list, runs list, ...)",
            )
        self.read_only = bool(read_only) or not writable
        db_file = sqlite_path(self.database_url)
        if self.read_only and db_file is not None and not db_file.exists():
            raise WorkspaceNotFoundError(
                f"no workspace at {self.root}: it holds no database ({db_file.name}) "
                "and is read-only",
                hint="check --workspace (or ALPHALOOP_HOME)",
            )
        # Factor("library/name") in expressions sees this workspace's libraries while it is open
        self._references = set_references(self.factor_references)

    def factor_references(self) -> dict[str, str]:
        """``library/name`` (and unambiguous ``name``) -> formula over built-in and
        workspace libraries: what ``Factor("...")`` in an expression may name.

        Read when an expression names a library factor, not when the workspace
        opens (building the built-in libraries parses every Alpha158 formula).
        """
        from alphaloop.factors import list_libraries, reference_table

        return reference_table(list_libraries(self.root))

    def _writable(self) -> bool:
        """This process can write the directory and, when it exists, the SQLite file."""
        if not os.access(self.root, os.W_OK):
            return False
        db_file = sqlite_path(self.database_url)
        return db_file is None or not db_file.exists() or os.access(db_file, os.W_OK)

    @property
    def database_url(self) -> str:
        """The database URL in force (default: SQLite file in the workspace)."""
        return self.settings.database_url or f"sqlite:///{self.root / 'alphaloop.db'}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @cached_property
    def db(self) -> Database:
        return Database(
            self.database_url, schema=self.settings.database_schema, read_only=self.read_only
        )

    @cached_property
    def data(self) -> DataCatalog:
        return DataCatalog(
            self.db,
            self.data_dir,
            holdout_fraction=self.settings.holdout_fraction,
            read_only=self.read_only,
        )

    @cached_property
    def documents(self) -> DocumentStore:
        """Documents with their publication times (the text factors' input)."""
        return DocumentStore(self.db)

    @cached_property
    def runs(self) -> RunLog:
        return RunLog(self.db)

    @cached_property
    def strategies(self) -> StrategyDB:
        """The strategy database: strategies, evaluations, trial counts, sessions."""
        from alphaloop.research.strategy_db import StrategyDB

        return StrategyDB(self.db)

    @cached_property
    def models(self) -> ModelRegistry:
        """The model registry: versions, artifacts under ``models/``, lineage, usage."""
        from alphaloop.models import ModelRegistry

        return ModelRegistry(self.db, self.root)

    def close(self) -> None:
        """Release database connections (files stay as they are)."""
        if "db" in self.__dict__:
            self.db.dispose()
        token = self.__dict__.pop("_references", None)
        if token is not None:
            with contextlib.suppress(ValueError):  # opened in another context (thread)
                reset_references(token)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"Workspace({str(self.root)!r}{mode})"
