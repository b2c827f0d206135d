"""The bundled embedding model and the embedding cache (the model loads once here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alphaloop.factors.text.embed import EMBEDDING_DIM, Embedder, EmbeddingCache, embed_texts

NEWS = [
    "Acme raises full-year guidance after record quarter",
    "Acme shares plunge as regulator opens probe",
    "Globex names new chief financial officer",
    "Globex beats earnings estimates on strong cloud demand",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_vectors_are_unit_length_float32(embedder: Embedder) -> None:
    v = embedder.encode(NEWS)
    assert v.shape == (len(NEWS), EMBEDDING_DIM)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, EMBEDDING_DIM)


def test_same_texts_give_identical_vectors(embedder: Embedder) -> None:
    np.testing.assert_array_equal(embedder.encode(NEWS), embedder.encode(NEWS))
    alone = embedder.encode(NEWS[:1])
    mixed = embedder.encode([*NEWS[::-1], "a much longer text " * 30])
    # another batch may change the last bits only
    np.testing.assert_allclose(alone[0], mixed[3], atol=1e-6)


def test_similar_news_is_closer(embedder: Embedder) -> None:
    v = embedder.encode(["profits beat expectations", "earnings topped estimates", "it rained"])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_cache_returns_identical_arrays_and_skips_the_model(
    embedder: Embedder, tmp_path: Path
) -> None:
    cache = EmbeddingCache(tmp_path / "emb")
    first = embed_texts([*NEWS, NEWS[0]], embedder, cache)
    np.testing.assert_array_equal(first[0], first[-1])
    assert len(cache) == len(NEWS)

    class NoModel:
        model_id = embedder.model_id

        def encode(self, texts: list[str]) -> np.ndarray:
            raise AssertionError(f"the model was asked for {texts}")

    reopened = EmbeddingCache(tmp_path / "emb")
    again = embed_texts(NEWS, NoModel(), reopened)  # type: ignore[arg-type]
    np.testing.assert_array_equal(again, first[: len(NEWS)])
    # a new text is encoded, the known ones still come from the cache
    more = embed_texts([NEWS[1], "Initech recalls its printers"], embedder, reopened)
    np.testing.assert_array_equal(more[0], first[1])
    assert len(EmbeddingCache(tmp_path / "emb")) == len(NEWS) + 1


def test_cache_keys_include_the_model() -> None:
    assert EmbeddingCache.key("m1", "text") != EmbeddingCache.key("m2", "text")
    assert len(EmbeddingCache.key("m1", "text")) == 64


def test_importing_factors_does_not_import_torch() -> None:
    code = (
        "import sys, alphaloop.factors, alphaloop.factors.text, alphaloop.factors.text.embed; "
        "from alphaloop.factors.text import TextFactorSpec, Embedder; Embedder(); "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    src = str(Path(__file__).resolve().parents[3] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src, "PATH": ""},
    )
    assert out.stdout.split() == ["False", "False"]
