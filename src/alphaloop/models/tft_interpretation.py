"""What a fitted Temporal Fusion Transformer attends to (no torch needed to read it).

:meth:`alphaloop.models.tft.TFTEstimator.interpret` returns a
:class:`TFTInterpretation`; explanation code reads it by duck typing
(``getattr(estimator, "interpret", None)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TFTInterpretation"]


@dataclass(frozen=True)
class TFTInterpretation:
    """What a fitted TFT attends to, averaged over the rows it was asked about.

    Attributes
    ----------
    variable_weights : ndarray of shape (n_features,)
        Mean variable-selection weight per feature, in the order of ``X``'s
        last axis; sums to 1. Static and time-varying features are selected
        by two softmaxes; each group's weights are scaled by its share of the
        features (a time-varying feature's weight is its mean over rows and
        steps).
    attention : ndarray of shape (window,)
        Mean attention of the last step over the window's steps, oldest first
        (``attention[-1]`` is the decision time itself); sums to 1.
    feature_names : tuple of str or None
        The estimator's ``feature_names`` when it was given them, else None.
    static_features : tuple of int
        Positions of the features treated as static.
    n_rows : int
        Rows averaged over.
    """

    variable_weights: np.ndarray
    attention: np.ndarray
    feature_names: tuple[str, ...] | None
    static_features: tuple[int, ...]
    n_rows: int
