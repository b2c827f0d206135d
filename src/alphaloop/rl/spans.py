"""Spans of an environment: purged train/validation/test rows, and the sealed holdout.

A decision taken at row ``t`` is judged by the close of row ``t + 1`` (its
fill and first mark), so its label ends at ``t + 1``. :func:`split_spans`
hands these label ends to :class:`~alphaloop.validation.WalkForward`, which
purges every training decision whose label reaches the validation span (and
every validation decision whose label reaches the test span) and embargoes
``embargo`` of the rows before each: no bar is used by two spans.

The sealed holdout is out of reach: a Panel loaded through the catalog stops
before it (:attr:`~alphaloop.data.Panel.sealed_end`), the named spans are cut
from that Panel, and an explicit span that starts or ends inside the holdout
raises :class:`~alphaloop.errors.HoldoutError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaloop.data import Panel, as_utc
from alphaloop.errors import HoldoutError
from alphaloop.rl.config import EnvConfig
from alphaloop.rl.errors import RLConfigError
from alphaloop.validation import SplitError, WalkForward

__all__ = ["EnvSpans", "resolve_span", "split_spans"]

_HOLDOUT_HINT = "final policies are evaluated on it once: `alphaloop holdout unseal`"


@dataclass(frozen=True)
class EnvSpans:
    """Row ranges (first, last; inclusive) of the three spans of one calendar.

    Each span's decisions are its rows but the last; the last row's close marks
    the last fill.
    """

    index: pd.DatetimeIndex
    train: tuple[int, int]
    validation: tuple[int, int] | None
    test: tuple[int, int] | None

    def dates(self, name: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last timestamp of span ``name`` (None when empty)."""
        rows = getattr(self, name)
        return None if rows is None else (self.index[rows[0]], self.index[rows[1]])


def _block(rows: np.ndarray) -> tuple[int, int]:
    """A span from its decision rows: the last decision's fill row closes it."""
    return int(rows[0]), int(rows[-1]) + 1


def _cut(
    decisions: np.ndarray, t1: pd.Series, fraction: float, embargo: float, name: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """(earlier decisions kept after purge and embargo, the last ``fraction`` of them)."""
    if fraction == 0.0:
        return None
    size = max(1, round(fraction * len(decisions)))
    try:
        cv = WalkForward(n_splits=1, test_size=size, t1=t1.iloc[decisions], embargo=embargo)
        train, held = next(cv.split(np.empty((len(decisions), 0))))
    except SplitError as exc:
        raise RLConfigError(
            f"cannot cut a {name} span of {fraction:.0%} from {len(decisions)} decision "
            f"bars: {exc.message}",
            hint="lower validation_fraction/test_fraction or the embargo, or use more data",
        ) from exc
    return decisions[train], decisions[held]


def split_spans(
    index: pd.DatetimeIndex,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    embargo: float = 0.01,
) -> EnvSpans:
    """Train, validation and test spans of ``index``: the last rows, purged and embargoed.

    Parameters
    ----------
    index : DatetimeIndex
        The calendar of the loaded data (which stops before a sealed holdout).
    validation_fraction, test_fraction : float
        Shares of the decision rows in the validation and test spans (0: none).
    embargo : float
        Share of the rows dropped before each later span, after the purge.

    Raises
    ------
    RLConfigError
        When the rows are too few for the three spans.
    """
    n = len(index) - 1  # decision rows: each needs the next row's close
    if n < 10:
        raise RLConfigError(f"{len(index)} bars are too few to split into spans")
    t1 = pd.Series(index[1:], index=index[:-1])
    decisions = np.arange(n)
    test = validation = None
    cut = _cut(decisions, t1, test_fraction, embargo, "test")
    if cut is not None:
        decisions, held = cut
        test = (int(held[0]), len(index) - 1)
    cut = _cut(decisions, t1, validation_fraction, embargo, "validation")
    if cut is not None:
        decisions, held = cut
        validation = _block(held)
    if len(decisions) < 2:
        raise RLConfigError(f"no training rows are left in {len(index)} bars")
    return EnvSpans(index, _block(decisions), validation, test)


def _check_holdout(panel: Panel, start: object, end: object) -> None:
    sealed = panel.sealed_end
    if sealed is None:
        return
    if as_utc(start) >= sealed.boundary:
        raise HoldoutError(sealed.refused_start(start), hint=_HOLDOUT_HINT)
    if as_utc(end) >= sealed.boundary:
        raise HoldoutError(
            f"span end {as_utc(end):%Y-%m-%d} is inside the sealed holdout of "
            f"{sealed.dataset} (from {sealed.boundary:%Y-%m-%d}); environments never "
            "reach it",
            hint=_HOLDOUT_HINT,
        )


def resolve_span(panel: Panel, config: EnvConfig) -> tuple[int, int]:
    """The (first, last) rows of ``panel`` that ``config.span`` names (inclusive).

    Raises
    ------
    HoldoutError
        A span of dates that starts or ends inside the sealed holdout.
    RLConfigError
        A span outside the data, reversed, or shorter than two bars.
    """
    span = config.span
    index = panel.index
    n = len(index)
    if isinstance(span, str):
        if span == "all":
            return 0, n - 1
        spans = split_spans(index, config.validation_fraction, config.test_fraction, config.embargo)
        rows = getattr(spans, span)
        if rows is None:
            raise RLConfigError(
                f"span {span!r} is empty: its fraction is 0",
                hint=f"set {span}_fraction above 0",
            )
        return rows
    first, last = span
    if isinstance(first, str):
        _check_holdout(panel, first, last)
        i0 = int(index.searchsorted(as_utc(first), side="left"))
        i1 = int(index.searchsorted(as_utc(last), side="right")) - 1
        if as_utc(last) > index[-1] or as_utc(first) < index[0]:
            raise RLConfigError(
                f"span {first} .. {last} reaches outside the data "
                f"({index[0]:%Y-%m-%d} .. {index[-1]:%Y-%m-%d})"
            )
    else:
        i0, i1 = int(first), int(last)
        if not 0 <= i0 < n or not 0 <= i1 < n:
            raise RLConfigError(f"span rows {i0} .. {i1} are outside the data's 0 .. {n - 1}")
    if i1 - i0 < 1:
        raise RLConfigError(f"span {first} .. {last} holds fewer than two bars")
    return i0, i1
