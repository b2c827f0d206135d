"""Specialist agents: one trading style each, built on the strategy library's templates.

A specialist is a named :class:`~alphaloop.backtest.StrategySpec` with a style:

=================  ==========================================================
momentum           ``ts_momentum``: time-series trend following, vol-targeted
mean_reversion     ``bollinger``: fade moves beyond two standard deviations
breakout           ``donchian``: enter on a new channel high or low
market_making      ``market_making``: quotes around a fair value (needs high
                   and low prices; it trades quotes, so it has no target
                   weights for the weight ensembles)
sentiment          ``factor_portfolio`` on a text factor the caller names
=================  ==========================================================

Each specialist runs through the backtester (same costs, next-bar fills) and yields
a :class:`SpecialistBook`: its target weights on its trading rows and its net returns.
Styles the data cannot support are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.backtest.spec import StrategySpec
from alphaloop.data.panel import Panel
from alphaloop.errors import AlphaloopError

if TYPE_CHECKING:
    from alphaloop.data.catalog import DatasetInfo

__all__ = [
    "STYLES",
    "Specialist",
    "SpecialistBook",
    "SpecialistError",
    "run_specialists",
    "standard_specialists",
]

STYLES: tuple[str, ...] = ("momentum", "mean_reversion", "breakout", "market_making", "sentiment")

_TEMPLATES: dict[str, dict[str, Any]] = {
    "momentum": {"template": "ts_momentum", "lookback": 126, "long_only": False},
    "mean_reversion": {"template": "bollinger", "window": 20, "entry_z": 2.0},
    "breakout": {"template": "donchian", "entry_window": 20, "exit_window": 10},
    "market_making": {"template": "market_making"},
    "sentiment": {"template": "factor_portfolio", "quantile": 0.2, "long_short": True},
}


class SpecialistError(AlphaloopError):
    """A specialist could not be built or run (bad style, data it cannot trade)."""


@dataclass(frozen=True)
class Specialist:
    """One specialist agent: a name, its style and the spec it trades."""

    name: str
    style: str
    spec: StrategySpec


@dataclass(frozen=True)
class SpecialistBook:
    """What a specialist did over its backtest.

    Attributes
    ----------
    name, style : str
    spec : StrategySpec
        The spec it traded (fills, costs).
    weights : pandas.DataFrame or None
        Target weights per trading bar and asset (NaN: no rebalance of that asset on
        that bar); None for quote-trading styles.
    returns : pandas.Series
        Net simple returns per bar (costs on, next-bar fills).
    metrics : dict
        The backtest's summary metrics.
    """

    name: str
    style: str
    spec: StrategySpec
    weights: pd.DataFrame | None
    returns: pd.Series
    metrics: dict[str, float]


def standard_specialists(
    data: str,
    panel: Panel,
    *,
    styles: Sequence[str] = STYLES,
    sentiment_signal: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[Specialist], dict[str, str]]:
    """The specialists ``panel`` can support, and the styles skipped with why.

    Parameters
    ----------
    data : str
        The dataset name the specs name.
    panel : Panel
        The data (fields decide which styles can run).
    styles : sequence of str
        Which styles to build (default all).
    sentiment_signal : str, optional
        A factor expression (e.g. a text factor) the sentiment specialist ranks on.
    overrides : mapping of style to template parameters, optional
        Parameters replacing the defaults above (e.g. ``{"momentum": {"lookback": 63}}``).

    Raises
    ------
    SpecialistError
        An unknown style, or overrides for a style not asked for.
    """
    unknown = sorted(set(styles) - set(STYLES))
    if unknown:
        raise SpecialistError(
            f"unknown specialist styles {unknown}", hint=f"styles are {', '.join(STYLES)}"
        )
    extra = sorted(set(overrides or {}) - set(styles))
    if extra:
        raise SpecialistError(f"overrides name styles not asked for: {extra}")
    out: list[Specialist] = []
    skipped: dict[str, str] = {}
    for style in styles:
        params = {**_TEMPLATES[style], **dict((overrides or {}).get(style, {}))}
        body: dict[str, Any] = {"name": f"specialist-{style}", "data": data, "template": params}
        if style == "market_making" and not {"high", "low"} <= set(panel.field_names):
            skipped[style] = "needs high and low prices to place quotes"
            continue
        if style == "sentiment":
            if sentiment_signal is None:
                skipped[style] = "no text factor given (sentiment_signal)"
                continue
            body["signal"] = {"expr": sentiment_signal}
        body["fills"] = "next_open" if "open" in panel.field_names else "next_close"
        body["limits"] = {"allow_short": True, "max_leverage": 1.0}
        try:
            spec = StrategySpec.model_validate(body)
        except ValueError as exc:
            raise SpecialistError(f"specialist {style}: {exc}") from exc
        out.append(Specialist(name=style, style=style, spec=spec))
    return out, skipped


def run_specialists(
    specialists: Sequence[Specialist], info: DatasetInfo, panel: Panel
) -> dict[str, SpecialistBook]:
    """Backtest each specialist on ``panel`` (vectorized engine) and collect its book.

    Raises
    ------
    SpecialistError
        A specialist's backtest failed (its name and the reason).
    """
    from alphaloop.backtest.runner import (
        equal_weight_benchmark,
        prepare_strategy,
        prepared_targets,
        run_prepared,
        select_universe,
    )
    from alphaloop.errors import BacktestError

    books: dict[str, SpecialistBook] = {}
    for sp in specialists:
        try:
            data = select_universe(sp.spec, panel)
            signal = None
            if sp.spec.signal is not None:
                from alphaloop.backtest.composite import signal_values

                signal = signal_values(sp.spec, data)
            prep = prepare_strategy(sp.spec, info, data, signal)
            bench, label = equal_weight_benchmark(prep)
            result = run_prepared(prep, "vectorized", bench, label)
            weights = None
            if sp.spec.template is None or sp.spec.template.OUTPUT != "quotes":
                w = prepared_targets(prep)
                weights = pd.DataFrame(w, index=prep.trading_panel.index, columns=data.assets)
        except (BacktestError, ValueError) as exc:
            raise SpecialistError(f"specialist {sp.name!r} could not run: {exc}") from exc
        books[sp.name] = SpecialistBook(
            name=sp.name,
            style=sp.style,
            spec=sp.spec,
            weights=weights,
            returns=result.simulation.returns,
            metrics={k: float(v) for k, v in result.metrics.items() if np.isscalar(v)},
        )
    return books
