"""Documents of a workspace: import a file (checked against a dataset's assets), list, summarize.

>>> from alphaloop.app import Workspace                     # doctest: +SKIP
>>> from alphaloop.app.documents import import_documents    # doctest: +SKIP
>>> import_documents(Workspace(), "news.csv", dataset="sp500-stocks")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from alphaloop.app.workspace import Workspace
from alphaloop.data import DocumentImport

__all__ = ["dataset_assets", "document_summary", "import_documents", "list_documents"]


def dataset_assets(ws: Workspace, dataset: str) -> tuple[str, ...]:
    """The asset ids of a dataset's current version.

    Raises
    ------
    DatasetNotFoundError
        No dataset of that name.
    """
    return ws.data.info(dataset).asset_ids


def import_documents(
    ws: Workspace,
    path: str | Path,
    *,
    dataset: str | None = None,
    timezone: str | None = None,
    skip_unknown: bool = False,
    source: str | None = None,
    kind: str | None = None,
) -> DocumentImport:
    """Check a document file and store its documents in the workspace (all or nothing).

    Parameters
    ----------
    ws : Workspace
    path : str or Path
        CSV, JSON Lines or Parquet file with ``asset``, ``published_at``,
        ``text`` and optionally ``source`` and ``kind`` columns.
    dataset : str, optional
        Check the assets against this dataset's (unknown ones are an error,
        or skipped with ``skip_unknown``); default: any asset.
    timezone : str, optional
        Zone of times written without a UTC offset (refused without it).
    skip_unknown : bool, default False
    source, kind : str, optional
        For rows whose file says none.

    Raises
    ------
    DocumentError
        The file breaks a quality rule (see :mod:`alphaloop.data.documents`).
    DatasetNotFoundError
        ``dataset`` is not in the workspace.
    """
    assets = dataset_assets(ws, dataset) if dataset is not None else None
    return ws.documents.import_file(
        path,
        assets=assets,
        timezone=timezone,
        skip_unknown=skip_unknown,
        source=source,
        kind=kind,
        assets_name=f"dataset {dataset!r}",
    )


def list_documents(
    ws: Workspace,
    *,
    assets: list[str] | None = None,
    sources: list[str] | None = None,
    kinds: list[str] | None = None,
    start: Any = None,
    end: Any = None,
    limit: int | None = 20,
) -> pd.DataFrame:
    """The most recently published documents (at most ``limit``; None: all), newest first.

    Columns as :meth:`~alphaloop.data.DocumentStore.load`.
    """
    frame = ws.documents.load(
        assets=assets, sources=sources, kinds=kinds, start=start, end=end, limit=limit
    )
    return frame.iloc[::-1].reset_index(drop=True)


def document_summary(ws: Workspace) -> dict[str, Any]:
    """Counts of the workspace's documents (see :meth:`~alphaloop.data.DocumentStore.summary`)."""
    return ws.documents.summary()
