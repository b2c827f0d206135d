"""A paper-trading session: the event backtest's strategy driven bar by bar by a feed.

The same :class:`~alphaloop.backtest.event.Strategy` object the event
backtest runs is driven here, one :class:`~alphaloop.execution.BarEvent`
at a time, through the same steps as
:class:`~alphaloop.backtest.event.EventEngine` (see its module): for bar
``r`` the venue trades what is due (``start_bar``), the strategy hears the
events, ``on_bar(ctx, r)`` runs if the strategy's schedule looks at ``r``,
algorithms step, ``same_close`` orders fill, DAY orders expire. The engine
skips bars on which nothing can happen; visiting them changes nothing, so
the fills, positions and cash agree with the backtest to the last bit.

Two objects face the outside:

- the **venue** (a :class:`~alphaloop.execution.SimulatedBroker` with the
  backtest's cost and fill model) is where bars arrive and orders match;
- the **broker** is the one place every order of the strategy goes
  through (the strategy's context holds it). It is the venue itself by
  default; a :class:`~alphaloop.execution.GatedBroker` (autonomy level,
  approvals, compliance, risk, kill switch) is passed instead and forwards
  to the venue. The session then takes every event from the gate (its
  refusals included), tells it where each bar begins and ends (decided
  approvals take effect at the end of a bar, so an approved order fills at
  the next one) and, in :meth:`PaperSession.catch_up`, has it replay its
  recorded decisions instead of deciding again.

After each bar a :class:`BarRecorder` (persistence) gets the bar's order
events; the session never reads the account in a way that would move the
venue's lazy marks, so recording cannot change a number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from alphaloop.backtest.event import Context, EventResult, Strategy, build_result
from alphaloop.errors import PaperError
from alphaloop.execution import (
    BarEvent,
    Broker,
    Feed,
    FillTiming,
    GatedBroker,
    Order,
    OrderEvent,
    OrderFilled,
    OrderPartiallyFilled,
    SimulatedBroker,
)
from alphaloop.execution.gate_decisions import GateDecision

__all__ = ["BarRecorder", "PaperSession"]

_FILLS = (OrderFilled, OrderPartiallyFilled)


class BarRecorder(Protocol):
    """Where a session's bars go once processed (a database, a log, a test)."""

    def record_bar(self, bar: BarEvent, events: list[OrderEvent], session: PaperSession) -> None:
        """Record bar ``bar.row`` and the order events it produced, atomically."""
        ...


def _overrides(strategy: Strategy, hook: str) -> bool:
    return getattr(type(strategy), hook) is not getattr(Strategy, hook)


class PaperSession:
    """Drive ``strategy`` on ``feed``'s bars through ``venue`` (see the module docstring).

    Parameters
    ----------
    strategy : Strategy
        An event-backtest strategy, unchanged.
    feed : Feed
        The bars; the venue must be built on ``feed.panel``.
    venue : SimulatedBroker
        Matches orders against each bar with the backtest's cost and fill model.
    broker : Broker, optional
        Where the strategy's orders go (default: the venue). A wrapper must
        forward to ``venue`` and expose what a context reads (``market``,
        ``asset_column``, ``lot_sizes``, ``kill``).
    recorder : BarRecorder, optional
        Gets every processed bar and its events (persistence).
    """

    def __init__(
        self,
        strategy: Strategy,
        feed: Feed,
        venue: SimulatedBroker,
        *,
        broker: Broker | None = None,
        recorder: BarRecorder | None = None,
    ) -> None:
        if venue.panel is not feed.panel and not venue.panel.index.equals(feed.panel.index):
            raise PaperError("the venue must be built on the feed's panel")
        if venue.row >= 0 or venue.orders:
            raise PaperError("this venue has already traded; build a new one for each session")
        self.strategy = strategy
        self.feed = feed
        self.venue = venue
        self.broker: Broker = broker if broker is not None else venue
        #: the governance gate in front of the venue, if the broker is one
        self.gate: GatedBroker | None = broker if isinstance(broker, GatedBroker) else None
        if self.gate is not None and self.gate.inner is not venue:
            raise PaperError("the gate must forward to the session's venue")
        self.recorder = recorder
        self.ctx = Context(feed.panel, self.broker)  # type: ignore[arg-type]
        #: bars processed so far (the feed position to resume from)
        self.position = 0
        #: True while :meth:`catch_up` replays recorded bars: a gate with side effects
        #: (an approval queue, an audit log) sees those orders again and may read this
        self.replaying = False
        self._looks: list[bool] | None = None
        self._wants_order = _overrides(strategy, "on_order")
        self._wants_fill = _overrides(strategy, "on_fill")
        self._same_close = venue.config.fills is FillTiming.SAME_CLOSE
        self._bar_events: list[OrderEvent] = []
        self._finished = False

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Call the strategy's ``on_start`` and read its schedule (once)."""
        if self._looks is not None:
            return
        self.strategy.on_start(self.ctx)
        n = self.feed.panel.n_times
        mask = self.strategy.schedule(self.ctx)
        if mask is None:
            self._looks = [True] * n
            return
        arr = np.asarray(mask)
        if arr.dtype != np.bool_ or arr.shape != (n,):
            raise PaperError(
                f"schedule must return a boolean mask of shape ({n},), got {arr.dtype} {arr.shape}"
            )
        self._looks = arr.tolist()

    def step(self, bar: BarEvent) -> list[OrderEvent]:
        """Process one bar (the next one); return the order events it produced."""
        if self._looks is None:
            self.start()
        r = bar.row
        if r != self.position:
            raise PaperError(f"bar {r} arrived where bar {self.position} was due")
        ctx, venue, gate = self.ctx, self.venue, self.gate
        self._bar_events = events = []
        ctx.row = venue.row = r
        if gate is not None:
            gate.begin_bar(r)
        if venue.pending:
            venue.start_bar(r)
            if venue.events or (gate is not None and gate.has_events):
                self._dispatch()
        if self._looks[r]:  # type: ignore[index]
            self.strategy.on_bar(ctx, r)
        if ctx.algos:
            for algo in ctx.algos:
                algo.step(r)
            ctx.algos[:] = [a for a in ctx.algos if a.active]
        if venue.events or (gate is not None and gate.has_events):
            self._dispatch()
        if self._same_close and venue.pending:
            venue.decision_auction(r)
            if venue.events or (gate is not None and gate.has_events):
                self._dispatch()
        if venue.expiring:
            venue.end_bar(r)
            if venue.events or (gate is not None and gate.has_events):
                self._dispatch()
        if gate is not None:
            gate.end_bar(r)  # approvals decided during the bar; a replay's releases
            if venue.events or (gate is not None and gate.has_events):
                self._dispatch()
        self.position = r + 1
        if self.recorder is not None:
            self.recorder.record_bar(bar, events, self)
        return events

    def run(
        self,
        bars: Iterable[BarEvent] | None = None,
        *,
        stop: Callable[[], bool] | None = None,
    ) -> int:
        """Process bars (default: the feed's, from :attr:`position`) until the end or ``stop()``.

        ``stop`` is asked after every bar; returns the number of bars processed.
        """
        self.start()
        done = 0
        for bar in self.feed.bars(self.position) if bars is None else bars:
            self.step(bar)
            done += 1
            if stop is not None and stop():
                break
        return done

    def catch_up(self, position: int, decisions: list[GateDecision] | None = None) -> None:
        """Replay bars up to ``position`` without pacing or recording (state after a restart).

        For the simulated venue only: its state is a function of the bars and the
        strategy's commands, so replaying them rebuilds it exactly. A venue that
        keeps its own state (a live broker) is queried instead, never re-sent orders.
        With a gate, ``decisions`` (recorded by the earlier run) are replayed by it:
        nothing is decided, audited or requested again.
        """
        recorder, self.recorder = self.recorder, None
        self.replaying = True
        if self.gate is not None:
            self.gate.start_replay(list(decisions or []))
        try:
            self.start()
            panel = self.feed.panel
            for row in range(self.position, position):
                self.step(BarEvent(row, panel.index[row], 0))
        finally:
            self.recorder = recorder
            self.replaying = False
            if self.gate is not None:
                self.gate.end_replay()

    @property
    def done(self) -> bool:
        """Every bar of the feed has been processed."""
        return self.position >= self.feed.panel.n_times

    def finish(self) -> EventResult:
        """After the last bar: mark the account, call ``on_end``, collect the result.

        The result has the event backtest's shape (equity, trades, orders, ...).
        """
        if not self.done:
            raise PaperError(
                f"the session is at bar {self.position} of {self.feed.panel.n_times}; "
                "finish it after the last bar"
            )
        if not self._finished:
            self.venue.finish()
            self.ctx.row = self.feed.panel.n_times - 1
            self.strategy.on_end(self.ctx)
            self._finished = True
        return build_result(self.venue, [a.parent for a in self.ctx.algo_by_parent.values()])

    # -------------------------------------------------------------- account
    def account(self) -> tuple[float, float]:
        """Cash and equity after the current bar (positions at its close).

        Read without marking the venue's ledger (marks are lazy and their
        timing must match the backtest's); borrow on shorts accrues at the
        venue's next mark.
        """
        ledger = self.venue.ledger
        row = self.position - 1
        if row < 0:
            return ledger.cash, ledger.cash
        value = ledger.value_at(row, self.venue.market.last_close)
        return ledger.cash, ledger.cash + value

    def positions(self) -> dict[str, float]:
        """Every non-zero position, by asset (signed shares)."""
        return self.venue.positions()

    def order(self, order_id: int) -> Order:
        """An order of the session: at the venue, or refused or held by the gate."""
        order = self.venue.orders.get(order_id)
        if order is None and self.gate is not None:
            order = self.gate.order(order_id)
        if order is None:
            raise PaperError(f"order {order_id} is unknown to the session")
        return order

    # ------------------------------------------------------------- dispatch
    def _has_events(self) -> bool:
        gate = self.gate
        return bool(self.venue.events) or (gate is not None and gate.has_events)

    def _dispatch(self) -> None:
        ctx, strategy, orders = self.ctx, self.strategy, self.venue.orders
        source: Broker = self.gate if self.gate is not None else self.venue
        events = self._bar_events
        while self._has_events() or ctx.algo_events:
            for event in source.drain_events():
                events.append(event)
                order = orders.get(event.order_id)
                if order is None:  # refused or held by the gate
                    order = self.order(event.order_id)
                if order.parent_id is not None:
                    algo = ctx.algo_by_parent.get(order.parent_id)
                    if algo is not None:
                        algo.on_child_event(event)
                if self._wants_order:
                    strategy.on_order(ctx, event)
                if self._wants_fill and isinstance(event, _FILLS):
                    strategy.on_fill(ctx, event)
            pending, ctx.algo_events = ctx.algo_events, []
            if self._wants_order:
                for _, event in pending:
                    strategy.on_order(ctx, event)
