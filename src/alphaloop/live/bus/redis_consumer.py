"""A consumer of a Redis stream through a consumer group (see :mod:`.redis_streams`).

Reads pending entries first (its own, one at a time, then those claimed
from consumers that went away), then new ones; decodes, hands each event to
the handler, and acknowledges the batch and records its event ids in the
group's applied-id record in one ``MULTI``/``EXEC``. Re-delivered entries
are checked against that record before the handler sees them; new entries
are not (their ids were de-duplicated at publication, see
:meth:`RedisBus.publish`), which saves a round trip per batch.

Inside :meth:`RedisConsumer.run`, a plain (not transactional) handler's batch
is acknowledged with the *next* read: the applied ids, then the ``XACK``, then
the blocking ``XREADGROUP`` go to Redis in one round trip instead of two (Redis
runs them in that order, so an entry is never acknowledged before its id is
recorded as applied). The commit is sent at once all the same: the next read
follows the handler immediately, and anything still carried when ``run``
returns, or before a recovery read, is committed on its own first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from alphaloop.live.bus.errors import BusError, EventRejectedError
from alphaloop.live.bus.events import DeadLetter, Event, decode, encode, event_text, raw_text
from alphaloop.live.bus.redis_streams import as_text, entry_ms, import_redis

if TYPE_CHECKING:
    from alphaloop.live.bus.redis_streams import RedisBus

__all__ = ["RedisConsumer"]

_log = logging.getLogger(__name__)


class RedisConsumer:
    """One consumer of a group on a Redis stream (made by :meth:`RedisBus.subscribe`).

    Attributes
    ----------
    applied : int
        Events this consumer object applied (not counting skipped duplicates).
    """

    def __init__(
        self,
        bus: RedisBus,
        topic: str,
        group: str,
        handler: Callable[..., Any],
        *,
        consumer: str,
        start: str,
        types: Collection[str] | None,
        transactional: bool,
        batch_size: int,
        claim_idle_ms: int,
        window_ms: int,
    ) -> None:
        if batch_size < 1:
            raise BusError(f"batch_size must be at least 1, got {batch_size}")
        self.bus, self.topic, self.group, self.name = bus, topic, group, consumer
        self._handler = handler
        self._types = frozenset(types) if types is not None else None
        self._transactional = transactional
        self._batch = batch_size
        self._claim_idle_ms = claim_idle_ms
        self._window_ms = window_ms
        self._key = bus.key(topic)
        self._applied_key = f"{self._key}:{group}:applied"
        self._recover = True
        self._claim_from = "0-0"
        self._next_claim = 0.0
        self._attempts: dict[bytes, int] = {}
        self._deliveries: dict[bytes, int] = {}
        self._drained = False
        self._fresh = False
        self._pruned_at = 0.0
        self._carry = False  # run(): acknowledge a plain handler's batch with the next read
        self._carried: tuple[list[bytes], dict[str, int]] | None = None
        self.applied = 0
        redis = import_redis()
        with bus.guard():
            try:
                bus.client.xgroup_create(self._key, group, id=start, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise BusError(f"cannot create group {group!r} on {self._key}: {exc}") from None

    # -- the public face ------------------------------------------------------------------

    def poll(self, max_events: int | None = None, *, block_ms: int | None = None) -> int:
        """Deliver what is pending and new (waiting up to ``block_ms`` for the first entry);
        events applied."""
        total = 0
        with self.bus.guard():
            while max_events is None or total < max_events:
                entries = self._read(block_ms if total == 0 else None)
                if not entries:
                    break
                total += self._deliver(entries)
                if self._drained and not self._recover:  # a short read: nothing more now
                    break
        return total

    def run(self, *, stop: Callable[[], bool] = lambda: False, block_ms: int = 1000) -> int:
        """Deliver events until ``stop()`` is true (checked at least every ``block_ms``)."""
        total = 0
        self._carry = not self._transactional
        try:
            while not stop():
                total += self.poll(self._batch, block_ms=block_ms)
        finally:
            self._carry = False
            with self.bus.guard():
                self._flush_carried()
        return total

    def seek(self, entry_id: str) -> None:
        """Replay from after ``entry_id`` (``"0"``: from the start): move the group's offset
        and forget the ids applied from that entry's millisecond on."""
        with self.bus.guard():
            self._flush_carried()
            self.bus.client.xgroup_setid(self._key, self.group, entry_id)
            self.bus.client.zremrangebyscore(self._applied_key, entry_ms(entry_id), "+inf")

    def offset(self) -> str:
        """The group's stored offset: the last entry id delivered (``"0-0"`` when none)."""
        with self.bus.guard():
            for info in self.bus.client.xinfo_groups(self._key):
                if as_text(info["name"]) == self.group:
                    return as_text(info["last-delivered-id"])
        raise BusError(f"group {self.group!r} is gone from {self._key}")

    def pending(self) -> int:
        """Entries delivered to the group and not yet acknowledged (``XPENDING``)."""
        with self.bus.guard():
            self._flush_carried()
            return int(self.bus.client.xpending(self._key, self.group)["pending"])

    # -- reading ------------------------------------------------------------------------

    def _read(self, block_ms: int | None) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        client = self.bus.client
        count = self._batch
        if not self._recover and time.monotonic() >= self._next_claim:
            self._recover = True
        if self._recover:
            self._flush_carried()  # own pending entries must not include a carried batch
        self._drained = False
        self._fresh = False
        if self._recover:
            # own pending entries one at a time: Redis counts a delivery for every entry a
            # read returns, so a batch read would count deliveries of entries that never
            # reached the handler (see _count_deliveries)
            mine = client.xreadgroup(self.group, self.name, {self._key: "0"}, count=1)
            entries = mine[0][1] if mine else []
            if entries:
                self._count_deliveries(entries)
                return entries
            while True:
                cursor, claimed, *_ = client.xautoclaim(
                    self._key,
                    self.group,
                    self.name,
                    self._claim_idle_ms,
                    start_id=self._claim_from,
                    count=count,
                )
                self._claim_from = as_text(cursor)
                if claimed:
                    self._count_deliveries(claimed)
                    return claimed
                if self._claim_from == "0-0":
                    break
            self._recover = False
            self._next_claim = time.monotonic() + self._claim_idle_ms / 1000
        self._deliveries = {}
        self._fresh = True
        if self._carried is not None:  # the last batch's commit and this read: one round trip
            pipe = client.pipeline(transaction=False)
            self._queue_commit(pipe, *self._carried)
            self._carried = None
            pipe.xreadgroup(self.group, self.name, {self._key: ">"}, count=count, block=block_ms)
            new = pipe.execute()[-1]
        else:
            new = client.xreadgroup(
                self.group, self.name, {self._key: ">"}, count=count, block=block_ms
            )
        entries = new[0][1] if new else []
        self._drained = len(entries) < count
        return entries

    def _count_deliveries(self, entries: list[tuple[bytes, Any]]) -> None:
        """How many times Redis has delivered each of these (own, pending) entries.

        The count rises with every read that returns an entry (new, re-read from
        the consumer's pending list, claimed); an entry delivered more than
        ``max_attempts`` times without an acknowledgement killed or stalled its
        consumers each time and is dead-lettered instead of handled again.
        """
        rows = self.bus.client.xpending_range(
            self._key,
            self.group,
            min=entries[0][0],
            max=entries[-1][0],
            count=len(entries),
            consumername=self.name,
        )
        self._deliveries = {r["message_id"]: int(r["times_delivered"]) for r in rows}

    # -- delivery -----------------------------------------------------------------------

    def _decode(self, fields: Mapping[bytes, bytes]) -> Event:
        try:
            type_, version, data = fields[b"type"], fields[b"version"], fields[b"event"]
        except KeyError as exc:
            raise EventRejectedError(f"entry lacks the field {exc.args[0]!r}") from None
        try:
            version_number = int(version)
        except ValueError:
            raise EventRejectedError(f"version is not an integer: {version!r}") from None
        return decode(data, type_=type_.decode(), version=version_number)

    def _deliver(self, entries: list[tuple[bytes, dict[bytes, bytes] | None]]) -> int:
        client = self.bus.client
        acks: list[bytes] = []
        letters: list[DeadLetter] = []
        events: list[tuple[bytes, Event]] = []
        for entry_id, fields in entries:
            if not fields:  # deleted or trimmed while pending: nothing to deliver
                acks.append(entry_id)
                continue
            try:
                events.append((entry_id, self._decode(fields)))
            except EventRejectedError as exc:
                raw = raw_text(fields.get(b"event", b"") or repr(fields))
                letters.append(self._letter(entry_id, exc.reason, raw, ""))
                acks.append(entry_id)
        done = set()
        if events and not self._fresh:  # re-delivered: applied already?
            scores = client.zmscore(self._applied_key, [e.id for _, e in events])
            done = {e.id for (_, e), s in zip(events, scores, strict=True) if s is not None}
        pipe = client.pipeline(transaction=True)
        applied: dict[str, int] = {}
        failure: tuple[bytes, Event, Exception] | None = None
        types, handler, transactional = self._types, self._handler, self._transactional
        for entry_id, event in events:
            if (
                event.id in done
                or event.id in applied
                or (types is not None and event.type not in types)
            ):
                acks.append(entry_id)
                continue
            delivered = self._deliveries.get(entry_id, 0)
            if delivered > self.bus.max_attempts:  # its consumers died on it, time after time
                reason = (
                    f"delivered {delivered} times and never acknowledged "
                    f"(more than max_attempts={self.bus.max_attempts})"
                )
                letters.append(self._letter(entry_id, reason, event_text(event), event.id))
                acks.append(entry_id)
                continue
            try:
                if transactional:
                    handler(event, pipe)
                else:
                    handler(event)
            except Exception as exc:
                failure = (entry_id, event, exc)
                break
            applied[event.id] = entry_ms(entry_id)
            acks.append(entry_id)
        if failure is not None and transactional:
            pipe.reset()  # the batch's queued writes go
            if applied:  # deliver the batch again, one entry per transaction
                self._recover = True
                self._attempts[failure[0]] = self._attempts.get(failure[0], 0) + 1
                return 0
        if failure is not None:
            letter = self._fail(*failure)
            if letter is not None:
                letters.append(letter)
                acks.append(failure[0])
        for letter in letters:
            self.bus.dead_letter(letter, pipe)
        self._commit(pipe, acks, applied)
        return len(applied)

    def _fail(self, entry_id: bytes, event: Event, exc: Exception) -> DeadLetter | None:
        """Count a failed delivery; the dead letter once it was the last attempt."""
        attempts = self._attempts.get(entry_id, 0) + 1
        self._attempts[entry_id] = attempts
        self._recover = True  # the entry stays pending: it is read again first
        _log.warning(
            "group %s: handler raised on %s entry %s (attempt %d of %d): %r",
            self.group,
            self.topic,
            as_text(entry_id),
            attempts,
            self.bus.max_attempts,
            exc,
        )
        if attempts < self.bus.max_attempts:
            return None
        del self._attempts[entry_id]
        reason = f"handler raised {type(exc).__name__}: {exc} (attempt {attempts} of {attempts})"
        return self._letter(entry_id, reason, raw_text(encode(event)), event.id)

    def _letter(self, entry_id: bytes, reason: str, raw: str, event_id: str) -> DeadLetter:
        return DeadLetter(
            reason=reason,
            topic=self.topic,
            raw=raw,
            offset=as_text(entry_id),
            consumer=self.group,
            event_id=event_id,
        )

    def _commit(self, pipe: Any, acks: list[bytes], applied: dict[str, int]) -> None:
        if self._carry and not len(pipe) and self._carried is None:
            self._carried = (acks, applied)  # sent with the next read (see the module doc)
            self.applied += len(applied)
            return
        self._queue_commit(pipe, acks, applied)
        pipe.execute()
        self.applied += len(applied)

    def _queue_commit(self, pipe: Any, acks: list[bytes], applied: dict[str, int]) -> None:
        """Queue the applied ids, then the acknowledgement (in that order), then pruning."""
        if applied:
            pipe.zadd(self._applied_key, applied)
        if acks:
            pipe.xack(self._key, self.group, *acks)
        now = time.monotonic()
        if now - self._pruned_at > 60.0:
            self._pruned_at = now
            horizon = int(time.time() * 1000) - self._window_ms
            pipe.zremrangebyscore(self._applied_key, "-inf", horizon)

    def _flush_carried(self) -> None:
        """Commit a carried batch now, in one ``MULTI``/``EXEC``."""
        if self._carried is None:
            return
        pipe = self.bus.client.pipeline(transaction=True)
        self._queue_commit(pipe, *self._carried)
        self._carried = None
        pipe.execute()
