"""Text factor values: document scores aggregated per asset and bar, point in time.

Conventions
-----------
- A document is *available* from ``published_at + latency``. It counts at bar
  ``t`` only when ``available_at <= bar_times[t]``; daily bars are stamped at
  00:00 UTC of their date and known at their close, so the rule is
  conservative there (a document published during a day counts from the
  next day's bar).
- Its age at bar ``t`` is ``bar_times[t] - available_at``; its weight is
  ``0.5 ** (age / half_life)`` (1 without a half-life); a document with
  ``age > max_age`` drops out.
- The value is the weighted mean of the scores of the documents that count,
  NaN where none does.
- A ``pca`` factor's components are fitted on the documents available
  strictly before ``fit_end`` (the end of the search span), never later ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from alphaloop.errors import DocumentError
from alphaloop.factors.text.spec import TextFactorSpec

__all__ = ["available_times", "document_scores", "text_factor_values"]


def available_times(spec: TextFactorSpec, published_at: Any) -> np.ndarray:
    """When each document becomes usable: ``published_at + latency``, int64 ns since epoch (UTC)."""
    times = pd.DatetimeIndex(pd.to_datetime(published_at, utc=True)).as_unit("ns")
    return times.asi8 + int(spec.latency_delta.value)


def _phrase_matrix(
    phrases: Sequence[str], vectors: Mapping[str, np.ndarray] | None, name: str
) -> np.ndarray:
    if vectors is None:
        raise DocumentError(f"text factor {name!r} needs the embeddings of its phrases")
    missing = [p for p in phrases if p not in vectors]
    if missing:
        raise DocumentError(
            f"text factor {name!r}: no embedding given for the phrase(s) {missing[:3]}"
        )
    return np.stack([np.asarray(vectors[p], dtype=np.float64) for p in phrases])


def _pca_direction(
    spec: TextFactorSpec, fit: np.ndarray, n_fit: int, fit_end: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unit direction of component ``spec.component`` of the rows ``fit``."""
    need = spec.component + 2
    if n_fit < need:
        raise DocumentError(
            f"pca text factor {spec.name!r} has {n_fit} document(s) available before "
            f"{fit_end.isoformat()}; component {spec.component} needs at least {need}",
            hint="import more documents, or fit on a longer span",
        )
    mean = fit.mean(axis=0)
    centred = fit - mean
    cov = centred.T @ centred / max(n_fit - 1, 1)
    eigvals, eigvecs = np.linalg.eigh(cov)
    direction = eigvecs[:, np.argsort(eigvals)[::-1][spec.component]]
    # sign convention: the largest loading is positive, so a refit on the same data agrees
    if direction[np.argmax(np.abs(direction))] < 0:
        direction = -direction
    return mean, direction


def document_scores(
    spec: TextFactorSpec,
    embeddings: np.ndarray,
    available_at: np.ndarray,
    *,
    fit_end: pd.Timestamp,
    phrases: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """One score per document (float64), by the factor's ``kind``.

    Parameters
    ----------
    embeddings : ndarray, shape (n_docs, dim)
        Unit-length document embeddings.
    available_at : ndarray of int64
        ``published_at + latency`` per document, ns since epoch (UTC).
    fit_end : Timestamp
        A ``pca`` factor is fitted on the documents with ``available_at < fit_end``.
    phrases : mapping of str to ndarray
        Embeddings of the factor's phrases (similarity and sentiment).
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if spec.kind == "similarity":
        return emb @ _phrase_matrix(spec.references, phrases, spec.name).mean(axis=0)
    if spec.kind == "sentiment":
        pos = _phrase_matrix(spec.positive_phrases, phrases, spec.name).mean(axis=0)
        neg = _phrase_matrix(spec.negative_phrases, phrases, spec.name).mean(axis=0)
        return emb @ pos - emb @ neg
    before = np.asarray(available_at) < fit_end.value
    mean, direction = _pca_direction(spec, emb[before], int(before.sum()), fit_end)
    return (emb - mean) @ direction


def _aggregate_py(
    starts: np.ndarray,
    available: np.ndarray,
    scores: np.ndarray,
    bars: np.ndarray,
    half_life_ns: float,
    max_age_ns: int,
    out: np.ndarray,
) -> None:
    """Decay-weighted mean per (bar, asset) into ``out`` (filled with NaN by the caller).

    Documents of asset ``j`` are ``starts[j]:starts[j+1]``, sorted by
    ``available``. ``half_life_ns <= 0``: equal weights; ``max_age_ns < 0``: no age limit.
    """
    n_assets = starts.shape[0] - 1
    for j in range(n_assets):
        lo = starts[j]
        hi = starts[j]
        end = starts[j + 1]
        for t in range(bars.shape[0]):
            now = bars[t]
            while hi < end and available[hi] <= now:
                hi += 1
            if max_age_ns >= 0:
                while lo < hi and now - available[lo] > max_age_ns:
                    lo += 1
            total = 0.0
            weights = 0.0
            for k in range(lo, hi):
                w = 1.0
                if half_life_ns > 0:
                    w = 0.5 ** ((now - available[k]) / half_life_ns)
                total += w * scores[k]
                weights += w
            if weights > 0:
                out[t, j] = total / weights


_aggregate = njit(cache=True)(_aggregate_py)


def text_factor_values(
    spec: TextFactorSpec,
    docs: pd.DataFrame,
    embeddings: np.ndarray,
    bar_times: Any,
    assets: Sequence[str],
    *,
    fit_end: Any = None,
    phrases: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The factor's values on a calendar of bars: float64 ``(len(bar_times), len(assets))``.

    Parameters
    ----------
    spec : TextFactorSpec
    docs : DataFrame
        Columns ``asset``, ``published_at`` (tz-aware), and ``source``/``kind``
        when the spec filters on them; one row per document.
    embeddings : ndarray, shape (len(docs), dim)
        Row ``i`` embeds ``docs.iloc[i]``.
    bar_times : array-like of datetime
        The bars' timestamps (tz-aware, increasing).
    assets : sequence of str
        Column order; documents about other assets are ignored.
    fit_end : datetime, optional
        Fit end of a ``pca`` factor (see :func:`document_scores`); default the
        last bar, so the fit sees the documents of the whole calendar. Pass the
        end of the search span to keep later documents out of the fit.
    phrases : mapping of str to ndarray
        Embeddings of the spec's phrases (similarity and sentiment factors).

    Returns
    -------
    ndarray
        NaN where no document counts (see the module's conventions).
    """
    bars = pd.DatetimeIndex(pd.to_datetime(bar_times, utc=True)).as_unit("ns")
    asset_list = [str(a) for a in assets]
    out = np.full((len(bars), len(asset_list)), np.nan)
    if len(embeddings) != len(docs):
        raise DocumentError(
            f"text factor {spec.name!r}: {len(embeddings)} embeddings for {len(docs)} documents"
        )
    if len(bars) == 0 or len(docs) == 0:
        return out
    pos = {a: j for j, a in enumerate(asset_list)}
    codes = docs["asset"].astype(str).map(pos).to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(codes)
    if spec.sources:
        keep &= docs["source"].isin(spec.sources).to_numpy()
    if spec.kinds:
        keep &= docs["kind"].isin(spec.kinds).to_numpy()
    if not keep.any():
        return out
    available = available_times(spec, docs["published_at"])[keep]
    end = bars[-1] if fit_end is None else pd.Timestamp(fit_end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    scores = document_scores(
        spec, np.asarray(embeddings)[keep], available, fit_end=end, phrases=phrases
    )
    code = codes[keep].astype(np.int64)
    order = np.lexsort((available, code))
    counts = np.bincount(code, minlength=len(asset_list))
    starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    half_life = spec.half_life_delta
    max_age = spec.max_age_delta
    _aggregate(
        starts,
        np.ascontiguousarray(available[order], dtype=np.int64),
        np.ascontiguousarray(scores[order], dtype=np.float64),
        np.ascontiguousarray(bars.asi8, dtype=np.int64),
        float(half_life.value) if half_life is not None else 0.0,
        int(max_age.value) if max_age is not None else -1,
        out,
    )
    return out
