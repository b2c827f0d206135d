"""The policy store (SQLite and PostgreSQL) and the risk engine that reads it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.app import Workspace
from alphaloop.execution import AuditLog, RiskEngine, RiskLimits, TradingState
from alphaloop.execution.policy import Policy, PolicyError, RiskMode, risk_mode, tighter
from alphaloop.execution.policy_store import PolicyStore
from alphaloop.store import Database


@pytest.fixture
def store(workspace: Workspace) -> PolicyStore:
    """The store on each backend."""
    return PolicyStore(workspace.db, AuditLog(workspace.db))


@pytest.fixture
def local(tmp_path: Path) -> Iterator[PolicyStore]:
    """The store on SQLite (for the risk engine's tests)."""
    ws = Workspace(tmp_path / "ws")
    yield PolicyStore(ws.db, AuditLog(ws.db))
    ws.close()


def test_the_default_policy_is_normal_with_nothing_blocked(store: PolicyStore) -> None:
    p = store.current()
    assert (p.version, p.mode) == (0, RiskMode.NORMAL)
    assert p.blocked_symbols == ()
    assert p.symbol_block("AAPL") is None
    assert p.modes[RiskMode.DEFENSIVE].limits.max_gross == 0.5
    assert store.history() == []


def test_every_change_is_kept_with_who_and_why_and_audited(store: PolicyStore) -> None:
    first = store.set_mode("DEFENSIVE", actor="ann", reason="volatility spike")
    assert first is not None
    assert first.detail == {"from": "normal", "to": "defensive"}
    second = store.block("TSLA", actor="bob", reason="halted news")
    third = store.block("abc123", kind="strategy", actor="bob", reason="review")
    assert store.set_mode("defensive", actor="ann", reason="again") is None  # nothing changed
    p = store.current()
    assert p.version == third.id
    assert p.mode is RiskMode.DEFENSIVE
    assert p.blocked_symbols == ("TSLA",)
    assert p.blocked_strategies == ("abc123",)
    history = store.history()
    assert [(c.actor, c.change, c.reason) for c in history] == [
        ("ann", "mode", "volatility spike"), ("bob", "block", "halted news"),
        ("bob", "block", "review"),
    ]  # fmt: skip
    assert history[0].policy.blocked_symbols == ()  # each row keeps the policy after it
    assert second is not None
    assert history[1].policy.blocked_symbols == ("TSLA",)
    entries = store.audit.entries(action="policy.")
    assert [e.action for e in entries] == ["policy.mode_changed", "policy.blocked",
                                           "policy.blocked"]  # fmt: skip
    assert '"reason":"volatility spike"' in entries[0].payload
    assert store.audit.verify().ok


def test_allow_unblocks_and_the_allow_list_admits_only_its_names(store: PolicyStore) -> None:
    store.block("TSLA", actor="ann", reason="r")
    store.allow("TSLA", actor="ann", reason="cleared")
    assert store.current().symbol_block("TSLA") is None
    store.allow("AAPL", only=True, actor="ann", reason="only apple")
    p = store.current()
    assert p.symbol_block("AAPL") is None
    assert "allow list" in (p.symbol_block("MSFT") or "")
    store.allow(None, actor="ann", reason="open again")
    assert store.current().symbol_block("MSFT") is None


def test_changes_need_a_reason_and_modes_are_checked(store: PolicyStore) -> None:
    with pytest.raises(PolicyError, match="reason"):
        store.set_mode("defensive", actor="ann", reason=" ")
    with pytest.raises(PolicyError, match="unknown risk mode 'panic'"):
        store.set_mode("panic", actor="ann", reason="r")
    with pytest.raises(PolicyError, match="max_gross"):
        store.set_mode_settings("normal", limits={"max_gross": -1}, actor="ann", reason="r")
    with pytest.raises(PolicyError, match="groups"):
        store.set_mode_settings("normal", limits={"groups": {"A": "x"}, "group_caps": {"x": 0.5}},
                                actor="ann", reason="r")  # fmt: skip
    assert store.history() == []
    assert risk_mode(" Aggressive ") is RiskMode.AGGRESSIVE


def test_a_change_by_another_store_is_seen_at_the_next_read(workspace: Workspace) -> None:
    """SQLite: the signal file; PostgreSQL: LISTEN/NOTIFY. No query per read either way."""
    other_db = Database(workspace.db.url, schema=workspace.db.schema)
    reader = PolicyStore(workspace.db, AuditLog(workspace.db), db_recheck_s=3600)
    writer = PolicyStore(other_db, AuditLog(other_db))
    slow = PolicyStore(workspace.db, AuditLog(workspace.db), poll_interval_s=3600)
    try:
        assert reader.current().mode is RiskMode.NORMAL
        reads = reader.n_reads
        for _ in range(30):
            reader.current()
        assert reader.n_reads == reads
        slow.current()
        writer.set_mode("aggressive", actor="ops", reason="calm market")
        assert reader.current().mode is RiskMode.AGGRESSIVE  # the signal arrived: re-read
        assert reader.n_reads == reads + 1
        assert slow.current().mode is RiskMode.NORMAL  # cached for its interval
        assert slow.current(refresh=True).mode is RiskMode.AGGRESSIVE
    finally:
        for store in (reader, writer, slow):
            store.close()
        other_db.dispose()


def test_concurrent_writers_never_lose_a_change(workspace: Workspace) -> None:
    """Each change builds on the one before it, whoever wrote that one."""
    dbs = [Database(workspace.db.url, schema=workspace.db.schema) for _ in range(2)]

    def writer(k: int) -> None:
        store = PolicyStore(dbs[k], AuditLog(dbs[k]))
        for i in range(8):
            store.block(f"S{k}-{i}", actor=f"w{k}", reason="load")
        store.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in dbs:
        db.dispose()
    history = PolicyStore(workspace.db, AuditLog(workspace.db)).history()
    assert [len(c.policy.blocked_symbols) for c in history] == list(range(1, 17))
    assert AuditLog(workspace.db).verify().ok


def test_the_signal_file_spares_queries_and_a_lost_signal_is_caught(local: PolicyStore) -> None:
    writer = PolicyStore(local.db, local.audit)
    local.db_recheck_s = 3600.0  # no periodic recheck during the test, however slow
    local.current()
    reads = local.n_reads
    for _ in range(50):
        local.current()
    assert local.n_reads == reads  # no change signalled: no query
    writer.set_mode("defensive", actor="ann", reason="r")
    assert local.current().mode is RiskMode.DEFENSIVE
    # a change whose signal is lost (written behind the store's back) is found at the
    # next database recheck
    with local.db.engine.begin() as conn:
        row = conn.exec_driver_sql(
            "SELECT at, policy FROM policy_changes ORDER BY id DESC LIMIT 1"
        ).one()
        conn.exec_driver_sql(
            "INSERT INTO policy_changes (at, actor, reason, change, detail, policy) "
            "VALUES (?, 'x', 'x', 'mode', '{}', ?)",
            (row[0], row[1].replace('"mode":"defensive"', '"mode":"aggressive"')),
        )
    assert local.current().mode is RiskMode.DEFENSIVE  # within db_recheck_s: cached
    local.db_recheck_s = 0.0
    assert local.current().mode is RiskMode.AGGRESSIVE


# ------------------------------------------------------------------ the risk engine
def _engine(local: PolicyStore, **limits: float) -> RiskEngine:
    engine = RiskEngine(RiskLimits(**limits), ["AAA", "BBB"], 100_000, policy=local,
                        strategy="strat-1")  # fmt: skip
    engine.mark([100.0, 50.0], now=0, new_day=True)
    return engine


def test_a_blocked_symbols_order_is_refused_and_a_reduction_passes(local: PolicyStore) -> None:
    engine = _engine(local)
    assert engine.submit(1, "AAA", 100, now=1) is None
    engine.on_fill(1, "AAA", 100, 100.0, now=1)
    local.block("AAA", actor="ann", reason="news")
    refusal = engine.submit(2, "AAA", 10, now=2)
    assert refusal is not None
    assert refusal.limit == "policy_symbol"
    assert "policy blocks the asset" in refusal.message
    assert engine.submit(3, "BBB", 10, now=2) is None  # other symbols trade
    assert engine.submit(4, "AAA", -50, now=2) is None  # reducing passes
    local.allow("AAA", actor="ann", reason="resolved")
    assert engine.submit(5, "AAA", 10, now=3) is None


def test_a_blocked_strategy_may_only_reduce(local: PolicyStore) -> None:
    engine = _engine(local)
    local.block("strat-1", kind="strategy", actor="ann", reason="decay")
    refusal = engine.submit(1, "AAA", 10, now=1)
    assert refusal is not None
    assert refusal.limit == "policy_strategy"
    other = RiskEngine(RiskLimits(), ["AAA"], 1e5, policy=local, strategy="strat-2")
    other.mark([100.0], now=0)
    assert other.submit(1, "AAA", 10, now=1) is None


def test_defensive_mode_tightens_limits_at_the_next_check(local: PolicyStore) -> None:
    engine = _engine(local, max_weight=0.5)
    assert engine.submit(1, "BBB", 300, now=1) is None  # 15% of equity passes in normal mode
    engine.on_done(1)  # canceled
    # another store on the same database (as another process would): the engine's store
    # learns of the change from the signal file at its next check
    writer = PolicyStore(local.db, local.audit)
    writer.set_mode("defensive", actor="ann", reason="drawdown in the index")
    refusal = engine.submit(2, "BBB", 300, now=2)  # the same order: above defensive's 10%
    assert refusal is not None
    assert (refusal.limit, refusal.threshold) == ("max_weight", 0.1)
    assert engine.policy_mode == "defensive"
    assert engine.limits.max_weight == 0.5  # what a person set is kept
    assert engine.effective_limits.max_weight == 0.1
    assert engine.submit(3, "BBB", 150, now=2) is None  # 7.5% passes
    writer.set_mode("normal", actor="ann", reason="calm")
    assert engine.submit(4, "AAA", 300, now=3) is None  # 30%: back under the engine's 50%
    assert engine.effective_limits.max_weight == 0.5


def test_a_book_past_the_modes_limits_only_reduces(local: PolicyStore) -> None:
    engine = _engine(local, max_weight=0.5)
    assert engine.submit(1, "AAA", 150, now=1) is None
    engine.on_fill(1, "AAA", 150, 100.0, now=1)
    local.set_mode("defensive", actor="ann", reason="r")
    refusal = engine.submit(2, "BBB", 10, now=2)  # AAA holds 15%, above defensive's 10%
    assert refusal is not None
    assert refusal.limit == "reducing_only"
    assert engine.state is TradingState.REDUCING
    assert engine.submit(3, "AAA", -60, now=3) is None


def test_a_mark_applies_the_modes_loss_breaker(local: PolicyStore) -> None:
    engine = _engine(local)
    engine.submit(1, "AAA", 500, now=1)
    engine.on_fill(1, "AAA", 500, 100.0, now=1)
    local.set_mode("defensive", actor="ann", reason="r")
    engine.mark([95.0, 50.0], now=2)  # -2.5% of equity today: past defensive's 2%
    assert engine.state is TradingState.HALTED
    assert engine.transitions[-1].limit == "max_daily_loss"


# ------------------------------------------------------------------ the merge
_caps = st.one_of(st.none(), st.floats(0.05, 2.0))


@given(a=st.tuples(_caps, _caps, _caps), b=st.tuples(_caps, _caps, _caps))
def test_tighter_never_loosens_a_limit(a: tuple, b: tuple) -> None:
    def limits(t: tuple) -> RiskLimits:
        w, g, n = t
        if g is not None:
            w = None if w is None else min(w, g)
            n = None if n is None else min(n, g)
        return RiskLimits(max_weight=w, max_gross=g, max_net=n)

    base, extra = limits(a), limits(b)
    out = tighter(base, extra)
    for name in ("max_weight", "max_gross", "max_net"):
        got = getattr(out, name)
        for side in (base, extra):
            if getattr(side, name) is not None:
                assert got is not None
                assert got <= getattr(side, name) + 1e-12
    assert tighter(base, RiskLimits()) == base


def test_a_policy_round_trips_through_its_dict() -> None:
    p = Policy(mode=RiskMode.DEFENSIVE, blocked_symbols=("X",), allowed_strategies=("s",))
    assert Policy.from_dict(p.to_dict(), version=7) == p.model_copy(update={"version": 7})
    with pytest.raises(PolicyError, match="mode"):
        Policy.from_dict({**p.to_dict(), "mode": "wild"})
