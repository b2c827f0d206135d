"""Resampled datasets: a stored dataset's bars aggregated to a coarser bar and stored.

:meth:`~alphaloop.data.catalog.DataCatalog.resample` reads every stored bar
of a dataset version, aggregates them with
:func:`alphaloop.data.resample.resample` (its rules: bars stamped at their
availability, buckets on the source's trading calendar, bars outside its
sessions left out) and stores the result as a new dataset, or as a new
version of a dataset resampled from the same source at the same rule. This
module holds the pieces that need no workspace:

- :func:`normalize_rule` reads ``--to`` (``5min``, ``1h``, ``daily``, ...);
- :func:`panel_rows` turns the resampled Panel into the long rows the store
  writes, so that loading them gives back the same Panel cell by cell;
- :func:`derived_boundary` places the source's holdout boundary on the
  resampled bars: a resampled bar that aggregates any source bar at or after
  the boundary is sealed, and so is any bar stamped at or after it;
- :class:`ResampleOrigin` is the provenance stored in the version's
  ``meta.json`` under ``resampled``; :class:`ResampleResult` what the catalog
  returns.

The seal follows the data
-------------------------
A resampled bar is made of the source's bars: those made of sealed bars are
sealed too. The derived holdout starts at the source's boundary, or earlier
when a bar stamped before it already aggregates a sealed bar (a daily bar is
stamped at its session's midnight, before any of its minutes). It is never
later, and never recomputed from the derived calendar's own share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.data.calendar_gaps import checkable_frequency, expected_stamps
from alphaloop.data.calendars import TradingCalendar, step_nanoseconds
from alphaloop.data.long import LongData
from alphaloop.data.panel import Panel
from alphaloop.data.resample import NS_PER_DAY, Label, resample
from alphaloop.data.seal import SealedCopy
from alphaloop.errors import ConfigError, DataResampleError

__all__ = [
    "DAILY",
    "DerivedSeal",
    "ResampleOrigin",
    "ResampleResult",
    "check_not_all_sealed",
    "default_name",
    "derived_boundary",
    "normalize_rule",
    "panel_rows",
    "rule_nanoseconds",
    "source_label",
]

#: the rule of session (daily) bars
DAILY = "daily"
_DAILY_WORDS = ("daily", "1d", "d", "day", "session")
_RULE_HINT = "use an intraday bar size such as 5min, 15min, 30min, 1h, 4h, or daily"
Status = Literal["created", "up-to-date"]


def normalize_rule(rule: str) -> str:
    """The canonical name of a target bar: ``"5min"``, ``"1h"``, ``"30s"`` or ``"daily"``.

    ``"60min"`` is ``"1h"``; ``"1d"``, ``"D"`` and ``"daily"`` are ``"daily"``.

    Raises
    ------
    DataResampleError
        Not a bar size.
    """
    text = str(rule).strip()
    if text.lower() in _DAILY_WORDS:
        return DAILY
    try:
        step = step_nanoseconds(text)
    except ConfigError:
        raise DataResampleError(f"--to {rule!r} is not a bar size", hint=_RULE_HINT) from None
    seconds = step // 10**9
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}min"
    return f"{seconds}s"


def rule_nanoseconds(rule: str) -> int:
    """Length of a normalized rule's bar in nanoseconds (a day for ``daily``)."""
    return NS_PER_DAY if rule == DAILY else step_nanoseconds(rule)


def default_name(source: str, rule: str) -> str:
    """The dataset name used when none is given: ``nyse-1min-1h``, ``nyse-1min-daily``."""
    return f"{source}-{rule}"


def panel_rows(panel: Panel) -> LongData:
    """The rows that store ``panel``, sorted by (asset, time).

    A row is kept where the asset is a member or any field has a value, so a
    stored and loaded copy equals ``panel`` cell by cell (NaN where no row,
    membership from the rows). A bar where no asset has either keeps one row
    (the first asset, not a member) so that the calendar keeps the bar.
    """
    fields = {n: np.asarray(panel.field(n), dtype=np.float64) for n in panel.field_names}
    member = np.asarray(panel.membership, dtype=bool)
    keep = member.copy()
    for values in fields.values():
        keep |= ~np.isnan(values)
    keep[~keep.any(axis=1), 0] = True
    a, t = np.nonzero(keep.T)  # asset-major: sorted by (asset, time)
    rows_member = member[t, a]
    stamps = panel.index.as_unit("ns").asi8.astype(np.int64)
    return LongData(
        stamps[t],
        a.astype(np.int32),
        tuple(panel.assets),
        {n: v[t, a] for n, v in fields.items()},
        np.arange(len(t), dtype=np.int64) + 1,
        None if rows_member.all() else rows_member,
    )


def derived_boundary(
    source: pd.DatetimeIndex,
    boundary: pd.Timestamp | None,
    rule: str,
    *,
    calendar: str | TradingCalendar | None,
    label: Literal["start", "end"],
) -> pd.Timestamp | None:
    """The first sealed instant of the resampled bars of ``source`` (None: no holdout).

    The resampled bars are cut as :func:`~alphaloop.data.resample.resample`
    cuts them (same rule, calendar and label). A resampled bar that
    aggregates any source bar at or after ``boundary`` is sealed, and so is a
    bar stamped at or after ``boundary``: the result is the earlier of
    ``boundary`` and the stamp of the first resampled bar holding a sealed
    source bar.
    """
    if boundary is None:
        return None
    sealed = (source >= boundary).astype(np.float64)[:, None]
    marker = Panel(source, ("sealed",), {"volume": sealed})  # a sum: > 0 where any is sealed
    marked = resample(marker, rule, calendar=calendar, label=label).panel
    hit = np.flatnonzero(marked.field("volume")[:, 0] > 0)
    if not len(hit):
        return boundary
    return min(boundary, pd.Timestamp(marked.index[int(hit[0])]))


def source_label(stamps: np.ndarray, frequency: str, trading_calendar: str | None) -> Label:
    """How a source's intraday bars are stamped: the grid of its trading calendar they fit.

    ``stamps`` are the source's timestamps (int64 ns, UTC); ``"start"`` when
    there is no calendar to tell, or the bars are daily.
    """
    if trading_calendar is None or len(stamps) < 2 or frequency == "daily":
        return "start"
    if not checkable_frequency(frequency):
        return "start"
    _, label = expected_stamps(TradingCalendar(trading_calendar), stamps, frequency)
    return "end" if label == "end" else "start"


@dataclass(frozen=True)
class DerivedSeal:
    """The holdout a resampled dataset inherits from its source (recorded with its version)."""

    boundary: pd.Timestamp | None
    fraction: float
    inherited: dict[str, Any]


@dataclass(frozen=True)
class ResampleOrigin:
    """Where a resampled dataset version came from: its ``resampled`` entry in ``meta.json``.

    Attributes
    ----------
    dataset, version, content_hash
        The source version.
    rule : str
        The target bar (``"1h"``, ``"daily"``).
    source_frequency : str
        The source's bar frequency.
    trading_calendar : str or None
        The calendar whose sessions the buckets follow (the source's), or
        None for UTC days.
    label : {"start", "end"}
        How the source's bars are stamped.
    bars_in, bars_out, dropped : int
        Source bars, resampled bars, and source bars left out (outside the
        sessions).
    source_boundary, boundary : pandas.Timestamp or None
        The source's holdout boundary and the resampled dataset's.
    """

    dataset: str
    version: int
    content_hash: str
    rule: str
    source_frequency: str
    trading_calendar: str | None
    label: str
    bars_in: int
    bars_out: int
    dropped: int
    source_boundary: pd.Timestamp | None
    boundary: pd.Timestamp | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "content_hash": self.content_hash,
            "rule": self.rule,
            "source_frequency": self.source_frequency,
            "trading_calendar": self.trading_calendar,
            "label": self.label,
            "bars_in": self.bars_in,
            "bars_out": self.bars_out,
            "dropped": self.dropped,
            "source_holdout_boundary": _iso(self.source_boundary),
            "holdout_boundary": _iso(self.boundary),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ResampleOrigin:
        return cls(
            str(doc["dataset"]),
            int(doc["version"]),
            str(doc["content_hash"]),
            str(doc["rule"]),
            str(doc.get("source_frequency", "")),
            doc.get("trading_calendar"),
            str(doc.get("label", "start")),
            int(doc.get("bars_in", 0)),
            int(doc.get("bars_out", 0)),
            int(doc.get("dropped", 0)),
            _ts(doc.get("source_holdout_boundary")),
            _ts(doc.get("holdout_boundary")),
        )

    def source_text(self) -> str:
        """``resampled:nyse-1min@v1(1h)``: the version's recorded source."""
        return f"resampled:{self.dataset}@v{self.version}({self.rule})"

    def describe(self) -> str:
        """The default description of the version."""
        where = (
            f"on the {self.trading_calendar} sessions" if self.trading_calendar else "on UTC days"
        )
        return (
            f"{self.dataset} v{self.version} ({self.source_frequency} bars) resampled to "
            f"{self.rule} {where}."
        )

    def caveats(self, source_caveats: tuple[str, ...]) -> list[str]:
        """The source's caveats, prefixed with its name, then what resampling did."""
        out = [f"{self.dataset}: {c}" for c in dict.fromkeys(source_caveats)]
        if self.rule == DAILY:
            stamps = "stamped at the session's date (midnight UTC), known at its close"
        else:
            stamps = "stamped at the end of their bucket, when their last source bar has closed"
        out.append(f"resampled from {self.source_frequency} to {self.rule}: bars {stamps}")
        if self.dropped:
            out.append(
                f"{self.dropped:,} source bar(s) outside the {self.trading_calendar} sessions "
                "were left out"
            )
        return out


@dataclass(frozen=True)
class ResampleResult:
    """Outcome of :meth:`~alphaloop.data.catalog.DataCatalog.resample`.

    Attributes
    ----------
    dataset : DatasetInfo
        The resampled dataset's version: the new one, or the current one when
        ``status`` is ``"up-to-date"``.
    origin : ResampleOrigin
        Its source, rule and holdout boundaries.
    status : {"created", "up-to-date"}
        ``up-to-date``: the dataset was resampled from the same source content
        at the same rule already; nothing was stored.
    holdout : HoldoutInfo or None
        Its holdout (inherited from the source).
    sealed_copies : tuple of SealedCopy
        Sealed rows of other datasets that its rows copy (see
        :mod:`alphaloop.data.seal`).
    """

    dataset: Any
    origin: ResampleOrigin
    status: Status
    holdout: Any = None
    sealed_copies: tuple[SealedCopy, ...] = ()

    @property
    def holdout_notice(self) -> str | None:
        """One line on the seal the resampled dataset inherits."""
        if self.holdout is None or self.holdout.boundary is None:
            return None
        return (
            f"{self.dataset.name} is made of {self.origin.dataset}'s bars; the seal follows "
            f"the data: its holdout starts {self.holdout.boundary:%Y-%m-%d %H:%M} UTC "
            f"({self.origin.dataset}'s starts {_when(self.origin.source_boundary)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dataset": self.dataset.to_dict(),
            "resampled": self.origin.to_dict(),
            "holdout": self.holdout.to_dict() if self.holdout is not None else None,
            "holdout_notice": self.holdout_notice,
            "sealed_copies": [c.to_dict() for c in self.sealed_copies],
        }


def _iso(ts: pd.Timestamp | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _ts(text: Any) -> pd.Timestamp | None:
    return pd.Timestamp(text).tz_convert("UTC") if text else None


def _when(ts: pd.Timestamp | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC" if ts is not None else "nowhere"


def check_not_all_sealed(origin: ResampleOrigin, first_bar: pd.Timestamp) -> None:
    """Refuse a resampled dataset whose every bar would lie in its holdout.

    Raises
    ------
    DataResampleError
        The derived boundary is at or before ``first_bar``, its first bar.
    """
    if origin.boundary is not None and origin.boundary <= first_bar:
        raise DataResampleError(
            f"every bar of {origin.dataset!r} resampled to {origin.rule} would be sealed: "
            f"its holdout starts {_when(origin.source_boundary)}, inside the first "
            f"resampled bar ({first_bar:%Y-%m-%d %H:%M} UTC)",
            hint="resample a dataset whose research span holds at least one whole bar",
        )
