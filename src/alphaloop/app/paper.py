"""Paper trading on a workspace: start, run (and resume), stop and list sessions.

A session trades one strategy spec on a feed. On a replay feed
(``replay:DATASET``) the bars are the spec's dataset, loaded exactly as its
backtest loads them: the sealed holdout is never read (the replay ends at
its boundary; a ``start`` inside it is refused). The strategy object is the
event backtest's (:func:`~alphaloop.backtest.event_inputs`), the venue a
:class:`~alphaloop.execution.SimulatedBroker` with the backtest's cost and
fill model, and every bar is recorded in one transaction.

A session whose process died (``kill -9`` included) is resumed by
:func:`run_paper` (``paper resume ID``, or ``paper start`` of the same spec
and feed): the venue is rebuilt by replaying the recorded bars without
pacing, the record is reconciled with it (:func:`~alphaloop.live.reconcile`),
and the feed carries on from the recorded position.

Every order and rebalance of a session passes the governance gate
(:func:`~alphaloop.app.paper_gate.session_gate`) at the session's autonomy
level; the gate's decisions are recorded with each bar and replayed on a
restart (nothing is decided, audited or requested twice). Live feeds
(``alpaca``, ``ccxt:EXCHANGE``) and live trading run in
:mod:`alphaloop.app.paper_live`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.errors import HoldoutError, PaperError, UsageError
from alphaloop.live.paper_bus import connect_bus, session_publisher
from alphaloop.live.records import PaperSessionInfo, PaperStore, StoreRecorder
from alphaloop.progress import Progress, no_progress

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import EventInputs, StrategySpec
    from alphaloop.execution import Broker, Governance, SimulatedBroker
    from alphaloop.live import PaperSession, Reconciliation

__all__ = [
    "PaperRun",
    "build_paper_session",
    "open_paper",
    "paper_sessions",
    "paper_store",
    "run_paper",
]

#: a wrapper put in front of the venue: every order of the strategy goes through it
Gate = Callable[["SimulatedBroker"], "Broker"]

#: a session in one of these states never runs again (a stopped one may be resumed)
_ENDED = ("finished", "failed")


@dataclass(frozen=True)
class PaperRun:
    """What one call of :func:`run_paper` did.

    Attributes
    ----------
    session : PaperSessionInfo
        The session as recorded afterwards.
    bars : int
        Bars processed (and recorded) by this call.
    resumed_at : int
        The feed position it started from (0 for a fresh session).
    reconciliation : Reconciliation or None
        What the restart found (None for a fresh session).
    """

    session: PaperSessionInfo
    bars: int
    resumed_at: int
    reconciliation: Reconciliation | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session.to_dict(),
            "bars": self.bars,
            "resumed_at": self.resumed_at,
            "reconciliation": (
                self.reconciliation.to_dict() if self.reconciliation is not None else None
            ),
        }


def paper_store(ws: Workspace) -> PaperStore:
    """The workspace's paper-session tables."""
    return PaperStore(ws.db)


def _check_feed(feed: str, spec: StrategySpec) -> str:
    from alphaloop.execution.feeds import parse_feed

    name = parse_feed(feed)
    if not name.is_replay:
        return str(name)
    if name.target != spec.data:
        raise PaperError(
            f"the feed replays {name.target!r} but the strategy trades {spec.data!r}",
            hint=f"use --feed replay:{spec.data}, or --data {name.target} to trade that dataset",
        )
    return str(name)


def _inputs(ws: Workspace, spec: StrategySpec, version: int | None = None) -> EventInputs:
    from alphaloop.app.backtests import prepare
    from alphaloop.backtest import event_inputs

    pinned = spec if version is None else spec.model_copy(update={"version": version})
    return event_inputs(prepare(ws, pinned))  # no holdout key: the replay stops at the seal


def _refuse_holdout(ws: Workspace, spec: StrategySpec) -> None:
    """A replay that would start inside the sealed holdout is refused (it reads nothing there)."""
    boundary = ws.data.holdout_boundary(spec.data, spec.version)
    if boundary is None or spec.start is None:
        return
    start = pd.Timestamp(spec.start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    if start >= boundary:
        raise HoldoutError(
            f"the replay would start {start:%Y-%m-%d}, inside the sealed holdout of "
            f"{spec.data!r} (from {boundary:%Y-%m-%d}); paper trading cannot read it",
            hint="start before the holdout; it is evaluated once: `alphaloop holdout unseal`",
        )


def open_paper(
    ws: Workspace,
    spec: StrategySpec,
    *,
    feed: str | None = None,
    speed: float | None = None,
    autonomy: str | None = None,
    limits_set_by: str | None = None,
    mode: str = "paper",
) -> tuple[PaperSessionInfo, bool]:
    """The session to run for ``spec`` on ``feed``: an unfinished one, else a new one.

    Returns the session and whether it is new. ``feed`` defaults to a replay
    of the spec's dataset; ``speed`` is bars per second (None = as fast as
    possible; an unfinished session keeps its own). ``autonomy`` is the
    gate's level (default: :func:`~alphaloop.app.paper_gate.default_autonomy`);
    ``limits_set_by`` names who set the spec's hard limits; ``mode`` is
    ``paper`` or ``live`` (see :mod:`alphaloop.app.paper_live`). An
    unfinished session keeps its own level and mode.

    Raises
    ------
    PaperError
        A replay of another dataset, a speed below 0, or the unfinished session
        still running.
    UsageError
        An unknown autonomy level.
    HoldoutError
        The spec starts inside the dataset's sealed holdout.
    """
    from alphaloop.app.paper_gate import default_autonomy

    feed_name = _check_feed(feed or f"replay:{spec.data}", spec)
    level = default_autonomy(autonomy)
    if mode == "live" and feed_name.startswith("replay:"):
        raise UsageError(
            "live trading needs a venue feed: --feed alpaca or --feed ccxt:EXCHANGE",
            hint="a replay is paper trading only",
        )
    if speed is not None and not speed >= 0:
        raise PaperError(f"--speed must be >= 0 bars per second, got {speed}")
    store = paper_store(ws)
    found = store.find_active(spec.hash, spec.data, feed_name, mode)
    if found is not None:
        if autonomy is not None and found.autonomy != level.value:
            raise PaperError(
                f"paper session {found.id} of this strategy on {feed_name} runs at autonomy "
                f"{found.autonomy}, not {level.value}; a session keeps its level",
                hint=f"stop it (`alphaloop paper stop {found.id}`), then start a new one",
            )
        if found.status == "running" and found.alive and found.pid != os.getpid():
            raise PaperError(
                f"paper session {found.id} of this strategy is running (process {found.pid})",
                hint=f"see `alphaloop paper status {found.id}`, or stop it with "
                f"`alphaloop paper stop {found.id}`",
            )
        return found, False
    info = ws.data.info(spec.data, spec.version)
    _refuse_holdout(ws, spec)
    live_feed = not feed_name.startswith("replay:")
    n_bars, first_row = 0, 0
    if not live_feed:
        inputs = _inputs(ws, spec, info.version)
        n_bars, first_row = inputs.panel.n_times, inputs.history
    session_id = store.create(
        name=spec.name,
        spec=spec.model_dump(mode="json"),
        spec_hash=spec.hash,
        dataset=spec.data,
        data_version=info.version,
        data_hash=info.content_hash,
        feed=feed_name,
        speed=speed or None,
        n_bars=n_bars,
        first_row=first_row,
        cash=spec.capital,
        equity=spec.capital,
        autonomy=level.value,
        mode=mode,
        limits_set_by=(limits_set_by or "").strip() or None,
    )
    from alphaloop.app.paper_gate import audit_start

    audit_start(ws, store.get(session_id), spec)
    return store.get(session_id), True


def build_paper_session(
    ws: Workspace,
    info: PaperSessionInfo,
    *,
    gate: Gate | None = None,
    record: bool = True,
    governance: Governance | None = None,
) -> PaperSession:
    """The session object of a recorded session, at feed position 0.

    The strategy's orders pass ``gate(venue)`` when given, else the session's
    governance gate (:func:`~alphaloop.app.paper_gate.session_gate`, on
    ``governance`` or the workspace's).

    Raises
    ------
    PaperError
        The dataset version changed under the session (its content hash differs).
    AutonomyError
        The session's level needs hard limits the spec does not set.
    """
    from alphaloop.backtest import StrategySpec
    from alphaloop.execution import ReplayFeed

    spec = StrategySpec.from_dict(info.spec, source=f"paper session {info.id}")
    data = ws.data.info(info.dataset, info.data_version)
    if data.content_hash != info.data_hash:
        raise PaperError(
            f"paper session {info.id}: {info.dataset} v{info.data_version} is not the data the "
            "session started on (its content hash differs)",
            hint="start a new session",
        )
    inputs = _inputs(ws, spec, info.data_version)
    if inputs.panel.n_times != info.n_bars:
        raise PaperError(
            f"paper session {info.id}: the replay now has {inputs.panel.n_times} bars, "
            f"the session recorded {info.n_bars}",
            hint="start a new session",
        )
    from alphaloop.app.paper_gate import session_on

    feed = ReplayFeed(inputs.panel, name=info.feed, speed=info.speed)
    return session_on(ws, info, spec, inputs, feed, gate=gate, record=record,
                      governance=governance)  # fmt: skip


class _StopSignal:
    """SIGTERM (``paper stop``) and SIGINT end the session after the current bar."""

    def __init__(self) -> None:
        self.flag = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignal:
        for sig in (signal.SIGTERM, signal.SIGINT):
            # not the main thread: signal() refuses; the stop flag in the database still works
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.flag = True

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run_paper(
    ws: Workspace,
    session_id: int,
    *,
    gate: Gate | None = None,
    progress: Progress = no_progress,
    live: bool = False,
    bus: str | None = None,
    bus_topic: str = "events",
) -> PaperRun:
    """Run (or resume) a session until its feed ends or it is asked to stop.

    A new session starts at the feed's first bar; one that crashed or was
    stopped is rebuilt, reconciled and carried on from its recorded position.

    The kill switch (``alphaloop kill``, for everything, this session's id or
    its spec hash as the strategy) is read after every bar: a kill stops the
    replay before the next bar, so no order fills after it; the session is
    recorded as stopped with the kill's reason and ``paper.killed`` is
    audited. A halted session does not start again until the kill is cleared.

    ``gate`` wraps the venue (every order of the strategy goes through what
    it returns; default: the session's governance gate); ``live`` is the
    explicit ``--live`` flag a live session needs; ``progress`` hears
    ``("paper trading", bars done, bars)`` a few times a second. ``bus`` is
    the URL of a Redis event bus: each bar's fills and P&L tick are published
    on ``bus_topic`` (see :mod:`alphaloop.live.paper_bus`).

    Raises
    ------
    PaperError
        The session has ended, runs in another live process, or is halted by the
        kill switch.
    ReconciliationError
        After a restart, the record holds a fill the broker never made.
    BusUnavailableError
        ``bus`` is given and no Redis server answers there (nothing has run).
    """
    store = paper_store(ws)
    info = store.get(session_id)
    if info.status in _ENDED:
        raise PaperError(
            f"paper session {session_id} is {info.status}; it cannot run again",
            hint="start a new session with `alphaloop paper start`",
        )
    if info.status == "running" and info.alive and info.pid != os.getpid():
        raise PaperError(f"paper session {session_id} is running in process {info.pid}")
    from alphaloop.execution import Governance

    gov = Governance.open(ws.db)
    kill = gov.kill_switch.tripped(str(session_id), info.spec_hash)
    if kill is not None:
        raise PaperError(
            f"paper session {session_id} is halted by the kill switch ({kill.label}): "
            f"{kill.reason}",
            hint="clear it with `alphaloop kill --clear --reason TEXT` (the same scope), "
            "then resume",
        )
    if not info.feed.startswith("replay:"):
        from alphaloop.app.paper_live import run_live_feed

        return run_live_feed(ws, session_id, gate=gate, progress=progress, live_flag=live,
                             bus=bus, bus_topic=bus_topic)  # fmt: skip
    connection = connect_bus(bus) if bus else None  # before the claim: no bus, no start
    info = store.claim(session_id)
    try:
        return _run_replay(ws, info, gov, gate, progress, connection, bus_topic)
    finally:
        if connection is not None:
            connection.close()


def _run_replay(
    ws: Workspace, info: PaperSessionInfo, gov: Governance, gate: Gate | None,
    progress: Progress, connection: Any, bus_topic: str,
) -> PaperRun:  # fmt: skip
    """Run a claimed replay session (see :func:`run_paper`)."""
    from alphaloop.live.reconcile import reconcile

    store = paper_store(ws)
    session_id = info.id
    session = build_paper_session(ws, info, gate=gate, governance=gov)
    resumed_at = info.position
    recon = None
    if resumed_at > 0 or info.restarts > 0:
        from alphaloop.live.decisions import read_decisions

        session.catch_up(resumed_at, read_decisions(ws.db, session_id))
        recon = reconcile(store, session_id, session)
    recorder = session.recorder
    assert isinstance(recorder, StoreRecorder)
    if connection is not None:
        recorder.publisher = session_publisher(connection, info, bus_topic)
    bars = 0
    n_bars = session.feed.panel.n_times
    shown = [0.0]

    killed: list[Any] = []

    def should_stop() -> bool:
        now = time.monotonic()
        if now >= shown[0]:
            progress("paper trading", session.position, n_bars)
            shown[0] = now + 0.2
        # the kill switch is read after every bar (a cached version, no query per
        # bar): a kill stops the replay before the next bar, so nothing fills after it
        kill = gov.kill_switch.tripped(str(session_id), info.spec_hash)
        if kill is not None:
            killed.append(kill)
            return True
        return stop.flag or recorder.should_stop()

    try:
        with _StopSignal() as stop:
            bars = session.run(stop=should_stop)
    except Exception as exc:
        store.update(session_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    if session.done:
        result = session.finish()
        store.update(
            session_id,
            status="finished",
            cash=float(session.venue.ledger.cash),
            equity=float(result.equity.iloc[-1]),
        )
    elif killed:
        kill = killed[0]
        reason = f"kill switch ({kill.label}): {kill.reason}"
        store.update(session_id, status="stopped", error=reason)
        gov.audit.append("system", "paper.killed", f"paper session {session_id}",
                         {"position": session.position, "kill": kill.to_dict()})  # fmt: skip
    else:
        store.update(session_id, status="stopped")
    return PaperRun(store.get(session_id), bars, resumed_at, recon)


def paper_sessions(ws: Workspace, limit: int = 50) -> list[PaperSessionInfo]:
    """The latest sessions, newest first."""
    return paper_store(ws).list(limit)
