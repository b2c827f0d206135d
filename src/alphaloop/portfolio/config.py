"""What an optimizer solves: the method, its estimation window and its constraints."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FALLBACKS", "METHODS", "OptimizerConfig"]

FALLBACKS = ("inverse_volatility", "previous")

Method = Literal[
    "min_variance",
    "max_sharpe",
    "efficient_return",
    "risk_parity",
    "risk_budgeting",
    "hrp",
    "herc",
    "nco",
    "max_diversification",
    "min_cvar",
    "black_litterman",
]

METHODS: tuple[str, ...] = get_args(Method)

# methods solved as one convex program: they take turnover and group constraints
CONVEX = frozenset(
    {
        "min_variance",
        "max_sharpe",
        "efficient_return",
        "risk_parity",
        "risk_budgeting",
        "max_diversification",
        "min_cvar",
        "black_litterman",
    }
)
TURNOVER = frozenset(CONVEX - {"risk_parity", "risk_budgeting"})


class OptimizerConfig(BaseModel):
    """An optimizer and its constraints (long-only, fully invested: weights sum to 1).

    method
        ``min_variance``; ``max_sharpe`` (mean-variance, highest Sharpe
        ratio); ``efficient_return`` (the efficient-frontier point of least
        variance with a mean return of at least ``target_return`` per bar);
        ``risk_parity`` (equal variance contributions); ``risk_budgeting``
        (contributions proportional to ``risk_budget``); ``hrp``
        (hierarchical risk parity); ``herc`` (hierarchical equal risk
        contribution); ``nco`` (nested clusters, min variance inside and
        across clusters); ``max_diversification``; ``min_cvar`` (least
        CVaR at ``cvar_beta``); ``black_litterman`` (max Sharpe on the
        Black-Litterman posterior of ``views``).
    window
        Bars of simple returns in each estimation window, ending at the
        rebalance bar's close.
    min_weight, max_weight
        Per-asset bounds (fractions of the optimized book).
    max_turnover
        Largest change of any one asset's weight, |w - w_previous|, at a
        rebalance (convex methods but risk parity/budgeting; the first
        rebalance is free; an asset new to the candidates starts at 0).
    groups, group_max
        ``groups`` maps an asset to its group; ``group_max`` caps each
        group's total weight (convex methods).
    views
        Black-Litterman views in skfolio's form, per-bar returns, e.g.
        ``"AAPL == 0.0005"`` or ``"AAPL - MSFT == 0.0002"``.
    fallback
        Used where the optimizer fails at a rebalance (solver error,
        infeasible constraints, non-finite weights, too few assets):
        ``inverse_volatility`` (over the same window, bounds clipped) or
        ``previous`` (the last weights held; inverse volatility at the first
        rebalance).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = "min_variance"
    window: int = Field(252, ge=10, le=10_000)
    min_weight: float = Field(0.0, ge=0, le=1)
    max_weight: float = Field(1.0, gt=0, le=1)
    max_turnover: float | None = Field(None, gt=0, le=1)
    groups: dict[str, str] | None = None
    group_max: dict[str, float] | None = None
    risk_budget: dict[str, float] | None = None
    target_return: float | None = None
    risk_free_rate: float = Field(0.0, ge=-1, le=1)
    cvar_beta: float = Field(0.95, gt=0.5, lt=1)
    views: list[str] | None = None
    fallback: Literal["inverse_volatility", "previous"] = "inverse_volatility"

    @model_validator(mode="after")
    def _fields(self) -> OptimizerConfig:
        if self.min_weight > self.max_weight:
            raise ValueError(f"min_weight {self.min_weight} is above max_weight {self.max_weight}")
        if self.method == "efficient_return" and self.target_return is None:
            raise ValueError("method efficient_return needs target_return (mean return per bar)")
        if self.method == "black_litterman" and not self.views:
            raise ValueError("method black_litterman needs views (e.g. 'AAPL == 0.0005')")
        if self.views and self.method != "black_litterman":
            raise ValueError(f"views apply to method black_litterman only, not {self.method}")
        if self.method == "risk_budgeting" and not self.risk_budget:
            raise ValueError("method risk_budgeting needs risk_budget (asset -> budget)")
        if self.risk_budget and any(v <= 0 for v in self.risk_budget.values()):
            raise ValueError("risk_budget values must be positive")
        if self.max_turnover is not None and self.method not in TURNOVER:
            raise ValueError(
                f"max_turnover is not supported by method {self.method}; "
                f"use one of {', '.join(sorted(TURNOVER))}"
            )
        if self.method == "nco" and (self.min_weight > 0 or self.max_weight < 1):
            raise ValueError("method nco does not take min_weight/max_weight bounds")
        if (self.groups is None) != (self.group_max is None):
            raise ValueError("groups and group_max go together")
        if self.group_max is not None:
            if self.method not in CONVEX:
                raise ValueError(
                    f"group_max is not supported by method {self.method}; "
                    f"use one of {', '.join(sorted(CONVEX))}"
                )
            assert self.groups is not None
            unknown = sorted(set(self.group_max) - set(self.groups.values()))
            if unknown:
                raise ValueError(f"group_max names groups no asset is in: {', '.join(unknown)}")
            bad = [g for g, v in self.group_max.items() if not 0 < v <= 1]
            if bad:
                raise ValueError(f"group_max must be in (0, 1]: {', '.join(bad)}")
        return self

    def describe(self) -> str:
        """One line: the method, window and bounds."""
        bounds = f"weights in [{self.min_weight:g}, {self.max_weight:g}]"
        return f"{self.method} over {self.window} bars, {bounds}, fallback {self.fallback}"
