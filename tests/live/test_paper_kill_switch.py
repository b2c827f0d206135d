"""The kill switch halts paper sessions: read after every bar, a halted session does not
start again until the kill is cleared, and a cleared session ends where an uninterrupted
one does."""

from __future__ import annotations

import json

import pytest

from alphaloop.app import Workspace, open_paper, paper_store, run_paper
from alphaloop.backtest import StrategySpec, quick_spec
from alphaloop.errors import PaperError
from alphaloop.execution import Governance

EXPR = "Ref($close, 1) / Ref($close, 61) - 1"


def _spec(name: str = "kill-mom") -> StrategySpec:
    base = quick_spec(EXPR, "sp500-stocks", top_k=4, rebalance="weekly")
    doc = {**base.model_dump(mode="json"), "name": name, "fills": "next_close",
           "start": "2019-01-01", "end": "2019-12-31"}  # fmt: skip
    return StrategySpec.from_dict(doc)


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    workspace.data.ensure_bundled()
    return workspace


def test_a_kill_stops_the_session_after_the_bar_and_blocks_it_until_cleared(
    ws: Workspace,
) -> None:
    gov = Governance.open(ws.db)
    info, _ = open_paper(ws, _spec())
    seen: list[int] = []

    def kill_on_first_report(step: str, done: int, total: int) -> None:
        # called after a bar, before the kill switch is read for that bar
        if not seen and done >= 1:
            seen.append(done)
            gov.kill_switch.set("desk closed", actor="ops")

    run = run_paper(ws, info.id, progress=kill_on_first_report)
    stopped = run.session
    assert stopped.status == "stopped"
    assert stopped.position == seen[0] < stopped.n_bars  # not one bar after the kill
    assert "kill switch (all): desk closed" in (stopped.error or "")
    killed = gov.audit.entries(action="paper.killed")
    assert [e.subject for e in killed] == [f"paper session {info.id}"]
    assert json.loads(killed[0].payload)["position"] == seen[0]
    assert gov.audit.verify().ok

    with pytest.raises(PaperError, match="halted by the kill switch"):
        run_paper(ws, info.id)
    assert paper_store(ws).get(info.id).position == seen[0]  # nothing ran

    gov.kill_switch.clear("desk open", actor="ops")
    finished = run_paper(ws, info.id).session
    assert finished.status == "finished"
    assert finished.error is None

    # the same strategy never killed ends with the same account
    other, _ = open_paper(ws, _spec("kill-mom-uninterrupted"))
    whole = run_paper(ws, other.id).session
    assert whole.position == finished.position == finished.n_bars
    assert whole.equity == finished.equity
    assert whole.cash == finished.cash


def test_kill_scopes_reach_only_their_session_or_strategy(ws: Workspace) -> None:
    gov = Governance.open(ws.db)
    spec = _spec()
    info, _ = open_paper(ws, spec)
    gov.kill_switch.set("other desk", actor="ops", scope="session", target="999999")
    gov.kill_switch.set("other strategy", actor="ops", scope="strategy", target="0" * 64)
    assert run_paper(ws, info.id).session.status == "finished"

    again, _ = open_paper(ws, _spec("kill-mom-2"))
    gov.kill_switch.set("this one", actor="ops", scope="strategy", target=again.spec_hash)
    with pytest.raises(PaperError, match=r"kill switch \(strategy [0-9a-f]+\): this one"):
        run_paper(ws, again.id)
