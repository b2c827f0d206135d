"""The learning manager's decisions: when to retrain, when a candidate may replace the incumbent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.live.learning import (
    LearningError,
    LearningPolicy,
    promotion_check,
    retrain_check,
)

POLICY = LearningPolicy(retrain_every_days=30, max_age_days=90, shadow_days=20)


def test_nothing_is_due_for_a_young_model() -> None:
    c = retrain_check(POLICY, as_of="2020-01-20", data_end="2020-01-01")
    assert not c.due
    assert c.age_days == pytest.approx(19)
    assert not c.overdue


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"as_of": "2020-02-05"}, "scheduled"),
        ({"as_of": "2020-04-15"}, "exceeds the bound"),
        (
            {"as_of": "2020-01-10", "drift_alerts": ("PSI of mom20 0.4 > 0.25",), "bars_since": 60},
            "drift: PSI",
        ),
        ({"as_of": "2020-01-10", "regime_then": "calm", "regime_now": "turbulent"}, "regime"),
    ],
)
def test_each_trigger_makes_retraining_due(kwargs: dict, reason: str) -> None:
    c = retrain_check(POLICY, data_end="2020-01-01", **kwargs)
    assert c.due
    assert any(reason in r for r in c.reasons)


def test_drift_on_a_few_bars_does_not_count() -> None:
    c = retrain_check(
        POLICY, as_of="2020-01-10", data_end="2020-01-01", drift_alerts=("IC fell",), bars_since=7
    )
    assert not c.due


def test_triggers_can_be_switched_off() -> None:
    quiet = LearningPolicy(retrain_every_days=None, on_drift=False, on_regime_change=False)
    c = retrain_check(
        quiet, as_of="2020-02-20", data_end="2020-01-01", drift_alerts=("x",),
        regime_then="calm", regime_now="turbulent",
    )  # fmt: skip
    assert not c.due


def _ic(mean: float, seed: int, n: int = 60) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(rng.normal(mean, 0.05, n), index=pd.bdate_range("2020-02-01", periods=n))


def test_a_candidate_waits_out_its_shadow_period() -> None:
    c = promotion_check(POLICY, as_of="2020-01-10", shadow_start="2020-01-01")
    assert not c.ready
    assert not c.promote
    assert "in shadow 9 of 20 days" in c.reasons[0]


def test_only_a_supported_gain_promotes() -> None:
    win = promotion_check(
        POLICY, as_of="2020-06-01", shadow_start="2020-01-01",
        incumbent_ic=_ic(0.0, 1), candidate_ic=_ic(0.05, 2),
    )  # fmt: skip
    assert win.ready
    assert win.promote
    assert win.comparison["wilcoxon"]["p_value"] < 0.05
    tie = promotion_check(
        POLICY, as_of="2020-06-01", shadow_start="2020-01-01",
        incumbent_ic=_ic(0.02, 3), candidate_ic=_ic(0.02, 4),
    )  # fmt: skip
    assert tie.ready
    assert not tie.promote
    assert "archive" in tie.reasons[-1]
    needs_margin = promotion_check(
        LearningPolicy(shadow_days=20, margin=0.1), as_of="2020-06-01", shadow_start="2020-01-01",
        incumbent_ic=_ic(0.0, 1), candidate_ic=_ic(0.05, 2),
    )  # fmt: skip
    assert not needs_margin.promote


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retrain_every_days": 0}, "retrain_every_days"),
        ({"max_age_days": -1}, "max_age_days"),
        ({"level": 1.5}, "level"),
        ({"margin": -0.1}, "margin"),
    ],
)
def test_bad_policy(kwargs: dict, match: str) -> None:
    with pytest.raises(LearningError, match=match):
        LearningPolicy(**kwargs)


def test_bad_calls() -> None:
    with pytest.raises(LearningError, match="before the model's data ends"):
        retrain_check(POLICY, as_of="2019-01-01", data_end="2020-01-01")
    with pytest.raises(LearningError, match="needs both"):
        promotion_check(POLICY, as_of="2021-01-01", shadow_start="2020-01-01")
    with pytest.raises(LearningError, match="not a date"):
        retrain_check(POLICY, as_of="soon", data_end="2020-01-01")
