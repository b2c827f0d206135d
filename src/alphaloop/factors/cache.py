"""An optional on-disk cache of evaluated factors.

The key is a SHA-256 of the expression's canonical form, the evaluation
mode, the dataset version's content hash, the span asked for, and the
alphaloop version, so a changed dataset, formula, mode or release never
returns stale values. Files are ``.npy`` arrays under ``<root>/<key[:2]>/``,
written atomically.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from alphaloop import __version__
from alphaloop.files import create_temp_file

__all__ = ["FactorCache"]


class FactorCache:
    """Factor arrays on disk, keyed by what determines their values."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(canonical: str, mode: str, content_hash: str, span: str) -> str:
        text = "\x1f".join([__version__, canonical, mode, content_hash, span])
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            return np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            return None

    def put(self, key: str, values: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_temp_file(path, ".npy.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, values, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def clear(self) -> int:
        """Delete every cached array; returns how many there were."""
        n = 0
        for p in self.root.glob("*/*.npy"):
            p.unlink(missing_ok=True)
            n += 1
        return n
