"""The cost preset of a panel's stored instruments, resolved with their ticks and pips.

A dataset's asset class picks its cost preset; when instrument metadata is
stored for every asset and all are futures, FX pairs or coins, the preset of
that class applies instead (see :func:`instrument_costs`), with per-unit
amounts from the instruments' ``tick_size`` and ``multiplier``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alphaloop.data.assets import Instrument
from alphaloop.data.panel import Panel
from alphaloop.execution.costs import COST_PRESETS, CostModel

__all__ = ["FUTURES_HALF_SPREAD_TICKS", "FX_HALF_SPREAD_PIPS", "instrument_costs", "pip_size"]

#: half the spread charged by the futures preset, in ticks; by the fx preset, in pips
FUTURES_HALF_SPREAD_TICKS = 0.5
FX_HALF_SPREAD_PIPS = 0.5
#: the preset of each stored asset class (equities and ETFs keep the dataset's preset)
_CLASS_PRESET = {"future": "futures", "fx": "fx", "crypto": "crypto"}


def pip_size(currency: str) -> float:
    """One pip of a pair quoted in ``currency``: 0.01 for a yen quote, else 0.0001."""
    return 0.01 if currency.upper() == "JPY" else 0.0001


def instrument_costs(
    quoted: Panel, traded: Panel, instruments: Mapping[str, Instrument]
) -> tuple[CostModel, str] | None:
    """The cost preset of the stored instruments' asset class, resolved per contract.

    Applies when every asset of the panel has a stored instrument and all
    are of one class among future, fx and crypto (else None: the dataset's
    asset class picks the preset, so equities are unchanged):

    - ``future``: the ``futures`` preset, its half-spread ``half a tick *
      multiplier`` per contract (:data:`FUTURES_HALF_SPREAD_TICKS`);
    - ``fx``: the ``fx`` preset with the spread in pips instead of bps:
      ``half a pip * multiplier`` per unit (:data:`FX_HALF_SPREAD_PIPS`;
      a pip is 0.0001, or 0.01 for a yen quote);
    - ``crypto``: the ``crypto`` preset (taker fee in bps).

    Per-unit amounts are in the quote currency, converted to the base
    currency at the first bar's rate (``traded / quoted`` close, known at
    that bar); where assets differ the largest is charged. An instrument
    with no ``tick_size`` keeps a half-spread of 1 bps instead.
    """
    found = instruments
    if not found or any(a not in found for a in quoted.assets):
        return None
    classes = {found[a].asset_class for a in quoted.assets}
    if len(classes) != 1 or (kind := classes.pop()) not in _CLASS_PRESET:
        return None
    name = _CLASS_PRESET[kind]
    model = COST_PRESETS[name]
    if kind == "crypto":
        return model, f"crypto preset ({_summary(model)}), chosen by the stored instruments' class"
    q = quoted.frame("close").to_numpy(dtype=np.float64)
    t = traded.frame("close").to_numpy(dtype=np.float64)
    per_unit, missing = 0.0, []
    for j, asset in enumerate(quoted.assets):
        inst = found[asset]
        ok = np.isfinite(q[:, j]) & np.isfinite(t[:, j]) & (q[:, j] > 0)
        if not ok.any():
            continue
        factor = float(t[ok, j][0] / q[ok, j][0])  # multiplier x the first bar's rate
        if kind == "future":
            if inst.tick_size is None:
                missing.append(asset)
                continue
            step = FUTURES_HALF_SPREAD_TICKS * inst.tick_size
        else:
            step = FX_HALF_SPREAD_PIPS * pip_size(inst.currency)
        per_unit = max(per_unit, step * factor)
    update: dict[str, float] = {"half_spread_per_unit": per_unit, "half_spread_bps": 0.0}
    if missing:
        update["half_spread_bps"] = 1.0
    model = model.model_copy(update=update)
    unit = "half a tick" if kind == "future" else "half a pip"
    label = (
        f"{name} preset ({_summary(model)}; spread {unit} per unit = {per_unit:g}), chosen by "
        f"the stored instruments' asset class {kind}"
    )
    if missing:
        label += f"; no tick stored for {', '.join(missing[:5])}: half-spread 1 bps instead"
    return model, label


def _summary(model: CostModel) -> str:
    return "; ".join(model.describe(has_volume=True)[:3])


