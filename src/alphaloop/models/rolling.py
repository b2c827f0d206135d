"""Rolling retraining: a model per period, each trained only on what came before it.

:func:`rolling_train` walks through the data's decision dates. After
``min_train`` dates with labels, it starts a *segment* every
``retrain_every`` dates; each segment's model is fitted on the rows before
the segment (the last ``window`` dates, or all of them) and predicts the
segment's dates only. The segments' predictions are stitched into one
out-of-sample series, scored with :func:`~alphaloop.models.metrics.prediction_metrics`;
the fitted segments form a :class:`~alphaloop.models.rolling_model.RollingModel`.

Conventions
-----------
Dates
    The calendar is the data's decision dates (one per panel row that has a
    data row); ``retrain_every``, ``window``, ``min_train`` and
    ``embargo_dates`` count those dates.
Purging
    A segment starting at decision time ``t0`` trains only on rows whose
    decision time is before ``t0`` *and* whose label ends strictly before
    ``t0`` (before the decision time ``embargo_dates`` dates earlier, with an
    embargo). So no training label overlaps the segment it predicts.
Early stopping
    The last ``valid_fraction`` of each segment's training dates, purged as
    in :mod:`alphaloop.models.date_splits`.
Rows
    As in :func:`~alphaloop.models.training.train`: training rows need a
    label (and a complete window for sequence families). Predictions cover
    every row of a segment's dates that has features (a complete window for
    sequence families), labelled or not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_number
from alphaloop.models.errors import ModelError
from alphaloop.models.learning_data import LearningData
from alphaloop.models.metrics import _ic_metrics, prediction_metrics
from alphaloop.models.rolling_model import RollingModel, Segment, prediction_inputs
from alphaloop.models.training import _check_common, _Context, _context
from alphaloop.models.training_results import FitRecord, TrainingPeriod

__all__ = ["RollingResult", "rolling_train"]


@dataclass(frozen=True, eq=False)
class RollingResult:
    """The rolling model, its stitched out-of-sample record and how it was made.

    Attributes
    ----------
    model : RollingModel
        The fitted segments (the artifact to register).
    predictions : ndarray of float64, shape (n,)
        Each row's prediction by the segment covering its date; NaN before
        the first segment (and rows without a complete window).
    segments : pandas.DataFrame
        One row per segment: ``segment``, ``train_start`` / ``train_end`` (fitted
        rows), ``valid_start`` / ``valid_end`` / ``n_valid`` (early stopping),
        ``label_end`` (latest training label end), ``n_train``, ``test_start`` /
        ``test_end`` (the segment's dates), ``n_test`` (rows predicted),
        ``best_iteration``, the out-of-sample metrics of
        :func:`~alphaloop.models.metrics.prediction_metrics` (``ic``, ...) and
        ``in_sample_ic``.
    metrics : dict of str to float
        Metrics of the stitched series, plus ``in_sample_ic`` (mean over
        segments), ``n_oos`` (labelled rows predicted) and ``n_segments``.
    family, task : str
    params : dict
        The segment estimators' parameters (the same for every segment).
    seed : int
    period : TrainingPeriod
        First and last training decision over all segments, and the last
        segment's training label end.
    feature_names : tuple of str
    settings : dict
        Schedule, retrain_every, window, min_train, embargo_dates,
        valid_fraction, sequence_window.
    """

    model: RollingModel
    predictions: np.ndarray
    segments: pd.DataFrame
    metrics: dict[str, float]
    family: str
    task: str
    params: dict[str, Any]
    seed: int
    period: TrainingPeriod
    feature_names: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def first_out_of_sample(self) -> pd.Timestamp:
        """First decision time predicted out of sample (UTC)."""
        return self.model.first_out_of_sample

    @property
    def oos_predictions(self) -> np.ndarray:
        """:attr:`predictions`, under :class:`~alphaloop.models.training_results.TrainingResult`'s
        name, so code reading either result's out-of-sample series works with both."""
        return self.predictions

    def summary(self) -> dict[str, Any]:
        """JSON-able provenance: everything but the model and the predictions."""
        return {
            "family": self.family,
            "task": self.task,
            "params": dict(self.params),
            "seed": self.seed,
            "period": {k: v.isoformat() for k, v in asdict(self.period).items()},
            "feature_names": list(self.feature_names),
            "metrics": {k: json_number(v) for k, v in self.metrics.items()},
            "first_out_of_sample": self.first_out_of_sample.isoformat(),
            "segments": segment_records(self.segments),
            "settings": dict(self.settings),
        }


def segment_records(segments: pd.DataFrame) -> list[dict[str, Any]]:
    """The segments table as JSON-able records (timestamps in ISO 8601, NaN as None)."""
    table = segments.astype(object).where(segments.notna(), None)
    return [
        {
            k: v.isoformat() if isinstance(v, pd.Timestamp) else json_number(v)
            for k, v in row.items()
        }
        for row in table.to_dict("records")
    ]


def rolling_train(
    data: LearningData,
    family: str,
    *,
    task: str | None = None,
    retrain_every: int = 63,
    window: int | None = 756,
    min_train: int = 252,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    valid_fraction: float = 0.2,
    embargo_dates: int = 0,
    sequence_window: int | None = None,
    on_fit: Callable[[FitRecord], None] | None = None,
) -> RollingResult:
    """Retrain ``family`` every ``retrain_every`` dates; stitch the out-of-sample predictions.

    Parameters
    ----------
    data : LearningData
    family : str
        A model family (:data:`~alphaloop.models.families.FAMILIES`).
    task : {"regression", "classification"}, optional
        Default ``data.label.kind``.
    retrain_every : int, default=63
        Dates per segment (63 trading days: about a quarter).
    window : int or None, default=756
        Training dates before each segment (756: about three years of trading
        days); None trains on all earlier dates (expanding).
    min_train : int, default=252
        Dates with labels before the first segment.
    params : mapping, optional
        Estimator parameters (the same for every segment).
    seed : int, default=0
        Seeds every segment's estimator.
    valid_fraction : float, default=0.2
        Share of each segment's last training dates used for early stopping
        (0 disables it).
    embargo_dates : int, default=0
        Extra dates between the last training label end and the segment (see
        the module's purging convention).
    sequence_window : int, optional
        Dates per sequence for sequence families (default 10).
    on_fit : callable, optional
        Called with a :class:`~alphaloop.models.training_results.FitRecord`
        (``stage="rolling"``, ``fold`` = segment) before every fit.

    Returns
    -------
    RollingResult

    Raises
    ------
    ModelError
        For bad settings, or data too short for ``min_train`` or for a
        segment to have training rows.
    """
    _check_schedule(retrain_every, window, min_train, embargo_dates)
    task, fixed, seq_window = _check_common(
        data, family, task, params, seed, valid_fraction, sequence_window
    )
    ctx, usable = _context(data, family, task, seed, valid_fraction, 0.0, seq_window, on_fit)
    info = ctx.rows_info
    calendar = np.unique(info.date)
    position = np.searchsorted(calendar, info.date)  # each row's date in the calendar
    date_ns = data.panel_index.as_unit("ns").asi8[calendar]
    starts = _segment_starts(np.unique(position[usable]), len(calendar), retrain_every, min_train)
    inputs, predictable = prediction_inputs(data, family, seq_window)
    predictable_position = position[predictable]

    oos = np.full(len(data), np.nan)
    estimators, segments, rows = [], [], []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(calendar)
        lo = 0 if window is None else max(0, start - window)
        cutoff = (
            date_ns[start - embargo_dates] if start >= embargo_dates else np.iinfo(np.int64).min
        )
        u = usable[(position[usable] >= lo) & (position[usable] < start)]
        train_rows = u[info.end_ns[u] < cutoff]
        if train_rows.size == 0:
            raise ModelError(
                f"segment {k} (from {pd.Timestamp(date_ns[start], tz='UTC'):%Y-%m-%d}) has no "
                "training rows whose labels end before it",
                hint="raise min_train or window above the label horizon, or lower embargo_dates",
            )
        mine = (predictable_position >= start) & (predictable_position < stop)
        test_rows = predictable[mine]
        estimator, fit_rows, valid_rows = ctx.fit(
            fixed, train_rows, stage="rolling", fold=k, eval_rows=test_rows
        )
        pred = np.full(len(data), np.nan)
        if test_rows.size:
            pred[test_rows] = estimator.predict(inputs[mine])
        oos[test_rows] = pred[test_rows]
        label_end = pd.Timestamp(int(info.end_ns[train_rows].max()), tz="UTC")
        times = data.times
        segment = Segment(
            start=pd.Timestamp(int(date_ns[start]), tz="UTC"),
            train_start=times[train_rows[0]],
            train_end=times[train_rows[-1]],
            label_end=label_end,
        )
        in_sample = _ic_metrics(data, ctx.predict(estimator, fit_rows))["ic"]
        end = pd.Timestamp(int(date_ns[stop - 1]), tz="UTC")
        rows.append(
            _segment_row(ctx, k, segment, end, fit_rows, valid_rows, test_rows, estimator, pred)
            | {"in_sample_ic": in_sample}
        )
        estimators.append(estimator)
        segments.append(segment)

    model = RollingModel(tuple(estimators), tuple(segments), family, task, seq_window)
    table = pd.DataFrame(rows)
    scored = np.flatnonzero(np.isfinite(oos) & np.isfinite(data.y))
    metrics = prediction_metrics(data, oos, scored, task=task)
    metrics["in_sample_ic"] = float(table["in_sample_ic"].mean())
    metrics["n_oos"] = float(scored.size)
    metrics["n_segments"] = float(len(table))
    period = TrainingPeriod(
        first_decision=min(s.train_start for s in segments),
        last_decision=segments[-1].train_end,
        last_label_end=model.label_end,
    )
    settings = {
        "schedule": "rolling",
        "retrain_every": retrain_every,
        "window": "expanding" if window is None else window,
        "min_train": min_train,
        "embargo_dates": embargo_dates,
        "valid_fraction": valid_fraction,
        "sequence_window": seq_window,
    }
    return RollingResult(
        model=model,
        predictions=oos,
        segments=table,
        metrics=metrics,
        family=family,
        task=task,
        params=estimators[-1].params,
        seed=seed,
        period=period,
        feature_names=tuple(data.feature_names),
        settings=settings,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_schedule(
    retrain_every: int, window: int | None, min_train: int, embargo_dates: int
) -> None:
    if not _is_int(retrain_every) or retrain_every < 1:
        raise ModelError(f"retrain_every must be an integer >= 1, got {retrain_every!r}")
    if window is not None and (not _is_int(window) or window < 2):
        raise ModelError(
            f"window must be an integer >= 2 or None (expanding), got {window!r}",
            hint="window counts the decision dates each segment trains on",
        )
    if not _is_int(min_train) or min_train < 1:
        raise ModelError(f"min_train must be an integer >= 1, got {min_train!r}")
    if not _is_int(embargo_dates) or embargo_dates < 0:
        raise ModelError(f"embargo_dates must be an integer >= 0, got {embargo_dates!r}")


def _segment_starts(
    usable_dates: np.ndarray, n_dates: int, retrain_every: int, min_train: int
) -> list[int]:
    """Calendar positions where segments start: after ``min_train`` usable dates, then every
    ``retrain_every`` dates."""
    if len(usable_dates) <= min_train:
        raise ModelError(
            f"rolling retraining needs more than min_train={min_train} dates with labels "
            f"before its first segment; the data has {len(usable_dates)}",
            hint="lower min_train or build the data over a longer span",
        )
    return list(range(int(usable_dates[min_train]), n_dates, retrain_every))


def _segment_row(
    ctx: _Context,
    k: int,
    segment: Segment,
    test_end: pd.Timestamp,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    test_rows: np.ndarray,
    estimator: Any,
    pred: np.ndarray,
) -> dict[str, Any]:
    times = ctx.data.times
    row: dict[str, Any] = {
        "segment": k,
        "train_start": times[fit_rows[0]],
        "train_end": times[fit_rows[-1]],
        "n_train": int(fit_rows.size),
        "valid_start": times[valid_rows[0]] if valid_rows.size else None,
        "valid_end": times[valid_rows[-1]] if valid_rows.size else None,
        "n_valid": int(valid_rows.size),
        "label_end": segment.label_end,
        "test_start": segment.start,
        "test_end": test_end,
        "n_test": int(test_rows.size),
        "best_iteration": getattr(estimator, "best_iteration_", None),
    }
    scored = test_rows[np.isfinite(ctx.data.y[test_rows])]
    row.update(prediction_metrics(ctx.data, pred, scored, task=ctx.task))
    return row
