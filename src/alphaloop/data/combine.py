"""Combine datasets: the assets of several datasets as one dataset on a common calendar.

A combined dataset is stored like an import (a new version with its own
content hash), built from the stored rows of its sources:

- **Assets** keep their names when no other source has an asset of that
  name; names found in several sources become ``dataset/asset`` in all of
  them. The same dataset (or the same asset) given twice, or a prefixed name
  that equals another source's asset, is refused.
- **Calendar** ``intersect`` (default) keeps the bars where every source has
  a bar; ``union`` keeps every bar of every source. A source's assets have
  no row on a bar where that source has none: the loaded panel holds NaN
  there and ``membership`` is False. Prices are never filled forward.
  The sources must share a bar frequency and at least one bar.
- **Fields** are the union of the sources' fields; a field a source lacks is
  NaN for its assets. Every source must have ``close``.
- **Market calendar** (annualization) is read from the combined timestamps,
  as for an import: S&P 500 and WTI daily bars on weekdays make a
  ``sessions`` calendar of 252 bars a year. Sources of one asset class keep
  it; sources of several make the class ``mixed``, whose backtests charge
  the equities cost preset (a caveat says so).
- **Provenance**: each source's name, version, content hash, assets and
  holdout boundary are stored in the version's ``meta.json`` under
  ``combined``; every source's caveats and quality warnings become caveats
  of the combined dataset, prefixed with the source's name.
- **Seal**: the seal follows the data. Combining is a use of each source:
  a source without a holdout is sealed now. Rows of a source at or after its
  boundary are copies of sealed rows, so the combined dataset inherits the
  seal: its holdout starts no later than the first such bar (see
  :mod:`alphaloop.data.seal`). A combination whose every bar would be sealed
  is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.data.long import LongData
from alphaloop.data.market_calendar import ASSET_CLASSES, MarketCalendar, infer_market_calendar
from alphaloop.data.panel import infer_frequency
from alphaloop.data.seal import SealedCopy
from alphaloop.errors import DataCombineError

__all__ = [
    "CALENDAR_MODES",
    "MIXED",
    "Combination",
    "CombineResult",
    "CombineSource",
    "CombinedSource",
    "SourceRows",
    "check_calendar_mode",
    "combine_rows",
    "combined_market",
]

CalendarMode = Literal["intersect", "union"]
CALENDAR_MODES: tuple[str, ...] = ("intersect", "union")
#: asset class of a dataset whose sources have several asset classes
MIXED = "mixed"
#: separator between a source's name and an asset's name when names repeat
PREFIX_SEP = "/"


@dataclass(frozen=True)
class CombineSource:
    """One ``--from`` argument: a dataset and, optionally, some of its assets.

    ``CombineSource.parse("sp500-stocks:AAPL,MSFT")`` takes AAPL and MSFT;
    ``CombineSource.parse("wti")`` every asset of ``wti``.
    """

    dataset: str
    assets: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, text: str | CombineSource) -> CombineSource:
        if isinstance(text, CombineSource):
            return text
        name, sep, rest = str(text).strip().partition(":")
        if not name:
            raise DataCombineError(
                f"{text!r} names no dataset", hint="write DATASET or DATASET:ASSET,ASSET"
            )
        if not sep:
            return cls(name)
        assets = tuple(a.strip() for a in rest.split(",") if a.strip())
        if not assets:
            raise DataCombineError(
                f"{text!r} names no asset after ':'",
                hint="write DATASET for every asset, or DATASET:ASSET,ASSET",
            )
        return cls(name, assets)

    def __str__(self) -> str:
        return self.dataset + (":" + ",".join(self.assets) if self.assets else "")


@dataclass(frozen=True)
class SourceRows:
    """A source as read from the store, with what the combined dataset carries of it.

    Attributes
    ----------
    name, version, content_hash
        The source version.
    market : MarketCalendar
    caveats : tuple of str
        Its caveats, then its quality warnings as ``check: message``.
    rows : LongData
        Its stored rows of the selected assets, sorted by (asset, time).
    boundary : pandas.Timestamp or None
        First bar of its sealed holdout (None: no holdout).
    holdout_spent : datetime or None
        When its holdout was unsealed (evaluated), if it was.
    """

    name: str
    version: int
    content_hash: str
    market: MarketCalendar
    caveats: tuple[str, ...]
    rows: LongData
    boundary: pd.Timestamp | None = None
    holdout_spent: datetime | None = None

    def select(self, assets: Sequence[str] | None) -> SourceRows:
        """The rows of ``assets`` only, in that order (every asset when None)."""
        if assets is None:
            return self
        have = {a: i for i, a in enumerate(self.rows.assets)}
        missing = [a for a in assets if a not in have]
        if missing:
            raise DataCombineError(
                f"dataset {self.name!r} has no asset {missing[0]!r}",
                hint=f"its assets: {', '.join(self.rows.assets[:20])}"
                + (" ..." if len(self.rows.assets) > 20 else ""),
            )
        repeated = sorted(a for a, n in Counter(assets).items() if n > 1)
        if repeated:
            raise DataCombineError(
                f"duplicate asset names: {self.name}:{','.join(assets)} names "
                f"{repeated[0]!r} twice",
                hint="name each asset once",
            )
        codes = np.array([have[a] for a in assets], dtype=np.int32)
        remap = np.full(len(self.rows.assets), -1, dtype=np.int32)
        remap[codes] = np.arange(len(codes), dtype=np.int32)
        kept = self.rows.take(np.flatnonzero(remap[self.rows.asset_codes] >= 0))
        rows = replace(kept, asset_codes=remap[kept.asset_codes], assets=tuple(assets)).sorted()
        return replace(self, rows=rows)


@dataclass(frozen=True)
class CombinedSource:
    """What a combined dataset records of one source (its provenance)."""

    dataset: str
    version: int
    content_hash: str
    assets: tuple[tuple[str, str], ...]  # (name in the combined dataset, name in the source)
    fields: tuple[str, ...]
    asset_class: str
    bars: int
    bars_kept: int
    holdout_boundary: pd.Timestamp | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "content_hash": self.content_hash,
            "assets": {combined: own for combined, own in self.assets},
            "fields": list(self.fields),
            "asset_class": self.asset_class,
            "bars": self.bars,
            "bars_kept": self.bars_kept,
            "holdout_boundary": (
                self.holdout_boundary.isoformat() if self.holdout_boundary is not None else None
            ),
        }


@dataclass(frozen=True)
class Combination:
    """The rows of a combined dataset and everything recorded with them."""

    rows: LongData
    calendar: str
    sources: tuple[CombinedSource, ...]
    copies: tuple[SealedCopy, ...]
    caveats: tuple[str, ...]

    def provenance(self) -> dict[str, Any]:
        """The ``combined`` entry of the version's meta (JSON-ready)."""
        return {"calendar": self.calendar, "sources": [s.to_dict() for s in self.sources]}

    def source_text(self) -> str:
        """``combined:sp500-index@v1+wti@v1(intersect)``: the version's source."""
        parts = "+".join(f"{s.dataset}@v{s.version}" for s in self.sources)
        return f"combined:{parts}({self.calendar})"

    def describe(self) -> str:
        """The default description: the sources, their assets and the calendar."""
        parts = ", ".join(
            f"{s.dataset} v{s.version} ({', '.join(c for c, _ in s.assets[:5])}"
            + (" ..." if len(s.assets) > 5 else "")
            + ")"
            for s in self.sources
        )
        return f"Combined from {parts} on their {self.calendar} calendar."


def check_calendar_mode(calendar: str) -> CalendarMode:
    """``calendar`` if it is one of :data:`CALENDAR_MODES`."""
    if calendar not in CALENDAR_MODES:
        raise DataCombineError(
            f"calendar {calendar!r} is not a way to combine calendars",
            hint="use intersect (bars every source has) or union (bars any source has)",
        )
    return calendar  # type: ignore[return-value]


def _asset_names(sources: Sequence[SourceRows]) -> list[list[str]]:
    """Each source's asset names in the combined dataset (see the module docstring)."""
    seen = Counter(a for s in sources for a in set(s.rows.assets))
    names = [
        [f"{s.name}{PREFIX_SEP}{a}" if seen[a] > 1 else a for a in s.rows.assets] for s in sources
    ]
    owner: dict[str, str] = {}
    for s, own in zip(sources, names, strict=True):
        for a in own:
            if a in owner:
                raise DataCombineError(
                    f"duplicate asset names: {a!r} would name an asset of {owner[a]!r} and "
                    f"one of {s.name!r}",
                    hint="select assets with DATASET:ASSET,... to leave one of them out",
                )
            owner[a] = s.name
    return names


def _span(s: SourceRows) -> str:
    cal = s.rows.calendar
    if not len(cal):
        return f"{s.name}: no rows"
    first, last = (pd.Timestamp(int(x), tz="UTC") for x in (cal[0], cal[-1]))
    return f"{s.name} {first:%Y-%m-%d %H:%M}..{last:%Y-%m-%d %H:%M} UTC"


def combine_rows(sources: Sequence[SourceRows], calendar: str = "intersect") -> Combination:
    """Combine the rows of ``sources`` (see the module docstring for the rules).

    Parameters
    ----------
    sources : sequence of SourceRows
        At least one; each with the assets it contributes already selected.
    calendar : {"intersect", "union"}, default "intersect"

    Returns
    -------
    Combination
        The rows sorted by (asset, time), the provenance, the copied sealed
        spans (one per source whose sealed rows are in the result) and the
        caveats.

    Raises
    ------
    DataCombineError
        No sources, a dataset given twice, duplicate asset names, a source
        without ``close``, different bar frequencies, calendars that share
        no bar, or a result whose every bar would be sealed.
    """
    mode = check_calendar_mode(calendar)
    if not sources:
        raise DataCombineError("nothing to combine", hint="give at least one --from DATASET")
    twice = sorted(n for n, k in Counter(s.name for s in sources).items() if k > 1)
    if twice:
        raise DataCombineError(
            f"duplicate asset names: dataset {twice[0]!r} is given twice",
            hint="give each dataset once; DATASET:ASSET,ASSET selects several of its assets",
        )
    for s in sources:
        if "close" not in s.rows.fields:
            raise DataCombineError(
                f"dataset {s.name!r} has no close (fields: {', '.join(s.rows.fields)})",
                hint="every source needs a close price; import the data with a close field",
            )
        if not len(s.rows):
            raise DataCombineError(f"dataset {s.name!r} has no rows for the assets asked")
    freqs = {s.name: s.market.frequency for s in sources}
    if len(set(freqs.values())) > 1:
        listed = ", ".join(f"{n}: {f}" for n, f in freqs.items())
        raise DataCombineError(
            f"the sources have different bar frequencies ({listed})",
            hint="combine datasets of one frequency (resample the others before importing)",
        )
    names = _asset_names(sources)
    calendars = [s.rows.calendar for s in sources]
    common = calendars[0]
    for cal in calendars[1:]:
        common = np.intersect1d(common, cal, assume_unique=True)
    if not len(common):
        raise DataCombineError(
            "the calendars do not overlap: no bar where every source has one ("
            + "; ".join(_span(s) for s in sources)
            + ")",
            hint="combine datasets that cover a common span, with bars stamped at the same "
            "time of day",
        )
    if mode == "union":
        common = calendars[0]
        for cal in calendars[1:]:
            common = np.union1d(common, cal)
    fields = list(dict.fromkeys(f for s in sources for f in s.rows.fields))
    parts: list[LongData] = []
    recorded: list[CombinedSource] = []
    for s, own in zip(sources, names, strict=True):
        keep = np.isin(s.rows.timestamps, common) if mode == "intersect" else None
        rows = s.rows if keep is None else s.rows.take(np.flatnonzero(keep))
        parts.append(rows)
        kept = int(np.isin(s.rows.calendar, common).sum())
        recorded.append(
            CombinedSource(
                s.name,
                s.version,
                s.content_hash,
                tuple(zip(own, s.rows.assets, strict=True)),
                tuple(s.rows.fields),
                s.market.asset_class,
                len(s.rows.calendar),
                kept,
                s.boundary,
            )
        )
    combined = _concat(parts, [a for own in names for a in own], fields)
    copies = _sealed_copies(sources, parts, names)
    if copies and min(c.first for c in copies).value <= int(common[0]):
        first = min(copies, key=lambda c: c.first)
        raise DataCombineError(
            f"every bar of the combined dataset would be sealed: the holdout of "
            f"{first.dataset!r} starts {first.boundary:%Y-%m-%d}, at or before the first "
            f"common bar ({pd.Timestamp(int(common[0]), tz='UTC'):%Y-%m-%d})",
            hint=f"combine datasets whose common span starts before {first.dataset!r}'s holdout",
        )
    caveats = _caveats(sources, recorded, mode, len(common))
    return Combination(combined, mode, tuple(recorded), copies, caveats)


def _concat(parts: list[LongData], assets: list[str], fields: list[str]) -> LongData:
    """One LongData of the sources' rows; asset codes shifted per source; absent fields NaN."""
    offsets = np.cumsum([0, *(len(p.assets) for p in parts[:-1])])
    n = sum(len(p) for p in parts)
    out_fields = {
        f: np.concatenate(
            [p.fields[f] if f in p.fields else np.full(len(p), np.nan) for p in parts]
        ).astype(np.float64, copy=False)
        for f in fields
    }
    member = None
    if any(p.member is not None for p in parts):
        member = np.concatenate(
            [p.member if p.member is not None else np.ones(len(p), dtype=bool) for p in parts]
        )
    data = LongData(
        np.concatenate([p.timestamps for p in parts]).astype(np.int64, copy=False),
        np.concatenate(
            [
                p.asset_codes.astype(np.int32) + np.int32(o)
                for p, o in zip(parts, offsets, strict=True)
            ]
        ),
        tuple(assets),
        out_fields,
        np.arange(n, dtype=np.int64) + 1,
        member,
    )
    return data.sorted()


def _sealed_copies(
    sources: Sequence[SourceRows], parts: list[LongData], names: list[list[str]]
) -> tuple[SealedCopy, ...]:
    """One copy per source whose sealed rows (at or after its boundary) are kept."""
    out = []
    for s, rows, own in zip(sources, parts, names, strict=True):
        if s.boundary is None:
            continue
        sealed = rows.timestamps >= s.boundary.value
        if not sealed.any():
            continue
        codes = np.unique(rows.asset_codes[sealed])
        out.append(
            SealedCopy(
                s.name,
                s.boundary,
                pd.Timestamp(int(rows.timestamps[sealed].min()), tz="UTC"),
                int(sealed.sum()),
                tuple((own[c], s.rows.assets[c]) for c in codes),
            )
        )
    return tuple(sorted(out, key=lambda c: (c.first, c.dataset)))


def _caveats(
    sources: Sequence[SourceRows], recorded: list[CombinedSource], mode: str, n_bars: int
) -> tuple[str, ...]:
    out: list[str] = []
    for s in sources:
        out.extend(f"{s.name}: {c}" for c in dict.fromkeys(s.caveats))
    classes = _classes(sources)
    if len(classes) > 1:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in classes.items())
        out.append(
            f"mixed asset classes ({listed}): backtests charge the equities cost preset to "
            "every asset unless the spec sets costs"
        )
    if mode == "intersect":
        dropped = [f"{r.dataset} {r.bars - r.bars_kept}" for r in recorded if r.bars > r.bars_kept]
        if dropped:
            out.append(
                f"intersect calendar: {n_bars:,} bars where every source has a bar; bars of "
                f"only some sources are left out ({', '.join(dropped)})"
            )
    else:
        absent = [f"{r.dataset} {n_bars - r.bars}" for r in recorded if r.bars < n_bars]
        if absent:
            out.append(
                "union calendar: on bars where a source has no bar its assets have no row "
                "(prices NaN, membership False, never filled forward) ("
                + ", ".join(absent)
                + " bars)"
            )
    for s in sources:
        if s.holdout_spent is not None:
            out.append(
                f"the holdout of {s.name} (from {s.boundary:%Y-%m-%d}) was evaluated on "
                f"{s.holdout_spent:%Y-%m-%d}: the combined holdout's rows of it were seen before"
            )
    return tuple(out)


def _classes(sources: Sequence[SourceRows]) -> dict[str, list[str]]:
    classes: dict[str, list[str]] = {}
    for s in sources:
        classes.setdefault(s.market.asset_class, []).append(s.name)
    return classes


def combined_market(
    sources: Sequence[SourceRows], rows: LongData, *, periods_per_year: float | None = None
) -> MarketCalendar:
    """The combined dataset's market calendar, read from its timestamps.

    Sources of one asset class keep it (an ``fx`` pair of datasets keeps the
    FX week); several classes make :data:`MIXED`, with the calendar the
    combined bars show. Volume is ``tick`` when any source's volume is tick
    volume (impact needs traded volume everywhere), else ``traded`` when a
    source has traded volume.
    """
    classes = _classes(sources)
    only = next(iter(classes)) if len(classes) == 1 else None
    kinds = {s.market.volume for s in sources}
    volume = "tick" if "tick" in kinds else "traded" if "traded" in kinds else "none"
    calendar = rows.calendar
    market = infer_market_calendar(
        calendar,
        infer_frequency(pd.DatetimeIndex(calendar.view("datetime64[ns]"))),
        has_volume="volume" in rows.fields,
        asset_class=only if only in ASSET_CLASSES else None,
        periods_per_year_given=periods_per_year,
        volume=volume if "volume" in rows.fields else None,
    )
    if only is not None and only not in ASSET_CLASSES:  # a combination of combinations
        market = replace(market, asset_class=only)
    if only is None:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in classes.items())
        market = replace(
            market,
            asset_class=MIXED,
            basis=f"{market.basis}; asset classes of the sources: {listed}",
        )
    return market


@dataclass(frozen=True)
class CombineResult:
    """Outcome of :meth:`~alphaloop.data.catalog.DataCatalog.combine`.

    Attributes
    ----------
    dataset : DatasetInfo
        The new version.
    combination : Combination
        Its sources (provenance), calendar mode, caveats and copied sealed spans.
    holdout : HoldoutInfo or None
        Its holdout when it inherited a seal from a source.
    """

    dataset: Any
    combination: Combination
    holdout: Any = None

    @property
    def holdout_notice(self) -> str | None:
        """One line when the combined dataset inherits a source's seal."""
        if not self.combination.copies or self.holdout is None or self.holdout.boundary is None:
            return None
        names = ", ".join(c.dataset for c in self.combination.copies)
        return (
            f"{self.dataset.name} copies sealed rows of {names}; the seal follows the data: "
            f"its holdout starts {self.holdout.boundary:%Y-%m-%d}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dict(),
            "combined": self.combination.provenance(),
            "sealed_copies": [c.to_dict() for c in self.combination.copies],
            "holdout": self.holdout.to_dict() if self.holdout is not None else None,
            "holdout_notice": self.holdout_notice,
        }
