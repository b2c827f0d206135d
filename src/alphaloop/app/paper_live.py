"""Sessions on live feeds (``--feed alpaca``, ``--feed ccxt:EXCHANGE``), paper or live.

The feed (:class:`~alphaloop.live.feed_live.LiveBarFeed`) warms up with the
venue's recent history, then takes each bar as it closes; every batch of
bars is recorded (``paper_bars``) before anything acts on it.

**Paper** (the default): after each new bar the strategy is prepared on the
grown panel exactly as a backtest prepares it (its signal is point in time,
so earlier bars get the same targets), a fresh simulated venue replays the
recorded bars with the gate replaying its recorded decisions, and the new
bars are then traded and recorded as on a replay feed. The feed's adapter
reads market data only: no order of a paper session ever reaches a venue.
Rebuilding per bar costs a replay of the session's bars, which suits bar
frequencies (minutes and up), not ticks.

**Live** (``mode`` live, see :mod:`alphaloop.app.paper_venue`): after each
new bar the targets of its close are sized against the venue's account
(equity, positions, last prices) into one market order per asset, and each
order passes the gate on its own (kill switch, autonomy level, compliance,
the hard limits, which a live session must have, and at L2 a person's
approval) before it reaches the venue's live adapter; orders and fills are
recorded as they arrive. Only the newest bar's targets are traded: bars
missed while the session was down are past decisions. A live session never
replays orders: on a restart the venue is asked about the open ones.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.app.paper import PaperRun, _StopSignal, paper_store
from alphaloop.app.paper_gate import session_on
from alphaloop.errors import BacktestError, PaperError
from alphaloop.live.paper_bus import connect_bus, session_publisher
from alphaloop.live.records import PaperSessionInfo
from alphaloop.progress import Progress, no_progress

if TYPE_CHECKING:
    from alphaloop.app.paper import Gate
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import EventInputs, StrategySpec
    from alphaloop.data import Panel
    from alphaloop.execution import Governance
    from alphaloop.live.feed_live import BarSource, LiveBarFeed
    from alphaloop.live.paper_bus import SessionPublisher

__all__ = ["WARMUP_ENV", "live_inputs", "run_live_feed"]

#: bars of history a live feed loads before its first live bar (default 300)
WARMUP_ENV = "ALPHALOOP_LIVE_WARMUP_BARS"
#: seconds between two polls of a live feed (default 5)
POLL_ENV = "ALPHALOOP_LIVE_POLL_S"
#: seconds before the first retry of a failed feed request (default 0.5; doubling up to 30)
RETRY_ENV = "ALPHALOOP_LIVE_RETRY_S"


def with_next_bar(panel: Panel, period: pd.Timedelta) -> Panel:
    """``panel`` and one more row, ``period`` after its last, repeating the last row.

    A backtest decides nothing on its last bar (no later bar could fill it); a
    live session must decide on every new bar, so the strategy is prepared as if
    the next bar existed and every asset traded in it. That row is never traded:
    the session stops before it, and the next real bar replaces it (the decisions
    taken are recorded and replayed as taken).
    """
    from alphaloop.data import Panel

    index = panel.index.append(pd.DatetimeIndex([panel.index[-1] + period]))
    fields = {}
    for name in panel.field_names:
        values = panel[name]
        fields[name] = np.vstack([values, values[-1:]])
    return Panel(index, panel.assets, fields)


def live_inputs(
    ws: Workspace, spec: StrategySpec, info: PaperSessionInfo, panel: Panel,
    period: pd.Timedelta,
) -> EventInputs | None:  # fmt: skip
    """The event inputs of ``spec`` on a live feed's panel and its next bar (see
    :func:`with_next_bar`); None while the panel is too short.

    The first tradable bar is the first live one (``info.first_row``: the warm-up
    bars only feed the signal). The last row of the inputs is the next bar's.
    """
    from dataclasses import replace

    from alphaloop.app.assets import contract_panel
    from alphaloop.app.backtests import strategy_signal
    from alphaloop.backtest import event_inputs, prepare_strategy

    live_spec = spec.model_copy(update={"start": None, "end": None})
    data = ws.data.info(info.dataset, info.data_version)
    panel = with_next_bar(panel, period)
    try:
        signal = strategy_signal(ws, live_spec, panel)
        # sizing in traded units (contract multipliers, base currency, lots), as in backtests
        traded, lots, _ = contract_panel(ws, panel, default_lot=live_spec.lot_size)
        prep = prepare_strategy(live_spec, data, traded, signal, first_row=info.first_row)
        if lots is not None:
            from alphaloop.app.assets import instrument_costs

            # the cost preset of the instruments' class, as in backtests (spec costs win)
            costs = instrument_costs(panel, traded, ws) if live_spec.costs is None else None
            prep = replace(prep, lots=lots, instrument_costs=costs)
    except BacktestError:
        if panel.n_times < info.first_row + 2:
            return None  # the span is empty or one bar long until a second live bar comes
        raise
    return event_inputs(prep)


def _assets(ws: Workspace, spec: StrategySpec) -> tuple[str, ...]:
    from alphaloop.app.backtests import load_strategy_data

    return load_strategy_data(ws, spec)[1].assets


def _feed(ws: Workspace, info: PaperSessionInfo, spec: StrategySpec,
          source: BarSource | None) -> LiveBarFeed:  # fmt: skip
    from alphaloop.app.paper_venue import bar_source
    from alphaloop.live.feed_live import LiveBarFeed
    from alphaloop.live.feed_records import read_bars
    from alphaloop.live.feed_sources import bar_period

    if source is None:
        period = bar_period(ws.data.info(info.dataset, info.data_version).frequency)
        source = bar_source(info.feed, _assets(ws, spec), period)
    poll = float(os.environ.get(POLL_ENV) or 5.0)
    retry = float(os.environ.get(RETRY_ENV) or 0.5)
    return LiveBarFeed(source, recorded=read_bars(ws.db, info.id), poll_interval_s=poll,
                       retry_s=(retry, max(retry, 30.0)))  # fmt: skip


def run_live_feed(
    ws: Workspace,
    session_id: int,
    *,
    gate: Gate | None = None,
    progress: Progress = no_progress,
    source: BarSource | None = None,
    stop: Callable[[], bool] | None = None,
    live_flag: bool = False,
    bus: str | None = None,
    bus_topic: str = "events",
) -> PaperRun:
    """Run (or resume) a session on a live feed until it is stopped (see the module).

    ``source`` replaces the venue's market data (tests); ``stop`` is asked
    between bars and polls, as the stop flag, SIGTERM and the kill switch are;
    ``bus`` (a Redis URL) gets each bar's fills and P&L tick on ``bus_topic``
    (see :mod:`alphaloop.live.paper_bus`).

    Raises
    ------
    PaperError
        The feed cannot serve the dataset's bar frequency, or finds no bar.
    UsageError
        A live session without ``--live``, live keys or an approval.
    AutonomyError
        A level that needs hard limits the spec does not set (always, live).
    """
    from alphaloop.backtest import StrategySpec
    from alphaloop.execution import Governance
    from alphaloop.live.feed_records import write_bars

    store = paper_store(ws)
    info = store.get(session_id)
    spec = StrategySpec.from_dict(info.spec, source=f"paper session {session_id}")
    gov = Governance.open(ws.db)
    feed = _feed(ws, info, spec, source)  # the market-data adapter, before anything runs
    venue = None
    if info.mode == "live":
        venue = _open_live(ws, info, spec, live_flag)
    try:
        connection = connect_bus(bus) if bus else None  # before the claim: no bus, no start
    except Exception:
        if venue is not None:
            venue.close()
        raise
    info = store.claim(session_id)
    publisher = session_publisher(connection, info, bus_topic) if connection else None
    killed: list[Any] = []
    flags: dict[str, Any] = {"shown": 0.0}

    def should_stop() -> bool:
        now = time.monotonic()
        if now >= flags["shown"]:
            progress("live feed", store.get(session_id).position, 0)
            flags["shown"] = now + 0.5
        kill = gov.kill_switch.tripped(str(session_id), info.spec_hash)
        if kill is not None:
            killed.append(kill)
            return True
        return store.stop_requested(session_id) or (stop is not None and stop())

    resumed_at = info.position
    bars = 0
    try:
        with _StopSignal() as signal_flag:
            if feed.last_time is None:
                count = int(os.environ.get(WARMUP_ENV) or 300)
                taken = feed.warm_up(count)
                write_bars(ws.db, session_id, taken, feed.panel.index)
                store.update(session_id, first_row=feed.n_times)
                info = store.get(session_id)
            feed.stop = lambda: signal_flag.flag or should_stop()
            trader = (_LiveTrader(ws, info, spec, gov, gate, venue, publisher)
                      if venue is not None else None)  # fmt: skip
            flags["announce"] = True
            flags["publisher"] = publisher
            bars += _advance(ws, info, spec, gov, gate, feed, trader, feed.stop, flags)
            for batch in feed.new_bars():
                write_bars(ws.db, session_id, batch, feed.panel.index)
                bars += _advance(ws, store.get(session_id), spec, gov, gate, feed, trader,
                                 feed.stop, flags)  # fmt: skip
    except Exception as exc:
        store.update(session_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if venue is not None:
            with contextlib.suppress(Exception):
                venue.close()
        if connection is not None:
            connection.close()
    if killed:
        kill = killed[0]
        reason = f"kill switch ({kill.label}): {kill.reason}"
        store.update(session_id, status="stopped", error=reason)
        position = store.get(session_id).position
        gov.audit.append("system", "paper.killed", f"paper session {session_id}",
                         {"position": position, "kill": kill.to_dict()})  # fmt: skip
    else:
        store.update(session_id, status="stopped")
    return PaperRun(store.get(session_id), bars, resumed_at, None)


def _advance(
    ws: Workspace, info: PaperSessionInfo, spec: StrategySpec, gov: Governance,
    gate: Gate | None, feed: LiveBarFeed, trader: _LiveTrader | None,
    stop: Callable[[], bool], flags: dict[str, Any],
) -> int:  # fmt: skip
    """Trade the bars recorded but not yet processed; return how many were processed."""
    from alphaloop.execution import BarEvent, ReplayFeed
    from alphaloop.live.decisions import read_decisions

    inputs = live_inputs(ws, spec, info, feed.panel, feed.source.period)
    if inputs is None:
        return 0
    store = paper_store(ws)
    n = inputs.panel.n_times - 1  # the next bar is not there yet
    store.update(info.id, n_bars=n)
    if trader is not None:
        return trader.trade(inputs, feed.panel)
    session = session_on(ws, info, spec, inputs, ReplayFeed(inputs.panel, name=info.feed),
                         gate=gate, governance=gov,
                         announce=flags.pop("announce", False))  # fmt: skip
    session.catch_up(info.position, read_decisions(ws.db, info.id))
    if session.recorder is not None:  # catch-up replays recorded bars; new bars publish
        session.recorder.publisher = flags.get("publisher")
    done = 0
    index = inputs.panel.index
    for row in range(info.position, n):
        session.step(BarEvent(row, index[row], time.perf_counter_ns()))
        done += 1
        if stop():
            break
    return done


def _open_live(ws: Workspace, info: PaperSessionInfo, spec: StrategySpec, live_flag: bool) -> Any:
    from alphaloop.app.governance import current_user
    from alphaloop.app.paper_venue import LIVE_APPROVAL_TTL_S, live_approval, live_broker
    from alphaloop.execution import Governance

    gov = Governance.open(ws.db, approval_ttl_s=LIVE_APPROVAL_TTL_S)
    approval = live_approval(gov, info.feed, info.spec_hash, live_flag=live_flag,
                             actor=current_user())  # fmt: skip
    broker = live_broker(info.feed, _assets(ws, spec), approval)
    # stored instrument metadata (tick, lot, minimum) rounds orders where present
    from alphaloop.data.assets import InstrumentStore

    # orders carry traded units (price x multiplier x rate); the broker sends quoted prices
    broker.use_instruments(InstrumentStore(ws.db).for_assets(_assets(ws, spec)),
                           base_currency=ws.settings.base_currency)  # fmt: skip
    if not broker.wait_stream(10.0):
        broker.close()
        raise PaperError(
            f"live session {info.id}: the {info.feed} order updates did not connect in 10 s",
            hint="orders are never sent without them; check the venue and retry",
        )
    return broker


class _LiveTrader:
    """Sends the targets of each new bar's close to the live venue through the gate."""

    def __init__(self, ws: Workspace, info: PaperSessionInfo, spec: StrategySpec,
                 gov: Governance, gate: Gate | None, venue: Any,
                 publisher: SessionPublisher | None = None) -> None:  # fmt: skip
        from alphaloop.app.paper_gate import session_gate
        from alphaloop.execution import MarketSnapshot

        self.ws, self.info, self.venue = ws, info, venue
        self.publisher = publisher
        store = paper_store(ws)
        venue.restore(_recorded_orders(store, info.id))
        self.market = MarketSnapshot()
        self.gate = gate(venue) if gate is not None else session_gate(
            info, spec, venue, gov, market=self.market, simulated=False)  # fmt: skip

    def trade(self, inputs: EventInputs, quoted: Panel | None = None) -> int:
        """Rebalance to the newest bar's targets (older unprocessed bars are past decisions).

        ``quoted`` is the feed's panel as quoted; the FX rates known at the
        bar come from its pairs' closes.
        """
        store = paper_store(self.ws)
        info = store.get(self.info.id)
        n = inputs.panel.n_times - 1  # the next bar is not there yet
        if n <= info.position:
            return 0
        row = n - 1
        gate, venue = self.gate, self.venue
        venue.row = row
        if quoted is not None and venue.instruments:
            from alphaloop.app.assets import quote_rates

            venue.set_rates(quote_rates(self.ws, quoted, row))
        close = inputs.panel["close"][row]
        self.market.update(dict(zip(inputs.panel.assets, close.tolist(), strict=True)))
        gate.begin_bar(row)
        weights = inputs.weights[row]
        if np.isfinite(weights).any():
            for command in _legs(venue, weights, row):
                gate.submit(command)
        gate.end_bar(row)
        _record_live(store, info, gate, venue, inputs, row, self.publisher)
        return n - info.position


def _legs(venue: Any, weights: np.ndarray, row: int) -> list[Any]:
    """Market orders that move each asset with a finite weight to ``weight * equity``
    at the venue's last price times the contract's multiplier and rate, so
    quantities are in contracts (the venue rounds each to its lot and tick)."""
    from alphaloop.execution import Order, OrderSide, SubmitOrder

    equity = float(venue.equity)
    held = venue.positions()
    out = []
    for asset, weight in zip(venue.assets, weights, strict=True):
        if not np.isfinite(weight):
            continue
        delta = weight * equity / venue.unit_value(asset) - held.get(asset, 0.0)
        if abs(delta) <= 1e-12:
            continue
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        out.append(SubmitOrder(Order(venue.new_order_id(), asset, side, abs(delta),
                                     reason="rebalance"), row))  # fmt: skip
    return out


def _recorded_orders(store: Any, session_id: int) -> list[Any]:
    """Open orders of a live session as recorded (the venue is asked about them)."""
    from alphaloop.execution import Order, OrderSide

    out = []
    for oid, r in sorted(store.orders(session_id).items()):
        if r["status"] in ("submitted", "accepted", "partially_filled"):
            side = OrderSide.BUY if r["side"] == "buy" else OrderSide.SELL
            out.append(Order(int(oid), r["asset"], side, float(r["quantity"])))
    return out


def _record_live(store: Any, info: PaperSessionInfo, gate: Any, venue: Any,
                 inputs: EventInputs, row: int,
                 publisher: SessionPublisher | None = None) -> None:  # fmt: skip
    from sqlalchemy import insert, update

    from alphaloop.execution import OrderFilled, OrderPartiallyFilled
    from alphaloop.live.decisions import write_decisions
    from alphaloop.live.records import fill_row
    from alphaloop.store import PaperEquityRow, PaperSessionRow

    events = gate.drain_events()
    index = inputs.panel.index
    cash, equity = float(venue.cash), float(venue.equity)
    touched = sorted({e.order_id for e in events})
    with store.db.engine.begin() as conn:
        orders = [o for k in touched if (o := gate.order(k) or venue.tracker.orders.get(k))]
        if orders:
            store.write_orders(conn, info.id, orders)
        fills = [fill_row(info.id, e, index) for e in events
                 if isinstance(e, OrderFilled | OrderPartiallyFilled)]  # fmt: skip
        if fills:
            store.write_fills(conn, info.id, fills)
            store.write_positions(conn, info.id, venue.positions())
        write_decisions(conn, info.id, gate.take_decisions())
        when = index[row].to_pydatetime()
        conn.execute(insert(PaperEquityRow.__table__).values(
            session_id=info.id, row=row, time=when, cash=cash, equity=equity))  # fmt: skip
        table = PaperSessionRow.__table__
        conn.execute(update(table).where(table.c.id == info.id).values(
            position=row + 1, cash=cash, equity=equity, last_bar=when))  # fmt: skip
        if publisher is not None:  # before the commit: a redone bar re-sends its ids
            publisher.bar(index[row], fills, equity)
