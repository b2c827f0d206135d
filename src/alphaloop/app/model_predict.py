"""A registered model's point-in-time predictions on a dataset, as a long table.

:func:`predict_model` loads the dataset through the workspace catalog (so
the sealed holdout is out of reach), computes the predictions with
:func:`~alphaloop.app.models.predict_panel` (the prediction at ``t`` uses
data up to ``t`` only), and keeps the rows out of the model's training span:
decisions after :func:`in_sample_end`. With ``in_sample=True`` the rows at
or before it are kept too, labelled ``in_sample``. :func:`write_predictions`
writes the table to Parquet, atomically, with the model, the dataset and the
in-sample boundary in the file's metadata (key ``alphaloop``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.app.models import predict_panel
from alphaloop.app.workspace import Workspace
from alphaloop.files import write_atomic
from alphaloop.jsonsafe import json_safe
from alphaloop.models import ModelError

__all__ = [
    "METADATA_KEY",
    "Predictions",
    "in_sample_end",
    "predict_model",
    "read_prediction_metadata",
    "write_predictions",
]

METADATA_KEY = b"alphaloop"
_EPSILON = pd.Timedelta(1, "ns")
COLUMNS = ("time", "asset", "prediction", "in_sample")


def in_sample_end(version: Any, model: Any) -> pd.Timestamp:
    """The last decision time inside a model version's training span (UTC).

    Decisions at or before it are in sample. For a model retrained through
    time (it has ``first_out_of_sample``, the first decision predicted out of
    sample), one nanosecond before that; otherwise the version's
    ``label_end`` (the last bar whose price the training labels used), or
    ``train_end`` when no label end was recorded.
    """
    first = getattr(model, "first_out_of_sample", None)
    if first is not None:
        return _utc(first) - _EPSILON
    return _utc(version.label_end or version.train_end)


@dataclass(frozen=True)
class Predictions:
    """A model's predictions on a dataset and where they came from.

    Attributes
    ----------
    frame : DataFrame
        Columns ``time`` (UTC decision time), ``asset``, ``prediction`` (the
        model's output: predicted label, or probability of label 1 for a
        classifier) and ``in_sample`` (decision at or before
        ``in_sample_end``), sorted by time then asset.
    ref : str
        The model version (``NAME/vN``).
    dataset : str
    dataset_version : int
    dataset_hash : str
    in_sample_end : Timestamp
        Boundary of the training span, see :func:`in_sample_end`.
    include_in_sample : bool
        Whether in-sample rows were asked for (``--in-sample``).
    dropped_in_sample : int
        In-sample rows left out (0 with ``include_in_sample``).
    start, end : Timestamp or None
        The decision-time range asked for.
    """

    frame: pd.DataFrame = field(repr=False)
    ref: str
    family: str
    task: str
    dataset: str
    dataset_version: int
    dataset_hash: str
    in_sample_end: pd.Timestamp
    include_in_sample: bool
    dropped_in_sample: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def metadata(self) -> dict[str, Any]:
        """What the Parquet file records about its rows."""
        return json_safe(
            {
                "model": self.ref,
                "family": self.family,
                "task": self.task,
                "dataset": self.dataset,
                "dataset_version": self.dataset_version,
                "dataset_hash": self.dataset_hash,
                "in_sample_end": self.in_sample_end.isoformat(),
                "include_in_sample": self.include_in_sample,
                "start": None if self.start is None else self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        times = self.frame["time"]
        return {
            **self.metadata(),
            "n_rows": len(self.frame),
            "n_in_sample": int(self.frame["in_sample"].sum()),
            "dropped_in_sample": self.dropped_in_sample,
            "n_assets": int(self.frame["asset"].nunique()),
            "first_time": times.iloc[0].isoformat(),
            "last_time": times.iloc[-1].isoformat(),
        }


def predict_model(
    ws: Workspace,
    ref: str,
    data: str,
    *,
    version: int | None = None,
    start: Any = None,
    end: Any = None,
    in_sample: bool = False,
) -> Predictions:
    """Predictions of model ``ref`` on dataset ``data``, out of its training span.

    Parameters
    ----------
    ws : Workspace
    ref : str
        ``NAME/vN``, ``NAME`` (latest) or ``NAME@stage``.
    data : str
        Dataset name (any dataset with the fields the model's features use).
    version : int, optional
        Dataset version (default: current).
    start, end : date-like, optional
        First and last decision time kept (a date means the whole day, UTC).
        Bars after ``end`` are not loaded; bars before ``start`` feed the
        features but are not predicted.
    in_sample : bool, default=False
        Keep decisions at or before :func:`in_sample_end` too, labelled.

    Raises
    ------
    ModelError
        If nothing is left to predict (the reason and what to do in the message).
    ModelNotFoundError, DatasetNotFoundError
        For an unknown model or dataset.
    """
    registered = ws.models.get(ref)
    info = ws.data.info(data, version)
    first = _bound(start, end_of_day=False)
    last = _bound(end, end_of_day=True)
    if first is not None and last is not None and first > last:
        raise ModelError(f"--start {first:%Y-%m-%d} is after --end {last:%Y-%m-%d}")
    panel = ws.data.load(data, version=info.version, end=last)
    values, model_version = predict_panel(ws, registered.ref, panel)
    boundary = in_sample_end(model_version, ws.models.load(model_version.ref))
    frame = _long(values, panel.index, panel.assets, boundary)
    if first is not None:
        frame = frame[frame["time"] >= first]
    where = f"{data!r}" + (f" from {first:%Y-%m-%d}" if first is not None else "")
    where += f" to {last:%Y-%m-%d}" if last is not None else ""
    if frame.empty:
        raise ModelError(
            f"{model_version.ref} predicts no row of {where}: its features cannot be computed "
            "there",
            hint="widen --start/--end, or check the dataset has the fields the features use",
        )
    dropped = int(frame["in_sample"].sum())
    if not in_sample:
        frame = frame[~frame["in_sample"]]
        if frame.empty:
            raise ModelError(
                f"every prediction of {model_version.ref} on {where} is inside its training "
                f"span (decisions at or before {boundary:%Y-%m-%d})",
                hint="predict later dates (newer data, or --start after the boundary), or pass "
                "--in-sample to keep in-sample rows, labelled in_sample",
            )
    return Predictions(
        frame=frame.reset_index(drop=True),
        ref=model_version.ref,
        family=model_version.family,
        task=model_version.task,
        dataset=info.name,
        dataset_version=info.version,
        dataset_hash=info.content_hash,
        in_sample_end=boundary,
        include_in_sample=in_sample,
        dropped_in_sample=0 if in_sample else dropped,
        start=first,
        end=last,
    )


def write_predictions(predictions: Predictions, path: str | Path) -> Path:
    """Write ``predictions.frame`` to Parquet at ``path``, atomically, with its metadata.

    The metadata (JSON under the schema key ``alphaloop``) names the model,
    the dataset (name, version, content hash) and the in-sample boundary.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(predictions.frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(predictions.metadata()).encode()
    table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    target = Path(path)
    write_atomic(target, sink.getvalue().to_pybytes())
    return target


def read_prediction_metadata(path: str | Path) -> dict[str, Any]:
    """The ``alphaloop`` metadata of a file written by :func:`write_predictions`."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in meta:
        raise ModelError(f"{path} has no alphaloop prediction metadata")
    return json.loads(meta[METADATA_KEY])


def _long(
    values: np.ndarray, index: pd.DatetimeIndex, assets: tuple[str, ...], boundary: pd.Timestamp
) -> pd.DataFrame:
    """Finite cells of a (time, asset) array as rows, labelled in sample or not."""
    if values.shape != (len(index), len(assets)):
        raise ModelError(
            f"predictions of shape {values.shape} do not match the panel "
            f"({len(index)} times x {len(assets)} assets)"
        )
    t, a = np.nonzero(np.isfinite(values))
    times = index[t]
    return pd.DataFrame(
        {
            "time": times,
            "asset": np.asarray(assets, dtype=object)[a],
            "prediction": values[t, a],
            "in_sample": np.asarray(times <= boundary, dtype=bool),
        }
    )


def _bound(value: Any, *, end_of_day: bool) -> pd.Timestamp | None:
    """A date-like as a UTC timestamp; a bare date as the day's first or last instant."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{value!r} is not a date", hint="use YYYY-MM-DD") from exc
    stamp = _utc(stamp)
    if end_of_day and stamp == stamp.normalize():
        stamp = stamp + pd.Timedelta(days=1) - _EPSILON
    return stamp


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
