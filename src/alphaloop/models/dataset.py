"""Learning datasets: factor features and forward-return labels on a panel's grid.

:func:`build_dataset` evaluates factor expressions (or a named library such
as ``alpha158`` / ``alpha158-close``) on a :class:`~alphaloop.data.panel.Panel`,
normalizes each feature across assets one timestamp at a time
(:mod:`alphaloop.models.normalization`), and pairs the rows with
forward-return labels (:mod:`alphaloop.models.labels`). The result,
:class:`~alphaloop.models.learning_data.LearningData`, holds one row per
(decision time, asset), in time-major order (by time, then asset column),
so its ``t1`` is sorted as the purged splitters of
:mod:`alphaloop.validation.splits` expect.

Conventions
-----------
Label timing and classification
    See :mod:`alphaloop.models.labels`.
Normalization (per feature, per timestamp)
    See :mod:`alphaloop.models.normalization`.
Missing values
    - Cells outside the universe (``panel.membership`` False at ``t``) are
      never rows.
    - Rows without a label are dropped: the last ``entry_lag + horizon`` bars
      of the panel, and cells whose price is missing or not positive at
      entry or exit (``keep_unlabeled=True`` keeps them with ``y = NaN`` and
      ``t1 = NaT``, for prediction only).
    - A missing feature value (NaN or infinite, e.g. during a rolling window's
      warm-up) is filled after normalization with 0, the cross-sectional mean
      under ``"zscore"`` and ``"rank"`` (``fill="nan"`` keeps NaN, for models
      that route missing values themselves). Rows where more than
      ``max_missing`` of the features are missing are dropped.
Precision and memory
    Features are evaluated in float32 (7 significant digits: a z-score of a
    price level near 100 is good to about 1e-5) in batches of
    :data:`BATCH_SIZE`, one batch per thread (``n_jobs``), and written into
    ``X`` a batch of columns at a time, so the build holds ``X`` plus one
    batch of (time, asset) arrays per thread.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from alphaloop.data import Panel, as_utc
from alphaloop.errors import AlphaloopError, ExpressionError
from alphaloop.factors import Expression, compile_expression
from alphaloop.factors.evaluate import Mode, evaluate
from alphaloop.models.errors import ModelError
from alphaloop.models.labels import LabelSpec, _labels, _targets
from alphaloop.models.learning_data import LearningData
from alphaloop.models.normalization import _METHOD, Normalize, _normalize_block_jit

__all__ = ["BATCH_SIZE", "build_dataset", "resolve_features"]

BATCH_SIZE = 16
"""Features evaluated together: shared subexpressions are computed once per batch."""


def _threads(n_jobs: int) -> int:
    """Threads for ``n_jobs`` (-1: every core this process may use)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ModelError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    if n_jobs > 0:
        return int(n_jobs)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores + 1 + int(n_jobs))


def _compact_rows(x: np.ndarray, keep: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Move the kept rows of ``x`` to its front in place and shrink it; no full-size copy.

    Kept positions are increasing, so each destination precedes its source
    and a chunk never overwrites a later chunk's source rows.
    """
    positions = np.flatnonzero(keep)
    for start in range(0, len(positions), chunk):
        part = positions[start : start + chunk]
        x[start : start + len(part)] = x[part]
    x.resize((len(positions), x.shape[1]), refcheck=False)
    return x


# ------------------------------------------------------------------- the build
def resolve_features(
    features: Mapping[str, str] | Sequence[str] | str, library_root: Path | None
) -> dict[str, str]:
    from alphaloop.factors import FactorLibrary, get_library

    if isinstance(features, FactorLibrary):
        return dict(features.factors)
    if isinstance(features, str):
        try:
            return dict(get_library(features, library_root).factors)
        except AlphaloopError as exc:
            raise ModelError(
                f"no factor library named {features!r}",
                hint=f"{exc.hint}; pass a list or dict of expressions for your own features",
            ) from exc
    if isinstance(features, Mapping):
        out = {str(k): str(v) for k, v in features.items()}
    else:
        out = {str(v): str(v) for v in features}
    if not out:
        raise ModelError("no features given", hint="pass a library name or expressions")
    return out


def _compile(panel: Panel, formulas: dict[str, str]) -> dict[str, Expression]:
    compiled = {}
    for name, text in formulas.items():
        try:
            compiled[name] = compile_expression(text, fields=panel.field_names)
        except ExpressionError as exc:
            prefix = f"feature {name!r}: " if name != text else ""
            raise ModelError(f"{prefix}{exc.message}", hint=exc.hint) from exc
    return compiled


def _feature_matrix(
    view: Panel,
    compiled: dict[str, Expression],
    members: np.ndarray,
    row_of: np.ndarray,
    n_rows: int,
    dtype: type,
    how: tuple[float, int, float],
    mode: Mode,
    threads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate and normalize every feature into an (n_rows, n_features) matrix.

    Batches of ``BATCH_SIZE`` features go to ``threads`` threads; each thread
    evaluates its batch in float32, copies it time-major into its own buffer
    and writes the normalized rows into the batch's columns. ``how`` is
    ``(winsorize, method code, fill value)``. Returns the matrix and each
    row's count of missing features.
    """
    winsorize, method, fill_value = how
    names = list(compiled)
    matrix = np.empty((n_rows, len(names)), dtype=dtype)
    starts = range(0, len(names), BATCH_SIZE)
    threads = min(threads, len(starts))
    size, n_times = min(BATCH_SIZE, len(names)), row_of.shape[0]
    slots: queue.SimpleQueue[tuple[np.ndarray, np.ndarray]] = queue.SimpleQueue()
    counts = [np.zeros(n_rows, dtype=np.int32) for _ in range(threads)]
    for c in counts:
        slots.put((np.empty((size, n_times, row_of.shape[1]), dtype=np.float32), c))

    def one_batch(first: int) -> None:
        batch = {n: compiled[n] for n in names[first : first + BATCH_SIZE]}
        values = evaluate(view, batch, mode=mode, dtype=np.float32)
        stack, missing = slots.get()
        try:
            for i, name in enumerate(batch):
                stack[i] = values.pop(name)  # time-major: one timestamp's values together
            _normalize_block_jit(
                stack[: len(batch)], members, row_of, matrix, first, winsorize, method,
                fill_value, missing, 0, n_times,
            )  # fmt: skip
        finally:
            slots.put((stack, missing))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one_batch, starts))
    return matrix, (np.sum(counts, axis=0) if threads > 1 else counts[0])


def build_dataset(
    panel: Panel,
    features: Mapping[str, str] | Sequence[str] | str,
    label: LabelSpec | None = None,
    *,
    normalize: Normalize = "zscore",
    winsorize: float | None = 0.01,
    fill: Literal["zero", "nan"] = "zero",
    max_missing: float = 0.5,
    keep_unlabeled: bool = False,
    mode: Mode = "strict",
    dtype: type = np.float32,
    start: Any = None,
    end: Any = None,
    library_root: Path | None = None,
    n_jobs: int = -1,
) -> LearningData:
    """Features and labels for learning, one row per (decision time, member asset).

    See :mod:`alphaloop.models.labels` for the label timing,
    :mod:`alphaloop.models.normalization` for the normalization and the
    module docstring for the missing-value conventions.

    Parameters
    ----------
    panel : Panel
    features : str, sequence of str or mapping of str to str
        A factor library name (``"alpha158"``, ``"alpha158-close"``, a
        library in ``library_root``'s workspace), expression texts (each
        named by its text) or a mapping name -> expression.
    label : LabelSpec, optional
        Default ``LabelSpec()``: the 5-bar forward close-to-close return
        entered one bar after the decision.
    normalize : {"zscore", "rank", None}, default "zscore"
        Cross-sectional normalization of each feature per timestamp.
    winsorize : float or None, default 0.01
        Clip each feature per timestamp to its ``winsorize`` and
        ``1 - winsorize`` quantiles before normalizing, in ``[0, 0.5)``;
        None or 0 does not clip. Ignored by ``"rank"``.
    fill : {"zero", "nan"}, default "zero"
        What a missing feature value becomes after normalization.
    max_missing : float, default 0.5
        Drop rows where more than this share of the features is missing
        (1.0 keeps every row).
    keep_unlabeled : bool, default False
        Keep rows without a label (``y`` NaN): for predicting the latest bars.
    mode : {"strict", "qlib"}, default "strict"
        Expression evaluation mode (see :mod:`alphaloop.factors.evaluate`).
    dtype : numpy dtype, default float32
        Of ``X``.
    start, end : timestamp-like, optional
        Span of decision times (both inclusive; naive = UTC). Data before
        ``start`` still feeds rolling windows; labels may use bars after
        ``end`` (their ``t1`` says so).
    library_root : Path, optional
        A workspace root whose ``libraries/`` holds user libraries.
    n_jobs : int, default -1
        Threads, each evaluating and normalizing one batch of
        ``BATCH_SIZE`` features at a time (-1: every core this process may
        use, -2: all but one). Each thread holds its batch's (time, asset)
        arrays, so memory grows with ``n_jobs``.

    Returns
    -------
    LearningData

    Raises
    ------
    ModelError
        Unknown library, bad expression or option, or no row left.
    """
    label = LabelSpec() if label is None else label
    if not isinstance(label, LabelSpec):
        raise ModelError(f"label must be a LabelSpec, got {type(label).__name__}")
    if normalize not in _METHOD:
        raise ModelError(f"normalize must be 'zscore', 'rank' or None, got {normalize!r}")
    w = 0.0 if winsorize is None else float(winsorize)
    if not 0.0 <= w < 0.5:
        raise ModelError(f"winsorize must be a quantile in [0, 0.5), got {winsorize!r}")
    if fill not in ("zero", "nan"):
        raise ModelError(f"fill must be 'zero' or 'nan', got {fill!r}")
    if not 0.0 <= max_missing <= 1.0:
        raise ModelError(f"max_missing must be a share in [0, 1], got {max_missing!r}")
    if mode not in ("strict", "qlib"):
        raise ModelError(f"mode must be 'strict' or 'qlib', got {mode!r}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ModelError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    threads = _threads(n_jobs)
    method = _METHOD[normalize]
    compiled = _compile(panel, resolve_features(features, library_root))

    # rows: members with a label, decision time in [start, end]
    forward = _labels(panel, label)
    i0 = 0 if start is None else int(panel.index.searchsorted(as_utc(start), side="left"))
    i1 = panel.n_times if end is None else int(panel.index.searchsorted(as_utc(end), side="right"))
    candidate = np.zeros(panel.shape, dtype=bool)
    candidate[i0:i1] = panel.membership[i0:i1]
    if not keep_unlabeled:
        candidate &= ~np.isnan(forward)
    rows, cols = np.nonzero(candidate)
    if len(rows) == 0:
        raise ModelError(
            f"no rows: no member cell between {start} and {end} has a {label.horizon}-bar label",
            hint=f"the panel spans {panel.start} .. {panel.end} with {panel.n_times} bars; a "
            f"label needs {label.span} bars after the decision",
        )
    last = int(rows[-1]) + 1  # features at t use bars <= t only
    members = np.ascontiguousarray(panel.membership[:last]).view()
    members.flags.writeable = False  # one compiled kernel: the panel's masks are read-only
    row_of = np.full((last, panel.n_assets), -1, dtype=np.int64)
    row_of[rows, cols] = np.arange(len(rows))

    fill_value = 0.0 if fill == "zero" else np.nan
    matrix, missing = _feature_matrix(
        panel.iloc(slice(0, last)), compiled, members, row_of, len(rows), dtype,
        (w, method, fill_value), mode, threads,
    )  # fmt: skip
    y, fwd = _targets(panel, forward, rows, cols, label)

    keep = missing <= max_missing * len(compiled)
    if not keep.all():
        matrix = _compact_rows(matrix, keep)
        rows, cols, y, fwd = rows[keep], cols[keep], y[keep], fwd[keep]
        if len(rows) == 0:
            raise ModelError(
                f"no rows: every row has more than {max_missing:.0%} of its features missing",
                hint="use more history, fewer long windows, or a larger max_missing",
            )
    data = LearningData(
        X=matrix,
        y=y,
        forward_return=fwd,
        rows=rows.astype(np.int64),
        cols=cols.astype(np.int64),
        feature_names=tuple(compiled),
        assets=panel.assets,
        panel_index=panel.index,
        label=label,
    )
    return replace(data, _history=(matrix, data.row_grid()))
