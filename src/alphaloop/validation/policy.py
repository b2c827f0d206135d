"""Validation gates: a policy of thresholds that returns pass or fail with every reason.

The research engine applies a :class:`ValidationPolicy` to each candidate
before it may go further (shadow trading, the holdout). The defaults are the
ones documented in docs/validation.md; a user may tighten or loosen them, and
the policy used is stored with every verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GateResult", "ValidationPolicy", "Verdict"]


class ValidationPolicy(BaseModel):
    """Thresholds a strategy must meet.

    Parameters
    ----------
    min_dsr : float, default 0.95
        Deflated Sharpe ratio: probability that the true Sharpe ratio beats
        the best expected of as many skill-less trials.
    max_pbo : float, default 0.5
        Probability of backtest overfitting of the selection among the trial
        family; 0.5 means in-sample selection carried no information.
    min_oos_is_ratio : float, default 0.5
        Walk-forward out-of-sample over in-sample Sharpe ratio of the
        selected configuration.
    min_regime_share : float, default 0.5
        Share of evaluated market regimes with a positive Sharpe ratio.
    min_round_trips : int, default 30
        Closed round trips (fewer are anecdotes).
    min_years : float, default 3.0
        Length of the backtest in years.
    require_min_track_record : bool, default True
        The backtest must be at least as long as the minimum track record
        length at which PSR reaches 95% against a zero Sharpe ratio.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_dsr: float = Field(0.95, ge=0, le=1)
    max_pbo: float = Field(0.5, ge=0, le=1)
    min_oos_is_ratio: float = Field(0.5, ge=-10, le=10)
    min_regime_share: float = Field(0.5, ge=0, le=1)
    min_round_trips: int = Field(30, ge=0)
    min_years: float = Field(3.0, ge=0)
    require_min_track_record: bool = True

    def evaluate(self, stats: dict[str, Any]) -> Verdict:
        """Apply every gate to ``stats`` (the validation report's numbers).

        A statistic that could not be computed (None/NaN) fails its gate: an
        unmeasured quality is not a passed one.
        """
        gates = [
            _at_least("dsr", stats.get("dsr"), self.min_dsr, "deflated Sharpe ratio"),
            _at_most("pbo", stats.get("pbo"), self.max_pbo, "probability of backtest overfitting"),
            _at_least(
                "oos_is_ratio",
                stats.get("oos_is_ratio"),
                self.min_oos_is_ratio,
                "walk-forward OOS/IS Sharpe ratio",
            ),
            _at_least(
                "regimes",
                stats.get("regime_share"),
                self.min_regime_share,
                "share of regimes with a positive Sharpe ratio",
            ),
            _at_least(
                "round_trips", stats.get("n_round_trips"), self.min_round_trips, "round trips"
            ),
            _at_least("years", stats.get("years"), self.min_years, "years of backtest"),
        ]
        if self.require_min_track_record:
            gates.append(
                _at_least(
                    "track_record",
                    stats.get("n_obs"),
                    stats.get("min_track_record"),
                    "bars of track record (minimum track record length)",
                )
            )
        return Verdict(passed=all(g.passed for g in gates), gates=gates, policy=self)


@dataclass(frozen=True)
class GateResult:
    """One gate: its value, threshold and a sentence saying why it passed or failed."""

    name: str
    passed: bool
    value: float | None
    threshold: float | None
    reason: str


@dataclass(frozen=True)
class Verdict:
    """Pass or fail, with every gate's reason."""

    passed: bool
    gates: list[GateResult] = field(default_factory=list)
    policy: ValidationPolicy | None = None

    @property
    def reasons(self) -> list[str]:
        """Why it failed (every failing gate), or why it passed (every gate)."""
        failing = [g.reason for g in self.gates if not g.passed]
        return failing if failing else [g.reason for g in self.gates]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "gates": [
                {
                    "name": g.name,
                    "passed": g.passed,
                    "value": g.value,
                    "threshold": g.threshold,
                    "reason": g.reason,
                }
                for g in self.gates
            ],
            "policy": self.policy.model_dump() if self.policy else None,
        }


def _number(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _at_least(name: str, value: Any, threshold: Any, what: str) -> GateResult:
    v, t = _number(value), _number(threshold)
    if v is None or t is None:
        missing = "value" if v is None else "threshold"
        return GateResult(name, False, v, t, f"{what}: could not be measured ({missing} missing)")
    ok = v >= t
    word = "meets" if ok else "is below"
    return GateResult(name, ok, v, t, f"{what} {_fmt(v)} {word} the minimum {_fmt(t)}")


def _at_most(name: str, value: Any, threshold: Any, what: str) -> GateResult:
    v, t = _number(value), _number(threshold)
    if v is None or t is None:
        return GateResult(name, False, v, t, f"{what}: could not be measured")
    ok = v <= t
    word = "is within" if ok else "exceeds"
    return GateResult(name, ok, v, t, f"{what} {_fmt(v)} {word} the maximum {_fmt(t)}")
