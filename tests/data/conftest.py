"""Fixtures for reading real-world files: a small workspace without the bundled datasets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alphaloop.app import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One SQLite workspace per module; the bundled datasets are not registered (not needed)."""
    workspace = Workspace(tmp_path_factory.mktemp("ws") / "ws")
    workspace.data._bundled_ready = True
    yield workspace
    workspace.close()
