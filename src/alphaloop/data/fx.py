"""FX: currency pairs as instruments, and prices converted to the account's base currency.

What is converted, and when
---------------------------
A position in an instrument quoted in currency ``C`` is valued in the base
currency ``B`` at every bar: ``value_B = quantity * price_C * multiplier *
rate(C -> B)``. So the P&L in ``B`` includes the currency's move (an
unhedged position: base cash is converted to ``C`` when buying and back when
selling), and costs are charged on the converted notional. This is exact for
cash instruments (shares, coins). For a future quoted in ``C`` only the
daily variation margin is exposed to the rate; converting the whole notional
counts the currency's move on the full notional, which this model does and
says so in the backtest's notes.

The rate used is never from the future: the rate applied to a bar's
``close`` (and ``high``, ``low``, ``vwap``) is the last rate observed at or
before that bar's timestamp; the rate applied to a bar's ``open`` is the
last rate observed at or before the *previous* bar's timestamp (an open
happens before the bar's close, and a daily rate stamped with the day is
known only at its close). Before the first observed rate a converted price
is NaN (the asset cannot be valued, so it is not traded).

Rates come from pair instruments: ``EURUSD`` (base ``EUR``, currency
``USD``) gives ``rate(EUR -> USD) = close`` and ``rate(USD -> EUR) = 1 /
close``. Crosses through a third currency are not derived.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from alphaloop.data.assets import ContractTerms, Instrument
from alphaloop.data.panel import Panel
from alphaloop.errors import AssetDataError

__all__ = [
    "PRICE_FIELDS",
    "apply_contract_terms",
    "asof_rates",
    "pair_for",
    "rate_series",
]

#: panel fields that are prices (scaled by multiplier and rate); volume stays in units
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "vwap")


def pair_for(
    currency: str, base: str, instruments: Mapping[str, Instrument]
) -> tuple[str, bool] | None:
    """The FX pair that converts ``currency`` to ``base``: (symbol, inverted), or None.

    ``inverted`` is True when the pair is quoted the other way (``USDJPY`` for
    JPY -> USD: the rate is ``1 / close``).
    """
    for inst in instruments.values():
        if inst.asset_class != "fx":
            continue
        if inst.base_currency == currency and inst.currency == base:
            return inst.symbol, False
        if inst.base_currency == base and inst.currency == currency:
            return inst.symbol, True
    return None


def rate_series(close: pd.Series, *, inverted: bool) -> pd.Series:
    """A pair's closes as ``rate(currency -> base)``: the closes, or their inverse."""
    values = close.astype("float64")
    values = values[np.isfinite(values) & (values > 0)]
    return 1.0 / values if inverted else values


def asof_rates(index: pd.DatetimeIndex, rates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Rates known at each bar: (for closes, for opens), both float64 of ``len(index)``.

    ``rates`` is indexed by observation time (tz-aware). The close rate of
    bar ``t`` is the last observation at or before ``index[t]``; the open
    rate is the close rate of bar ``t-1`` (NaN for the first bar). NaN
    before the first observation.
    """
    if not isinstance(rates.index, pd.DatetimeIndex) or rates.index.tz is None:
        raise AssetDataError("FX rates need a time zone-aware DatetimeIndex")
    ordered = rates.sort_index()
    if ordered.index.has_duplicates:
        raise AssetDataError("FX rates have repeated timestamps")
    pos = ordered.index.searchsorted(index, side="right") - 1
    values = ordered.to_numpy(dtype=np.float64)
    close_rate = np.where(pos >= 0, values[np.clip(pos, 0, None)], np.nan)
    open_rate = np.full(len(index), np.nan)
    open_rate[1:] = close_rate[:-1]
    return close_rate, open_rate


def apply_contract_terms(
    panel: Panel,
    terms: ContractTerms,
    *,
    base_currency: str | None = None,
    rates: Mapping[str, pd.Series] | None = None,
) -> Panel:
    """``panel`` with prices per traded unit in the base currency.

    Every price field (:data:`PRICE_FIELDS`) of asset ``j`` is multiplied by
    ``terms.multiplier[j]``, so one unit of the result is one contract and
    its notional is ``price * multiplier``: P&L, per-unit commissions and
    bps costs then apply per contract. Assets quoted in a currency other
    than ``base_currency`` are further multiplied by the rate known at each
    bar (see the module docstring); ``rates`` maps each such currency to
    ``rate(currency -> base)`` by observation time. Volume is left in units.

    Raises
    ------
    AssetDataError
        An asset is quoted in a currency other than ``base_currency`` and
        ``rates`` has no series for it.
    """
    if terms.assets != panel.assets:
        raise AssetDataError("contract terms are for other assets than the panel's")
    factor_close = np.broadcast_to(terms.multiplier, panel.shape).copy()
    factor_open = factor_close.copy()
    if base_currency is not None:
        base = base_currency.upper()
        for j, cur in enumerate(terms.currency):
            if cur is None or cur == base:
                continue
            series = (rates or {}).get(cur)
            if series is None:
                raise AssetDataError(
                    f"{terms.assets[j]} is quoted in {cur}, the account in {base}, and no "
                    f"{cur}/{base} rate is available",
                    hint=f"store an FX pair instrument ({cur}{base} or {base}{cur}) and add "
                    "its prices to the dataset",
                )
            close_rate, open_rate = asof_rates(panel.index, series)
            factor_close[:, j] *= close_rate
            factor_open[:, j] *= open_rate
    if np.all(factor_close == 1.0) and np.all(factor_open == 1.0):
        return panel
    scaled = {}
    for name in PRICE_FIELDS:
        if name in panel:
            factor = factor_open if name == "open" else factor_close
            scaled[name] = np.asarray(panel[name], dtype=np.float64) * factor
    return panel.with_fields(scaled)
