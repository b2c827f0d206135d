"""Point-in-time universes: which symbols belonged to a universe on each date.

A membership file has the columns ``symbol, start, end``: one row per span
during which ``symbol`` was a member, ``start`` its first day and ``end`` its
last day (both inclusive, ISO dates; a blank ``end`` = still a member). A
symbol may enter and leave several times; its spans must not overlap.

Applied to a panel (:func:`apply_universe`), a bar ``t`` of asset ``a`` is in
the universe when the bar's UTC date is inside one of ``a``'s spans; the
panel's membership mask becomes its own mask AND that. Backtests and factor
evaluation already count only members at each bar, so the universe then
holds the stocks that were members *then*, including those that later left
(the losers a survivor list drops).

The survivorship caveat of a dataset (a caveat starting with
``survivorship``) is lifted only by an applied universe, and only fully when
every symbol the universe names during the panel's span has prices in it; a
member with no prices (delisted and missing from the file, say) keeps a
narrower caveat naming how many there are.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, select

from alphaloop.data.asset_files import line_of, parse_dates, read_table
from alphaloop.data.panel import Panel
from alphaloop.errors import AssetDataError
from alphaloop.store import Database, UniverseMemberRow

__all__ = [
    "MEMBERSHIP_COLUMNS",
    "AppliedUniverse",
    "UniverseStore",
    "apply_universe",
    "membership_mask",
    "parse_memberships",
    "universe_caveats",
]

#: columns of a membership file and of :meth:`UniverseStore.spans`
MEMBERSHIP_COLUMNS: tuple[str, ...] = ("symbol", "start", "end")


def parse_memberships(path: str | Path) -> pd.DataFrame:
    """The spans of ``path``, checked; sorted by symbol and start.

    Raises
    ------
    AssetDataError
        A blank symbol, a bad date, an end before its start, or overlapping
        spans of one symbol, naming the lines.
    """
    frame = read_table(path, required=MEMBERSHIP_COLUMNS, what="membership")
    symbol = frame["symbol"].astype(str).str.strip()
    start = parse_dates(frame["start"], column="start", path=path, allow_blank=False)
    end = parse_dates(frame["end"], column="end", path=path, allow_blank=True)
    blank = symbol.eq("")
    if blank.any():
        raise AssetDataError(f"{path}: a blank symbol on line {line_of(int(blank.idxmax()))}")
    backwards = [i for i in range(len(frame)) if end[i] is not None and end[i] < start[i]]
    if backwards:
        raise AssetDataError(
            f"{path}: a span ends before it starts on line {line_of(backwards[0])}",
            hint="end is the last day of membership, on or after start",
        )
    spans = pd.DataFrame({"symbol": symbol, "start": start, "end": end, "line": frame.index + 2})
    spans = spans.sort_values(["symbol", "start"], kind="stable").reset_index(drop=True)
    for sym, group in spans.groupby("symbol", sort=False):
        rows = list(group.itertuples(index=False))
        for prev, nxt in itertools.pairwise(rows):
            if prev.end is None or nxt.start <= prev.end:
                raise AssetDataError(
                    f"{path}: spans of {sym} overlap (lines {prev.line} and {nxt.line})",
                    hint="a symbol's spans must not overlap; merge them or fix the dates",
                )
    return spans.drop(columns="line")


def membership_mask(
    index: pd.DatetimeIndex, assets: Sequence[str], spans: pd.DataFrame
) -> np.ndarray:
    """Bool (time, asset): the bar's UTC date is inside one of the asset's spans."""
    days = index.tz_convert("UTC").normalize().tz_localize(None).to_numpy()
    mask = np.zeros((len(index), len(assets)), dtype=bool)
    pos = {a: j for j, a in enumerate(assets)}
    for span in spans.itertuples(index=False):
        j = pos.get(span.symbol)
        if j is None:
            continue
        inside = days >= np.datetime64(span.start)
        if span.end is not None:
            inside &= days <= np.datetime64(span.end)
        mask[:, j] |= inside
    return mask


@dataclass(frozen=True)
class AppliedUniverse:
    """A panel restricted to a universe, and what the universe could not cover.

    ``missing`` names members during the panel's span with no column in the
    panel; ``never_members`` the panel's assets never in the universe.
    """

    panel: Panel
    name: str
    missing: tuple[str, ...]
    never_members: tuple[str, ...]


def apply_universe(panel: Panel, spans: pd.DataFrame, name: str) -> AppliedUniverse:
    """``panel`` with membership = its own AND the universe's (see the module docstring)."""
    mask = membership_mask(panel.index, panel.assets, spans)
    out = Panel(
        panel.index,
        panel.assets,
        {f: panel[f] for f in panel.field_names},
        membership=np.asarray(panel.membership) & mask,
        frequency=panel.frequency,
    ).with_sealed_end(panel.sealed_end, panel.notice)
    if panel.synthetic is not None:
        out = out.as_synthetic(panel.synthetic)
    missing: tuple[str, ...] = ()
    if panel.n_times:
        first = panel.index[0].tz_convert("UTC").date()
        last = panel.index[-1].tz_convert("UTC").date()
        during = spans[
            (spans["start"] <= last) & spans["end"].map(lambda e: e is None or e >= first)
        ]
        missing = tuple(sorted(set(during["symbol"]) - set(panel.assets)))
    never = tuple(a for j, a in enumerate(panel.assets) if not mask[:, j].any())
    return AppliedUniverse(out, name, missing, never)


def universe_caveats(caveats: Sequence[str], applied: AppliedUniverse | None) -> list[str]:
    """Dataset caveats after a universe: survivorship lifted (fully or in part) or kept."""
    if applied is None:
        return list(caveats)
    kept = [c for c in caveats if not c.lower().startswith("survivorship")]
    if applied.missing:
        shown = ", ".join(applied.missing[:5]) + (" ..." if len(applied.missing) > 5 else "")
        kept.append(
            f"survivorship partly removed: point-in-time universe {applied.name!r} applied, "
            f"but {len(applied.missing)} of its members have no prices in the dataset "
            f"({shown}); results still leave them out"
        )
    else:
        kept.append(
            f"point-in-time universe {applied.name!r} applied: only members at each date "
            "are held or scored (survivorship removed as far as the membership file is right)"
        )
    return kept


class UniverseStore:
    """Membership spans by universe name (table ``universe_members``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def import_file(self, name: str, path: str | Path) -> pd.DataFrame:
        """Replace universe ``name``'s spans with those of ``path`` (one transaction)."""
        spans = parse_memberships(path)
        with self._db.write_session() as session:
            session.execute(delete(UniverseMemberRow).where(UniverseMemberRow.universe == name))
            session.add_all(
                UniverseMemberRow(universe=name, symbol=s.symbol, start=s.start, end=s.end)
                for s in spans.itertuples(index=False)
            )
        return spans

    def spans(self, name: str) -> pd.DataFrame | None:
        """Universe ``name``'s spans (columns :data:`MEMBERSHIP_COLUMNS`), None if not stored."""
        query = select(UniverseMemberRow).where(UniverseMemberRow.universe == name)
        with self._db.session() as session:
            rows = [(r.symbol, r.start, r.end) for r in session.scalars(query)]
        if not rows:
            return None
        frame = pd.DataFrame(rows, columns=list(MEMBERSHIP_COLUMNS))
        frame["end"] = frame["end"].astype(object).where(frame["end"].notna(), None)
        return frame.sort_values(["symbol", "start"]).reset_index(drop=True)

    def names(self) -> list[str]:
        """Every stored universe's name, sorted."""
        with self._db.session() as session:
            return sorted(session.scalars(select(UniverseMemberRow.universe).distinct()))
