"""Sealed holdouts: the final segment of each dataset, out of reach of research.

At a dataset's first use (its first load through the catalog) the final
``fraction`` of its calendar (default 20%, the workspace setting
``holdout_fraction``; per dataset configurable before first use) is sealed:
the boundary timestamp is recorded and from then on every load through
:class:`~alphaloop.data.catalog.DataCatalog` stops before it. That covers
every search, selection and training path, because they all read data through
the catalog; no argument of the public loading API reaches past the boundary.

Requests that reach into the holdout are cut at the boundary and say so: a
load whose ``end`` lies inside it warns with
:class:`~alphaloop.errors.HoldoutClippedWarning` and the panel carries the
same line in :attr:`~alphaloop.data.panel.Panel.notice`; a ``start`` inside
it raises :class:`HoldoutError`.

The seal follows the data, not the name: an import whose rows copy rows of
another dataset's sealed span inherits the seal (its holdout starts no later
than the first copied bar; see :mod:`alphaloop.data.seal`).

The only way past it is :meth:`Holdouts.unseal`: an explicit action, recorded
with a note and the number of strategies tried before it, that hands out a
one-dataset :class:`HoldoutKey` and spends the holdout. A spent holdout
cannot be unsealed again (no re-rolls), and research loads keep stopping at
the boundary: what was seen once is not fresh data any more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alphaloop.errors import HoldoutError
from alphaloop.store import Database, HoldoutRecord

__all__ = ["HoldoutError", "HoldoutInfo", "HoldoutKey", "Holdouts", "first_sealed_bar"]

_KEY_TOKEN = object()


@dataclass(frozen=True)
class HoldoutInfo:
    """The state of one dataset's holdout."""

    dataset: str
    fraction: float
    boundary: pd.Timestamp | None  # first sealed bar; None when the fraction is 0
    sealed_at: datetime
    unsealed_at: datetime | None
    note: str
    trials_before: int | None
    results: dict[str, Any]
    inherited_from: dict[str, Any] | None = None

    @property
    def spent(self) -> bool:
        return self.unsealed_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "fraction": self.fraction,
            "boundary": self.boundary.isoformat() if self.boundary is not None else None,
            "sealed_at": self.sealed_at.isoformat(),
            "unsealed_at": self.unsealed_at.isoformat() if self.unsealed_at else None,
            "note": self.note,
            "trials_before": self.trials_before,
            "results": self.results,
            "inherited_from": self.inherited_from,
        }


class HoldoutKey:
    """Permission to read one dataset's holdout, handed out once by :meth:`Holdouts.unseal`."""

    __slots__ = ("boundary", "dataset")

    def __init__(self, token: object, dataset: str, boundary: pd.Timestamp | None) -> None:
        if token is not _KEY_TOKEN:
            raise HoldoutError("holdout keys come only from Holdouts.unseal")
        self.dataset = dataset
        self.boundary = boundary

    def __repr__(self) -> str:
        return f"HoldoutKey({self.dataset!r})"


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class Holdouts:
    """Holdout records of one workspace (see the module docstring).

    Parameters
    ----------
    db : Database
    default_fraction : float
        Share of each dataset's bars sealed at first use, in [0, 1).
    """

    def __init__(self, db: Database, default_fraction: float) -> None:
        self.db = db
        self.default_fraction = default_fraction

    @staticmethod
    def _info(rec: HoldoutRecord) -> HoldoutInfo:
        b = _utc(rec.boundary)
        return HoldoutInfo(
            dataset=rec.dataset,
            fraction=rec.fraction,
            boundary=pd.Timestamp(b) if b is not None else None,
            sealed_at=_utc(rec.sealed_at),  # type: ignore[arg-type]
            unsealed_at=_utc(rec.unsealed_at),
            note=rec.note,
            trials_before=rec.trials_before,
            results=dict(rec.results or {}),
            inherited_from=dict(rec.inherited_from) if rec.inherited_from else None,
        )

    def get(self, dataset: str) -> HoldoutInfo | None:
        """The holdout of ``dataset``, or None before its first use."""
        with self.db.session() as s:
            rec = s.scalars(select(HoldoutRecord).where(HoldoutRecord.dataset == dataset)).first()
            return self._info(rec) if rec else None

    def list(self) -> list[HoldoutInfo]:
        with self.db.session() as s:
            recs = s.scalars(select(HoldoutRecord).order_by(HoldoutRecord.dataset)).all()
            return [self._info(r) for r in recs]

    def configure(self, dataset: str, fraction: float, calendar: np.ndarray) -> HoldoutInfo:
        """Set the sealed share of ``dataset`` before its first use (and seal it now)."""
        _check_fraction(fraction)
        existing = self.get(dataset)
        if existing is not None and existing.inherited_from:
            how = (
                "when it was resampled from {!r}, whose bars it aggregates"
                if existing.inherited_from.get("resampled")
                else "at import from {!r}, whose sealed rows it copies"
            )
            raise HoldoutError(
                f"the holdout of {dataset!r} was inherited "
                + how.format(existing.inherited_from.get("dataset"))
                + "; it cannot be changed",
                hint="the seal follows the data: import other data to get another holdout",
            )
        if existing is not None:
            raise HoldoutError(
                f"the holdout of {dataset!r} was sealed on {existing.sealed_at:%Y-%m-%d} "
                f"({existing.fraction:.0%}); it cannot be changed after first use",
                hint="import the data under a new name to start a new holdout",
            )
        return self._create(dataset, fraction, calendar)

    def seal(self, dataset: str, calendar: np.ndarray) -> HoldoutInfo:
        """The holdout of ``dataset``, sealing it with the default share at first use."""
        existing = self.get(dataset)
        if existing is not None:
            return existing
        return self._create(dataset, self.default_fraction, calendar)

    def _create(self, dataset: str, fraction: float, calendar: np.ndarray) -> HoldoutInfo:
        """Record the holdout; a process that sealed it at the same moment wins."""
        boundary = first_sealed_bar(fraction, calendar)
        try:
            with self.db.session() as s:
                rec = new_record(dataset, fraction, boundary)
                s.add(rec)
                s.flush()
                return self._info(rec)
        except IntegrityError:
            existing = self.get(dataset)
            if existing is None:
                raise
            return existing

    def prospective_boundary(self, dataset: str, calendar: np.ndarray) -> pd.Timestamp | None:
        """The boundary of ``dataset``: the sealed one, or the one first use would seal now.

        Seals nothing: what quality reports hide before a dataset's first use.
        """
        existing = self.get(dataset)
        if existing is not None:
            return existing.boundary
        return first_sealed_bar(self.default_fraction, calendar)

    def unseal(self, dataset: str, *, note: str, trials_before: int) -> HoldoutKey:
        """Spend the holdout of ``dataset``: record the action and return its key.

        Raises
        ------
        HoldoutError
            Before first use, or when it was unsealed before (no re-rolls).
        """
        if not note.strip():
            raise HoldoutError("unsealing needs a note saying which final strategies and why")
        with self.db.session() as s:
            rec = s.scalars(
                select(HoldoutRecord).where(HoldoutRecord.dataset == dataset).with_for_update()
            ).first()
            if rec is None:
                raise HoldoutError(f"dataset {dataset!r} has no sealed holdout yet")
            if rec.unsealed_at is not None:
                raise HoldoutError(
                    f"the holdout of {dataset!r} was unsealed on {_utc(rec.unsealed_at):%Y-%m-%d} "
                    f"({rec.note}); it cannot be evaluated again",
                    hint="its recorded results are in `alphaloop holdout show`",
                )
            if rec.boundary is None:
                raise HoldoutError(f"dataset {dataset!r} has no holdout (fraction 0)")
            rec.unsealed_at = datetime.now(UTC)
            rec.note = note
            rec.trials_before = int(trials_before)
            boundary = pd.Timestamp(_utc(rec.boundary))
        return HoldoutKey(_KEY_TOKEN, dataset, boundary)

    def record_results(self, key: HoldoutKey, results: dict[str, Any]) -> None:
        """Store what the unsealed evaluation found (once per key)."""
        with self.db.session() as s:
            rec = s.scalars(
                select(HoldoutRecord).where(HoldoutRecord.dataset == key.dataset)
            ).first()
            if rec is None or rec.unsealed_at is None:
                raise HoldoutError(f"the holdout of {key.dataset!r} is not unsealed")
            if rec.results:
                raise HoldoutError(f"results of the holdout of {key.dataset!r} are recorded")
            rec.results = results


def first_sealed_bar(fraction: float, calendar: np.ndarray) -> pd.Timestamp | None:
    """First timestamp of the final ``fraction`` of ``calendar`` (int64 ns, UTC); None for 0.

    The holdout keeps at least the first bar out of it and at least the last
    bar in it.
    """
    n = len(calendar)
    if fraction <= 0 or not n:
        return None
    first = min(n - 1, max(1, math.ceil(n * (1.0 - fraction))))
    return pd.Timestamp(int(calendar[first]), tz="UTC")


def new_record(
    dataset: str,
    fraction: float,
    boundary: pd.Timestamp | None,
    inherited_from: dict[str, Any] | None = None,
) -> HoldoutRecord:
    """A holdout row sealed now (added by the caller to its own transaction)."""
    return HoldoutRecord(
        dataset=dataset,
        fraction=float(fraction),
        boundary=boundary.to_pydatetime() if boundary is not None else None,
        sealed_at=datetime.now(UTC),
        note="",
        results={},
        inherited_from=inherited_from,
    )


def _check_fraction(fraction: float) -> None:
    if not (isinstance(fraction, int | float) and 0.0 <= fraction < 1.0):
        raise HoldoutError(f"holdout fraction must be in [0, 1), got {fraction!r}")
