"""The memorisation guard: the span after a language model's knowledge cut-off.

A model trained on text up to its cut-off may remember what markets did
before it; an idea it proposes can look good on that period for that reason
alone. Every LLM-originated result is therefore also reported on the bars
after the cut-off, and that figure is shown first. This module finds that
span in the bars a search may read (the sealed holdout is never among them:
callers pass the searchable time index, already clipped).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MIN_POST_CUTOFF_BARS", "PostCutoffSpan", "post_cutoff_span"]

#: fewest bars after the cut-off for a figure worth showing (about three months of days)
MIN_POST_CUTOFF_BARS = 63


@dataclass(frozen=True)
class PostCutoffSpan:
    """Where an LLM-originated result is also measured.

    ``start``/``end`` are the first and last bars strictly after
    ``cutoff`` (inclusive bounds), ``n_bars`` their count; all None with
    ``reason`` saying why when there is no such span (no cut-off set, the
    data ends before it, or fewer than ``min_bars`` bars after it).
    """

    cutoff: dt.date | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    n_bars: int
    reason: str | None = None

    @property
    def available(self) -> bool:
        """Whether a post-cut-off figure can be computed."""
        return self.start is not None

    def as_dict(self) -> dict[str, object]:
        """JSON-safe fields (ISO dates)."""
        return {
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "start": self.start.date().isoformat() if self.start is not None else None,
            "end": self.end.date().isoformat() if self.end is not None else None,
            "n_bars": self.n_bars,
            "reason": self.reason,
        }


def post_cutoff_span(
    times: pd.DatetimeIndex | np.ndarray,
    cutoff: dt.date | None,
    *,
    min_bars: int = MIN_POST_CUTOFF_BARS,
) -> PostCutoffSpan:
    """The bars of ``times`` strictly after ``cutoff``.

    Parameters
    ----------
    times : DatetimeIndex or datetime64 array
        The searchable bars, sorted ascending (the holdout already removed).
    cutoff : date or None
        The model's knowledge cut-off (``LLMSettings.knowledge_cutoff``).
        A bar on the cut-off day is before it: the span starts the day after.
    min_bars : int, default 63
        Fewest bars for the span to count.
    """
    if min_bars < 1:
        raise ValueError(f"min_bars must be at least 1, got {min_bars}")
    if cutoff is None:
        return PostCutoffSpan(None, None, None, 0, "no knowledge cut-off is set for the model")
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert(None)
    boundary = pd.Timestamp(cutoff) + pd.Timedelta(days=1)
    after = index[index >= boundary]
    if len(after) == 0:
        last = index[-1].date().isoformat() if len(index) else "no bars"
        return PostCutoffSpan(
            cutoff, None, None, 0, f"the searchable data ends ({last}) before the cut-off"
        )
    if len(after) < min_bars:
        return PostCutoffSpan(
            cutoff,
            None,
            None,
            len(after),
            f"only {len(after)} searchable bars after the cut-off (fewer than {min_bars})",
        )
    return PostCutoffSpan(cutoff, after[0], after[-1], len(after))
