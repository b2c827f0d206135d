"""Point-in-time principal components of document embeddings.

A ``pca`` text factor scores a document by its coordinate on one principal
component of the embeddings. Fitting that component on every document
would let a document be scored with a direction learned from documents
published after it, so the fit follows time:

- **Expanding window.** A fit at time ``tau`` uses the documents available
  strictly before it (``available_at < tau``): their mean and the
  eigenvector of their scatter matrix with the ``component``-th largest
  eigenvalue.
- **Schedule.** The first fit is at ``tau_0``, the first document time with
  at least ``min_documents`` documents available strictly before it; then
  every ``refit`` (``tau_k = tau_0 + k * refit``) while documents remain.
  A fit with no new document since the previous one is skipped (it would be
  the same).
- **Scores.** A document available at ``a`` is scored, once, with the latest
  fit at or before ``a``: ``(embedding - mean) @ direction``. Documents
  before ``tau_0`` score NaN. Later refits never change an earlier score.
- **Signs.** The first direction's largest loading is positive; each refit
  whose direction points against the previous one (negative dot product)
  is flipped, so the factor keeps its meaning across refits.
- **Cap.** With ``fit_end``, no fit uses a document available at or after
  it: a last refit at ``fit_end`` (on everything before it), then the
  direction is frozen.

A score therefore depends only on documents available strictly before its
own availability time: removing later documents changes no earlier score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from alphaloop.errors import DocumentError

__all__ = ["PcaFit", "fit_times", "pca_fits", "point_in_time_pca_scores"]


def fit_times(
    available: np.ndarray, min_documents: int, refit_ns: int, fit_end_ns: int | None = None
) -> np.ndarray:
    """The times of the fits (int64 ns, increasing); empty when no document is ever scored.

    Parameters
    ----------
    available : ndarray of int64, sorted
        Availability times of the documents, ns since epoch (UTC).
    min_documents : int
        Documents needed strictly before the first fit (>= 1).
    refit_ns : int
        Interval between fits, ns (> 0).
    fit_end_ns : int, optional
        No fit after it; a last fit at it when a document is available at or after it.
    """
    n = available.shape[0]
    if n <= min_documents:
        return np.empty(0, dtype=np.int64)
    # first document strictly after the min_documents-th one
    first = int(np.searchsorted(available, available[min_documents - 1], side="right"))
    if first >= n:
        return np.empty(0, dtype=np.int64)
    last = int(available[-1])
    times = np.arange(int(available[first]), last + 1, refit_ns, dtype=np.int64)
    if fit_end_ns is not None:
        times = times[times < fit_end_ns]
        if fit_end_ns <= last:
            times = np.append(times, np.int64(fit_end_ns))
    return times


def _direction(scatter: np.ndarray, component: int) -> np.ndarray:
    """Unit eigenvector of ``scatter`` with the ``component``-th largest eigenvalue."""
    dim = scatter.shape[0]
    _, vectors = scipy.linalg.eigh(
        scatter, subset_by_index=[dim - 1 - component, dim - 1], driver="evx"
    )
    return vectors[:, 0]


@dataclass(frozen=True)
class PcaFit:
    """One fit of a point-in-time component.

    Attributes
    ----------
    time : int
        When it takes over, ns since epoch (UTC); it scores documents available
        from then until the next fit.
    n_documents : int
        Documents it was fitted on (all available strictly before ``time``,
        and before the fit end).
    mean : ndarray, shape (dim,)
        Their mean embedding.
    direction : ndarray, shape (dim,)
        Unit principal direction, sign aligned with the previous fit.
    """

    time: int
    n_documents: int
    mean: np.ndarray
    direction: np.ndarray


def pca_fits(
    embeddings: np.ndarray,
    available: np.ndarray,
    *,
    component: int,
    min_documents: int,
    refit_ns: int,
    fit_end_ns: int | None = None,
) -> list[PcaFit]:
    """The successive fits of a point-in-time component (see the module).

    Parameters
    ----------
    embeddings : ndarray, shape (n_docs, dim)
        Document embeddings, any row order.
    available : ndarray of int64, shape (n_docs,)
        ``published_at + latency`` per document, ns since epoch (UTC).
    component : int
        0-based principal component (0 = most variance); ``component + 2 <= min_documents``.
    min_documents : int
        Documents needed strictly before the first fit.
    refit_ns : int
        Interval between refits, ns.
    fit_end_ns : int, optional
        No fit uses a document available at or after it.

    Returns
    -------
    list of PcaFit
        By time; a scheduled refit without new documents is left out.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    dim = emb.shape[1]
    if component >= dim:
        raise DocumentError(
            f"principal component {component} of {dim}-dimensional embeddings does not exist",
            hint=f"use a component below {dim}",
        )
    avail = np.asarray(available, dtype=np.int64)
    x = emb
    if np.any(avail[1:] < avail[:-1]):  # documents usually come sorted: no copy then
        order = np.argsort(avail, kind="stable")
        avail, x = avail[order], emb[order]
    fits: list[PcaFit] = []
    mean = np.zeros(dim)
    scatter = np.zeros((dim, dim))
    used = 0
    for tau in fit_times(avail, min_documents, refit_ns, fit_end_ns):
        upto = int(np.searchsorted(avail, tau, side="left"))  # fit times never pass fit_end
        if upto < min_documents or upto == used:
            continue
        mean, scatter = _merge(used, mean, scatter, x[used:upto])
        used = upto
        direction = _direction(scatter, component)
        if fits:
            flip = float(direction @ fits[-1].direction) < 0
        else:
            flip = direction[np.argmax(np.abs(direction))] < 0
        fits.append(PcaFit(int(tau), upto, mean, -direction if flip else direction))
    return fits


def point_in_time_pca_scores(
    embeddings: np.ndarray,
    available: np.ndarray,
    *,
    component: int,
    min_documents: int,
    refit_ns: int,
    fit_end_ns: int | None = None,
) -> np.ndarray:
    """Each document's coordinate on a principal component fitted before it.

    Parameters are those of :func:`pca_fits`. A document is scored by the
    latest fit whose ``time`` is at or before its availability.

    Returns
    -------
    ndarray of float64, shape (n_docs,)
        NaN for documents available before the first fit.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    avail = np.asarray(available, dtype=np.int64)
    fits = pca_fits(
        emb,
        avail,
        component=component,
        min_documents=min_documents,
        refit_ns=refit_ns,
        fit_end_ns=fit_end_ns,
    )
    scores = np.full(avail.shape[0], np.nan)
    if not fits:
        return scores
    which = np.searchsorted(np.array([f.time for f in fits]), avail, side="right") - 1
    for i, fit in enumerate(fits):
        rows = np.flatnonzero(which == i)
        # a row-wise sum, not a matrix product: a score does not depend on the batch
        scores[rows] = ((emb[rows] - fit.mean) * fit.direction).sum(axis=1)
    return scores


def _merge(
    n_a: int, mean_a: np.ndarray, scatter_a: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scatter matrix (sum of centred outer products) of the union, by chunks."""
    n_b = rows.shape[0]
    mean_b = rows.mean(axis=0)
    centred = rows - mean_b
    scatter_b = centred.T @ centred
    if n_a == 0:
        return mean_b, scatter_b
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    scatter = scatter_a + scatter_b + np.outer(delta, delta) * (n_a * n_b / n)
    return mean, scatter
