"""A rolling model: the estimators of rolling retraining, each with the period it predicts.

:class:`RollingModel` is what :func:`~alphaloop.models.rolling.rolling_train`
fits and the registry stores as one version. Segment ``k`` predicts the
decision times ``[start_k, start_{k+1})``; the last segment's model also
predicts every later time (the *live* model). Times before the first
segment's start get NaN: the first model was trained on them.

On disk
-------
A directory written atomically: ``rolling.json`` (format
``"alphaloop-rolling/1"``, family, task, sequence window, and per segment
its directory, first decision time and training span) and one estimator
directory per segment (``segment-000``, ``segment-001``, ...; see
:meth:`~alphaloop.models.estimators.Estimator.save`). Other files may sit
next to them (the app adds ``recipe.json`` and ``segments.json``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import Estimator, _read_manifest, _write_directory_atomically
from alphaloop.models.families import SEQUENCE_FAMILIES
from alphaloop.models.learning_data import LearningData
from alphaloop.models.training import DEFAULT_SEQUENCE_WINDOW

__all__ = [
    "ROLLING_FORMAT",
    "ROLLING_MANIFEST",
    "RollingModel",
    "Segment",
    "is_rolling_directory",
    "prediction_inputs",
    "rolling_first_out_of_sample",
]

ROLLING_MANIFEST = "rolling.json"
ROLLING_FORMAT = "alphaloop-rolling/1"


@dataclass(frozen=True)
class Segment:
    """One segment's period and what its model learned from (times in UTC).

    Attributes
    ----------
    start : pandas.Timestamp
        First decision time the segment's model predicts.
    train_start, train_end : pandas.Timestamp
        First and last decision times of its training rows.
    label_end : pandas.Timestamp
        Latest label end of its training rows; always before ``start``.
    """

    start: pd.Timestamp
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    label_end: pd.Timestamp

    def to_dict(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "label_end": self.label_end.isoformat(),
        }


@dataclass(frozen=True, eq=False)
class RollingModel:
    """Fitted segment estimators through time; each predicts its own period.

    Attributes
    ----------
    estimators : tuple of Estimator
        One per segment, in time order.
    segments : tuple of Segment
        Their periods; ``segments[k].start`` is strictly increasing.
    family, task : str
    sequence_window : int or None
        Dates per sequence for sequence families, else None.
    """

    estimators: tuple[Estimator, ...]
    segments: tuple[Segment, ...]
    family: str
    task: str
    sequence_window: int | None = None

    def __post_init__(self) -> None:
        if not self.estimators or len(self.estimators) != len(self.segments):
            raise ModelError(
                f"a rolling model needs one estimator per segment, got {len(self.estimators)} "
                f"estimators for {len(self.segments)} segments"
            )
        starts = [s.start for s in self.segments]
        if any(b <= a for a, b in itertools.pairwise(starts)):
            raise ModelError("segment starts must be strictly increasing")

    @property
    def first_out_of_sample(self) -> pd.Timestamp:
        """First decision time predicted out of sample (UTC): the first segment's start."""
        return self.segments[0].start

    @property
    def live_since(self) -> pd.Timestamp:
        """First decision time of the last segment, whose model predicts every later time."""
        return self.segments[-1].start

    @property
    def label_end(self) -> pd.Timestamp:
        """Latest label end any segment was trained on (the last segment's)."""
        return max(s.label_end for s in self.segments)

    def segment_of(self, times: pd.DatetimeIndex | Sequence[Any]) -> np.ndarray:
        """The segment predicting each decision time; -1 before the first segment.

        Parameters
        ----------
        times : DatetimeIndex or sequence of timestamps
            Decision times (UTC; naive times are taken as UTC).

        Returns
        -------
        ndarray of int64
        """
        index = pd.DatetimeIndex(times)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        starts = pd.DatetimeIndex([s.start for s in self.segments]).as_unit("ns").asi8
        return np.searchsorted(starts, index.as_unit("ns").asi8, side="right").astype(np.int64) - 1

    def predict_data(self, data: LearningData, sequence_window: int | None = None) -> np.ndarray:
        """Predict each row of ``data`` with the segment model whose period holds its time.

        Parameters
        ----------
        data : LearningData
            Built with the features the model was trained on (labels optional).
        sequence_window : int, optional
            For sequence families; default the window used in training.

        Returns
        -------
        ndarray of float64, shape (len(data),)
            NaN for rows before :attr:`first_out_of_sample` and, for sequence
            families, rows without a complete window.
        """
        window = self.sequence_window if sequence_window is None else sequence_window
        features, positions = prediction_inputs(data, self.family, window)
        out = np.full(len(data), np.nan)
        segment = self.segment_of(data.times[positions])
        for k, estimator in enumerate(self.estimators):
            mine = np.flatnonzero(segment == k)
            if mine.size:
                out[positions[mine]] = estimator.predict(features[mine])
        return out

    # -- on disk ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model to the directory ``path``, atomically (see the module notes)."""
        target = Path(path)
        manifest = {
            "format": ROLLING_FORMAT,
            "family": self.family,
            "task": self.task,
            "sequence_window": self.sequence_window,
            "segments": [
                {"directory": _segment_dir(k), **s.to_dict()} for k, s in enumerate(self.segments)
            ],
        }

        def write(directory: Path) -> None:
            for k, estimator in enumerate(self.estimators):
                estimator.save(directory / _segment_dir(k))
            text = json.dumps(manifest, indent=2)
            (directory / ROLLING_MANIFEST).write_text(text + "\n")

        _write_directory_atomically(target, write, ROLLING_MANIFEST, "a rolling-model directory")
        return target

    @classmethod
    def load(cls, path: str | Path) -> RollingModel:
        """Read a model written by :meth:`save` (loads every segment's estimator)."""
        directory = Path(path)
        manifest = read_rolling_manifest(directory)
        try:
            segments = tuple(
                Segment(
                    **{k: _utc(s[k]) for k in ("start", "train_start", "train_end", "label_end")}
                )
                for s in manifest["segments"]
            )
            dirs = [directory / str(s["directory"]) for s in manifest["segments"]]
            window = manifest.get("sequence_window")
            family, task = str(manifest["family"]), str(manifest["task"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{directory / ROLLING_MANIFEST} is malformed: {exc}") from exc
        estimators = tuple(Estimator.load(d) for d in dirs)
        return cls(estimators, segments, family, task, None if window is None else int(window))


def is_rolling_directory(path: str | Path) -> bool:
    """Whether ``path`` holds a rolling model (a ``rolling.json`` manifest)."""
    return (Path(path) / ROLLING_MANIFEST).is_file()


def rolling_first_out_of_sample(path: str | Path) -> pd.Timestamp | None:
    """The first out-of-sample decision time of the rolling model saved at ``path``, read
    from its manifest (no estimator is loaded); None if ``path`` holds no rolling model."""
    directory = Path(path)
    if not is_rolling_directory(directory):
        return None
    try:
        return _utc(read_rolling_manifest(directory)["segments"][0]["start"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ModelError(f"{directory / ROLLING_MANIFEST} is malformed: {exc}") from exc


def read_rolling_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a rolling-model directory, checked for its format."""
    return _read_manifest(
        directory,
        ROLLING_MANIFEST,
        ROLLING_FORMAT,
        kind="a rolling-model directory",
        writer="RollingModel.save",
    )


def prediction_inputs(
    data: LearningData, family: str, window: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The model inputs of every row that can be predicted, and those rows' positions.

    Tabular families: ``data.X`` and every row. Sequence families: windows of
    ``window`` dates (default 10) and the rows that have a complete one.
    """
    if family in SEQUENCE_FAMILIES:
        return data.sequences(window or DEFAULT_SEQUENCE_WINDOW)
    return data.X, np.arange(len(data), dtype=np.int64)


def _segment_dir(k: int) -> str:
    return f"segment-{k:03d}"


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
