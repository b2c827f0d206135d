"""The audit chain, pure: entries, their canonical encoding, hashes and verification.

Each entry holds the hash of the entry before it (``prev_hash``; the first
holds :data:`GENESIS`), and its own ``hash`` is the sha256 (hex) of the
canonical encoding of its fields::

    json.dumps([seq, at, actor, action, subject, payload, prev_hash],
               sort_keys=True, separators=(",", ":"), ensure_ascii=False)

where ``payload`` is itself the canonical JSON text of the entry's payload
(keys sorted, no spaces, NaN and infinities as null) and ``at`` is the
ISO 8601 time in UTC with microseconds. ``seq`` counts from 1 without gaps.

:func:`verify_chain` walks the entries in ``seq`` order and reports the
first place where the chain breaks, so an edited, removed, inserted or
reordered entry is found and named (its ``seq``, what was expected and what
was found).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alphaloop.jsonsafe import json_safe

__all__ = [
    "GENESIS",
    "AuditEntry",
    "ChainBreak",
    "canonical_json",
    "entry_hash",
    "format_time",
    "verify_chain",
]

#: ``prev_hash`` of the first entry
GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: keys sorted, no spaces, UTF-8 text, NaN as null."""
    return json.dumps(
        json_safe(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=str,
    )


def format_time(when: datetime) -> str:
    """``when`` as the chain stores it: ISO 8601 in UTC with microseconds.

    A naive datetime is taken as UTC.
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    seq: int, at: str, actor: str, action: str, subject: str, payload: str, prev_hash: str
) -> str:
    """sha256 (hex) of an entry's canonical encoding (``payload``: canonical JSON text)."""
    text = json.dumps(
        [seq, at, actor, action, subject, payload, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the chain as stored (``payload`` is canonical JSON text)."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    payload: str
    prev_hash: str
    hash: str

    @classmethod
    def make(
        cls,
        seq: int,
        when: datetime,
        actor: str,
        action: str,
        subject: str,
        payload: Mapping[str, Any] | None,
        prev_hash: str,
    ) -> AuditEntry:
        """A new entry after one whose hash is ``prev_hash``, its hash computed."""
        at = format_time(when)
        body = canonical_json(dict(payload or {}))
        digest = entry_hash(seq, at, actor, action, subject, body, prev_hash)
        return cls(seq, at, actor, action, subject, body, prev_hash, digest)

    def computed_hash(self) -> str:
        """The hash the entry's fields give (differs from :attr:`hash` when edited)."""
        return entry_hash(
            self.seq, self.at, self.actor, self.action, self.subject, self.payload, self.prev_hash
        )

    @property
    def data(self) -> dict[str, Any]:
        """The payload, parsed."""
        return json.loads(self.payload)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (payload parsed)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where the chain breaks: the entry, what is wrong, what was expected and found.

    ``kind``: ``edited`` (the entry's fields do not give its hash),
    ``link`` (its ``prev_hash`` is not the previous entry's hash: an entry
    before it was removed, inserted or moved), ``gap`` (a ``seq`` is
    missing), ``order`` (``seq`` out of order or repeated).
    """

    seq: int
    kind: str
    expected: str
    found: str

    @property
    def message(self) -> str:
        what = {
            "edited": "its fields do not match its hash (edited)",
            "link": "it does not follow the entry before it "
            "(an entry was removed, inserted or reordered)",
            "gap": "entries are missing before it",
            "order": "entries are out of order or repeated",
        }[self.kind]
        return f"audit entry {self.seq}: {what}: expected {self.expected}, found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "expected": self.expected,
            "found": self.found,
            "message": self.message,
        }


def verify_chain(entries: Iterable[AuditEntry], start_prev: str = GENESIS) -> ChainBreak | None:
    """The first break in ``entries`` (in the order given, which should be ``seq`` order).

    ``start_prev``: the hash the first entry must follow (:data:`GENESIS`
    for a chain read from its start). Returns None for an intact chain.
    """
    prev_hash = start_prev
    prev_seq: int | None = None
    for e in entries:
        if prev_seq is None:
            if start_prev == GENESIS and e.seq != 1:
                return ChainBreak(e.seq, "gap", "seq 1", f"seq {e.seq}")
        elif e.seq <= prev_seq:
            return ChainBreak(e.seq, "order", f"seq {prev_seq + 1}", f"seq {e.seq}")
        elif e.seq != prev_seq + 1:
            return ChainBreak(e.seq, "gap", f"seq {prev_seq + 1}", f"seq {e.seq}")
        computed = e.computed_hash()
        if computed != e.hash:
            return ChainBreak(e.seq, "edited", f"hash {computed}", f"hash {e.hash}")
        if e.prev_hash != prev_hash:
            return ChainBreak(e.seq, "link", f"prev_hash {prev_hash}", f"prev_hash {e.prev_hash}")
        prev_hash = e.hash
        prev_seq = e.seq
    return None
