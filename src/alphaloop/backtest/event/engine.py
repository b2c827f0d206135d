"""The event engine: a loop over bars that drives a strategy and a broker.

For each bar ``r`` (see :mod:`~alphaloop.execution.simulated` for what
the broker does inside a bar):

1. the broker trades what is due on ``r`` (``start_bar``);
2. the strategy hears the resulting order events (``on_order``, ``on_fill``);
3. the strategy's ``on_bar(ctx, r)`` runs with data up to ``r``'s close,
   then every active TWAP/VWAP algorithm decides its next child order;
4. with ``same_close`` fills, the orders just decided fill at ``r``'s close;
5. DAY orders whose day ends with ``r`` expire.

Bars on which nothing can happen (no working order, no algorithm, and the
strategy's :meth:`~alphaloop.backtest.event.strategy.Strategy.schedule` says
it does not look) are skipped; the account is marked lazily, so skipping
costs nothing. Decision timing is the vectorized simulator's: what
``on_bar(ctx, t)`` decides fills at the next open by default. Python's
cyclic garbage collector is paused during the loop (see
:func:`_cyclic_gc_paused`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from alphaloop.backtest.event.context import Context
from alphaloop.backtest.event.results import EventResult, build_result
from alphaloop.backtest.event.strategy import Strategy
from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import (
    BrokerConfig,
    FillTiming,
    OrderFilled,
    OrderPartiallyFilled,
    SimulatedBroker,
    config_from,
)

__all__ = ["EventEngine"]

_FILLS = (OrderFilled, OrderPartiallyFilled)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the bar loop, then restore it.

    The loop allocates many small, acyclic objects (orders, events) and keeps
    them for the result; the collector would scan them again and again
    (a quarter of the run time on order-heavy strategies). Reference
    counting still frees everything at once; cycles made by a strategy wait
    for the next collection after the run.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _overrides(strategy: Strategy, hook: str) -> bool:
    return getattr(type(strategy), hook) is not getattr(Strategy, hook)


class EventEngine:
    """Run a :class:`~alphaloop.backtest.event.strategy.Strategy` over a panel.

    Parameters
    ----------
    panel : Panel
        Bars: ``close``; ``open`` for next-open fills; ``high``/``low`` for
        resting orders; ``volume`` for impact, participation and VWAP.
    strategy : Strategy
    broker : SimulatedBroker, optional
        A broker built on ``panel``; by default one is built from the
        settings below (one broker serves one run).
    compiled_protection : bool, default True
        Match protection orders (stop loss, take profit, trailing stop) with
        the compiled kernel of :mod:`~alphaloop.execution.armed` when the
        strategy does not listen to order events (``on_order``/``on_fill``)
        and there are no risk limits; the results are identical to the
        bar-by-bar matching (False), only faster.
    **settings
        Fields of :class:`~alphaloop.execution.broker.BrokerConfig`:
        ``fills`` (default next_open), ``costs`` (default ``CostModel()``),
        ``initial_capital``, ``max_leverage``, ``allow_short``,
        ``participation``, ``lot_size``, ``min_trade_value``.
    """

    def __init__(
        self,
        panel: Panel,
        strategy: Strategy,
        *,
        broker: SimulatedBroker | None = None,
        compiled_protection: bool = True,
        **settings: object,
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise BacktestError(
                f"strategy must be an alphaloop Strategy, got {type(strategy).__name__}"
            )
        if broker is not None:
            if settings:
                raise BacktestError(
                    f"pass broker settings ({', '.join(settings)}) to the broker, not the engine"
                )
            if broker.panel is not panel:
                raise BacktestError("the broker was built on a different panel")
        self.panel = panel
        self.strategy = strategy
        self.config: BrokerConfig = broker.config if broker is not None else config_from(settings)
        self._broker = broker
        self.compiled_protection = bool(compiled_protection)

    def run(self) -> EventResult:
        """Run the strategy over every bar; return the account's history."""
        broker = self._broker or SimulatedBroker(self.panel, self.config)
        if broker.row >= 0 or broker.orders:
            raise BacktestError("this broker has already run; build a new one for each run")
        self._broker = None
        run = _Run(self.panel, self.strategy, broker)
        # armed pairs publish no events until they exit: only when nobody listens
        broker.armed.enabled = (
            self.compiled_protection
            and broker.risk is None
            and not (run.wants_order or run.wants_fill)
        )
        with _cyclic_gc_paused():
            run.loop()
        broker.finish()
        run.ctx.row = self.panel.n_times - 1
        self.strategy.on_end(run.ctx)
        return build_result(broker, [a.parent for a in run.ctx.algo_by_parent.values()])


class _Run:
    """The state of one run: the loop and the event dispatch."""

    def __init__(self, panel: Panel, strategy: Strategy, broker: SimulatedBroker) -> None:
        self.panel = panel
        self.strategy = strategy
        self.broker = broker
        self.ctx = Context(panel, broker)
        self.wants_order = _overrides(strategy, "on_order")
        self.wants_fill = _overrides(strategy, "on_fill")

    def _mask(self) -> np.ndarray | None:
        mask = self.strategy.schedule(self.ctx)
        if mask is None:
            return None
        arr = np.asarray(mask)
        if arr.dtype != np.bool_ or arr.shape != (self.panel.n_times,):
            raise BacktestError(
                f"schedule must return a boolean mask of shape ({self.panel.n_times},), "
                f"got {arr.dtype} {arr.shape}"
            )
        return arr

    def loop(self) -> None:
        ctx, broker, strategy = self.ctx, self.broker, self.strategy
        strategy.on_start(ctx)
        mask = self._mask()
        looks = [True] * self.panel.n_times if mask is None else mask.tolist()
        wake = None if mask is None else np.flatnonzero(mask).tolist()
        k = 0  # the next wake row is wake[k]
        same_close = broker.config.fills is FillTiming.SAME_CLOSE
        on_bar = strategy.on_bar
        n_rows = self.panel.n_times
        algos = ctx.algos
        expiring = broker.expiring
        r = 0
        while r < n_rows:
            if wake is None:
                if not (algos or expiring) and (not broker.pending or r < broker.due_row):
                    r = self._quiet(r)  # bars on which only on_bar can act
                    if r >= n_rows:
                        break
                    continue
            elif not algos:
                while k < len(wake) and wake[k] < r:
                    k += 1
                nxt = wake[k] if k < len(wake) else n_rows
                if broker.pending:
                    nxt = min(nxt, broker.next_row(r))
                r = nxt
                if r >= n_rows:
                    break
            ctx.row = broker.row = r
            if broker.pending and r >= broker.due_row:
                broker.start_bar(r)
                if broker.events:
                    self.dispatch()
            if looks[r]:
                on_bar(ctx, r)
            if algos:
                self._step_algos(r)
            if broker.events:
                self.dispatch()
            if same_close and broker.pending:
                broker.decision_auction(r)
                if broker.events:
                    self.dispatch()
            if expiring:
                broker.end_bar(r)
                if broker.events:
                    self.dispatch()
            r += 1

    def _quiet(self, r: int) -> int:
        """Call ``on_bar`` from bar ``r`` on while the broker has nothing to do.

        That is up to the broker's ``due_row`` (no order can trade before it;
        every bar when nothing works). Returns the first bar not finished
        here: ``due_row``, or the one after the first ``on_bar`` that changed
        the broker (an order, an event, a rebalance) or started an algorithm
        (its events dispatched, as the main loop does), or ``n_rows``. Only
        for strategies that look at every bar, without algorithms or DAY
        orders at work.
        """
        ctx, broker, algos = self.ctx, self.broker, self.ctx.algos
        on_bar = self.strategy.on_bar
        same_close = broker.config.fills is FillTiming.SAME_CLOSE
        n_rows = self.panel.n_times
        pending, due = broker.pending, broker.due_row
        stop = min(due, n_rows) if pending else n_rows
        while r < stop:
            ctx.row = broker.row = r
            on_bar(ctx, r)
            # anything on_bar does at the broker emits events or changes what is
            # pending (orders, DAY expiries, rebalances); an algorithm may emit later
            if broker.events or broker.pending != pending or algos:
                if algos:
                    self._step_algos(r)
                if broker.events:
                    self.dispatch()
                if same_close and broker.pending:
                    broker.decision_auction(r)
                    if broker.events:
                        self.dispatch()
                if broker.expiring:
                    broker.end_bar(r)
                    if broker.events:
                        self.dispatch()
                return r + 1
            r += 1
        return r

    def _step_algos(self, row: int) -> None:
        algos = self.ctx.algos
        for algo in algos:
            algo.step(row)
        algos[:] = [a for a in algos if a.active]

    def dispatch(self) -> None:
        """Hand the broker's (and algorithms') events to the algorithms and the strategy."""
        ctx, broker, strategy = self.ctx, self.broker, self.strategy
        if not (self.wants_order or self.wants_fill or ctx.algo_by_parent):
            broker.events = []  # nobody listens: the orders keep their own history
            return
        while broker.events or ctx.algo_events:
            for event in broker.drain_events():
                order = broker.orders[event.order_id]
                if order.parent_id is not None:
                    algo = ctx.algo_by_parent.get(order.parent_id)
                    if algo is not None:
                        algo.on_child_event(event)
                if self.wants_order:
                    strategy.on_order(ctx, event)
                if self.wants_fill and isinstance(event, _FILLS):
                    strategy.on_fill(ctx, event)
            pending, ctx.algo_events = ctx.algo_events, []
            if self.wants_order:
                for _, event in pending:
                    strategy.on_order(ctx, event)
