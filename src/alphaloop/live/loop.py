"""The live loop: one replayed bar at a time through controller, lifecycle, book and kill switch.

Each strategy is a *sleeve*: a specialist's net returns per bar from the backtester
(costs on, next-bar fills), so the loop's accounting is the backtest's. At every bar
``t`` the loop, in this order:

1. publishes the bar (``BarClosed`` per symbol) on the bus;
2. reads the kill switch: an active kill halts everything at once (weights to zero,
   ``loop.halted`` audited, a critical ``AlertRaised``; no later bar is processed);
3. books the portfolio's return of bar ``t`` from the weights set at ``t - 1``;
4. lets the meta controller decide the risk mode and the weights of the LIVE sleeves
   from data up to ``t`` (its sinks write the audit log and the policy store) and
   publishes ``RiskStateChanged``;
5. moves sleeves through the lifecycle (every transition in the lifecycle store,
   audited, and published as ``LifecycleTransitioned``): BACKTEST -> SHADOW at the first
   bar if the entry gate passes (annualised Sharpe of the ``entry_bars`` before the
   start above ``min_entry_sharpe``); SHADOW -> LIVE after ``shadow_bars`` with a
   positive shadow Sharpe ratio, when the autonomy level lets the loop promote
   (L3 and up; below, the refusal is audited); every ``review_every`` bars
   :func:`~alphaloop.live.lifecycle.review_health` with the current mode's thresholds
   demotes or retires on drawdown at once, and on Sharpe decay once the sleeve has
   ``min_review_bars`` bars in its state (a Sharpe ratio of a few weeks is noise);
6. every ``learning.every`` bars, records the learning cycle (the ``learner``'s
   :meth:`~BarLearner.record`) and publishes what it returns.

With a ``unit`` (the database's :meth:`~alphaloop.store.Database.atomic`) and
``checkpoints``, each bar is one transaction: the bar's records and the loop's
checkpoint (:mod:`.loop_state`) commit together, and the bar's events (ids derived
from run, bar, kind and key) are published just before the commit. A loop
started with ``resume=`` a checkpoint carries on from the bar after it; a bar
interrupted half-way is run again from the start, its records were never
committed and its events are dropped by the bus as duplicates.

The transaction holds the database's write lock, so nothing long runs inside it:
a learning bar's cycle (training included) is worked out *before* the bar's
transaction opens (:meth:`BarLearner.prepare`, from the committed records), and
only its records are written inside it. A kill set while the model trains lands
at once and halts the loop at this bar's check. When the learner's inputs changed
between the two (:meth:`BarLearner.fresh` is false first thing in the
transaction), the transaction ends without a write and the cycle is worked out
again.

The sleeves' accounts are in :mod:`.sleeve`, the lifecycle rules of step 5 in
:mod:`.loop_lifecycle`, and the publishing and event ids in :mod:`.loop_events`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from alphaloop.live.controller import MetaController
from alphaloop.live.lifecycle import LifecycleState
from alphaloop.live.loop_config import LoopConfig
from alphaloop.live.loop_events import ACTOR, LoopPublisher, bar_events, pnl_ticks
from alphaloop.live.loop_lifecycle import PROMOTING_LEVELS, SleeveLifecycle
from alphaloop.live.loop_state import Checkpoint, LoopCheckpoints, Status
from alphaloop.live.sleeve import Sleeve, sleeve_sharpe

if TYPE_CHECKING:
    from alphaloop.data.panel import Panel
    from alphaloop.execution.audit_log import AuditLog
    from alphaloop.execution.policy_store import PolicyStore
    from alphaloop.live.bus.events import Event
    from alphaloop.live.lifecycle_store import LifecycleStore

__all__ = ["ACTOR", "PROMOTING_LEVELS", "BarLearner", "LiveLoop", "LoopResult", "Sleeve"]

#: how many times a learning bar's cycle is worked out again when its inputs changed
#: before the bar's transaction; then it is recorded as is (the learner redoes a stale
#: cycle inside the transaction)
REPLANS = 3
_sharpe = sleeve_sharpe


class BarLearner(Protocol):
    """A learning cycle in two parts: worked out outside the bar's transaction, recorded
    inside it (the app's :class:`~alphaloop.app.loop_learner.LoopLearner`)."""

    def prepare(self, at: pd.Timestamp) -> Any:
        """Work the cycle at ``at`` out from committed records; write nothing."""

    def fresh(self, plan: Any) -> bool:
        """Whether ``plan``'s inputs are unchanged (read inside the transaction)."""

    def record(self, plan: Any) -> tuple[list[Event], dict[str, Any]]:
        """Write ``plan`` (inside the transaction): the events to publish and a record."""

    def discard(self, plan: Any) -> None:
        """Drop an unrecorded ``plan`` (its staged files)."""


@dataclass(frozen=True)
class LoopResult:
    """What a run of the loop did."""

    name: str
    bars: int
    first: pd.Timestamp
    last: pd.Timestamp
    equity: float
    max_drawdown: float
    modes: dict[str, int]
    transitions: list[dict[str, Any]]
    learning: list[dict[str, Any]]
    halted: str | None
    events: int
    resumed_at: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (timestamps in ISO format)."""
        return {
            "name": self.name,
            "bars": self.bars,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "equity": self.equity,
            "max_drawdown": self.max_drawdown,
            "modes": dict(self.modes),
            "transitions": list(self.transitions),
            "learning": list(self.learning),
            "halted": self.halted,
            "events": self.events,
            "resumed_at": self.resumed_at,
        }


class LiveLoop:
    """Runs the loop over ``panel`` rows ``[start_row, end_row]`` (see the module docstring).

    Parameters
    ----------
    config : LoopConfig
    panel : Panel
        The data, from before the start (history for the controller and entry gate).
    sleeves : list of Sleeve
    start_row, end_row : int
        First and last bar the loop runs.
    controller : MetaController
    lifecycle : LifecycleStore
    policy : PolicyStore
    audit : AuditLog
    bus : object with ``publish(event)`` and ``publish_many(events)``
    killed : callable returning the active kill's reason, or None
    learner : BarLearner, optional
        Learning cycles every ``config.learning.every`` bars.
    on_bar : callable(k, ts), optional
        Called before each bar (outside its transaction, before a learning bar's
        cycle is worked out).
    unit : callable returning a context manager, optional
        One transaction per bar (``db.atomic``); default: none (each record commits
        on its own, and nothing is checkpointed).
    checkpoints : LoopCheckpoints, optional
        Where the checkpoint goes, in each bar's ``unit``.
    resume : Checkpoint, optional
        Carry on after this checkpoint (its ``config_hash`` and ``epoch`` are kept).
    config_hash : str
        Recorded in every checkpoint.
    epoch : int, default 0
        How many times this run was started over; part of every event id.
    """

    def __init__(
        self,
        config: LoopConfig,
        panel: Panel,
        sleeves: list[Sleeve],
        start_row: int,
        end_row: int,
        *,
        controller: MetaController,
        lifecycle: LifecycleStore,
        policy: PolicyStore,
        audit: AuditLog,
        bus: Any,
        killed: Callable[[], str | None],
        learner: BarLearner | None = None,
        on_bar: Callable[[int, pd.Timestamp], None] | None = None,
        unit: Callable[[], AbstractContextManager[Any]] | None = None,
        checkpoints: LoopCheckpoints | None = None,
        resume: Checkpoint | None = None,
        config_hash: str = "",
        epoch: int = 0,
    ) -> None:
        self.config, self.panel, self.sleeves = config, panel, sleeves
        self.start_row, self.end_row = start_row, end_row
        self.controller, self.lifecycle, self.policy = controller, lifecycle, policy
        self.audit, self.bus, self.killed, self.learner = audit, bus, killed, learner
        self._plan: Any = None  # the learning cycle worked out for the current bar
        self.on_bar = on_bar
        self.weights: dict[str, float] = {}
        self.equity, self.peak, self.max_dd = config.capital, config.capital, 0.0
        self.transitions: list[dict[str, Any]] = []
        self.learning: list[dict[str, Any]] = []
        self.modes: dict[str, int] = {}
        self.unit = unit or nullcontext
        self.checkpoints, self.resume = checkpoints, resume
        self.config_hash = resume.config_hash if resume is not None else config_hash
        self.epoch = resume.epoch if resume is not None else epoch
        self.halted: str | None = None
        self._events = LoopPublisher(bus, config.name, self.epoch)
        self._publish = self._events.publish
        self._rules = SleeveLifecycle(
            config, panel.index, lifecycle=lifecycle, policy=policy, audit=audit,
            publish=self._publish,
        )  # fmt: skip

    @property
    def events(self) -> int:
        """How many events the loop has published so far."""
        return self._events.count

    @events.setter
    def events(self, value: int) -> None:
        self._events.count = value

    # -------------------------------------------------------------- checkpoint
    def snapshot(self) -> dict[str, Any]:
        """The loop's state after a bar, JSON-ready (see :mod:`.loop_state`)."""
        return {
            "weights": dict(self.weights),
            "equity": self.equity,
            "peak": self.peak,
            "max_dd": self.max_dd,
            "events": self.events,
            "transitions": list(self.transitions),
            "learning": list(self.learning),
            "modes": dict(self.modes),
            "sleeves": {s.name: s.account() for s in self.sleeves},
            "controller": self.controller.state(),
            "halted": self.halted,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Carry on from :meth:`snapshot`; sleeves not in it keep their state."""
        self.weights = {k: float(v) for k, v in state["weights"].items()}
        self.equity, self.peak = float(state["equity"]), float(state["peak"])
        self.max_dd, self.events = float(state["max_dd"]), int(state["events"])
        self.transitions, self.learning = list(state["transitions"]), list(state["learning"])
        self.modes = {k: int(v) for k, v in state["modes"].items()}
        for s in self.sleeves:
            if s.name in state["sleeves"]:
                s.restore(state["sleeves"][s.name])
        self.controller.restore(state["controller"])
        self.halted = state.get("halted")

    def _save(self, bars_done: int, last: pd.Timestamp | None, status: Status) -> None:
        if self.checkpoints is None:
            return
        self.checkpoints.save(
            Checkpoint(
                name=self.config.name,
                config_hash=self.config_hash,
                epoch=self.epoch,
                bars_done=bars_done,
                last_bar=None if last is None else last.isoformat(),
                status=status,
                state=self.snapshot(),
            )
        )

    # ------------------------------------------------------------------- run
    def run(self) -> LoopResult:
        """Run every bar (from the one after ``resume``); stops early on a kill."""
        from alphaloop.risk.regimes import volatility_names

        market = self.controller.market_state(self.panel)
        names = volatility_names(self.controller.config.vol_regimes)
        idx = self.panel.index
        rets = pd.DataFrame({s.name: s.returns for s in self.sleeves}).reindex(idx)
        first_k, status, resumed_at = 0, "running", None
        if self.resume is None:
            with self.unit():
                self.audit.append(ACTOR, "loop.started", self.config.name,
                                  {"config": self.config.model_dump(mode="json")})  # fmt: skip
                self._save(0, None, "running")
        else:
            self.restore(self.resume.state)
            first_k, status = self.resume.bars_done, self.resume.status
            resumed_at = first_k
            if status != "finished":
                with self.unit():
                    self.audit.append(ACTOR, "loop.resumed", self.config.name,
                                      {"bars_done": first_k, "last_bar": self.resume.last_bar,
                                       "epoch": self.epoch})  # fmt: skip
        last = self.start_row + max(first_k - 1, 0)
        if status == "running":
            for k, row in enumerate(range(self.start_row, self.end_row + 1)):
                if k < first_k:
                    continue
                ts, last = idx[row], row
                if self.on_bar is not None:
                    self.on_bar(k, ts)
                try:
                    for attempt in range(REPLANS + 1):
                        if self._learning_bar(k):
                            self._plan = self.learner.prepare(ts)  # type: ignore[union-attr]
                        with self.unit():
                            if attempt < REPLANS and not self._fresh():
                                continue  # nothing written: work the cycle out again
                            self._events.open_bar(ts)
                            try:
                                self._bar(k, row, ts, rets, market, names)
                                status = "halted" if self.halted else "running"
                                self._events.flush()
                                self._save(k + 1, ts, status)  # type: ignore[arg-type]
                            finally:
                                self._events.close_bar()
                        break
                finally:
                    self._drop_plan()
                if self.halted:
                    break
        if status != "finished":
            with self.unit():
                self.audit.append(ACTOR, "loop.finished", self.config.name,
                                  {"equity": self.equity, "halted": self.halted})  # fmt: skip
                self._save(last - self.start_row + 1, idx[last], "finished")
        return LoopResult(
            name=self.config.name,
            bars=last - self.start_row + 1,
            first=idx[self.start_row],
            last=idx[last],
            equity=self.equity,
            max_drawdown=self.max_dd,
            modes=self.modes,
            transitions=self.transitions,
            learning=self.learning,
            halted=self.halted,
            events=self.events,
            resumed_at=resumed_at,
        )

    def _learning_bar(self, k: int) -> bool:
        """Whether bar ``k`` runs a learning cycle (and no kill is set: it would halt)."""
        every = self.config.learning.every if self.config.learning else 0
        if self.learner is None or not every or k == 0 or k % every:
            return False
        self._drop_plan()
        return self.killed() is None

    def _fresh(self) -> bool:
        return self._plan is None or self.learner is None or self.learner.fresh(self._plan)

    def _drop_plan(self) -> None:
        plan, self._plan = self._plan, None
        if plan is not None and self.learner is not None:
            self.learner.discard(plan)

    def _bar(
        self, k: int, row: int, ts: pd.Timestamp, rets: pd.DataFrame, market: pd.DataFrame,
        names: tuple[str, ...],
    ) -> None:  # fmt: skip
        """One bar: steps 1 to 6 of the module docstring; sets ``halted`` on a kill."""
        from alphaloop.live.bus.catalog import Alert, AlertRaised, RiskState, RiskStateChanged

        if self.config.bus.publish_bars:
            self._publish(bar_events(self.panel, row, ts))
        reason = self.killed()
        if reason is not None:
            self.halted = f"kill switch on {ts:%Y-%m-%d}: {reason}"
            self.weights = {}
            self.audit.append(ACTOR, "loop.halted", self.config.name, {"reason": self.halted})
            self._publish(
                [
                    AlertRaised(
                        payload=Alert(severity="critical", source=ACTOR, message=self.halted),
                        source=ACTOR,
                    )
                ]
            )
            return
        r_t = rets.iloc[row]
        before = {s.name: s.equity for s in self.sleeves}
        port = sum(w * float(r_t.get(n, 0.0) or 0.0) for n, w in self.weights.items())
        self.equity *= 1.0 + (port if np.isfinite(port) else 0.0)
        self.peak = max(self.peak, self.equity)
        self.max_dd = max(self.max_dd, 1.0 - self.equity / self.peak)
        for s in self.sleeves:
            s.book(r_t)
        self.transitions.extend(self._rules.step(self.sleeves, row, k))
        if self.config.bus.publish_pnl:
            before.update({s.name: 1.0 for s in self.sleeves if s.entered == row})
            self._publish(pnl_ticks(self.config.name, self.sleeves, before))
        live = [s.name for s in self.sleeve_states(LifecycleState.LIVE)]
        decision = self.controller.step(
            ts,
            market.iloc[row],
            rets[live].iloc[: row + 1] if live else None,
            regime_names=names,
        )
        self.modes[decision.mode] = self.modes.get(decision.mode, 0) + 1
        self.weights = dict(decision.weights)
        self._publish(
            [
                RiskStateChanged(
                    payload=RiskState(
                        mode=decision.mode,
                        equity=self.equity,
                        gross_exposure=float(sum(abs(w) for w in self.weights.values())),
                        net_exposure=float(sum(self.weights.values())),
                        drawdown=min(max(1.0 - self.equity / self.peak, 0.0), 1.0),
                    ),
                    source=ACTOR,
                )
            ]
        )
        every = self.config.learning.every if self.config.learning else 0
        if self.learner is not None and every and k > 0 and k % every == 0:
            plan, self._plan = self._plan, None
            if plan is None:  # the kill switch was set when the bar began, then cleared
                plan = self.learner.prepare(ts)
            events, record = self.learner.record(plan)
            self.learning.append(record)
            self._publish(events)

    def sleeve_states(self, state: LifecycleState) -> list[Sleeve]:
        """The sleeves in ``state`` now."""
        return [s for s in self.sleeves if s.state is state]
