"""Stress tests (pure part): historical replays and custom shocks.

Conventions
-----------
- Returns are simple returns per bar with a DatetimeIndex; ``weights`` are
  positions as fractions of value, *held* through a scenario (bought at its
  start, not rebalanced; any remainder earns nothing). Without weights,
  ``returns`` is one series (the portfolio's, rebalanced as it was).
- ``pnl`` is the return over the scenario (``-0.25`` = lost a quarter of
  the value); ``max_drawdown`` is the largest peak-to-trough fall of the
  value inside the scenario, a positive fraction; ``worst_bar`` the lowest
  one-bar return.
- :class:`StressLimits` are positive fractions: a breach of ``max_loss``
  is ``-pnl > max_loss``, of ``max_drawdown`` is ``max_drawdown >
  max_drawdown limit``.
- A historical window is replayed only when the data cover it entirely (a
  bar at or before its start and one at or after its end); the others are
  skipped, each with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.risk._inputs import as_return_matrix, as_return_vector, as_weights
from alphaloop.risk.errors import RiskInputError, ScenarioError
from alphaloop.risk.scenarios import SCENARIOS, Scenario, scenario

__all__ = [
    "ScenarioResult",
    "StressLimits",
    "StressReport",
    "asset_shock",
    "factor_shock",
    "max_drawdown",
    "replay_scenarios",
]


@dataclass(frozen=True)
class StressLimits:
    """Loss limits as positive fractions of value (None: no limit)."""

    max_loss: float | None = None
    max_drawdown: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_loss", "max_drawdown"):
            value = getattr(self, name)
            if value is not None and not float(value) > 0.0:
                raise RiskInputError(
                    f"{name} must be a positive fraction, got {value!r}", field=name
                )

    def breaches(self, pnl: float, drawdown: float) -> tuple[str, ...]:
        """The names of the limits that ``pnl`` and ``drawdown`` break."""
        out = []
        if self.max_loss is not None and -pnl > self.max_loss:
            out.append("max_loss")
        if self.max_drawdown is not None and drawdown > self.max_drawdown:
            out.append("max_drawdown")
        return tuple(out)


@dataclass(frozen=True)
class ScenarioResult:
    """The outcome of one scenario (see the module conventions)."""

    name: str
    kind: str
    pnl: float
    max_drawdown: float
    worst_bar: float
    n_bars: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    breaches: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "kind": self.kind,
            "pnl": self.pnl,
            "max_drawdown": self.max_drawdown,
            "worst_bar": self.worst_bar,
            "n_bars": self.n_bars,
            "start": None if self.start is None else str(self.start.date()),
            "end": None if self.end is None else str(self.end.date()),
            "breaches": list(self.breaches),
        }


@dataclass(frozen=True)
class StressReport:
    """Scenario results, and the scenarios skipped with the reason."""

    results: tuple[ScenarioResult, ...]
    skipped: dict[str, str] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """One row per scenario run: pnl, max_drawdown, worst_bar, n_bars, breaches."""
        rows = [r.to_dict() for r in self.results]
        cols = [
            "name",
            "kind",
            "start",
            "end",
            "pnl",
            "max_drawdown",
            "worst_bar",
            "n_bars",
            "breaches",
        ]
        return pd.DataFrame(rows, columns=cols).set_index("name")

    @property
    def breached(self) -> tuple[str, ...]:
        """Names of the scenarios that broke a limit."""
        return tuple(r.name for r in self.results if r.breaches)


def max_drawdown(values: np.ndarray) -> float:
    """Largest fall from a running peak of a value path, a positive fraction.

    The path starts at its first value (pass the starting value first).
    """
    v = np.asarray(values, dtype=float)
    peaks = np.maximum.accumulate(v)
    return float(np.max(1.0 - v / peaks)) if v.size else 0.0


def _value_path(bars: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Value from 1.0 at the start through each bar (held weights, or one compounding series)."""
    growth = np.cumprod(1.0 + bars, axis=0)
    path = growth[:, 0] if w is None else 1.0 + (growth - 1.0) @ w
    return np.concatenate([[1.0], path])


def _day_index(index: Any) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise RiskInputError("returns must be indexed by time (a DatetimeIndex)", field="returns")
    days = index.tz_convert(None) if index.tz is not None else index
    return days.normalize()


def replay_scenarios(
    returns: pd.Series | pd.DataFrame,
    *,
    weights: Any = None,
    names: Iterable[str] | None = None,
    scenarios: Iterable[Scenario] = (),
    limits: StressLimits | None = None,
) -> StressReport:
    """Replay named historical windows over ``returns``.

    Parameters
    ----------
    returns : Series or DataFrame
        Simple returns per bar with a DatetimeIndex (tz-aware or naive).
    weights : optional
        Positions held through each window (with a (time, asset) DataFrame).
    names : iterable of str, optional
        Built-in scenarios to run (default: all of :data:`SCENARIOS`);
        unknown names raise :class:`ScenarioError`.
    scenarios : iterable of Scenario
        Extra user-defined windows, run after the named ones.
    limits : StressLimits, optional
    """
    limits = limits or StressLimits()
    chosen = [scenario(n) for n in (SCENARIOS if names is None else names)] + list(scenarios)
    days = _day_index(returns.index)
    if isinstance(returns, pd.DataFrame) and weights is not None:
        values, cols = as_return_matrix(returns)
        w: np.ndarray | None = as_weights(weights, cols)
    elif weights is None:
        values, w = as_return_vector(returns, min_obs=1)[:, None], None
    else:
        raise RiskInputError("weights need (time, asset) returns as a DataFrame", field="weights")
    span = f"{days[0].date()} .. {days[-1].date()}"
    results: list[ScenarioResult] = []
    skipped: dict[str, str] = {}
    for sc in chosen:
        if days[0] > sc.start or days[-1] < sc.end:
            skipped[sc.name] = (
                f"{sc.start.date()} .. {sc.end.date()} is not inside the data's span {span}"
            )
            continue
        rows = (days > sc.start) & (days <= sc.end)
        bars = values[rows]
        path = _value_path(bars, w)
        pnl = float(path[-1] - 1.0)
        bar_returns = path[1:] / path[:-1] - 1.0
        dd = max_drawdown(path)
        results.append(
            ScenarioResult(
                sc.name,
                "historical",
                pnl,
                dd,
                float(bar_returns.min()),
                int(rows.sum()),
                sc.start,
                sc.end,
                limits.breaches(pnl, dd),
            )
        )
    return StressReport(tuple(results), skipped)


def _shock_result(name: str, kind: str, pnl: float, limits: StressLimits | None) -> ScenarioResult:
    dd = max(0.0, -pnl)
    return ScenarioResult(
        name, kind, pnl, dd, pnl, 1, None, None, (limits or StressLimits()).breaches(pnl, dd)
    )


def asset_shock(
    weights: pd.Series | Mapping[str, float],
    shocks: Mapping[str, float],
    *,
    name: str = "asset shock",
    limits: StressLimits | None = None,
) -> ScenarioResult:
    """An instantaneous move per asset (``{"AAPL": -0.3}``); assets not named move 0.

    P&L = sum of weight x shock. Shocks to assets without a weight raise
    :class:`ScenarioError` (a typo would otherwise vanish).
    """
    w = pd.Series(weights, dtype=float)
    unknown = sorted(set(map(str, shocks)) - set(map(str, w.index)))
    if unknown:
        raise ScenarioError(
            f"shocks name assets the portfolio does not hold: {unknown[:5]}", field="shocks"
        )
    s = pd.Series(shocks, dtype=float).reindex(w.index).fillna(0.0)
    if (s <= -1.0).any():
        raise ScenarioError("an asset shock of -100% or below is not a return", field="shocks")
    return _shock_result(name, "asset shock", float(w @ s), limits)


def factor_shock(
    weights: pd.Series | Mapping[str, float],
    betas: pd.DataFrame,
    shocks: Mapping[str, float],
    *,
    name: str = "factor shock",
    limits: StressLimits | None = None,
) -> ScenarioResult:
    """A move per factor (``{"market": -0.2}``) passed to assets through their betas.

    Each asset moves ``sum_k beta[asset, k] x shock[k]`` (factors not named
    move 0; no idiosyncratic part); ``betas`` is (asset, factor), e.g. from
    :func:`~alphaloop.risk.exposures.asset_betas`.
    """
    unknown = sorted(set(map(str, shocks)) - set(map(str, betas.columns)))
    if unknown:
        raise ScenarioError(
            f"shocks name factors the betas do not have: {unknown}; factors: {list(betas.columns)}",
            field="shocks",
        )
    w = pd.Series(weights, dtype=float)
    missing = sorted(set(map(str, w.index[w != 0])) - set(map(str, betas.index)))
    if missing:
        raise ScenarioError(f"betas has no row for held assets {missing[:5]}", field="betas")
    f = pd.Series(shocks, dtype=float).reindex(betas.columns).fillna(0.0)
    moves = betas.reindex(w.index).fillna(0.0) @ f
    return _shock_result(name, "factor shock", float(w @ moves), limits)
