"""Paper sessions in the database (SQLite and PostgreSQL): per-bar records, resumption,
reconciliation after a crash, stop, and the sealed holdout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from alphaloop.app import (
    Workspace,
    open_paper,
    paper_report,
    paper_store,
    run_backtest,
    run_paper,
    stop_paper,
)
from alphaloop.app.paper import build_paper_session
from alphaloop.backtest import StrategySpec, quick_spec
from alphaloop.errors import HoldoutError, PaperError, ReconciliationError, UsageError
from alphaloop.live import PaperStore

EXPR = "Ref($close, 1) / Ref($close, 61) - 1"


def _spec(
    start: str = "2019-01-01", end: str | None = "2020-06-30", **extra: object
) -> StrategySpec:
    base = quick_spec(EXPR, "sp500-stocks", top_k=4, rebalance="weekly")
    doc = {**base.model_dump(mode="json"), "fills": "next_close", "start": start, "end": end}
    return StrategySpec.from_dict(doc)


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    workspace.data.ensure_bundled()
    return workspace


class CountingGate:
    """A wrapper in front of the venue that counts what passes (class-level counters)."""

    rebalances = 0

    def __init__(self, venue: object) -> None:
        self._venue = venue

    def rebalance(self, command: object) -> None:
        CountingGate.rebalances += 1
        self._venue.rebalance(command)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._venue, name)


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _crash_after(ws: Workspace, session_id: int, bars: int) -> None:
    """Run ``bars`` bars as a process would, then leave the session 'running' (a crash)."""
    store = paper_store(ws)
    info = store.claim(session_id)
    session = build_paper_session(ws, info)
    session.run(stop=lambda: session.position >= bars)
    assert store.get(session_id).position == bars


def test_a_session_records_every_bar_and_agrees_with_the_backtest(ws: Workspace) -> None:
    spec = _spec()
    info, new = open_paper(ws, spec)
    assert new
    assert info.status == "created"
    assert info.feed == "replay:sp500-stocks"
    run = run_paper(ws, info.id)
    done = run.session
    assert done.status == "finished"
    assert done.position == done.n_bars == run.bars
    store = paper_store(ws)
    fills = store.fills(info.id)
    backtest = run_backtest(ws, spec, engine="event", record=False).simulation
    assert len(fills) == len(backtest.trades) > 20
    np.testing.assert_array_equal(
        fills["quantity"].to_numpy(), backtest.trades["shares"].to_numpy()
    )
    np.testing.assert_array_equal(fills["price"].to_numpy(), backtest.trades["price"].to_numpy())
    assert done.equity == backtest.equity.iloc[-1]
    assert len(store.equity(info.id)) == done.n_bars
    held = {a: q for a, q in store.positions(info.id).items()}
    assert held
    assert all(q > 0 for q in held.values())
    report = paper_report(ws, info.id)
    assert report.agrees, report.fill_differences[:3]
    assert report.fills_matched == len(fills)
    # an ended session cannot run again; a new start of the same spec is a new session
    with pytest.raises(PaperError, match="finished"):
        run_paper(ws, info.id)
    again, new = open_paper(ws, spec)
    assert new
    assert again.id != info.id


def test_a_crashed_session_resumes_and_ends_as_an_uninterrupted_one(ws: Workspace) -> None:
    spec = _spec()
    info, _ = open_paper(ws, spec)
    empty = paper_report(ws, info.id)  # nothing recorded yet: nothing to compare, no difference
    assert (empty.fills_compared, empty.backtest_fills_in_span, len(empty.daily)) == (0, 0, 0)
    _crash_after(ws, info.id, 150)
    partial = paper_report(ws, info.id)  # the recorded bars only
    assert partial.agrees
    assert (
        0
        < partial.fills_compared
        < len(run_backtest(ws, spec, engine="event", record=False).simulation.trades)
    )
    store = paper_store(ws)
    assert store.get(info.id).state == "running"  # this process is alive: not interrupted
    # the same spec on the same feed finds the unfinished session
    found, new = open_paper(ws, spec)
    assert not new
    assert found.id == info.id
    seen: list[tuple[str, int, int | None]] = []
    gate = CountingGate
    run = run_paper(ws, info.id, gate=gate, progress=lambda *a: seen.append(a))
    assert gate.rebalances > 0  # every order of the strategy went through the gate
    assert seen
    assert {(step, total) for step, _, total in seen} == {("paper trading", run.session.n_bars)}
    assert run.resumed_at == 150
    assert run.reconciliation is not None
    assert run.reconciliation.clean
    assert run.session.status == "finished"
    assert run.session.restarts == 1
    assert paper_report(ws, info.id).agrees


def test_reconciliation_adds_missed_fills_and_repairs_orders_positions_and_cash(
    ws: Workspace,
) -> None:
    info, _ = open_paper(ws, _spec())
    _crash_after(ws, info.id, 200)
    store = paper_store(ws)
    fills = store.fills(info.id)
    lost = int(fills["fill_id"].iloc[-1])
    with ws.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM paper_fills WHERE fill_id = :f"), {"f": lost})
        conn.execute(sa.text("DELETE FROM paper_positions WHERE session_id = :s"), {"s": info.id})
        conn.execute(
            sa.text("UPDATE paper_orders SET status = 'accepted', filled_quantity = 0 "
                    "WHERE order_id = :o"), {"o": int(fills["order_id"].iloc[-1])},
        )  # fmt: skip
        conn.execute(
            sa.text("UPDATE paper_sessions SET cash = cash + 1000 WHERE id = :s"), {"s": info.id}
        )
    run = run_paper(ws, info.id)
    rec = run.reconciliation
    assert rec is not None
    assert not rec.clean
    assert rec.missed_fills == (lost,)
    assert int(fills["order_id"].iloc[-1]) in rec.orders_repaired
    assert rec.positions_repaired
    assert rec.cash_difference == pytest.approx(-1000.0)
    assert store.get(info.id).reconciliations[-1]["missed_fills"] == [lost]
    assert paper_report(ws, info.id).agrees  # nothing lost, nothing doubled


def test_a_recorded_fill_the_broker_never_made_stops_the_resume(ws: Workspace) -> None:
    info, _ = open_paper(ws, _spec())
    _crash_after(ws, info.id, 100)
    with ws.db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO paper_fills (session_id, fill_id, order_id, row, time, asset, "
                "quantity, price, cost) VALUES (:s, 999999, 1, 5, :t, 'AAPL', 1, 1, 0)"
            ),
            {"s": info.id, "t": "2019-01-10 00:00:00+00:00"},
        )
    with pytest.raises(ReconciliationError, match=r"never made, e\.g\. fill 999999 of AAPL"):
        run_paper(ws, info.id)


def test_a_stopped_session_can_be_resumed_and_ended_ones_are_refused(ws: Workspace) -> None:
    info, _ = open_paper(ws, _spec())
    _crash_after(ws, info.id, 40)
    paper_store(ws).update(info.id, pid=_dead_pid())
    stopped = stop_paper(ws, info.id)  # its process is gone: it stops now
    assert stopped.status == "stopped"
    assert stopped.stop_requested
    with pytest.raises(PaperError, match="already stopped"):
        stop_paper(ws, info.id)
    # paper start makes a new session; resume carries the stopped one on
    run = run_paper(ws, info.id)
    assert run.resumed_at == 40
    assert run.session.status == "finished"
    with pytest.raises(PaperError, match="finished; it cannot run again"):
        run_paper(ws, info.id)
    with pytest.raises(PaperError, match="already finished"):
        stop_paper(ws, info.id)


def test_the_stop_flag_ends_a_running_session_after_a_bar(ws: Workspace) -> None:
    info, _ = open_paper(ws, _spec())
    store = paper_store(ws)
    store.update(info.id, stop_requested=True)
    # claim() clears the flag of a previous run; set it again once the session runs
    session_info = store.claim(info.id)
    session = build_paper_session(ws, session_info)
    store.update(info.id, stop_requested=True)
    recorder = session.recorder
    assert recorder is not None
    session.run(stop=recorder.should_stop)  # type: ignore[attr-defined]
    assert session.position == 1  # asked after the first bar


def test_other_datasets_and_live_mode_on_a_replay_are_refused_with_the_reason(
    ws: Workspace,
) -> None:
    spec = _spec()
    with pytest.raises(UsageError, match="live trading needs a venue feed"):
        open_paper(ws, spec, mode="live")
    with pytest.raises(UsageError, match="--autonomy: unknown autonomy level 'L9'"):
        open_paper(ws, spec, autonomy="L9")
    with pytest.raises(PaperError, match="replays 'sp500-index' but the strategy trades"):
        open_paper(ws, spec, feed="replay:sp500-index")
    with pytest.raises(PaperError, match="speed"):
        open_paper(ws, spec, speed=-2)


def test_a_replay_never_reads_the_sealed_holdout(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", holdout_fraction=0.2)
    ws.data.ensure_bundled()
    boundary = ws.data.holdout_boundary("sp500-stocks")
    assert boundary is not None
    spec = _spec(start="2015-01-01", end=None)
    info, _ = open_paper(ws, spec)
    run = run_paper(ws, info.id)
    last = paper_store(ws).equity(info.id).index[-1]
    assert last < boundary
    assert run.session.status == "finished"
    inside = _spec(start=f"{boundary + np.timedelta64(30, 'D'):%Y-%m-%d}", end=None)
    with pytest.raises(HoldoutError, match="sealed holdout"):
        open_paper(ws, inside)
    ws.close()


def test_a_session_of_another_live_process_is_not_run_twice(ws: Workspace) -> None:
    info, _ = open_paper(ws, _spec())
    store = paper_store(ws)
    store.update(info.id, status="running", pid=os.getppid(), host=store.get(info.id).host)
    import socket

    store.update(info.id, host=socket.gethostname())
    assert store.get(info.id).alive
    with pytest.raises(PaperError, match="is running"):
        open_paper(ws, _spec())
    with pytest.raises(PaperError, match="is running in process"):
        run_paper(ws, info.id)


def test_two_processes_cannot_both_claim_a_session(ws: Workspace) -> None:
    info, _ = open_paper(ws, _spec())

    class Raced(PaperStore):
        """Another process records a bar between this one's read and its claim."""

        first = True

        def get(self, session_id: int):  # type: ignore[no-untyped-def]
            seen = super().get(session_id)
            if Raced.first:
                Raced.first = False
                self.update(session_id, position=seen.position + 1)
            return seen

    with pytest.raises(PaperError, match="claimed by another process"):
        Raced(ws.db).claim(info.id)
    assert paper_store(ws).claim(info.id).status == "running"  # a fresh read claims it
