"""Paper sessions behind the governance gate: L1 records signals only, L2 waits for a person
(approved baskets fill at the bar after their release, expired ones are dropped and
recorded), decisions survive a restart without a second audit or approval request, and
refusals show in the session's summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from alphaloop.app import Workspace, open_paper, paper_store, run_paper
from alphaloop.app.paper import build_paper_session
from alphaloop.backtest import StrategySpec, quick_spec
from alphaloop.errors import PaperError
from alphaloop.execution import Governance
from alphaloop.live.decisions import decision_summary, read_decisions
from tests.execution.governance_helpers import Clock

EXPR = "Ref($close, 1) / Ref($close, 61) - 1"


def _spec(name: str) -> StrategySpec:
    base = quick_spec(EXPR, "sp500-stocks", top_k=3, rebalance="weekly")
    doc = {**base.model_dump(mode="json"), "name": name, "fills": "next_close",
           "start": "2019-01-01", "end": "2019-04-30"}  # fmt: skip
    return StrategySpec.from_dict(doc)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    w.data.ensure_bundled()
    yield w
    w.close()


def test_l1_records_the_signals_and_sends_no_order(ws: Workspace) -> None:
    info, _ = open_paper(ws, _spec("gov-l1"), autonomy="L1")
    assert info.autonomy == "L1"
    with pytest.raises(PaperError, match="runs at autonomy L1, not L3; a session keeps"):
        open_paper(ws, _spec("gov-l1"), autonomy="L3")
    assert open_paper(ws, _spec("gov-l1"))[0].id == info.id  # no level asked: the session's
    done = run_paper(ws, info.id).session
    assert done.status == "finished"
    store = paper_store(ws)
    assert store.n_fills(info.id) == 0
    assert store.positions(info.id) == {}
    assert done.equity == done.cash == 1_000_000
    decisions = read_decisions(ws.db, info.id)
    assert decisions, "every weekly rebalance is a recorded signal"
    assert {d.action for d in decisions} == {"refused"}
    assert {d.stage for d in decisions} == {"autonomy"}
    assert all(len(d.detail["weights"]) == 20 for d in decisions)  # the signal is kept
    summary = decision_summary(decisions)
    assert summary["refused_by_stage"] == {"autonomy": len(decisions)}
    gov = Governance.open(ws.db)
    (started,) = gov.audit.entries(action="limits.set")
    assert started.subject == f"paper session {info.id}"
    assert json.loads(started.payload)["autonomy"] == "L1"
    refused = gov.audit.entries(action="rebalance.refused")
    assert len(refused) == len(decisions)
    assert gov.audit.verify().ok


def test_l2_waits_for_a_person_and_survives_a_restart(ws: Workspace) -> None:
    clock = Clock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    gov = Governance.open(ws.db, clock=clock, approval_ttl_s=600)
    store = paper_store(ws)
    info, _ = open_paper(ws, _spec("gov-l2"), autonomy="L2")
    info = store.claim(info.id)
    session = build_paper_session(ws, info, governance=gov)
    gate = session.gate
    assert gate is not None
    assert gate.level.value == "L2"

    def run_until_held(count: int) -> None:
        while len(gate.held_rebalances()) < count:
            session.step(next(session.feed.bars(session.position)))

    run_until_held(1)
    ((first_seq, first_id),) = gate.held_rebalances().items()
    assert session.venue.orders == {}  # nothing left the gate
    held_row = session.position - 1
    gov.approvals.approve(first_id, actor="ann", reason="weights look right")
    session.step(next(session.feed.bars(session.position)))  # released at the end of this bar
    released_row = session.position - 1
    assert released_row > held_row
    assert gate.held_rebalances() == {}
    session.step(next(session.feed.bars(session.position)))
    fills = store.fills(info.id)
    assert len(fills) > 0
    assert set(fills["row"]) == {released_row + 1}  # the bar after the release, not before
    assert gov.approvals.get(first_id).status == "sent"

    run_until_held(1)
    ((second_seq, second_id),) = gate.held_rebalances().items()
    clock.advance(601)  # past the time to live: dropped at the end of the next bar
    session.step(next(session.feed.bars(session.position)))
    assert gate.held_rebalances() == {}
    assert gov.approvals.get(second_id).status == "expired"
    run_until_held(1)
    ((third_seq, third_id),) = gate.held_rebalances().items()
    position = session.position
    audit_before = gov.audit.verify().n_entries

    # a restart: the venue is rebuilt from the recorded bars and decisions
    recorded = read_decisions(ws.db, info.id)
    by_seq = {(d.seq, d.step): d.action for d in recorded}
    assert by_seq[(first_seq, 0)] == "held"
    assert by_seq[(first_seq, 1)] == "sent"
    assert by_seq[(second_seq, 1)] == "refused"
    again = build_paper_session(ws, store.get(info.id), governance=gov)
    again.catch_up(position, recorded)
    assert again.positions() == session.positions()
    assert again.account() == session.account()
    assert again.gate is not None
    assert again.gate.held_rebalances() == {third_seq: third_id}  # still waiting, same request
    # nothing decided, requested or audited twice (only the new gate's start)
    assert gov.audit.verify().n_entries == audit_before + 1
    assert [a.id for a in gov.approvals.list("pending")] == [third_id]

    gov.approvals.approve(third_id, actor="ann")
    again.step(next(again.feed.bars(again.position)))
    assert again.gate.held_rebalances() == {}
    assert gov.approvals.get(third_id).status == "sent"
    summary = decision_summary(read_decisions(ws.db, info.id))
    assert summary["refused_by_stage"] == {"approval": 1}
    assert summary["sent"] == 2
    assert gov.audit.verify().ok
