"""Asset metadata on a workspace: instruments, corporate actions and universes by dataset.

- :func:`contract_panel`: a loaded panel in traded units (prices times the
  contract multiplier, converted to the workspace's base currency) and the
  per-asset lots, from the instruments stored for its assets. With none
  stored the panel comes back unchanged and the lots are None: the default
  behaviour (one unit = one share in the account currency) is untouched.
- :func:`dataset_universe`: the point-in-time universe stored under a
  dataset's name, applied to its panel, with the caveats it changes.
- :func:`corporate_action_view`: a dataset's prices in the adjusted,
  unadjusted or total-return view from the events stored with it.
- :func:`import_continuous`: a continuous futures series from a file of
  contracts, imported as a dataset.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from alphaloop.backtest.instrument_costs import instrument_costs as costs_for_instruments
from alphaloop.data.assets import InstrumentStore, contract_terms
from alphaloop.data.corporate_actions import CorporateActionStore, price_view
from alphaloop.data.futures import (
    CalendarRoll,
    ContinuousContract,
    CrossoverRoll,
    continuous_contract,
    read_contracts,
)
from alphaloop.data.fx import apply_contract_terms, pair_for, rate_series
from alphaloop.data.universe import AppliedUniverse, UniverseStore, apply_universe, universe_caveats
from alphaloop.errors import AssetDataError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from alphaloop.app.workspace import Workspace
    from alphaloop.data import ImportResult, Panel
    from alphaloop.execution.costs import CostModel

__all__ = [
    "contract_panel",
    "corporate_action_view",
    "dataset_universe",
    "import_continuous",
    "instrument_costs",
    "quote_rates",
    "universe_key",
]

FX_NOTE = (
    "prices of {assets} are converted from {currencies} to the base currency {base} at the "
    "rate known at each bar (closes at the bar's rate, opens at the previous bar's); the "
    "whole position value carries the currency's move"
)


def contract_panel(
    ws: Workspace, panel: Panel, *, default_lot: float = 0.0
) -> tuple[Panel, np.ndarray | None, tuple[str, ...]]:
    """``panel`` in traded units, the per-asset lots (None: none stored) and report notes.

    Raises
    ------
    AssetDataError
        An asset quoted in a currency other than the base currency with no
        FX pair instrument stored for it, or a pair whose prices are not in
        the panel.
    """
    store = InstrumentStore(ws.db)
    found = store.for_assets(panel.assets)
    if not found:
        return panel, None, ()
    terms = contract_terms(panel.assets, found, default_lot=default_lot)
    base = ws.settings.base_currency.upper()
    foreign = sorted({c for c in terms.currency if c is not None and c != base})
    rates = {}
    if foreign:
        pairs = {i.symbol: i for i in store.list("fx")}
        for cur in foreign:
            pair = pair_for(cur, base, pairs)
            if pair is None:
                raise AssetDataError(
                    f"assets quoted in {cur} need a {cur}/{base} rate and no FX pair is stored",
                    hint=f"store an fx instrument {cur}{base} (base_currency {cur}, currency "
                    f"{base}) and add its prices to the dataset",
                )
            symbol, inverted = pair
            if symbol not in panel.assets:
                raise AssetDataError(
                    f"the rate of {cur} comes from {symbol}, which is not among the "
                    "strategy's assets",
                    hint=f"add {symbol} to the dataset (`alphaloop data combine`) and the universe",
                )
            rates[cur] = rate_series(panel.frame("close")[symbol], inverted=inverted)
    out = apply_contract_terms(panel, terms, base_currency=base, rates=rates)
    notes = [f"contract terms: {line}" for line in terms.describe(base)]
    if foreign:
        converted = [a for a, c in zip(panel.assets, terms.currency, strict=True) if c in foreign]
        notes.append(
            FX_NOTE.format(
                assets=", ".join(converted[:5]), currencies=", ".join(foreign), base=base
            )
        )
    return out, terms.lots, tuple(notes)


def instrument_costs(quoted: Panel, traded: Panel, ws: Workspace) -> tuple[CostModel, str] | None:
    """The cost preset of the stored instruments of ``quoted``'s assets (see
    :func:`alphaloop.backtest.instrument_costs.instrument_costs`), or None."""
    found = InstrumentStore(ws.db).for_assets(quoted.assets)
    return costs_for_instruments(quoted, traded, found)


def quote_rates(ws: Workspace, panel: Panel, row: int) -> dict[str, float]:
    """``rate(currency -> base)`` of every foreign quote currency of ``panel``'s assets,
    from the pairs' quoted closes at or before ``row`` (no later bar is read).

    Currencies whose pair has no close yet are left out (orders in them are
    refused by the venue broker). Empty when nothing is quoted in a foreign
    currency.
    """
    store = InstrumentStore(ws.db)
    found = store.for_assets(panel.assets)
    base = ws.settings.base_currency.upper()
    foreign = sorted({i.currency for i in found.values() if i.currency != base})
    if not foreign:
        return {}
    pairs = {i.symbol: i for i in store.list("fx")}
    close = panel.frame("close").iloc[: row + 1]
    out: dict[str, float] = {}
    for cur in foreign:
        pair = pair_for(cur, base, pairs)
        if pair is None or pair[0] not in close.columns:
            continue
        rates = rate_series(close[pair[0]], inverted=pair[1])
        if len(rates):
            out[cur] = float(rates.iloc[-1])
    return out


def dataset_universe(
    ws: Workspace, dataset: str, panel: Panel, caveats: Sequence[str]
) -> tuple[Panel, list[str], AppliedUniverse | None]:
    """The universe stored under ``dataset`` applied to ``panel``, and the caveats after it.

    Without a stored universe the panel and caveats come back unchanged.
    """
    spans = UniverseStore(ws.db).spans(dataset)
    if spans is None:
        return panel, list(caveats), None
    applied = apply_universe(panel, spans, dataset)
    return applied.panel, universe_caveats(caveats, applied), applied


def universe_key(ws: Workspace, dataset: str) -> str | None:
    """A short hash of the universe stored under ``dataset`` (None: none), for cache keys."""
    spans = UniverseStore(ws.db).spans(dataset)
    if spans is None:
        return None
    text = spans.to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def corporate_action_view(
    ws: Workspace,
    dataset: str,
    view: Literal["unadjusted", "adjusted", "total_return"],
    *,
    as_of: date | None = None,
    stored: Literal["unadjusted", "adjusted"] = "unadjusted",
    version: int | None = None,
) -> Panel:
    """``dataset``'s prices in ``view`` from its stored events (see
    :mod:`alphaloop.data.corporate_actions`); the sealed holdout stays sealed."""
    panel = ws.data.load(dataset, version=version)
    events = CorporateActionStore(ws.db).load(dataset, as_of=as_of)
    return price_view(panel, events, view, as_of=as_of, stored=stored)


def import_continuous(
    ws: Workspace,
    path: str | Path,
    name: str,
    *,
    symbol: str,
    rule: CalendarRoll | CrossoverRoll,
    adjust: Literal["difference", "ratio", "none"] = "difference",
) -> tuple[ImportResult, ContinuousContract]:
    """Splice the contracts of ``path`` into one series and import it as dataset ``name``.

    Each contract's expiry comes from its stored future instrument. The new
    dataset has one asset, ``symbol``, with the adjusted prices, the held
    contract's volume and open interest, and the traded close as
    ``raw_close``; its description and caveats name the rule, the
    adjustment and the rolls. Rows copied from a sealed holdout are sealed
    as in any import.

    Raises
    ------
    AssetDataError
        A contract with no stored future instrument, or what
        :func:`~alphaloop.data.futures.continuous_contract` refuses.
    """
    import tempfile

    contracts = read_contracts(path)
    stored = InstrumentStore(ws.db).for_assets(contracts)
    missing = [c for c in contracts if c not in stored or stored[c].expiry is None]
    if missing:
        raise AssetDataError(
            f"no stored future instrument with an expiry for contract(s) {', '.join(missing[:5])}",
            hint="import them with `alphaloop data instruments import FILE` (asset_class future)",
        )
    expiries = {c: stored[c].expiry for c in contracts}
    cc = continuous_contract(contracts, expiries, rule=rule, adjust=adjust)  # type: ignore[arg-type]
    frame = cc.frame.drop(columns="contract").rename_axis("timestamp").reset_index()
    frame.insert(1, "symbol", symbol)
    caveats = [f"continuous contract: {cc.describe()}"]
    if adjust != "none" and cc.rolls["effective_at"].notna().any():
        caveats.append(
            "back-adjusted prices before the last roll are not prices anyone traded at "
            "(raw_close holds the traded close)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / f"{symbol}.csv"
        frame.to_csv(file, index=False)
        result = ws.data.import_file(
            file,
            name,
            description=f"continuous {symbol} from {len(contracts)} contracts: {cc.describe()}",
            caveats=caveats,
            asset_class="other",
        )
    return result, cc
