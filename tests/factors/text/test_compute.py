"""Point-in-time aggregation of document scores, on hand-made embeddings (no model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.errors import DocumentError
from alphaloop.factors.text.compute import (
    _aggregate,
    _aggregate_py,
    document_scores,
    text_factor_values,
)
from alphaloop.factors.text.spec import TextFactorSpec

DIM = 4
BARS = pd.date_range("2024-01-01", periods=10, freq="D", tz="UTC")
ASSETS = ("AAA", "BBB")
UP = np.array([1.0, 0.0, 0.0, 0.0])
DOWN = np.array([0.0, 1.0, 0.0, 0.0])
PHRASES = {"up": UP, "down": DOWN}


def similarity(**kw: object) -> TextFactorSpec:
    fields: dict[str, object] = {"name": "up", "kind": "similarity", "references": ["up"]}
    fields.update(kw)
    return TextFactorSpec(**fields)


def docs_frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset": [a for a, _ in rows],
            "published_at": pd.to_datetime([t for _, t in rows], utc=True),
            "source": "wire",
            "kind": "news",
        }
    )


def values(spec: TextFactorSpec, docs: pd.DataFrame, emb: np.ndarray, **kw: object) -> np.ndarray:
    return text_factor_values(spec, docs, emb, BARS, ASSETS, phrases=PHRASES, **kw)


def test_document_counts_from_publication_plus_latency_on() -> None:
    spec = similarity(latency="15min", half_life=None, max_age=None)
    # published 2024-01-03 23:50: available 00:05 on the 4th, so first counted at the 5th's bar
    docs = docs_frame([("AAA", "2024-01-03 23:50")])
    out = values(spec, docs, UP[None, :])
    first = int(np.flatnonzero(~np.isnan(out[:, 0]))[0])
    assert BARS[first] == pd.Timestamp("2024-01-05", tz="UTC")
    assert np.isnan(out[:first]).all()
    assert np.isnan(out[:, 1]).all()  # another asset is untouched


def test_document_available_exactly_at_a_bar_counts_at_that_bar() -> None:
    spec = similarity(latency="15min", half_life=None, max_age=None)
    docs = docs_frame([("AAA", "2024-01-03 23:45")])  # + 15min = 2024-01-04 00:00
    out = values(spec, docs, UP[None, :])
    assert np.isnan(out[:3, 0]).all()
    assert out[3, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("latency", ["0min", "1min", "6h", "1D", "36h"])
def test_no_bar_before_publication_plus_latency_sees_a_document(latency: str) -> None:
    spec = similarity(latency=latency, half_life="2D", max_age=None)
    base = docs_frame([("AAA", "2024-01-02 09:00")])
    late = docs_frame([("AAA", "2024-01-02 09:00"), ("AAA", "2024-01-05 12:00")])
    emb_late = np.stack([DOWN, UP])
    a = values(spec, base, DOWN[None, :])
    b = values(spec, late, emb_late)
    available = pd.Timestamp("2024-01-05 12:00", tz="UTC") + pd.Timedelta(latency)
    before = available > BARS
    np.testing.assert_array_equal(a[before], b[before])
    first_after = int(np.argmax(~before))
    assert a[first_after, 0] != b[first_after, 0]


def test_decay_weights_by_age() -> None:
    spec = similarity(latency="0min", half_life="1D", max_age=None)
    docs = docs_frame([("AAA", "2024-01-02"), ("AAA", "2024-01-04")])
    emb = np.stack([UP, DOWN])  # scores 1 and 0
    out = values(spec, docs, emb)
    # at 2024-01-06: ages 4 and 2 days, weights 1/16 and 1/4
    w_old, w_new = 0.5**4, 0.5**2
    assert out[5, 0] == pytest.approx(w_old / (w_old + w_new))
    assert out[1, 0] == pytest.approx(1.0)  # only the first document yet
    assert out[3, 0] == pytest.approx(0.25 / 1.25)  # ages 2 and 0


def test_max_age_drops_old_documents() -> None:
    spec = similarity(latency="0min", half_life=None, max_age="3D")
    docs = docs_frame([("AAA", "2024-01-02")])
    out = values(spec, docs, UP[None, :])
    # counted at ages 0..3 days (2024-01-02 .. 2024-01-05), gone after
    assert np.isnan(out[0, 0])
    assert (out[1:5, 0] == 1.0).all()
    assert np.isnan(out[5:, 0]).all()


def test_sentiment_is_positive_minus_negative_similarity() -> None:
    spec = TextFactorSpec(
        name="tone",
        kind="sentiment",
        positive=["up"],
        negative=["down"],
        latency="0min",
        half_life=None,
        max_age=None,
    )
    emb = np.array([[0.6, 0.8, 0.0, 0.0]])
    scores = document_scores(spec, emb, np.array([0]), fit_end=BARS[-1], phrases=PHRASES)
    assert scores[0] == pytest.approx(0.6 - 0.8)


def test_similarity_averages_over_references() -> None:
    spec = similarity(references=["up", "down"])
    emb = np.array([[0.6, 0.8, 0.0, 0.0]])
    scores = document_scores(spec, emb, np.array([0]), fit_end=BARS[-1], phrases=PHRASES)
    assert scores[0] == pytest.approx((0.6 + 0.8) / 2)


def test_missing_phrase_embedding_is_refused() -> None:
    with pytest.raises(DocumentError, match="no embedding given"):
        document_scores(
            similarity(references=["sideways"]),
            UP[None, :],
            np.array([0]),
            fit_end=BARS[-1],
            phrases=PHRASES,
        )


def pca_corpus(seed: int, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    # most variance along axis 2, then axis 0
    emb = rng.standard_normal((n, DIM)) * np.array([1.0, 0.1, 3.0, 0.05])
    times = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, 9, n)), unit="D"
    )
    docs = pd.DataFrame(
        {"asset": rng.choice(ASSETS, n), "published_at": times, "source": "wire", "kind": "news"}
    )
    return docs, emb


def test_pca_scores_project_on_the_leading_component() -> None:
    docs, emb = pca_corpus(0, 400)
    spec0 = TextFactorSpec(name="pc", kind="pca", component=0)
    spec1 = TextFactorSpec(name="pc", kind="pca", component=1)
    fit_end = pd.Timestamp("2024-02-01", tz="UTC")
    avail = np.zeros(len(docs), dtype=np.int64)
    s0 = document_scores(spec0, emb, avail, fit_end=fit_end)
    s1 = document_scores(spec1, emb, avail, fit_end=fit_end)
    centred = emb - emb.mean(axis=0)
    # the leading component is (almost) axis 2, the second axis 0; signs: largest loading > 0
    assert np.corrcoef(s0, centred[:, 2])[0, 1] > 0.99
    assert np.corrcoef(s1, centred[:, 0])[0, 1] > 0.99
    assert s0.var() > s1.var()


def test_pca_fitted_only_on_documents_before_fit_end() -> None:
    docs, emb = pca_corpus(1, 300)
    spec = TextFactorSpec(name="pc", kind="pca", latency="0min", half_life="2D", max_age=None)
    fit_end = pd.Timestamp("2024-01-06", tz="UTC")
    base = values(spec, docs, emb, fit_end=fit_end)
    # documents published after fit_end, with a huge variance along another axis
    rng = np.random.default_rng(2)
    extra_emb = rng.standard_normal((200, DIM)) * np.array([0.0, 50.0, 0.0, 0.0])
    extra = pd.DataFrame(
        {
            "asset": rng.choice(ASSETS, 200),
            "published_at": fit_end + pd.to_timedelta(rng.uniform(0, 3, 200), unit="D"),
            "source": "wire",
            "kind": "news",
        }
    )
    more = values(
        spec,
        pd.concat([docs, extra], ignore_index=True),
        np.vstack([emb, extra_emb]),
        fit_end=fit_end,
    )
    before = fit_end >= BARS
    np.testing.assert_array_equal(base[before], more[before])
    # fitted on everything instead, the component changes (the test can see a leak)
    leaky = values(
        spec,
        pd.concat([docs, extra], ignore_index=True),
        np.vstack([emb, extra_emb]),
        fit_end=BARS[-1] + pd.Timedelta("1D"),
    )
    assert not np.allclose(base[before], leaky[before], equal_nan=True)


def test_pca_needs_enough_documents_before_fit_end() -> None:
    docs, emb = pca_corpus(3, 50)
    spec = TextFactorSpec(name="pc", kind="pca", component=3)
    with pytest.raises(DocumentError, match="component 3 needs at least 5"):
        values(spec, docs, emb, fit_end=pd.Timestamp("2024-01-01 06:00", tz="UTC"))


def test_filters_on_sources_kinds_and_assets() -> None:
    docs = docs_frame([("AAA", "2024-01-02"), ("AAA", "2024-01-02"), ("ZZZ", "2024-01-02")])
    docs["source"] = ["wire", "blog", "wire"]
    emb = np.stack([UP, DOWN, DOWN])
    out = values(similarity(sources=["wire"], half_life=None), docs, emb)
    assert out[2, 0] == pytest.approx(1.0)
    out = values(similarity(kinds=["filing"], half_life=None), docs, emb)
    assert np.isnan(out).all()


def test_no_documents_gives_nan() -> None:
    out = values(similarity(), docs_frame([]), np.zeros((0, DIM)))
    assert out.shape == (len(BARS), len(ASSETS))
    assert np.isnan(out).all()


def test_kernel_matches_its_python_twin() -> None:
    rng = np.random.default_rng(5)
    n_assets, per = 3, 40
    starts = np.arange(0, n_assets * per + 1, per, dtype=np.int64)
    bars = np.sort(rng.integers(0, 10_000, 60)).astype(np.int64)
    avail = np.concatenate([np.sort(rng.integers(0, 10_000, per)) for _ in range(n_assets)]).astype(
        np.int64
    )
    scores = rng.standard_normal(n_assets * per)
    for half_life, max_age in ((700.0, 2_000), (0.0, -1), (300.0, -1)):
        a = np.full((bars.size, n_assets), np.nan)
        b = np.full((bars.size, n_assets), np.nan)
        _aggregate(starts, avail, scores, bars, half_life, max_age, a)
        _aggregate_py(starts, avail, scores, bars, half_life, max_age, b)
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
        assert np.isfinite(a).any()


def test_values_are_deterministic_and_independent_of_row_order() -> None:
    docs, emb = pca_corpus(4, 120)
    spec = similarity(references=["up", "down"])
    a = values(spec, docs, emb)
    perm = np.random.default_rng(6).permutation(len(docs))
    b = values(spec, docs.iloc[perm].reset_index(drop=True), emb[perm])
    np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(a, values(spec, docs, emb))
