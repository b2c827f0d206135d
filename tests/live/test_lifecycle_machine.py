"""The lifecycle state machine and its health review, without a database."""

from __future__ import annotations

import itertools

import pytest

from alphaloop.execution.policy import LifecycleThresholds
from alphaloop.live.lifecycle import (
    TRANSITIONS,
    LifecycleError,
    LifecycleEvent,
    LifecycleState,
    next_state,
    review_health,
)

S, E = LifecycleState, LifecycleEvent
H = "f" * 64


def test_the_table_is_the_documented_one() -> None:
    assert next_state(H, S.BACKTEST, E.PROMOTE) is S.SHADOW
    assert next_state(H, S.SHADOW, E.PROMOTE, S.LIVE) is S.LIVE
    assert next_state(H, S.LIVE, E.DEMOTE) is S.SHADOW
    assert next_state(H, S.SHADOW, E.DEMOTE) is S.BACKTEST
    for state in (S.BACKTEST, S.SHADOW, S.LIVE):
        assert next_state(H, state, E.RETIRE) is S.RETIRED
    assert len(TRANSITIONS) == 7


def test_every_other_move_raises_naming_from_to_and_why() -> None:
    for state, event in itertools.product(S, E):
        if (state, event) in TRANSITIONS:
            continue
        with pytest.raises(LifecycleError) as info:
            next_state(H, state, event)
        assert info.value.from_state is state
        assert f"from {state.value}" in str(info.value)
    with pytest.raises(LifecycleError, match="from backtest to live: a strategy reaches live "
                       "only through shadow") as info:  # fmt: skip
        next_state(H, S.BACKTEST, E.PROMOTE, S.LIVE)
    assert info.value.to_state is S.LIVE
    with pytest.raises(LifecycleError, match="retirement is final"):
        next_state(H, S.RETIRED, E.PROMOTE, S.SHADOW)


def test_health_retires_on_deep_drawdown_and_demotes_on_decay_or_policy() -> None:
    th = LifecycleThresholds(demote_drawdown=0.1, retire_drawdown=0.2, min_sharpe_ratio=0.5)
    assert review_health(S.LIVE, th, drawdown=0.05, sharpe=1.0, validation_sharpe=1.2) is None
    retire = review_health(S.LIVE, th, drawdown=0.25)
    assert retire is not None
    assert retire.event is E.RETIRE
    assert "25.00%" in retire.reasons[0]
    demote = review_health(S.LIVE, th, drawdown=0.12, sharpe=0.3, validation_sharpe=1.0)
    assert demote is not None
    assert demote.event is E.DEMOTE
    assert len(demote.reasons) == 2
    assert "Sharpe ratio decayed" in demote.reasons[1]
    ic = review_health(S.SHADOW, th, ic=0.01, validation_ic=0.05)
    assert ic is not None
    assert "IC decayed" in ic.reasons[0]
    blocked = review_health(S.LIVE, th, policy_block="strategy x is blocked by the policy")
    assert blocked is not None
    assert blocked.event is E.DEMOTE
    # a validation that never had a positive Sharpe cannot decay; stages outside trading
    assert review_health(S.LIVE, th, sharpe=-1.0, validation_sharpe=-0.5) is None
    assert review_health(S.BACKTEST, th, drawdown=0.9) is None
    assert review_health(S.RETIRED, th, drawdown=0.9) is None
