"""The live loop's lifecycle step: moves its sleeves between lifecycle states.

At the first bar a BACKTEST sleeve enters SHADOW if its entry gate passes
(annualised Sharpe of the ``entry_bars`` before the start above
``min_entry_sharpe``); a SHADOW sleeve goes LIVE after ``shadow_bars`` with a
positive shadow Sharpe ratio when the autonomy level lets the loop promote (L3 and
up; below, the refusal is audited); every ``review_every`` bars
:func:`~alphaloop.live.lifecycle.review_health` with the policy's current
thresholds demotes or retires on drawdown at once, and on Sharpe decay once the
sleeve has ``min_review_bars`` bars in its state. Every transition goes to the
lifecycle store, which audits it, and is published as ``LifecycleTransitioned``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from alphaloop.live.lifecycle import LifecycleEvent, LifecycleState, review_health
from alphaloop.live.loop_events import ACTOR
from alphaloop.live.sleeve import Sleeve, sleeve_sharpe

if TYPE_CHECKING:
    import pandas as pd

    from alphaloop.execution.audit_log import AuditLog
    from alphaloop.execution.policy_store import PolicyStore
    from alphaloop.live.bus.events import Event
    from alphaloop.live.lifecycle_store import LifecycleStore
    from alphaloop.live.loop_config import LoopConfig

__all__ = ["PROMOTING_LEVELS", "SleeveLifecycle"]

#: the autonomy levels at which the loop may promote a sleeve from SHADOW to LIVE
PROMOTING_LEVELS = ("L3", "L4", "L5")


class SleeveLifecycle:
    """Applies the lifecycle rules (see the module docstring) to the loop's sleeves.

    Parameters
    ----------
    config : LoopConfig
    index : DatetimeIndex
        The panel's bars (a transition is recorded with its bar's date).
    lifecycle : LifecycleStore
    policy : PolicyStore
        Its current thresholds drive the health reviews.
    audit : AuditLog
        Refusals are audited here.
    publish : callable(list of Event)
        Publishes each transition.
    """

    def __init__(
        self,
        config: LoopConfig,
        index: pd.DatetimeIndex,
        *,
        lifecycle: LifecycleStore,
        policy: PolicyStore,
        audit: AuditLog,
        publish: Callable[[list[Event]], None],
    ) -> None:
        self.config, self.index = config, index
        self.lifecycle, self.policy, self.audit, self.publish = lifecycle, policy, audit, publish

    def move(
        self,
        s: Sleeve,
        event: LifecycleEvent,
        to: LifecycleState | None,
        row: int,
        reason: str,
        inputs: dict[str, Any],
    ) -> dict[str, Any]:
        """Apply ``event`` to sleeve ``s`` at bar ``row``, reset its account, publish the
        transition and return its record (bar, strategy, from, to, reason)."""
        from alphaloop.live.bus.catalog import LifecycleTransition, LifecycleTransitioned

        rec = self.lifecycle.apply(
            s.strategy_hash,
            event,
            expected=s.state,
            to=to,
            actor=ACTOR,
            reason=reason,
            inputs={"sleeve": s.name, "bar": str(self.index[row].date()), **inputs},
        )
        before, s.state = s.state, rec.to_state
        s.reset_account(row)
        transition = {
            "bar": str(self.index[row].date()),
            "strategy": s.name,
            "from": before.value,
            "to": s.state.value,
            "reason": reason,
        }
        self.publish(
            [
                LifecycleTransitioned(
                    payload=LifecycleTransition(
                        strategy=s.name,
                        from_state=before.value,
                        to_state=s.state.value,
                        actor=ACTOR,
                        reason=reason,
                    ),
                    source=ACTOR,
                )
            ]
        )
        return transition

    def step(self, sleeves: list[Sleeve], row: int, k: int) -> list[dict[str, Any]]:
        """The lifecycle step at bar ``row``, the loop's ``k``-th bar; returns the
        transitions made, in order."""
        cfg = self.config.lifecycle
        thresholds = self.policy.current().thresholds
        moved: list[dict[str, Any]] = []
        for s in sleeves:
            if s.state is LifecycleState.BACKTEST and k == 0:
                if s.validation_sharpe is not None and s.validation_sharpe > cfg.min_entry_sharpe:
                    moved.append(
                        self.move(
                            s,
                            LifecycleEvent.PROMOTE,
                            LifecycleState.SHADOW,
                            row,
                            f"entry gate: Sharpe {s.validation_sharpe:.2f} over "
                            f"{cfg.entry_bars} bars before the start",
                            {"validation_sharpe": s.validation_sharpe},
                        )
                    )
                else:
                    shown = "none" if s.validation_sharpe is None else f"{s.validation_sharpe:.2f}"
                    self.audit.append(
                        ACTOR,
                        "lifecycle.refused",
                        s.name,
                        {
                            "reason": f"entry gate: Sharpe {shown} over {cfg.entry_bars} bars "
                            f"before the start, needs more than {cfg.min_entry_sharpe:g}"
                        },
                    )
                continue
            if (
                s.state is LifecycleState.SHADOW
                and s.entered is not None
                and row - s.entered >= cfg.shadow_bars
            ):
                shadow = sleeve_sharpe(s.history)
                if shadow is not None and shadow > 0:
                    if self.config.autonomy in PROMOTING_LEVELS:
                        moved.append(
                            self.move(
                                s,
                                LifecycleEvent.PROMOTE,
                                LifecycleState.LIVE,
                                row,
                                f"shadow Sharpe {shadow:.2f} over {len(s.history)} bars",
                                {"shadow_sharpe": shadow, "autonomy": self.config.autonomy},
                            )
                        )
                        continue
                    if row - s.entered == cfg.shadow_bars:
                        self.audit.append(
                            ACTOR,
                            "lifecycle.refused",
                            s.name,
                            {
                                "reason": f"autonomy {self.config.autonomy} does not let the "
                                "loop promote to live: a person must"
                            },
                        )
            if (
                s.state in (LifecycleState.SHADOW, LifecycleState.LIVE)
                and k % cfg.review_every == 0
            ):
                dd = 1.0 - s.equity / s.peak
                history = s.history
                decision = review_health(
                    s.state,
                    thresholds,
                    drawdown=dd,
                    sharpe=sleeve_sharpe(history) if len(history) >= cfg.min_review_bars else None,
                    validation_sharpe=s.validation_sharpe,
                )
                if decision is not None:
                    moved.append(
                        self.move(
                            s,
                            decision.event,
                            None,
                            row,
                            "; ".join(decision.reasons),
                            decision.inputs,
                        )
                    )
        return moved
