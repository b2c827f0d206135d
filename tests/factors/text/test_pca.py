"""Point-in-time principal components: schedule, expanding fits, signs, truncation."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pytest

from alphaloop.errors import DocumentError
from alphaloop.factors.text.pca import fit_times, pca_fits, point_in_time_pca_scores

DAY = 86_400 * 10**9
DIM = 4


def corpus(seed: int, n: int, scale: tuple[float, ...] = (1.0, 0.1, 3.0, 0.05)) -> tuple:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, DIM)) * np.array(scale) + 0.5
    avail = np.sort(rng.integers(0, 40 * DAY, n)).astype(np.int64)
    perm = rng.permutation(n)  # the functions accept any row order
    return emb[perm], avail[perm]


def test_fit_times_by_hand() -> None:
    avail = np.array([0, 1, 2, 3, 10, 11, 30], dtype=np.int64)
    # the 3rd document is at 2; the first after it, at 3, is the first fit; then every 5
    np.testing.assert_array_equal(fit_times(avail, 3, 5), [3, 8, 13, 18, 23, 28])
    np.testing.assert_array_equal(fit_times(avail, 3, 5, fit_end_ns=12), [3, 8, 12])
    np.testing.assert_array_equal(fit_times(avail, 3, 5, fit_end_ns=40), [3, 8, 13, 18, 23, 28])
    # ties: two documents needed, the 2nd is at 1 (with two more); the first fit is at 2
    ties = np.array([0, 1, 1, 1, 2], dtype=np.int64)
    np.testing.assert_array_equal(fit_times(ties, 2, 5), [2])
    assert fit_times(ties[:4], 2, 5).size == 0  # no document after the 2nd's time
    assert fit_times(avail, 7, 5).size == 0


def test_each_fit_is_the_pca_of_the_documents_before_it() -> None:
    emb, avail = corpus(0, 300)
    fits = pca_fits(emb, avail, component=1, min_documents=20, refit_ns=3 * DAY)
    assert len(fits) > 5
    for fit in fits:
        before = avail < fit.time
        assert fit.n_documents == before.sum() >= 20
        np.testing.assert_allclose(fit.mean, emb[before].mean(axis=0), rtol=1e-10)
        reference = np.linalg.eigh(np.cov(emb[before].T))[1][:, -2]
        assert abs(float(reference @ fit.direction)) == pytest.approx(1.0, abs=1e-9)
    # each document is scored by the latest fit at or before its availability
    scores = point_in_time_pca_scores(emb, avail, component=1, min_documents=20, refit_ns=3 * DAY)
    times = np.array([f.time for f in fits])
    for i in np.random.default_rng(1).choice(len(emb), 40, replace=False):
        k = np.searchsorted(times, avail[i], side="right") - 1
        if k < 0:
            assert np.isnan(scores[i])
        else:
            fit = fits[k]
            assert scores[i] == pytest.approx(float((emb[i] - fit.mean) @ fit.direction))


def test_scores_are_nan_before_min_documents() -> None:
    emb, avail = corpus(2, 100)
    scores = point_in_time_pca_scores(emb, avail, component=0, min_documents=40, refit_ns=DAY)
    ranked = np.sort(avail)
    assert np.isnan(scores[avail <= ranked[39]]).all()
    assert np.isfinite(scores[avail > ranked[39]]).all()
    none = point_in_time_pca_scores(emb, avail, component=0, min_documents=100, refit_ns=DAY)
    assert np.isnan(none).all()


def test_signs_stay_consistent_across_refits() -> None:
    # the dominant axis turns from e0 to u = (0.6, -0.8): the first fit's rule (largest
    # loading positive) would give -u at the end; alignment with the previous fit gives +u
    rng = np.random.default_rng(3)
    early = rng.standard_normal((200, DIM)) * np.array([1.0, 0.1, 0.1, 0.1])
    u = np.array([0.6, -0.8, 0.0, 0.0])
    late = rng.standard_normal((2000, 1)) * 4.0 * u + rng.standard_normal((2000, DIM)) * 0.1
    emb = np.vstack([early, late])
    avail = np.concatenate(
        [np.sort(rng.integers(0, 10 * DAY, 200)), np.sort(rng.integers(10 * DAY, 90 * DAY, 2000))]
    ).astype(np.int64)
    fits = pca_fits(emb, avail, component=0, min_documents=50, refit_ns=DAY)
    assert len(fits) > 50
    assert fits[0].direction @ np.array([1.0, 0, 0, 0]) > 0.99
    assert all(float(a.direction @ b.direction) > 0 for a, b in pairwise(fits))
    assert fits[-1].direction @ u > 0.99


def leaky_scores(emb: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """A planted peek: one fit on every document (what a truncation test must catch)."""
    mean = emb.mean(axis=0)
    direction = np.linalg.eigh(np.cov(emb.T))[1][:, -1]
    return (emb - mean) @ direction


def past_scores_survive_truncation(
    score: Callable[[np.ndarray, np.ndarray], np.ndarray], emb: np.ndarray, avail: np.ndarray
) -> bool:
    full = score(emb, avail)
    for end in np.quantile(avail, [0.3, 0.5, 0.7]).astype(np.int64):
        kept = avail <= end
        if not np.array_equal(full[kept], score(emb[kept], avail[kept]), equal_nan=True):
            return False
    return True


def test_scores_before_t_ignore_documents_after_t_and_a_peek_is_caught() -> None:
    emb, avail = corpus(4, 400)
    emb[avail > np.median(avail), 1] *= 60.0  # later documents turn the component

    def pit(e: np.ndarray, a: np.ndarray) -> np.ndarray:
        return point_in_time_pca_scores(e, a, component=0, min_documents=30, refit_ns=2 * DAY)

    assert past_scores_survive_truncation(pit, emb, avail)
    assert not past_scores_survive_truncation(leaky_scores, emb, avail)


def test_scores_are_deterministic() -> None:
    emb, avail = corpus(5, 300)
    a = point_in_time_pca_scores(emb, avail, component=2, min_documents=10, refit_ns=DAY)
    b = point_in_time_pca_scores(
        emb.copy(), avail.copy(), component=2, min_documents=10, refit_ns=DAY
    )
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).sum() > 250


def test_a_component_beyond_the_dimension_is_refused() -> None:
    emb, avail = corpus(6, 50)
    with pytest.raises(DocumentError, match="component 4 of 4-dimensional"):
        pca_fits(emb, avail, component=4, min_documents=10, refit_ns=DAY)
