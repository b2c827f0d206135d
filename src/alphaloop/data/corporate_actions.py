"""Corporate actions: splits and cash dividends stored with a dataset, and price views.

An event file has the columns ``date, symbol, kind, value``: ``kind`` is
``split`` (``value`` = new shares per old share: 2 for a 2-for-1 split, 0.1
for a 1-for-10 reverse split) or ``dividend`` (``value`` = cash per share in
the price's currency). ``date`` is the ex-date: the first bar that trades
without the dividend or at the split price.

Views of a dataset's prices (:func:`price_view`):

- ``unadjusted``: prices as traded;
- ``adjusted``: backward-adjusted, so the latest bar keeps its traded price
  and every earlier price is multiplied by the factors of the events after
  it: ``1 / ratio`` for a split, ``1 - dividend / close`` for a dividend
  (``close`` = the unadjusted close of the bar before the ex-date). Volume
  is multiplied by the split ratios only (shares, not value);
- ``total_return``: the unadjusted first close grown by each bar's total
  return ``(close_t + dividend_t) * ratio_t / close_{t-1}`` (a dividend paid
  per share after a split on the same date), reinvested at the close.

``as_of`` restricts the events to those dated on or before it: the
adjusted view a researcher could have built on that day. Without it every
stored event is used (the adjustment of history then depends on events
after a bar, which is what backward adjustment means; its returns do not).

A dataset stores either traded prices (``stored="unadjusted"``, default) or
prices already adjusted for the same events (``stored="adjusted"``); the
factors are computed from unadjusted closes in both cases (recovered from
the latest bar backwards for adjusted data).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import delete, select

from alphaloop.data.asset_files import line_of, parse_dates, read_table
from alphaloop.data.fx import PRICE_FIELDS
from alphaloop.data.panel import Panel
from alphaloop.errors import AssetDataError
from alphaloop.store import CorporateActionRow, Database

__all__ = [
    "ACTION_COLUMNS",
    "VIEWS",
    "CorporateActionStore",
    "adjustment_factors",
    "parse_actions",
    "price_view",
]

#: columns of an events file and of :meth:`CorporateActionStore.load`
ACTION_COLUMNS: tuple[str, ...] = ("date", "symbol", "kind", "value")
#: the price views :func:`price_view` makes
VIEWS: tuple[str, ...] = ("unadjusted", "adjusted", "total_return")
View = Literal["unadjusted", "adjusted", "total_return"]


def parse_actions(path: str | Path, *, known: Collection[str] | None = None) -> pd.DataFrame:
    """The events of ``path``, checked: columns :data:`ACTION_COLUMNS`, sorted by date and symbol.

    Raises
    ------
    AssetDataError
        A bad date, kind or value, a symbol not in ``known``, or the same
        (date, symbol, kind) twice, naming the lines.
    """
    frame = read_table(path, required=ACTION_COLUMNS, what="corporate actions")
    dates = parse_dates(frame["date"], column="date", path=path, allow_blank=False)
    symbol = frame["symbol"].astype(str).str.strip()
    kind = frame["kind"].astype(str).str.strip().str.lower()
    value = pd.to_numeric(frame["value"], errors="coerce")

    def refuse(mask: pd.Series, what: str, hint: str) -> None:
        if mask.any():
            lines = [line_of(int(i)) for i in np.flatnonzero(mask.to_numpy())[:5]]
            raise AssetDataError(
                f"{path}: {what} on line(s) {', '.join(map(str, lines))}", hint=hint
            )

    refuse(symbol.eq(""), "a blank symbol", "every event names its symbol")
    refuse(~kind.isin(("split", "dividend")), "a kind other than split or dividend",
           "kind is 'split' (value = new/old shares) or 'dividend' (cash per share)")  # fmt: skip
    refuse(~np.isfinite(value), "a missing or non-numeric value", "value is a number")
    refuse((kind == "split") & ~(value > 0), "a split ratio that is not positive",
           "a 2-for-1 split has value 2, a 1-for-10 reverse split 0.1")  # fmt: skip
    refuse((kind == "dividend") & (value < 0), "a negative dividend", "cash per share is >= 0")
    if known is not None:
        refuse(~symbol.isin(set(known)), "a symbol not in the dataset",
               "import events only for the dataset's assets")  # fmt: skip
    out = pd.DataFrame({"date": dates, "symbol": symbol, "kind": kind, "value": value})
    repeated = out.duplicated(["date", "symbol", "kind"], keep=False)
    refuse(repeated, "a repeated (date, symbol, kind)", "one event of a kind per symbol and date")
    return out.sort_values(["date", "symbol", "kind"]).reset_index(drop=True)


class CorporateActionStore:
    """Events stored with a dataset (table ``corporate_actions``, keyed by dataset name)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def import_file(
        self, dataset: str, path: str | Path, *, known: Collection[str] | None = None
    ) -> pd.DataFrame:
        """Replace ``dataset``'s events with those of ``path`` (one transaction); return them."""
        events = parse_actions(path, known=known)
        with self._db.write_session() as session:
            session.execute(delete(CorporateActionRow).where(CorporateActionRow.dataset == dataset))
            session.add_all(
                CorporateActionRow(
                    dataset=dataset, symbol=r.symbol, date=r.date, kind=r.kind, value=float(r.value)
                )
                for r in events.itertuples(index=False)
            )
        return events

    def load(self, dataset: str, *, as_of: date | None = None) -> pd.DataFrame:
        """``dataset``'s events (columns :data:`ACTION_COLUMNS`), those up to ``as_of`` if given."""
        query = select(CorporateActionRow).where(CorporateActionRow.dataset == dataset)
        if as_of is not None:
            query = query.where(CorporateActionRow.date <= as_of)
        with self._db.session() as session:
            rows = [(r.date, r.symbol, r.kind, r.value) for r in session.scalars(query)]
        frame = pd.DataFrame(rows, columns=list(ACTION_COLUMNS))
        return frame.sort_values(["date", "symbol", "kind"]).reset_index(drop=True)


def _event_arrays(
    panel: Panel, events: pd.DataFrame, as_of: date | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per (bar, asset): the split ratio (1 where none) and the dividend (0) on ex-date bars.

    An event dated between bars falls on the first bar on or after its date.
    """
    ratio = np.ones(panel.shape)
    dividend = np.zeros(panel.shape)
    if events.empty:
        return ratio, dividend
    days = pd.DatetimeIndex(panel.index.tz_convert("UTC").date.astype("datetime64[ns]"))
    keep = events["symbol"].isin(panel.assets).to_numpy().copy()
    if as_of is not None:
        keep &= (events["date"] <= as_of).to_numpy()
    kept = events[keep]
    rows = days.searchsorted(pd.DatetimeIndex(pd.to_datetime(kept["date"])), side="left")
    cols = pd.Index(panel.assets).get_indexer(kept["symbol"])
    inside = rows < panel.n_times
    values = kept["value"].to_numpy(dtype=np.float64)
    split = (kept["kind"] == "split").to_numpy() & inside
    paid = ~(kept["kind"] == "split").to_numpy() & inside
    # in file order, as a loop over the events would (several may fall on one bar)
    np.multiply.at(ratio, (rows[split], cols[split]), values[split])
    np.add.at(dividend, (rows[paid], cols[paid]), values[paid])
    return ratio, dividend
    days = pd.DatetimeIndex(panel.index.tz_convert("UTC").date.astype("datetime64[ns]"))
    for ev in events.itertuples(index=False):
        if as_of is not None and ev.date > as_of:
            continue
        if ev.symbol not in panel.assets:
            continue
        row = int(days.searchsorted(pd.Timestamp(ev.date), side="left"))
        if row >= panel.n_times:
            continue
        j = panel.asset_index(ev.symbol)
        if ev.kind == "split":
            ratio[row, j] *= float(ev.value)
        else:
            dividend[row, j] += float(ev.value)
    return ratio, dividend


def adjustment_factors(
    panel: Panel,
    events: pd.DataFrame,
    *,
    as_of: date | None = None,
    stored: Literal["unadjusted", "adjusted"] = "unadjusted",
) -> tuple[np.ndarray, np.ndarray]:
    """Backward adjustment factors: (price factor, volume factor), shape (time, asset).

    ``adjusted = unadjusted * price_factor``; the factor of a bar is the
    product of the factors of the events after it (see the module docstring).

    Raises
    ------
    AssetDataError
        A dividend at least as large as the close before its ex-date, or an
        event on an asset's first bar (no close before it).
    """
    ratio, dividend = _event_arrays(panel, events, as_of)
    return _factors(panel, ratio, dividend, stored)


def _factors(
    panel: Panel, ratio: np.ndarray, dividend: np.ndarray, stored: str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`adjustment_factors` from the per-bar split ratios and dividends."""
    close = np.asarray(panel["close"], dtype=np.float64)
    n_t = panel.n_times
    price_f = np.ones(panel.shape)
    volume_f = np.ones(panel.shape)
    cum_p = np.ones(panel.n_assets)
    cum_v = np.ones(panel.n_assets)
    for row in range(n_t - 1, 0, -1):
        price_f[row] = cum_p
        volume_f[row] = cum_v
        has = (ratio[row] != 1.0) | (dividend[row] != 0.0)
        if not has.any():
            continue
        prev = close[row - 1]
        # the unadjusted close before the ex-date; stored adjusted prices carry this
        # event too: adjusted = (unadjusted - dividend) / ratio * (later factors)
        later = prev * ratio[row] / cum_p + dividend[row]
        unadj_prev = prev if stored == "unadjusted" else later
        div_f = np.ones(panel.n_assets)
        paying = dividend[row] != 0.0
        if paying.any():
            bad = paying & ~(np.isfinite(unadj_prev) & (unadj_prev > dividend[row]))
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                raise AssetDataError(
                    f"dividend {dividend[row, j]:g} of {panel.assets[j]} on "
                    f"{panel.index[row]:%Y-%m-%d} is not below the close before it "
                    f"({unadj_prev[j]:g})",
                    hint="check the dividend's currency and the prices' adjustment",
                )
            div_f[paying] = 1.0 - dividend[row, paying] / unadj_prev[paying]
        cum_p = cum_p * div_f / ratio[row]
        cum_v = cum_v * ratio[row]
    price_f[0] = cum_p
    volume_f[0] = cum_v
    if ((ratio[0] != 1.0) | (dividend[0] != 0.0)).any():
        j = int(np.flatnonzero((ratio[0] != 1.0) | (dividend[0] != 0.0))[0])
        raise AssetDataError(
            f"an event of {panel.assets[j]} falls on the first bar ({panel.index[0]:%Y-%m-%d}): "
            "no close before it to adjust from",
            hint="load history from before the event",
        )
    return price_f, volume_f


def price_view(
    panel: Panel,
    events: pd.DataFrame,
    view: View,
    *,
    as_of: date | None = None,
    stored: Literal["unadjusted", "adjusted"] = "unadjusted",
) -> Panel:
    """``panel`` with its prices in the requested view (see the module docstring).

    Raises
    ------
    AssetDataError
        An unknown view, or one of :func:`adjustment_factors`'s errors.
    """
    if view not in VIEWS:
        raise AssetDataError(f"unknown view {view!r}", hint=f"one of {', '.join(VIEWS)}")
    ratio, dividend = _event_arrays(panel, events, as_of)
    price_f, volume_f = _factors(panel, ratio, dividend, stored)
    to_unadj = 1.0 / price_f if stored == "adjusted" else np.ones(panel.shape)
    fields: dict[str, np.ndarray] = {}
    for name in PRICE_FIELDS:
        if name in panel:
            unadj = np.asarray(panel[name], dtype=np.float64) * to_unadj
            fields[name] = unadj * price_f if view == "adjusted" else unadj
    if "volume" in panel:
        vol = np.asarray(panel["volume"], dtype=np.float64)
        unadj_v = vol / volume_f if stored == "adjusted" else vol
        fields["volume"] = unadj_v * volume_f if view == "adjusted" else unadj_v
    if view == "total_return":
        fields["close"] = _total_return(panel, fields["close"], ratio, dividend)
    return panel.with_fields(fields)


def _total_return(
    panel: Panel, close: np.ndarray, ratio: np.ndarray, dividend: np.ndarray
) -> np.ndarray:
    """A total-return index per asset starting at its first unadjusted close."""
    growth = np.full(panel.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        growth[1:] = (close[1:] + dividend[1:]) * ratio[1:] / close[:-1]
    # level_t = first close x the growths after it (bars without a close carry nothing):
    # one cumulative product per asset, multiplied in the same order as a loop would
    finite = np.isfinite(close)
    first = np.where(finite.any(axis=0), finite.argmax(axis=0), panel.n_times)
    steps = np.where(finite & np.isfinite(growth), growth, 1.0)
    steps[np.arange(panel.n_times)[:, None] <= first[None, :]] = 1.0
    cols = np.flatnonzero(first < panel.n_times)
    steps[first[cols], cols] = close[first[cols], cols]
    out = np.cumprod(steps, axis=0)
    out[~finite] = np.nan
    return out
