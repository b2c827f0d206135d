"""Continuous learning: when to retrain a model, and when a retrained one may replace it.

The manager keeps one *incumbent* per model name (its production version) and at
most one *candidate* in shadow (a newer version trained by the manager). Its two
decisions are pure functions of what it is told, so they can be tested and audited:

:func:`retrain_check`
    Retraining is due when the incumbent is older than ``max_age_days`` (its age is
    the time since the end of the data it learned from, its labels included), when
    ``retrain_every_days`` have passed since that end (the schedule), when the model
    monitor reports drift (PSI or IC decay alerts) and ``on_drift`` is set, or when
    the market regime now differs from the regime when its data ended and
    ``on_regime_change`` is set.
:func:`promotion_check`
    A candidate is judged once it has been in shadow ``shadow_days``: it replaces the
    incumbent only if a paired one-sided test on their per-date IC over the shadow
    bars (:func:`alphaloop.research.paired_test.compare_ic`, Wilcoxon decides) finds
    the candidate better by more than ``margin`` at ``level``; otherwise it is
    archived. Either way the comparison is recorded.

Model age is always reported; an incumbent past ``max_age_days`` with no candidate
able to replace it is flagged ``overdue`` so a person sees it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from alphaloop.errors import AlphaloopError

__all__ = [
    "LearningError",
    "LearningPolicy",
    "PromotionCheck",
    "RetrainCheck",
    "promotion_check",
    "retrain_check",
]


class LearningError(AlphaloopError):
    """The learning manager was set up or called wrongly."""


@dataclass(frozen=True)
class LearningPolicy:
    """When to retrain and what a candidate must show (days are calendar days).

    Parameters
    ----------
    retrain_every_days : float or None, default 30
        Scheduled retraining interval; None turns the schedule off.
    max_age_days : float, default 120
        Bound on a model's age; past it retraining is always due.
    on_drift, on_regime_change : bool, default True
        Retrain on monitor alerts, and on a change of market regime.
    min_drift_bars : int, default 60
        Bars since the model's data ended before drift alerts count (an IC over a
        few weeks is mostly noise).
    shadow_days : float, default 60
        Time a candidate spends in shadow before it is judged.
    margin : float, default 0.0
        IC gain per date the candidate must beat.
    level : float, default 0.05
        One-sided significance level of the paired test.
    """

    retrain_every_days: float | None = 30.0
    max_age_days: float = 120.0
    on_drift: bool = True
    on_regime_change: bool = True
    min_drift_bars: int = 60
    shadow_days: float = 60.0
    margin: float = 0.0
    level: float = 0.05

    def __post_init__(self) -> None:
        if self.retrain_every_days is not None and not self.retrain_every_days > 0:
            raise LearningError(
                f"retrain_every_days must be > 0 or None, got {self.retrain_every_days}"
            )
        if not self.max_age_days > 0:
            raise LearningError(f"max_age_days must be > 0, got {self.max_age_days}")
        if self.min_drift_bars < 1:
            raise LearningError(f"min_drift_bars must be >= 1, got {self.min_drift_bars}")
        if not self.shadow_days > 0:
            raise LearningError(f"shadow_days must be > 0, got {self.shadow_days}")
        if not 0 < self.level < 1:
            raise LearningError(f"level must be in (0, 1), got {self.level}")
        if not self.margin >= 0:
            raise LearningError(f"margin must be >= 0, got {self.margin}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class RetrainCheck:
    """Whether to retrain now, and why."""

    due: bool
    age_days: float
    overdue: bool
    reasons: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "age_days": self.age_days,
            "overdue": self.overdue,
            "reasons": list(self.reasons),
        }


def _days(later: pd.Timestamp, earlier: pd.Timestamp) -> float:
    return (later - earlier).total_seconds() / 86400.0


def retrain_check(
    policy: LearningPolicy,
    *,
    as_of: Any,
    data_end: Any,
    drift_alerts: tuple[str, ...] = (),
    bars_since: int | None = None,
    regime_then: str | None = None,
    regime_now: str | None = None,
) -> RetrainCheck:
    """Is retraining the incumbent due at ``as_of``?

    Parameters
    ----------
    policy : LearningPolicy
    as_of : timestamp-like
        Now (the last bar the manager may read).
    data_end : timestamp-like
        The end of the data the incumbent learned from (its labels included).
    drift_alerts : tuple of str
        Alerts of the model monitor on the data since ``data_end`` (empty: none).
    bars_since : int, optional
        Bars since ``data_end``; alerts count only from ``policy.min_drift_bars`` on
        (None: they always count).
    regime_then, regime_now : str, optional
        The market regime at ``data_end`` and at ``as_of`` (None: unknown).
    """
    now, end = _utc(as_of), _utc(data_end)
    if now < end:
        raise LearningError(
            f"as_of {now:%Y-%m-%d} is before the model's data ends ({end:%Y-%m-%d})"
        )
    age = _days(now, end)
    reasons = []
    overdue = age > policy.max_age_days
    if overdue:
        reasons.append(f"age {age:.0f} days exceeds the bound of {policy.max_age_days:g}")
    if policy.retrain_every_days is not None and age >= policy.retrain_every_days:
        reasons.append(f"scheduled: {age:.0f} days since the data ended")
    enough = bars_since is None or bars_since >= policy.min_drift_bars
    if policy.on_drift and drift_alerts and enough:
        reasons.append("drift: " + "; ".join(drift_alerts[:3]))
    if (
        policy.on_regime_change
        and regime_then is not None
        and regime_now is not None
        and regime_then != regime_now
    ):
        reasons.append(f"regime changed from {regime_then} to {regime_now}")
    return RetrainCheck(due=bool(reasons), age_days=age, overdue=overdue, reasons=tuple(reasons))


@dataclass(frozen=True)
class PromotionCheck:
    """The judgement of a candidate in shadow."""

    ready: bool
    promote: bool
    shadow_days: float
    reasons: tuple[str, ...]
    comparison: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "promote": self.promote,
            "shadow_days": self.shadow_days,
            "reasons": list(self.reasons),
            "comparison": self.comparison,
        }


def promotion_check(
    policy: LearningPolicy,
    *,
    as_of: Any,
    shadow_start: Any,
    incumbent_ic: pd.Series | None = None,
    candidate_ic: pd.Series | None = None,
    step: int = 1,
) -> PromotionCheck:
    """Judge a candidate that entered shadow at ``shadow_start``.

    Before ``shadow_days`` have passed it is not ready (nothing is compared). Then
    the per-date ICs of both models over the shadow bars are compared with the paired
    test (``step``: keep every ``step``-th date, the label horizon, so labels do not
    overlap); the candidate is promoted only if the test's decision p-value is below
    ``level`` and its mean IC gain exceeds ``margin``.
    """
    from alphaloop.research.paired_test import compare_ic

    now, start = _utc(as_of), _utc(shadow_start)
    days = max(_days(now, start), 0.0)
    if days < policy.shadow_days:
        return PromotionCheck(
            ready=False,
            promote=False,
            shadow_days=days,
            reasons=(f"in shadow {days:.0f} of {policy.shadow_days:g} days",),
        )
    if incumbent_ic is None or candidate_ic is None:
        raise LearningError("a candidate past its shadow period needs both models' per-date IC")
    cmp = compare_ic(incumbent_ic, candidate_ic, margin=policy.margin, step=step)
    result = cmp.to_dict()
    p = cmp.decision.p_value
    better = cmp.beats(policy.level)
    why = (
        f"mean IC {cmp.mean_proposal:.4f} vs {cmp.mean_incumbent:.4f} over {cmp.decision.n} "
        f"dates; one-sided p = {p:.3g} (level {policy.level:g}, margin {policy.margin:g})"
    )
    verdict = "better by a supported margin: promote" if better else "not shown better: archive"
    return PromotionCheck(
        ready=True, promote=better, shadow_days=days, reasons=(why, verdict), comparison=result
    )


def _utc(value: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise LearningError(f"{value!r} is not a date") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
