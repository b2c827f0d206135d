"""The audit chain: hashes by hand, and every form of tampering found and located."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from alphaloop.app import Workspace
from alphaloop.execution.audit_chain import (
    GENESIS,
    AuditEntry,
    canonical_json,
    entry_hash,
    verify_chain,
)
from alphaloop.execution.audit_log import AuditLog

from .governance_helpers import Clock

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def chain(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS
    for k in range(1, n + 1):
        e = AuditEntry.make(k, T0, "ann", "order.sent", f"order {k}", {"q": k}, prev)
        out.append(e)
        prev = e.hash
    return out


def test_hash_is_sha256_of_the_documented_encoding() -> None:
    e = AuditEntry.make(1, T0, "ann", "kill.set", "all", {"b": 1, "a": [1.5, None]}, GENESIS)
    assert e.payload == '{"a":[1.5,null],"b":1}'
    assert e.at == "2026-03-02T15:00:00.000000+00:00"
    text_ = json.dumps([1, e.at, "ann", "kill.set", "all", e.payload, GENESIS],
                       separators=(",", ":"), ensure_ascii=False)  # fmt: skip
    assert e.hash == hashlib.sha256(text_.encode()).hexdigest()
    assert e.hash == entry_hash(1, e.at, "ann", "kill.set", "all", e.payload, GENESIS)


def test_canonical_json_is_order_free_and_strict() -> None:
    assert canonical_json({"b": 1, "a": 2}) == canonical_json({"a": 2, "b": 1})
    assert canonical_json({"x": math.nan, "y": math.inf}) == '{"x":null,"y":null}'
    assert canonical_json({"name": "é"}) == '{"name":"é"}'


def test_intact_chain_verifies() -> None:
    assert verify_chain(chain(5)) is None
    assert verify_chain([]) is None


def test_edited_entry_is_found_with_expected_and_found_hash() -> None:
    entries = chain(5)
    e = entries[2]
    entries[2] = AuditEntry(e.seq, e.at, e.actor, e.action, e.subject, '{"q":300}',
                            e.prev_hash, e.hash)  # fmt: skip
    problem = verify_chain(entries)
    assert problem is not None
    assert problem.seq == 3
    assert problem.kind == "edited"
    assert problem.found == f"hash {e.hash}"
    assert problem.expected == f"hash {entries[2].computed_hash()}"
    assert "entry 3" in problem.message


def test_removed_entry_is_a_gap() -> None:
    entries = chain(5)
    del entries[1]
    problem = verify_chain(entries)
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "gap")
    assert problem.expected == "seq 2"


def test_removed_first_entry_is_found() -> None:
    problem = verify_chain(chain(3)[1:])
    assert problem is not None
    assert (problem.seq, problem.kind) == (2, "gap")


def test_reordered_entries_are_found() -> None:
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    problem = verify_chain(entries)
    assert problem is not None
    assert problem.seq == 3
    assert problem.kind == "gap"


def test_renumbered_swap_breaks_the_hash() -> None:
    # swap two entries and renumber them so seq stays 1..n: the hashes no longer match
    entries = chain(4)
    a, b = entries[1], entries[2]
    entries[1] = AuditEntry(2, b.at, b.actor, b.action, b.subject, b.payload, b.prev_hash, b.hash)
    entries[2] = AuditEntry(3, a.at, a.actor, a.action, a.subject, a.payload, a.prev_hash, a.hash)
    problem = verify_chain(entries)
    assert problem is not None
    assert (problem.seq, problem.kind) == (2, "edited")


def test_inserted_entry_with_a_valid_hash_breaks_the_next_link() -> None:
    entries = chain(4)
    # a forged entry 3 that follows entry 2 correctly; the old 3 and 4 renumbered and rehashed
    # by someone who does not know every later hash would change: take the old entries as is
    forged = AuditEntry.make(3, T0, "mallory", "order.sent", "order x", {}, entries[1].hash)
    old3 = entries[2]
    fields = (old3.at, old3.actor, old3.action, old3.subject, old3.payload, old3.prev_hash)
    moved = AuditEntry(4, *fields, entry_hash(4, *fields))
    problem = verify_chain([*entries[:2], forged, moved])
    assert problem is not None
    assert (problem.seq, problem.kind) == (4, "link")
    assert problem.expected == f"prev_hash {forged.hash}"


# ----------------------------------------------------------------- in the database
@pytest.fixture
def audit(workspace: Workspace) -> AuditLog:
    log = AuditLog(workspace.db, Clock(T0))
    for k in range(6):
        log.append("ann", "order.sent" if k % 2 else "kill.set", f"order {k}", {"k": k})
    return log


def _sql(log: AuditLog, statement: str, **params: object) -> None:
    with log.db.session() as s:
        s.execute(text(statement), params)


def _insert(log: AuditLog, e: AuditEntry) -> None:
    _sql(log, "INSERT INTO audit_entries (seq, at, actor, action, subject, payload, prev_hash, "
         "hash) VALUES (:s, :a, :ac, :act, :su, :p, :ph, :h)", s=e.seq, a=e.at, ac=e.actor,
         act=e.action, su=e.subject, p=e.payload, ph=e.prev_hash, h=e.hash)  # fmt: skip


def test_stored_chain_verifies_and_lists(audit: AuditLog) -> None:
    result = audit.verify()
    assert result.ok
    assert result.n_entries == 6
    assert result.head_seq == 6
    assert [e.seq for e in audit.entries(action="kill.set")] == [1, 3, 5]
    assert [e.seq for e in audit.entries(action="order.")] == [2, 4, 6]
    assert [e.seq for e in audit.entries(limit=2)] == [5, 6]
    assert audit.head() == (6, result.head_hash)


def test_database_edit_is_found(audit: AuditLog) -> None:
    _sql(audit, "UPDATE audit_entries SET payload = :p WHERE seq = 4", p='{"k":99}')
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (4, "edited")


def test_database_actor_edit_is_found(audit: AuditLog) -> None:
    _sql(audit, "UPDATE audit_entries SET actor = 'bob' WHERE seq = 2")
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (2, "edited")


def test_database_delete_is_found(audit: AuditLog) -> None:
    _sql(audit, "DELETE FROM audit_entries WHERE seq = 3")
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (4, "gap")


def test_database_reorder_is_found(audit: AuditLog) -> None:
    _sql(audit, "UPDATE audit_entries SET seq = 100 WHERE seq = 2")
    _sql(audit, "UPDATE audit_entries SET seq = 2 WHERE seq = 3")
    _sql(audit, "UPDATE audit_entries SET seq = 3 WHERE seq = 100")
    problem = audit.verify().problem
    assert problem is not None
    assert problem.seq == 2
    assert problem.kind == "edited"


def test_database_insert_is_found(audit: AuditLog) -> None:
    # shift the tail up by one and insert a well-formed entry after entry 3
    for seq in (6, 5, 4):
        _sql(audit, "UPDATE audit_entries SET seq = :n WHERE seq = :o", n=seq + 1, o=seq)
    prev = audit.entries()[2].hash
    e = AuditEntry.make(4, T0, "mallory", "order.sent", "order x", {}, prev)
    _insert(audit, e)
    problem = audit.verify().problem
    assert problem is not None
    assert problem.seq == 5
    assert problem.kind in ("edited", "link")


def test_truncated_tail_is_found_with_an_anchor(audit: AuditLog) -> None:
    seq, digest = audit.head()
    _sql(audit, "DELETE FROM audit_entries WHERE seq = 6")
    assert audit.verify().ok  # without an anchor a cut end looks intact
    problem = audit.verify((seq, digest)).problem
    assert problem is not None
    assert problem.seq == 6
    assert "ends at entry 5" in problem.found


def test_anchor_catches_a_rewritten_chain(audit: AuditLog) -> None:
    seq, digest = audit.entries()[3].seq, audit.entries()[3].hash
    entries = audit.entries()
    _sql(audit, "DELETE FROM audit_entries WHERE seq >= 4")
    prev = entries[2].hash
    for k in (4, 5, 6):  # rewritten with fresh, self-consistent hashes
        e = AuditEntry.make(k, T0, "mallory", "order.sent", "x", {}, prev)
        _insert(audit, e)
        prev = e.hash
    assert audit.verify().ok
    problem = audit.verify((seq, digest)).problem
    assert problem is not None
    assert problem.seq == 4
    assert "anchor" in problem.expected


def test_append_many_links_in_order_in_one_call(audit: AuditLog) -> None:
    added = audit.append_many([("bot", "order.filled", "order 1", {"q": 1}),
                               ("bot", "order.canceled", "order 2", None)])  # fmt: skip
    assert [e.seq for e in added] == [7, 8]
    assert added[1].prev_hash == added[0].hash
    assert audit.verify().ok
    assert audit.append_many([]) == []
    with pytest.raises(Exception, match="actor and an action"):
        audit.append_many([("", "x", "", None)])
    assert audit.count() == 8


@settings(max_examples=200)
@given(
    n=st.integers(2, 12),
    op=st.sampled_from(["edit", "delete", "swap", "insert", "relink"]),
    at=st.integers(0, 100),
)
def test_any_single_tampering_is_found_at_or_before_the_tampered_entry(
    n: int, op: str, at: int
) -> None:
    entries = chain(n)
    k = at % n
    if op == "edit":
        e = entries[k]
        entries[k] = AuditEntry(e.seq, e.at, e.actor, "order.forged", e.subject, e.payload,
                                e.prev_hash, e.hash)  # fmt: skip
        first_bad = e.seq
    elif op == "delete":
        if k == n - 1:
            k -= 1  # a cut end needs an anchor (tested above)
        del entries[k]
        first_bad = k + 2
    elif op == "swap":
        k = min(k, n - 2)
        entries[k], entries[k + 1] = entries[k + 1], entries[k]
        first_bad = k + 1
    elif op == "insert":
        forged = AuditEntry.make(k + 1, T0, "mallory", "order.sent", "x", {}, "f" * 64)
        entries.insert(k, forged)
        first_bad = k + 1
    else:  # a self-consistent entry whose prev_hash points elsewhere
        e = entries[k]
        entries[k] = AuditEntry.make(e.seq, T0, e.actor, e.action, e.subject, {}, "e" * 64)
        first_bad = e.seq
    problem = verify_chain(entries)
    assert problem is not None
    assert problem.seq <= max(first_bad, 1) + 1
