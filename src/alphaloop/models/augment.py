"""Opt-in data augmentation: synthetic training rows for each training fit, from its span only.

:class:`TrainingAugmenter` is called by :func:`alphaloop.models.train` once
per model fit (each outer fold, each search trial, the final model) with the
fit's training rows. It keeps the panel's bars those rows see (from each
row's decision time to its label's end; every other bar's prices become
missing, :func:`alphaloop.synth.augment.training_span`), fits the configured
generator on them, draws ``paths`` synthetic panels as long as the span, and
builds their features and labels with the model's own recipe. The rows
returned are added to that fit's training rows only: the early-stopping
rows, the test folds and every metric stay on the real data, and no
generator ever sees a bar of a fold it is tested on.

Each fit draws with its own seed, derived from the configured seed and the
fit's stage, fold and trial, so a training run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alphaloop.data import Panel
from alphaloop.errors import SynthError
from alphaloop.models.errors import ModelError
from alphaloop.models.learning_data import LearningData
from alphaloop.synth.augment import AugmentConfig, augment_panel, training_span

__all__ = ["TrainingAugmenter", "span_bars"]

_STAGES = {"cv": 0, "final": 1, "hpo": 2, "rolling": 3}


def span_bars(data: LearningData, rows: np.ndarray, n_bars: int) -> np.ndarray:
    """Bars (bool, one per panel bar) from each row's decision time to its label's end."""
    rows = np.asarray(rows, dtype=np.int64)
    start = data.rows[rows]
    stop = np.minimum(start + int(data.label.span) + 1, n_bars)
    marks = np.zeros(n_bars + 1, dtype=np.int64)
    np.add.at(marks, start, 1)
    np.add.at(marks, stop, -1)
    return np.cumsum(marks[:-1]) > 0


class TrainingAugmenter:
    """Synthetic training rows for one fit (see the module docstring).

    Parameters
    ----------
    panel : Panel
        The real panel the learning data was built on (same calendar).
    build : callable
        ``build(panel) -> LearningData``: the model's features and labels on a panel.
    config : AugmentConfig
    sequence_window : int, optional
        For sequence families: rows become windows of this many dates.

    Attributes
    ----------
    records : list of dict
        One per fit: stage, fold, trial, the span's first and last bar, the
        bars kept, the real and synthetic training rows, the draw's seed, and
        why the fit was not augmented (``skipped``: a span too short for the
        generator, e.g. an early walk-forward fold; that fit trains on real
        rows only) or ``""``.
    """

    def __init__(
        self,
        panel: Panel,
        build: Callable[[Panel], LearningData],
        config: AugmentConfig,
        *,
        sequence_window: int | None = None,
    ) -> None:
        self.panel = panel
        self.build = build
        self.config = config
        self.sequence_window = sequence_window
        self.records: list[dict[str, Any]] = []

    def __call__(
        self,
        data: LearningData,
        fit_rows: np.ndarray,
        *,
        stage: str,
        fold: int | None,
        trial: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)``: synthetic rows to add to the real rows ``fit_rows`` of ``data``."""
        if len(data.panel_index) != self.panel.n_times:
            raise ModelError("augmentation: the learning data was not built on this panel")
        keep = span_bars(data, fit_rows, self.panel.n_times)
        span = training_span(self.panel, keep)
        fit_id = _STAGES.get(stage, 9) * 1_000_000 + (fold or 0) * 1_000 + (trial or 0)
        label = f"augment-{stage}" + ("" if fold is None else f"-{fold}")
        record: dict[str, Any] = {
            "stage": stage,
            "fold": fold,
            "trial": trial,
            "span_start": str(span.index[0].date()),
            "span_end": str(span.index[-1].date()),
            "bars_kept": int(keep.sum()),
            "real_rows": len(fit_rows),
            "synthetic_rows": 0,
            "seed": self.config.draw_seed(fit_id),
            "skipped": "",
        }
        self.records.append(record)
        empty = np.empty((0, *data.X.shape[1:]), data.X.dtype), np.empty(0)
        if self.sequence_window is not None:
            empty = (np.empty((0, self.sequence_window, data.n_features), data.X.dtype), empty[1])
        try:
            panels, _ = augment_panel(span, self.config, fit=fit_id, label=label)
        except SynthError as exc:  # too short a span for the generator: real rows only
            record["skipped"] = str(exc)
            return empty
        xs, ys = [], []
        for path in panels:
            syn = self.build(path)
            labeled = np.flatnonzero(np.isfinite(syn.y))
            if self.sequence_window is None:
                xs.append(syn.X[labeled])
                ys.append(syn.y[labeled])
            else:
                x, pos = syn.sequences(self.sequence_window, rows=labeled)
                xs.append(x)
                ys.append(syn.y[pos])
        x_syn, y_syn = np.concatenate(xs), np.concatenate(ys)
        record["synthetic_rows"] = len(y_syn)
        return x_syn, y_syn

    def summary(self) -> dict[str, Any]:
        """The configuration and the fits' records (JSON-ready), as the registry keeps them."""
        return {
            **self.config.to_dict(),
            "synthetic_rows": int(sum(r["synthetic_rows"] for r in self.records)),
            "fits": list(self.records),
        }
