"""The approval queue (bound to the order's hash, expiring on an injected clock) and the
persisted kill switch (scopes, cheap version polling), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.execution import (
    ApprovalError,
    Governance,
    KillSwitchError,
    Order,
    OrderSide,
    OrderType,
    order_fields,
    order_fingerprint,
)
from alphaloop.execution.kill_switch import KillSwitch
from alphaloop.store import Database

from .governance_helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gov(workspace: Workspace, clock: Clock) -> Governance:
    return Governance.open(workspace.db, clock=clock, approval_ttl_s=60)


def limit_order(quantity: float = 10.0, price: float = 100.0) -> Order:
    return Order(7, "AAPL", OrderSide.BUY, quantity, OrderType.LIMIT, limit_price=price)


def test_fingerprint_changes_with_every_bound_field() -> None:
    base = order_fields(limit_order(), "s1", "momo")
    digest = order_fingerprint(base)
    assert order_fingerprint(dict(reversed(list(base.items())))) == digest  # key order free
    for key, value in [("quantity", 11.0), ("limit_price", 100.5), ("asset", "MSFT"),
                       ("side", "sell"), ("type", "market"), ("session", "s2"),
                       ("order_id", 8), ("time_in_force", "day")]:  # fmt: skip
        assert order_fingerprint({**base, key: value}) != digest, key


def test_approve_then_consume_with_the_same_order(gov: Governance) -> None:
    fields = order_fields(limit_order(), "s1")
    a = gov.approvals.request(fields, actor="system")
    assert a.status == "pending"
    assert a.order_hash == order_fingerprint(fields)
    approved = gov.approvals.approve(a.id, actor="ann", reason="ok")
    assert (approved.status, approved.decided_by) == ("approved", "ann")
    assert gov.approvals.consume(a.id, fields, actor="system").status == "sent"
    with pytest.raises(ApprovalError, match="is sent, not approved"):
        gov.approvals.consume(a.id, fields, actor="system")


def test_the_requester_cannot_approve_their_own_request(gov: Governance) -> None:
    a = gov.approvals.request(order_fields(limit_order(), "s1"), actor="bob")
    with pytest.raises(ApprovalError, match="four eyes"):
        gov.approvals.approve(a.id, actor="bob", reason="mine")
    assert gov.approvals.get(a.id).status == "pending"
    # rejecting one's own request is allowed; approval by someone else is the only way through
    assert gov.approvals.reject(a.id, actor="bob", reason="changed my mind").status == "rejected"
    b = gov.approvals.request(order_fields(limit_order(5.0), "s1"), actor="bob")
    assert gov.approvals.approve(b.id, actor="ann").decided_by == "ann"


def test_approval_of_a_changed_order_is_refused(gov: Governance) -> None:
    fields = order_fields(limit_order(), "s1")
    a = gov.approvals.request(fields, actor="system")
    gov.approvals.approve(a.id, actor="ann")
    changed = order_fields(limit_order(price=101.0), "s1")
    with pytest.raises(ApprovalError, match="order changed after approval: limit_price"):
        gov.approvals.consume(a.id, changed, actor="system")
    assert gov.approvals.get(a.id).status == "refused"


def test_requests_expire_on_the_clock(gov: Governance, clock: Clock) -> None:
    a = gov.approvals.request(order_fields(limit_order()), actor="system")
    clock.advance(59)
    assert [x.id for x in gov.approvals.list("pending")] == [a.id]
    clock.advance(1)
    assert gov.approvals.list("pending") == []
    assert gov.approvals.get(a.id).status == "expired"
    with pytest.raises(ApprovalError, match="is expired, not pending"):
        gov.approvals.approve(a.id, actor="ann")


def test_decisions_need_a_name_a_reason_and_a_pending_request(gov: Governance) -> None:
    a = gov.approvals.request(order_fields(limit_order()), actor="system")
    with pytest.raises(ApprovalError, match="needs a reason"):
        gov.approvals.reject(a.id, actor="ann", reason=" ")
    with pytest.raises(ApprovalError, match="name of the person"):
        gov.approvals.approve(a.id, actor="")
    gov.approvals.reject(a.id, actor="ann", reason="no")
    with pytest.raises(ApprovalError, match="is rejected, not pending"):
        gov.approvals.approve(a.id, actor="bob")
    with pytest.raises(ApprovalError, match="no approval request 999"):
        gov.approvals.approve(999, actor="bob")
    with pytest.raises(ApprovalError, match="unknown approval status"):
        gov.approvals.list("waiting")


def test_a_read_only_listing_shows_due_requests_expired_without_writing(
    gov: Governance, clock: Clock
) -> None:
    a = gov.approvals.request(order_fields(limit_order()), actor="system")
    clock.advance(61)
    entries = len(gov.audit.entries())
    shown = gov.approvals.list(expire=False)
    assert [(x.id, x.status) for x in shown] == [(a.id, "expired")]
    assert "not yet recorded" in shown[0].reason
    assert [x.id for x in gov.approvals.list("expired", expire=False)] == [a.id]
    assert gov.approvals.list("pending", expire=False) == []
    assert gov.approvals.get(a.id).status == "pending"  # nothing was written
    assert len(gov.audit.entries()) == entries
    assert gov.approvals.list()[0].status == "expired"  # a writer records it
    assert gov.approvals.get(a.id).status == "expired"


def test_every_approval_step_is_audited(gov: Governance, clock: Clock) -> None:
    a = gov.approvals.request(order_fields(limit_order()), actor="system")
    gov.approvals.approve(a.id, actor="ann")
    b = gov.approvals.request(order_fields(limit_order(5.0)), actor="system")
    clock.advance(61)
    gov.approvals.expire_due()
    actions = [(e.action, e.subject) for e in gov.audit.entries(action="approval.")]
    assert actions == [
        ("approval.requested", f"approval {a.id}"),
        ("approval.approved", f"approval {a.id}"),
        ("approval.requested", f"approval {b.id}"),
        ("approval.expired", f"approval {b.id}"),
    ]
    assert gov.audit.verify().ok


# ---------------------------------------------------------------------- kill switch
def test_kill_scopes_set_and_clear(gov: Governance) -> None:
    ks = gov.kill_switch
    assert ks.tripped("s1", "momo") is None
    ks.set("desk closed", actor="ops", scope="session", target="s1")
    assert ks.tripped("s1", "momo") is not None
    assert ks.tripped("s2", "momo") is None
    ks.set("all stop", actor="ops")
    assert ks.tripped("s2", "x").scope.value == "all"  # type: ignore[union-attr]
    ks.clear("resume", actor="ops")
    assert ks.tripped("s2", "x") is None
    assert ks.tripped("s1", "x") is not None
    assert [e.action for e in gov.audit.entries(action="kill.")] == [
        "kill.set", "kill.set", "kill.cleared",
    ]  # fmt: skip


def test_kill_bad_input(gov: Governance) -> None:
    ks = gov.kill_switch
    with pytest.raises(KillSwitchError, match="unknown kill scope 'desk'"):
        ks.set("x", actor="ops", scope="desk")
    with pytest.raises(KillSwitchError, match="needs an id"):
        ks.set("x", actor="ops", scope="session")
    with pytest.raises(KillSwitchError, match="takes no id"):
        ks.set("x", actor="ops", scope="all", target="s1")
    with pytest.raises(KillSwitchError, match="not set for all: nothing to clear"):
        ks.clear("x", actor="ops")
    with pytest.raises(KillSwitchError, match="needs a reason"):
        ks.set("  ", actor="ops")


def test_a_kill_from_another_connection_is_seen_at_the_next_check(workspace: Workspace) -> None:
    gov = Governance.open(workspace.db)
    watcher = gov.kill_switch
    assert watcher.tripped() is None
    other_db = Database(workspace.db.url, schema=workspace.db.schema)
    try:
        Governance.open(other_db).kill_switch.set("from elsewhere", actor="ops")
        assert watcher.tripped() is not None
    finally:
        other_db.dispose()


def test_checks_read_one_number_until_the_switch_changes(gov: Governance) -> None:
    ks = gov.kill_switch
    loads = []
    original = ks._load

    def counted() -> list:
        loads.append(1)
        return original()

    ks._load = counted  # type: ignore[method-assign]
    for _ in range(20):
        ks.tripped("s1")
    assert len(loads) == 1  # loaded once; later checks only read the version
    ks.set("stop", actor="ops")
    ks.tripped("s1")
    assert len(loads) == 2


def test_poll_interval_limits_version_reads(workspace: Workspace) -> None:
    gov = Governance.open(workspace.db)
    ks = KillSwitch(workspace.db, gov.audit, poll_interval_s=3600)
    for _ in range(10):
        ks.tripped()
    assert ks.n_reads == 1


def test_sqlite_checks_read_the_signal_file_not_the_database(tmp_path) -> None:
    ws = Workspace(tmp_path / "ws")
    gov = Governance.open(ws.db)
    ks = KillSwitch(ws.db, gov.audit, db_recheck_s=3600)
    assert ks.tripped() is None
    reads = ks.n_reads
    for _ in range(50):
        assert ks.tripped() is None
    assert ks.n_reads == reads  # the signal file said nothing changed
    other = KillSwitch(Database(ws.db.url), gov.audit)
    other.set("stop", actor="ops")
    assert Path(f"{ws.db.url.removeprefix('sqlite:///')}-kill").read_text() == "1"
    assert ks.tripped() is not None  # seen at once through the file
    # a missing signal file never hides a kill: the check falls back to the database
    Path(f"{ws.db.url.removeprefix('sqlite:///')}-kill").unlink()
    other.clear("go", actor="ops")
    Path(f"{ws.db.url.removeprefix('sqlite:///')}-kill").unlink()
    assert ks.tripped() is None
    other.db.dispose()
    ws.close()


def test_checks_wait_for_a_signal_instead_of_querying(workspace: Workspace) -> None:
    """SQLite: the signal file; PostgreSQL: LISTEN/NOTIFY. No query per check either way."""
    gov = Governance.open(workspace.db)
    ks = KillSwitch(workspace.db, gov.audit, db_recheck_s=3600)
    assert ks.tripped() is None
    reads = ks.n_reads
    for _ in range(30):
        assert ks.tripped() is None
    assert ks.n_reads == reads
    other_db = Database(workspace.db.url, schema=workspace.db.schema)
    other = KillSwitch(other_db, gov.audit)
    try:
        other.set("stop", actor="ops", scope="strategy", target="momo")
        assert ks.tripped(strategy="momo") is not None  # the signal arrived: re-read
        assert ks.n_reads == reads + 1
        other.clear("go", actor="ops", scope="strategy", target="momo")
        assert ks.tripped(strategy="momo") is None
    finally:
        other.close()
        ks.close()
        other_db.dispose()
