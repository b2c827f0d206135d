"""Continuous futures contracts from individual contract series.

One futures contract lives a few months; a backtest needs one series over
years. :func:`continuous_contract` holds one contract at a time, rolls to
the next by a rule, and splices the prices.

Roll rules (each decided at a bar's close from data up to that bar only; the
new contract is held from the *next* bar):

- :class:`CalendarRoll` ``days_before=N``: roll once the bar's date is
  within ``N`` calendar days of the held contract's expiry;
- :class:`CrossoverRoll` ``field="volume"`` or ``"open_interest"``: roll
  when the next contract's value at the bar exceeds the held contract's
  (never back); a contract is always left by its expiry day at the latest.

A roll decided on the last bar is in the schedule with ``effective_at``
NaT: it takes effect *after the end*, on the next bar when one arrives, so
the last bar still holds (and is priced from) the old contract and no price
is adjusted for it yet. A roll is decided at bar ``t`` only if the next contract has a close at
``t`` (the price gap is measured there); otherwise it waits for one.

Adjustment (``adjust``) joins the segments:

- ``"difference"`` (back-adjustment by the gap): every bar before a roll is
  shifted by ``new_close(t) - old_close(t)`` at the roll's decision bar
  ``t``, so the latest segment keeps its traded prices and price
  *differences* (P&L per contract) equal the held contract's at every bar;
- ``"ratio"``: every bar before a roll is multiplied by ``new_close(t) /
  old_close(t)``, so simple *returns* equal the held contract's at every bar;
- ``"none"``: prices spliced as traded; the series jumps at rolls by the gap.

On the first bar of a new contract the return is the new contract's return
from the decision bar (``t``) to it. Backward adjustment changes history
when a later roll happens (the levels shift, returns or differences do not);
the unadjusted series and the roll schedule never change in hindsight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from alphaloop.data.asset_files import line_of, read_table
from alphaloop.errors import AssetDataError

__all__ = [
    "CONTRACT_FILE_COLUMNS",
    "ROLL_COLUMNS",
    "CalendarRoll",
    "ContinuousContract",
    "CrossoverRoll",
    "continuous_contract",
    "read_contracts",
]

Adjustment = Literal["difference", "ratio", "none"]
#: columns of :attr:`ContinuousContract.rolls`
ROLL_COLUMNS: tuple[str, ...] = (
    "decided_at",
    "effective_at",
    "from_contract",
    "to_contract",
    "from_close",
    "to_close",
    "gap",
    "ratio",
)
_PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class CalendarRoll:
    """Roll once the bar's date is within ``days_before`` calendar days of expiry."""

    days_before: int = 5

    def __post_init__(self) -> None:
        if self.days_before < 0:
            raise AssetDataError(f"days_before must be >= 0, got {self.days_before}")


@dataclass(frozen=True)
class CrossoverRoll:
    """Roll when the next contract's ``field`` (volume or open interest) exceeds the held one's."""

    field: Literal["volume", "open_interest"] = "volume"

    def __post_init__(self) -> None:
        if self.field not in ("volume", "open_interest"):
            raise AssetDataError(
                f"a crossover roll reads 'volume' or 'open_interest', not {self.field!r}"
            )


RollRule = CalendarRoll | CrossoverRoll


@dataclass(frozen=True)
class ContinuousContract:
    """A spliced series, the contract held at each bar and the roll schedule.

    Attributes
    ----------
    frame : DataFrame
        Indexed by bar time: ``open``/``high``/``low``/``close`` (adjusted, where
        the contracts have them), ``raw_close`` (the held contract's traded
        close), ``contract`` (held), ``volume``/``open_interest`` (the held
        contract's, where given).
    rolls : DataFrame
        One row per roll, columns :data:`ROLL_COLUMNS` (``gap`` = ``to_close -
        from_close`` and ``ratio`` = ``to_close / from_close`` at ``decided_at``);
        ``effective_at`` is NaT for a roll decided on the last bar (effective
        after the end).
    adjust : str
    rule : CalendarRoll or CrossoverRoll
    """

    frame: pd.DataFrame
    rolls: pd.DataFrame
    adjust: str
    rule: RollRule

    def describe(self) -> str:
        """One line: the rule, the adjustment and how many rolls."""
        if isinstance(self.rule, CalendarRoll):
            rule = f"calendar roll {self.rule.days_before} days before expiry"
        else:
            rule = f"{self.rule.field} crossover roll"
        pending = int(self.rolls["effective_at"].isna().sum()) if len(self.rolls) else 0
        done = len(self.rolls) - pending
        tail = ", 1 roll decided on the last bar (effective after the end)" if pending else ""
        return f"{rule}, {self.adjust} adjustment, {done} roll(s){tail}"


def _check_contracts(
    contracts: Mapping[str, pd.DataFrame], expiries: Mapping[str, date], rule: RollRule
) -> list[str]:
    if not contracts:
        raise AssetDataError("no contract series given")
    missing = [c for c in contracts if c not in expiries]
    if missing:
        raise AssetDataError(
            f"no expiry for contract(s) {', '.join(missing[:5])}",
            hint="store them as future instruments with an expiry",
        )
    for name, frame in contracts.items():
        if "close" not in frame.columns:
            raise AssetDataError(f"contract {name} has no 'close' column")
        if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
            raise AssetDataError(f"contract {name} needs a time zone-aware DatetimeIndex")
        if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
            raise AssetDataError(f"contract {name}: timestamps must be increasing and unique")
        if isinstance(rule, CrossoverRoll) and rule.field not in frame.columns:
            raise AssetDataError(f"contract {name} has no {rule.field!r} column for the roll rule")
    return sorted(contracts, key=lambda c: (expiries[c], c))


def continuous_contract(
    contracts: Mapping[str, pd.DataFrame],
    expiries: Mapping[str, date],
    *,
    rule: RollRule | None = None,
    adjust: Adjustment = "difference",
) -> ContinuousContract:
    """Splice contract series into one continuous series (see the module docstring).

    Parameters
    ----------
    contracts : mapping of str to DataFrame
        Each contract's bars (tz-aware index; ``close`` required, ``open``,
        ``high``, ``low``, ``volume``, ``open_interest`` optional).
    expiries : mapping of str to date
        Each contract's last trading day.
    rule : CalendarRoll or CrossoverRoll, default CalendarRoll(5)
    adjust : {"difference", "ratio", "none"}, default "difference"

    Raises
    ------
    AssetDataError
        Missing expiries or columns, a bad adjustment, or a held contract that
        expires with no later contract priced to roll into.
    """
    rule = rule or CalendarRoll()
    if adjust not in ("difference", "ratio", "none"):
        raise AssetDataError(f"adjust must be difference, ratio or none, not {adjust!r}")
    order = _check_contracts(contracts, expiries, rule)
    index = pd.DatetimeIndex(sorted(set().union(*(f.index for f in contracts.values()))))
    days = np.array([ts.date() for ts in index.tz_convert("UTC")])
    aligned = {c: contracts[c].reindex(index) for c in order}
    close = {c: aligned[c]["close"].to_numpy(dtype=np.float64) for c in order}
    held = np.empty(len(index), dtype=object)
    rolls: list[tuple[object, ...]] = []
    k = _first_contract(order, expiries, close, days[0], rule)
    for t in range(len(index)):
        held[t] = order[k]
        last = t + 1 == len(index)
        nxt = _roll_target(order, k, expiries, aligned, close, t, days[t], rule, last=last)
        if nxt is None:
            continue
        a, b = close[order[k]][t], close[order[nxt]][t]
        effective = pd.NaT if last else index[t + 1]  # after the end: no bar to hold it on yet
        rolls.append((index[t], effective, order[k], order[nxt], a, b, b - a, b / a))
        k = nxt
    frame = _splice(index, held, aligned, order)
    schedule = pd.DataFrame(rolls, columns=list(ROLL_COLUMNS))
    _adjust(frame, schedule, adjust)
    return ContinuousContract(frame, schedule, adjust, rule)


def _first_contract(
    order: list[str],
    expiries: Mapping[str, date],
    close: Mapping[str, np.ndarray],
    day: date,
    rule: RollRule,
) -> int:
    for k, name in enumerate(order):
        if np.isfinite(close[name][0]) and not _due(expiries[name], day, rule):
            return k
    raise AssetDataError(f"no contract is priced and unexpired on the first bar ({day})")


def _due(expiry: date, day: date, rule: RollRule) -> bool:
    """Whether the held contract must be left at the close of ``day`` whatever the data say."""
    lead = rule.days_before if isinstance(rule, CalendarRoll) else 0
    return day >= expiry - timedelta(days=lead)


def _roll_target(
    order: list[str],
    k: int,
    expiries: Mapping[str, date],
    aligned: Mapping[str, pd.DataFrame],
    close: Mapping[str, np.ndarray],
    t: int,
    day: date,
    rule: RollRule,
    *,
    last: bool = False,
) -> int | None:
    """The contract to hold from bar ``t+1``, decided from bar ``t``'s data, or None to stay.

    On the ``last`` bar a held contract that expires with nothing to roll
    into is not an error (no later bar needs a price).
    """
    name = order[k]
    due = _due(expiries[name], day, rule)
    # the next contract with a close at t that is not itself due
    for nxt in range(k + 1, len(order)):
        cand = order[nxt]
        if not np.isfinite(close[cand][t]) or _due(expiries[cand], day, rule):
            continue
        if due:
            return nxt
        if isinstance(rule, CrossoverRoll):
            mine = aligned[name][rule.field].to_numpy(dtype=np.float64)[t]
            theirs = aligned[cand][rule.field].to_numpy(dtype=np.float64)[t]
            if np.isfinite(theirs) and (not np.isfinite(mine) or theirs > mine):
                return nxt
        return None
    if day >= expiries[name] and not last:
        raise AssetDataError(
            f"contract {name} expires on {expiries[name]} and no later contract has a price "
            f"on {day} to roll into",
            hint="add the next contract's series",
        )
    return None


def _splice(
    index: pd.DatetimeIndex, held: np.ndarray, aligned: Mapping[str, pd.DataFrame], order: list[str]
) -> pd.DataFrame:
    columns = [c for c in (*_PRICES, "volume", "open_interest") if any(
        c in aligned[name].columns for name in order
    )]  # fmt: skip
    data = {c: np.full(len(index), np.nan) for c in columns}
    for name in order:
        rows = held == name
        if not rows.any():
            continue
        for c in columns:
            if c in aligned[name].columns:
                data[c][rows] = aligned[name][c].to_numpy(dtype=np.float64)[rows]
    frame = pd.DataFrame(data, index=index)
    frame["raw_close"] = frame["close"]
    frame["contract"] = held
    return frame


def _adjust(frame: pd.DataFrame, schedule: pd.DataFrame, adjust: str) -> None:
    """Back-adjust the price columns of ``frame`` in place (bars before each roll)."""
    if adjust == "none" or schedule.empty:
        return
    n = len(frame)
    shift = np.zeros(n)
    scale = np.ones(n)
    taken = schedule[schedule["effective_at"].notna()]  # a roll after the end adjusts nothing yet
    effective = frame.index.get_indexer(pd.DatetimeIndex(taken["effective_at"]))
    for row, gap, ratio in zip(effective, taken["gap"], taken["ratio"], strict=True):
        if adjust == "difference":
            shift[:row] += gap
        else:
            scale[:row] *= ratio
    for c in _PRICES:
        if c in frame.columns:
            frame[c] = frame[c].to_numpy() * scale + shift


#: columns of a contracts file (``timestamp``, ``contract`` and ``close`` required)
CONTRACT_FILE_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "contract",
    "close",
    "open",
    "high",
    "low",
    "volume",
    "open_interest",
)


def read_contracts(path: str | Path) -> dict[str, pd.DataFrame]:
    """Contract series from a long file: one row per (timestamp, contract).

    Timestamps without an offset are read as UTC. Raises
    :class:`AssetDataError` for a missing column, an unparseable timestamp
    or number, or a repeated (timestamp, contract).
    """
    frame = read_table(
        path,
        required=CONTRACT_FILE_COLUMNS[:3],
        optional=CONTRACT_FILE_COLUMNS[3:],
        what="contracts",
    )
    stamps = pd.to_datetime(frame["timestamp"].astype(str).str.strip(), utc=True, errors="coerce")
    if stamps.isna().any():
        line = line_of(int(np.flatnonzero(stamps.isna().to_numpy())[0]))
        raise AssetDataError(f"{path}: an unparseable timestamp on line {line}")
    frame["timestamp"] = stamps
    frame["contract"] = frame["contract"].astype(str).str.strip()
    for column in CONTRACT_FILE_COLUMNS[2:]:
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = values.isna() & frame[column].astype(str).str.strip().ne("")
            if bad.any():
                line = line_of(int(np.flatnonzero(bad.to_numpy())[0]))
                raise AssetDataError(f"{path}: column {column!r} is not a number on line {line}")
            frame[column] = values
    repeated = frame.duplicated(["timestamp", "contract"], keep=False)
    if repeated.any():
        line = line_of(int(np.flatnonzero(repeated.to_numpy())[0]))
        raise AssetDataError(f"{path}: a repeated (timestamp, contract) on line {line}")
    out = {}
    for name, group in frame.groupby("contract", sort=True):
        out[str(name)] = group.drop(columns="contract").set_index("timestamp").sort_index()
    return out
