"""Text-embedding factors: documents scored with a bundled sentence-embedding model,
aggregated point in time per asset and bar.

Public names load on first use (:func:`alphaloop.faces.load_public`); importing
this package imports neither torch nor sentence-transformers (the model loads
on the first :meth:`Embedder.encode`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.factors.text.compute import (
        available_times,
        document_scores,
        text_factor_values,
    )
    from alphaloop.factors.text.embed import (
        EMBEDDING_DIM,
        Embedder,
        EmbeddingCache,
        embed_texts,
    )
    from alphaloop.factors.text.spec import (
        DEFAULT_NEGATIVE,
        DEFAULT_POSITIVE,
        TEXT_FACTOR_KINDS,
        TextFactorSpec,
        parse_duration,
    )

_HOME: dict[str, str] = {
    "available_times": "alphaloop.factors.text.compute",
    "document_scores": "alphaloop.factors.text.compute",
    "text_factor_values": "alphaloop.factors.text.compute",
    "EMBEDDING_DIM": "alphaloop.factors.text.embed",
    "EmbeddingCache": "alphaloop.factors.text.embed",
    "Embedder": "alphaloop.factors.text.embed",
    "embed_texts": "alphaloop.factors.text.embed",
    "DEFAULT_NEGATIVE": "alphaloop.factors.text.spec",
    "DEFAULT_POSITIVE": "alphaloop.factors.text.spec",
    "TEXT_FACTOR_KINDS": "alphaloop.factors.text.spec",
    "TextFactorSpec": "alphaloop.factors.text.spec",
    "parse_duration": "alphaloop.factors.text.spec",
}
"""Public name -> the module of this package that defines it."""

__all__ = [
    "DEFAULT_NEGATIVE",
    "DEFAULT_POSITIVE",
    "EMBEDDING_DIM",
    "TEXT_FACTOR_KINDS",
    "Embedder",
    "EmbeddingCache",
    "TextFactorSpec",
    "available_times",
    "document_scores",
    "embed_texts",
    "parse_duration",
    "text_factor_values",
]


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
