"""Instruments: what one unit of a symbol is (asset class, currency, multiplier, lots, ticks).

A dataset's prices are per unit of what is quoted: a share, a coin, a futures
contract's index points, one unit of an FX pair's base currency. The
instrument says what a traded unit is worth:

- ``multiplier``: currency per point of price for one traded unit; the
  notional of ``q`` units at price ``p`` is ``q * p * multiplier`` (1 for
  shares, coins and FX; e.g. 50 for an E-mini S&P 500 contract);
- ``lot_size``: quantities are multiples of it (1 share, 1 contract,
  0.0001 BTC); ``None`` leaves the spec's ``lot_size`` in force, except for
  futures, which trade whole contracts (lot 1) unless told otherwise;
- ``tick_size``: prices are multiples of it (used by the venue brokers);
- ``min_notional``: the smallest order value, in ``currency``;
- ``currency``: the quote currency of the prices (for an FX pair, the
  second currency: ``EURUSD`` is quoted in USD); ``base_currency`` is an FX
  pair's first currency (and a crypto pair's coin);
- ``expiry``: a futures contract's last trading day (required for futures).

Metadata is stored in the workspace database (``instruments``, one row per
symbol; an import replaces the rows of the symbols it names). With no
instrument stored for a dataset's assets nothing changes: every backtest
treats a unit as one share in the account currency, as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import delete, select

from alphaloop.data.asset_files import line_of, parse_dates, read_table
from alphaloop.errors import AssetDataError, InstrumentNotFoundError
from alphaloop.store import Database, InstrumentRow

__all__ = [
    "ASSET_KINDS",
    "INSTRUMENT_COLUMNS",
    "ContractTerms",
    "Instrument",
    "InstrumentStore",
    "contract_terms",
]

AssetKind = Literal["equity", "etf", "crypto", "future", "fx"]
#: asset classes an instrument may have
ASSET_KINDS: tuple[str, ...] = ("equity", "etf", "crypto", "future", "fx")
#: columns of an instruments file (``symbol``, ``asset_class``, ``currency`` required)
INSTRUMENT_COLUMNS: tuple[str, ...] = (
    "symbol",
    "asset_class",
    "currency",
    "multiplier",
    "tick_size",
    "lot_size",
    "min_notional",
    "expiry",
    "base_currency",
    "root",
)
_REQUIRED = INSTRUMENT_COLUMNS[:3]


class Instrument(BaseModel):
    """Contract metadata of one symbol (see the module docstring for each field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field(min_length=1, max_length=200)
    asset_class: AssetKind
    currency: str = Field(min_length=2, max_length=12)
    multiplier: float = Field(1.0, gt=0, allow_inf_nan=False)
    tick_size: float | None = Field(None, gt=0, allow_inf_nan=False)
    lot_size: float | None = Field(None, gt=0, allow_inf_nan=False)
    min_notional: float | None = Field(None, ge=0, allow_inf_nan=False)
    expiry: date | None = None
    base_currency: str | None = Field(None, min_length=2, max_length=12)
    root: str | None = Field(None, max_length=100)

    @field_validator("currency", "base_currency")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return None if value is None else value.strip().upper()

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        if self.asset_class == "future" and self.expiry is None:
            raise ValueError("a future needs an expiry (its last trading day)")
        if self.asset_class != "future" and self.expiry is not None:
            raise ValueError(f"only futures expire; {self.asset_class} has no expiry")
        if self.asset_class == "fx":
            if self.base_currency is None:
                raise ValueError("an FX pair needs base_currency (EUR in EURUSD)")
            if self.base_currency == self.currency:
                raise ValueError("an FX pair's base and quote currencies must differ")
        return self

    @property
    def unit_lot(self) -> float | None:
        """The lot quantities are rounded to: ``lot_size``, else 1 for futures, else None."""
        if self.lot_size is not None:
            return self.lot_size
        return 1.0 if self.asset_class == "future" else None

    def notional(self, quantity: float, price: float) -> float:
        """Value of ``quantity`` units at ``price``: ``|quantity| * price * multiplier``."""
        return abs(quantity) * price * self.multiplier

    def round_quantity(self, quantity: float) -> float:
        """``quantity`` rounded toward zero to a whole number of lots (unchanged without one)."""
        lot = self.unit_lot
        if lot is None:
            return float(quantity)
        lots = math.floor(abs(quantity) / lot + 1e-9)
        return math.copysign(lots * lot, quantity) if lots else 0.0

    def to_row(self) -> dict[str, object]:
        return self.model_dump()


@dataclass(frozen=True)
class ContractTerms:
    """Per-asset terms of a panel's assets, in the panel's asset order.

    ``multiplier`` (float64, 1 where no instrument), ``lots`` (float64: the
    instrument's lot, else ``default_lot``), ``currency`` (the quote
    currency, or None where no instrument is stored), ``known`` (bool: an
    instrument is stored).
    """

    assets: tuple[str, ...]
    multiplier: np.ndarray
    lots: np.ndarray
    currency: tuple[str | None, ...]
    known: np.ndarray

    @property
    def any_known(self) -> bool:
        return bool(self.known.any())

    @property
    def neutral(self) -> bool:
        """True when the terms change nothing (no multiplier, no lot, no currency)."""
        return not self.any_known

    def describe(self, base_currency: str | None = None) -> list[str]:
        """Plain lines for a report: multipliers, lots and currencies that apply."""
        lines = []
        for j, asset in enumerate(self.assets):
            if not self.known[j]:
                continue
            parts = []
            if self.multiplier[j] != 1.0:
                parts.append(f"multiplier {self.multiplier[j]:g}")
            if self.lots[j] > 0:
                parts.append(f"lots of {self.lots[j]:g}")
            cur = self.currency[j]
            if cur and base_currency and cur != base_currency:
                parts.append(f"quoted in {cur}, converted to {base_currency}")
            if parts:
                lines.append(f"{asset}: " + ", ".join(parts))
        return lines


def contract_terms(
    assets: Sequence[str], instruments: Mapping[str, Instrument], *, default_lot: float = 0.0
) -> ContractTerms:
    """The terms of ``assets`` from stored ``instruments`` (absent ones keep the defaults)."""
    n = len(assets)
    mult = np.ones(n)
    lots = np.full(n, float(default_lot))
    known = np.zeros(n, dtype=bool)
    currency: list[str | None] = [None] * n
    for j, asset in enumerate(assets):
        inst = instruments.get(asset)
        if inst is None:
            continue
        known[j] = True
        mult[j] = inst.multiplier
        currency[j] = inst.currency
        if inst.unit_lot is not None:
            lots[j] = inst.unit_lot
    return ContractTerms(tuple(assets), mult, lots, tuple(currency), known)


def _cell(value: object) -> object:
    """None for a blank CSV cell or a missing Parquet value, else the value trimmed."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return value


def parse_instruments(path: str | Path) -> list[Instrument]:
    """Every row of an instruments file as an :class:`Instrument` (all rows or an error).

    Raises
    ------
    AssetDataError
        A missing column, an unknown column, a repeated symbol or a bad value,
        naming the line(s) and the field.
    """
    frame = read_table(
        path, required=_REQUIRED, optional=INSTRUMENT_COLUMNS[3:], what="instruments"
    )
    if "expiry" in frame.columns:
        frame["expiry"] = parse_dates(frame["expiry"], column="expiry", path=path, allow_blank=True)
    symbols = frame["symbol"].astype(str).str.strip()
    repeated = symbols[symbols.duplicated(keep=False)]
    if not repeated.empty:
        lines = [line_of(int(i)) for i in repeated.index[:5]]
        raise AssetDataError(
            f"{path}: symbol {repeated.iloc[0]!r} is repeated (lines {', '.join(map(str, lines))})",
            hint="one row per symbol",
        )
    out: list[Instrument] = []
    for i, raw in enumerate(frame.to_dict("records")):
        values = {k: _cell(v) for k, v in raw.items()}
        values = {k: v for k, v in values.items() if v is not None}
        if isinstance(values.get("asset_class"), str):
            values["asset_class"] = str(values["asset_class"]).lower()
        try:
            out.append(Instrument(**values))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "row"
            raise AssetDataError(
                f"{path}, line {line_of(i)} ({values.get('symbol', '?')}): {field}: {first['msg']}",
                hint=f"asset_class is one of {', '.join(ASSET_KINDS)}; numbers are positive",
            ) from None
    return out


class InstrumentStore:
    """The workspace's instruments (table ``instruments``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def import_file(self, path: str | Path) -> list[Instrument]:
        """Store every instrument of ``path`` (one transaction; a symbol's row is replaced)."""
        items = parse_instruments(path)
        self.put(items)
        return items

    def put(self, items: Iterable[Instrument]) -> None:
        """Store ``items``, replacing the stored rows of their symbols."""
        rows = list(items)
        with self._db.write_session() as session:
            session.execute(
                delete(InstrumentRow).where(InstrumentRow.symbol.in_([i.symbol for i in rows]))
            )
            session.add_all(InstrumentRow(**i.to_row()) for i in rows)

    def list(self, asset_class: str | None = None) -> list[Instrument]:
        """Stored instruments by symbol, optionally of one asset class."""
        query = select(InstrumentRow).order_by(InstrumentRow.symbol)
        if asset_class is not None:
            if asset_class not in ASSET_KINDS:
                raise AssetDataError(
                    f"unknown asset class {asset_class!r}", hint=f"one of {', '.join(ASSET_KINDS)}"
                )
            query = query.where(InstrumentRow.asset_class == asset_class)
        with self._db.session() as session:
            return [_from_row(r) for r in session.scalars(query)]

    def get(self, symbol: str) -> Instrument:
        """The stored instrument of ``symbol``; :class:`InstrumentNotFoundError` if none."""
        with self._db.session() as session:
            row = session.get(InstrumentRow, symbol)
            if row is None:
                raise InstrumentNotFoundError(
                    f"no instrument {symbol!r} is stored",
                    hint="import one with `alphaloop data instruments import FILE`",
                )
            return _from_row(row)

    def for_assets(self, assets: Iterable[str]) -> dict[str, Instrument]:
        """The stored instruments among ``assets`` (absent ones are left out)."""
        wanted = list(dict.fromkeys(assets))
        out: dict[str, Instrument] = {}
        with self._db.session() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(InstrumentRow).where(InstrumentRow.symbol.in_(chunk))
                out.update((r.symbol, _from_row(r)) for r in session.scalars(query))
        return out

    def frame(self) -> pd.DataFrame:
        """Every stored instrument as a table (one row per symbol)."""
        items = self.list()
        return pd.DataFrame([i.to_row() for i in items], columns=list(INSTRUMENT_COLUMNS))


def _from_row(row: InstrumentRow) -> Instrument:
    return Instrument(
        symbol=row.symbol,
        asset_class=row.asset_class,  # type: ignore[arg-type]
        currency=row.currency,
        multiplier=row.multiplier,
        tick_size=row.tick_size,
        lot_size=row.lot_size,
        min_notional=row.min_notional,
        expiry=row.expiry,
        base_currency=row.base_currency,
        root=row.root,
    )
