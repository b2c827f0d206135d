"""What evaluation workers of a research session need from the workspace: model predictions.

Workers receive the search panel once and a picklable predictor
(:func:`predict_in_worker` bound to the workspace's root and database); each
opens the workspace read-only on first use and keeps the predictions of the
panels it saw.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.data import Panel

__all__ = ["predict_in_worker"]

#: predictions a worker keeps: (ref, assets, first bar, last bar, bars) -> (T, N) array
_PREDICTIONS: dict[tuple[Any, ...], np.ndarray] = {}
_MAX_PREDICTIONS = 64


def predict_in_worker(root: str, database_url: str, ref: str, panel: Panel) -> np.ndarray:
    """A model's (T, N) predictions on ``panel``, for evaluation workers (read-only workspace).

    Rows up to the model's label end are NaN (they were its training data).
    A worker keeps the predictions of the last panels it saw: the lookahead
    scans of candidates that use the same model cut the same search panel at
    the same bars, and a model version never changes.
    """
    key = (ref, panel.assets, str(panel.index[0]), str(panel.index[-1]), panel.n_times)
    hit = _PREDICTIONS.get(key)
    if hit is not None:
        return hit.copy()
    pred = _predict(root, database_url, ref, panel)
    if len(_PREDICTIONS) >= _MAX_PREDICTIONS:
        _PREDICTIONS.pop(next(iter(_PREDICTIONS)))
    _PREDICTIONS[key] = pred
    return pred.copy()


def _predict(root: str, database_url: str, ref: str, panel: Panel) -> np.ndarray:
    ws = _worker_workspace(root, database_url)
    from alphaloop.app.models import predict_panel

    pred, version = predict_panel(ws, ref, panel)
    # rows up to the model's label end were in its training data: no signal there
    end = pd.Timestamp(version.label_end or version.train_end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    pred = np.array(pred, dtype=np.float64)
    pred[np.asarray(panel.index <= end)] = np.nan
    return pred


@functools.cache
def _worker_workspace(root: str, database_url: str) -> Workspace:
    from alphaloop.app.workspace import Workspace

    return Workspace(root, read_only=True, database_url=database_url)
