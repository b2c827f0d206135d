"""The market regime of a dataset now, and how its equal-weight index fared in each regime.

The dataset's closes become an equal-weight index (each bar, the mean simple
return of the member assets priced on that bar and the one before: a
portfolio rebalanced every bar, without costs); its returns are labelled by
a causal regime method (:func:`alphaloop.risk.detect_regimes`) and summarised
per regime (:func:`alphaloop.risk.regime_metrics`, a bar counted under the
regime known before it). Loads stop before the dataset's sealed holdout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alphaloop.app.workspace import Workspace
from alphaloop.jsonsafe import json_safe
from alphaloop.risk import REGIME_METHODS, RegimeLabels, RiskError, detect_regimes, regime_metrics
from alphaloop.risk.market_index import equal_weight_returns

__all__ = ["RegimeReport", "equal_weight_returns", "regime_report", "strategy_regime_table"]

DEFAULT_PERIODS_PER_YEAR = 252.0


@dataclass(frozen=True)
class RegimeReport:
    """The current regime of a dataset's equal-weight index and its per-regime table.

    Attributes
    ----------
    dataset, method : str
    as_of : pandas.Timestamp
        The last bar read (before any sealed holdout).
    current : int
        The regime at ``as_of`` (``-1``: none yet); ``current_name`` its name.
    probabilities : dict or None
        Hidden-state methods: the filtered probability of each regime at ``as_of``.
    table : pandas.DataFrame
        :func:`alphaloop.risk.regime_metrics` of the index returns.
    labels : RegimeLabels
        Every bar's label, for plotting or sizing.
    periods_per_year : float
    assets, bars : int
        Assets in the dataset; index returns labelled or not.
    caveats : tuple of str
        The dataset's caveats, the index's construction and the seal.
    """

    dataset: str
    method: str
    as_of: pd.Timestamp
    current: int
    current_name: str
    probabilities: dict[str, float] | None
    table: pd.DataFrame
    labels: RegimeLabels
    periods_per_year: float
    assets: int
    bars: int
    caveats: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (NaN as null); per-bar labels are left out."""
        params = {k: v for k, v in self.labels.params.items() if k != "fits"}
        return json_safe(
            {
                "dataset": self.dataset,
                "method": self.method,
                "as_of": self.as_of.isoformat(),
                "current": {
                    "label": self.current,
                    "name": self.current_name,
                    "probabilities": self.probabilities,
                },
                "regimes": [
                    {"regime": name, **row}
                    for name, row in self.table.to_dict(orient="index").items()
                ],
                "params": params,
                "fits": self.labels.params.get("fits"),
                "periods_per_year": self.periods_per_year,
                "assets": self.assets,
                "bars": self.bars,
                "caveats": list(self.caveats),
            }
        )


def regime_report(
    workspace: Workspace,
    data: str,
    method: str = "vol",
    *,
    periods_per_year: float | None = None,
    params: dict[str, Any] | None = None,
) -> RegimeReport:
    """Label a dataset's equal-weight index with ``method`` and tabulate it per regime.

    Parameters
    ----------
    workspace : Workspace
    data : str
        Dataset name (needs a ``close`` field).
    method : {"vol", "trend", "hmm", "markov", "hurst"}, default "vol"
    periods_per_year : float, optional
        Annualisation; default the dataset's calendar (252 if it records none).
    params : dict, optional
        Keyword parameters of the method (e.g. ``{"seed": 1}`` for ``hmm``).

    Raises
    ------
    RiskError
        An unknown method, a dataset without closes, too few bars for the method.
    """
    if method not in REGIME_METHODS:
        raise RiskError(
            f"method: unknown value {method!r}", hint=f"use one of: {', '.join(REGIME_METHODS)}"
        )
    info = workspace.data.info(data)
    if "close" not in info.fields:
        raise RiskError(
            f"dataset {data!r} has no close field; regimes are read from closes",
            hint=f"fields: {', '.join(info.fields)}",
        )
    panel = workspace.data.load(data, fields=["close"])
    returns = equal_weight_returns(panel.frame("close"), panel.membership)
    if returns.empty:
        raise RiskError(f"dataset {data!r}: no two consecutive priced bars to make a return")
    ppy = periods_per_year or info.market.periods_per_year
    caveats = list(info.caveats)
    if ppy is None:
        ppy = DEFAULT_PERIODS_PER_YEAR
        caveats.append("annualised with 252 bars a year: the dataset records no calendar")
    caveats.append(
        f"regimes of an equal-weight index of {panel.n_assets} asset(s), rebalanced every bar, "
        "no costs; a bar is counted under the regime known at the close before it"
    )
    if panel.sealed_end is not None:
        caveats.append(
            f"data read up to {returns.index[-1]:%Y-%m-%d}; the sealed holdout from "
            f"{panel.sealed_end.boundary:%Y-%m-%d} is not read"
        )
    labels = detect_regimes(returns, method, **(params or {}))
    table = regime_metrics(returns, labels, periods_per_year=float(ppy))
    probabilities = None
    if labels.probabilities is not None:
        last = labels.probabilities.iloc[-1]
        probabilities = {str(k): float(v) for k, v in last.items()}
    return RegimeReport(
        dataset=data,
        method=method,
        as_of=returns.index[-1],
        current=labels.current,
        current_name=labels.current_name,
        probabilities=probabilities,
        table=table,
        labels=labels,
        periods_per_year=float(ppy),
        assets=panel.n_assets,
        bars=len(returns),
        caveats=tuple(caveats),
    )


def strategy_regime_table(
    workspace: Workspace,
    data: str,
    returns: pd.Series,
    *,
    method: str = "vol",
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
) -> tuple[pd.DataFrame, str]:
    """A strategy's returns per regime of its dataset's equal-weight market.

    The market (:func:`equal_weight_returns` of every asset in ``data``, read
    up to the sealed holdout) is labelled causally by ``method``; each of the
    strategy's bars is counted under the regime known at the close before it
    (:func:`alphaloop.risk.regime_metrics` with ``lag=1``). Bars the market
    has no label for count as warm-up.

    Returns
    -------
    (DataFrame, str)
        :func:`alphaloop.risk.regime_metrics` of ``returns`` (a row per
        regime and ``"all"``), and a sentence saying what was labelled.
    """
    panel = workspace.data.load(data, fields=["close"])
    market = equal_weight_returns(panel.frame("close"), panel.membership)
    labels = detect_regimes(market, method)
    aligned = labels.labels.reindex(returns.index).fillna(-1).astype(int)
    table = regime_metrics(
        returns, aligned, periods_per_year=float(periods_per_year), names=labels.names
    )
    note = (
        f"regimes ({method}) of the equal-weight market of {panel.n_assets} asset(s) in "
        f"{data!r}, labelled from data up to each bar; a strategy bar is counted under the "
        "regime known at the close before it"
    )
    return table, note
