"""Factor portfolios: a quantile long-short (or long-only) book on the spec's own signal.

The spec's ``signal:`` (an expression, a library factor, a model's
predictions or a composite) is the factor, higher = more attractive. On each
rebalance row the template ranks the eligible assets with a signal and holds
the top ``quantile`` long and the bottom ``quantile`` short (or the top one
only), sized equally or by the signal's distance from the median.

Neutrality (``neutral``)
------------------------
``none``
    Both legs share the gross by their sizes (with equal weighting and as
    many longs as shorts this is dollar neutral; with signal weighting the
    net can differ from 0).
``market``
    Dollar neutral: the long leg and the short leg each carry half the gross.
``groups``
    The long-short is formed within each group (sector, industry, country):
    in each group with at least 2 eligible assets, the top and bottom
    ``quantile`` of that group, with equal gross on both legs, so every
    group's net weight is 0 (and the book is dollar neutral overall). A
    group's share of the gross is its share of the eligible assets. Assets in
    no group, and groups with fewer than 2 eligible assets, are left out.

Factor-ETF replication: run a long-only factor book on a stock universe
with ``benchmark: factor-etfs:MTUM`` (or QUAL, SIZE, USMV, VLUE) and read
``benchmark_correlation``, ``tracking_error``, ``beta`` and
``information_ratio`` in the result's metrics.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from alphaloop.errors import BacktestError, SpecError
from alphaloop.strategies._factor_kernel import (
    NEUTRAL_GROUPS,
    NEUTRAL_MARKET,
    NEUTRAL_NONE,
    factor_rows,
)
from alphaloop.strategies.base import TemplateInputs, TemplateOutput, TemplateParams

__all__ = ["GROUP_SETS", "SP500_SECTORS", "FactorPortfolio"]

#: GICS sectors of the 20 stocks of the bundled ``sp500-stocks`` dataset (as of 2022).
SP500_SECTORS: dict[str, str] = {
    "AAPL": "information_technology",
    "AMD": "information_technology",
    "MSFT": "information_technology",
    "BAC": "financials",
    "JPM": "financials",
    "BBY": "consumer_discretionary",
    "HD": "consumer_discretionary",
    "CVX": "energy",
    "RRC": "energy",
    "XOM": "energy",
    "GE": "industrials",
    "JNJ": "health_care",
    "LLY": "health_care",
    "MRK": "health_care",
    "PFE": "health_care",
    "UNH": "health_care",
    "KO": "consumer_staples",
    "PEP": "consumer_staples",
    "PG": "consumer_staples",
    "WMT": "consumer_staples",
}

#: Named group mappings a spec can give as ``groups: NAME``.
GROUP_SETS: dict[str, dict[str, str]] = {"sp500-sectors": SP500_SECTORS}

_NEUTRAL = {"none": NEUTRAL_NONE, "market": NEUTRAL_MARKET, "groups": NEUTRAL_GROUPS}


class FactorPortfolio(TemplateParams):
    """Quantile portfolio on the spec's signal, optionally neutral by market or by group.

    Parameters
    ----------
    quantile : float
        Share of the eligible assets (of each group, with ``neutral:
        groups``) in each leg, in (0, 0.5]; at least one asset per leg.
    long_short : bool
        Short the bottom quantile (default); false = long the top one only.
    weighting : {"equal", "signal"}
        Within a leg: equal weights, or proportional to ``|signal - median|``
        (the median of the eligible assets, of the group with ``groups``).
    neutral : {"none", "market", "groups"}
        See the module. ``market`` and ``groups`` need ``long_short``.
    groups : dict of str to str, or "sp500-sectors", optional
        Asset -> group, for ``neutral: groups`` (and only then).
        ``sp500-sectors`` is the GICS sector of each stock of the bundled
        ``sp500-stocks`` dataset.
    gross : float
        Sum of |weights| on a rebalance row, a fraction of equity (capped at
        the spec's ``max_leverage``; each |weight| at ``max_weight``).
    """

    template: Literal["factor_portfolio"] = "factor_portfolio"
    quantile: float = Field(0.2, gt=0, le=0.5)
    long_short: bool = True
    weighting: Literal["equal", "signal"] = "equal"
    neutral: Literal["none", "market", "groups"] = "market"
    groups: dict[str, str] | Literal["sp500-sectors"] | None = None
    gross: float = Field(1.0, gt=0, le=10)

    TITLE: ClassVar[str] = "Factor portfolio"
    SUMMARY: ClassVar[str] = (
        "long the top quantile of the spec's signal and short the bottom one (or long-only), "
        "dollar or group neutral, rebalanced on the spec's schedule"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "the signal ranks assets by their future return, the same way in every group",
        "shorts can be borrowed at the cost model's borrow rate",
        "group labels are point in time (a fixed mapping is today's sectors, applied to the past)",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "a factor chosen on the full sample (or one of many tried) looks better than it will "
        "trade: count the trials and keep the holdout sealed",
        "sector bets hidden in a factor: without neutral: groups a value or momentum book can "
        "be a sector call; compare the neutral and the plain book",
        "today's sector labels and today's survivors applied to the past (bundled sp500-stocks "
        "is both)",
        "an ETF comparison is not a replication: ETFs hold hundreds of stocks, cap-weighted, "
        "with their own rebalance rules; a 20-stock book tracks them loosely",
    )
    USES_SIGNAL: ClassVar[bool] = True
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "quantile": (0.1, 0.2, 0.3, 0.5),
        "weighting": ("equal", "signal"),
    }

    @model_validator(mode="after")
    def _consistent(self) -> FactorPortfolio:
        if self.neutral != "none" and not self.long_short:
            raise ValueError(
                f"neutral: {self.neutral} needs long_short: true (a long-only book is not "
                "neutral); use neutral: none"
            )
        if self.neutral == "groups" and self.groups is None:
            raise ValueError(
                "neutral: groups needs groups: (a mapping asset -> group, or sp500-sectors)"
            )
        if self.neutral != "groups" and self.groups is not None:
            raise ValueError("groups is only read with neutral: groups; remove it or set neutral")
        if isinstance(self.groups, dict) and not self.groups:
            raise ValueError("groups is empty; map each asset to its group")
        return self

    @property
    def shorts(self) -> bool:
        return self.long_short

    def group_mapping(self) -> dict[str, str]:
        """Asset -> group (empty without ``groups``)."""
        if self.groups is None:
            return {}
        if isinstance(self.groups, str):
            return GROUP_SETS[self.groups]
        return dict(self.groups)

    def spec_defaults(self) -> dict[str, Any]:
        limits: dict[str, Any] = {"max_leverage": max(1.0, self.gross)}
        if self.long_short:
            limits["allow_short"] = True
        return {
            # 12-1 momentum: the return from 252 to 21 bars ago
            "signal": {"expr": "Ref($close, 21) / Ref($close, 252) - 1"},
            "rebalance": {"frequency": "monthly"},
            "limits": limits,
        }

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        if inputs.signal is None:
            raise SpecError(
                "template factor_portfolio reads the spec's signal, and none was given",
                hint="add signal: (an expr, a factor, a model or components)",
            )
        if self.long_short and not inputs.allow_short:
            raise SpecError(
                "template factor_portfolio has long_short: true but the spec does not allow shorts",
                hint="set limits.allow_short: true, or long_short: false (with neutral: none)",
            )
        panel = inputs.panel
        signal = np.asarray(inputs.signal, dtype=np.float64)
        if signal.shape != (panel.n_times, panel.n_assets):
            raise BacktestError(
                f"signal has shape {signal.shape}; the panel is {(panel.n_times, panel.n_assets)}"
            )
        group_of, names, unmapped = self._group_ids(panel.assets)
        ok = np.asarray(inputs.eligible, dtype=bool) & np.isfinite(signal)
        rows = np.flatnonzero(np.asarray(inputs.rebalance, dtype=bool) & ok.any(axis=1))
        weights = np.full(signal.shape, np.nan)
        factor_rows(
            np.ascontiguousarray(signal),
            np.ascontiguousarray(ok),
            rows.astype(np.int64),
            group_of,
            max(len(names), 1),
            float(self.quantile),
            self.long_short,
            _NEUTRAL[self.neutral],
            self.weighting == "signal",
            min(self.gross, inputs.max_leverage),
            float(inputs.max_weight),
            weights,
        )
        held = weights[rows]
        diagnostics: dict[str, Any] = {
            "rebalances": int(rows.size),
            "mean_long": float((held > 0).sum(axis=1).mean()) if rows.size else 0.0,
            "mean_short": float((held < 0).sum(axis=1).mean()) if rows.size else 0.0,
            "mean_net": float(held.sum(axis=1).mean()) if rows.size else 0.0,
        }
        notes = [
            f"factor_portfolio: {'long-short' if self.long_short else 'long-only'}, top/bottom "
            f"{self.quantile:g} of eligible assets, {self.weighting} weights, neutral "
            f"{self.neutral}, rebalanced on the spec's schedule"
        ]
        if self.neutral == "groups":
            diagnostics["groups"] = names
            diagnostics["unmapped_assets"] = unmapped
            if unmapped:
                notes.append(
                    f"factor_portfolio: {len(unmapped)} assets have no group and are never "
                    f"held: {', '.join(unmapped[:10])}"
                )
            if isinstance(self.groups, str):
                notes.append(
                    f"factor_portfolio: groups {self.groups} are today's labels applied to the "
                    "whole history"
                )
        return TemplateOutput(
            kind="weights",
            signal=np.where(ok, signal, np.nan),
            weights=weights,
            diagnostics=diagnostics,
            notes=tuple(notes),
        )

    def _group_ids(self, assets: tuple[str, ...]) -> tuple[np.ndarray, list[str], list[str]]:
        """Group number of each asset (-1 = none), the group names, the unmapped assets."""
        if self.neutral != "groups":
            return np.zeros(len(assets), dtype=np.int64), ["all"], []
        mapping = self.group_mapping()
        names = sorted({mapping[a] for a in assets if a in mapping})
        if not names:
            raise BacktestError(
                "none of the dataset's assets is in groups",
                hint=f"map the assets ({', '.join(assets[:5])}, ...) to their groups",
            )
        number = {name: i for i, name in enumerate(names)}
        group_of = np.array([number.get(mapping.get(a, ""), -1) for a in assets], dtype=np.int64)
        unmapped = [a for a in assets if a not in mapping]
        return group_of, names, unmapped
