"""The event bus on Redis Streams: one stream per topic, consumer groups, pending re-delivery.

Publication is ``XADD`` of three fields (``type``, ``version``, ``event``:
the JSON of :func:`~.events.encode`). A consumer is a *group* (the logical
reader, with its own offset) and a *consumer name* (the process reading for
it). Redis keeps both durably: the group's last-delivered id is the stored
offset, and every entry handed out but not acknowledged stays in the
group's pending list until a consumer acknowledges it.

A batch is read with ``XREADGROUP``, decoded, de-duplicated against the
group's applied-id record (a sorted set of event ids scored by entry time,
pruned after ``window_ms``), handed to the handler one event at a time,
then acknowledged and recorded in **one** ``MULTI``/``EXEC`` transaction.
A transactional handler receives that transaction (a redis-py pipeline) and
queues its own writes in it, so its effects, the acknowledgement and the
applied ids commit together or not at all: a consumer killed with kill -9
at any instant applies each event exactly once. A plain handler's effects
happen at once; after a kill the un-acknowledged batch is delivered again
(at least once) and the handler must tolerate that by the event ids.

Recovery: a (re)started consumer first reads its own pending entries one
at a time (``XREADGROUP`` from id 0), then claims entries idle for
``claim_idle_ms`` from consumers that went away (``XAUTOCLAIM``; checked
again every ``claim_idle_ms``), then reads new ones. A handler that raises
gets the entry again, up to ``max_attempts`` times, then it goes to the
dead-letter stream with the exception as the reason; an entry Redis has
delivered more than ``max_attempts`` times without an acknowledgement (its
consumers died on it, per ``XPENDING``) goes there too, as do undecodable
entries, at once.

The ``redis`` package is the ``live`` extra (``pip install 'alphaloop[live]'``);
it is imported when a :class:`RedisBus` is made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alphaloop.live.bus.errors import (
    BusBackendMissingError,
    BusError,
    BusUnavailableError,
    EventRejectedError,
)
from alphaloop.live.bus.events import (
    DEAD_LETTER_TOPIC,
    DeadLetter,
    Event,
    check_registered,
    decode,
    encode,
    raw_text,
)

__all__ = ["DEFAULT_URL", "RedisBus", "RedisConsumer"]

_log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"

#: applied ids kept per group for de-duplication, milliseconds of entry time (a day)
DEFAULT_WINDOW_MS = 86_400_000

_INSTALL_HINT = "pip install 'alphaloop[live]'"


def _redis() -> Any:
    try:
        import redis
    except ImportError:
        raise BusBackendMissingError(
            "the Redis Streams bus needs the redis package, which is not installed",
            hint=_INSTALL_HINT,
        ) from None
    return redis


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _dump(event: Event) -> str:
    try:
        return raw_text(encode(event))
    except Exception:
        return raw_text(repr(event))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBus:
    """Topics as Redis streams named ``{prefix}:{topic}`` (see the module docstring).

    Parameters
    ----------
    url : str, default ``redis://127.0.0.1:6379/0``
        The server.
    prefix : str, default ``"alphaloop"``
        Prefix of every key the bus writes (streams, applied-id records).
    max_attempts : int, default 5
        Deliveries of an entry whose handler raises, before it is dead-lettered.
    maxlen : int, optional
        Trim each stream to about this many entries on publication (default:
        keep all, so any offset can be replayed).

    Raises
    ------
    BusBackendMissingError
        The redis package (the ``live`` extra) is not installed.
    BusUnavailableError
        No Redis server answers at ``url``.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        prefix: str = "alphaloop",
        max_attempts: int = 5,
        maxlen: int | None = None,
    ) -> None:
        if max_attempts < 1:
            raise BusError(f"max_attempts must be at least 1, got {max_attempts}")
        redis = _redis()
        self.url, self.prefix = url, prefix
        self.max_attempts, self.maxlen = max_attempts, maxlen
        self._errors = (redis.ConnectionError, redis.TimeoutError)
        try:
            self.client = redis.Redis.from_url(url, socket_connect_timeout=3)
        except ValueError as exc:
            raise BusError(f"not a Redis URL: {safe_url(url)} ({exc})") from None
        with self.guard():
            self.client.ping()

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn connection failures inside the block into :class:`BusUnavailableError`."""
        try:
            yield
        except self._errors as exc:
            raise BusUnavailableError(
                f"cannot reach Redis at {safe_url(self.url)}: {exc}",
                hint="start the server, or give the bus the right URL",
            ) from None

    def key(self, topic: str) -> str:
        """The stream key of ``topic``."""
        return f"{self.prefix}:{topic}"

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    # -- publication --------------------------------------------------------------------

    def _fields(self, event: Event) -> dict[str, bytes | str | int]:
        return {"type": event.type, "version": event.version, "event": encode(event)}

    def publish(self, event: Event, topic: str = "events") -> str:
        """Append ``event`` to ``topic``; its entry id.

        Raises
        ------
        EventRejectedError
            The event's class is not registered (it is dead-lettered first).
        """
        try:
            check_registered(event)
        except EventRejectedError as exc:
            self.dead_letter(DeadLetter(reason=exc.reason, topic=topic, raw=_dump(event)))
            raise
        with self.guard():
            entry = self.client.xadd(
                self.key(topic), self._fields(event), maxlen=self.maxlen, approximate=True
            )
        return _text(entry)

    def publish_many(self, events: Sequence[Event], topic: str = "events") -> list[str]:
        """Append ``events`` in order in one round trip; their entry ids."""
        for event in events:
            check_registered(event)
        key = self.key(topic)
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(key, self._fields(event), maxlen=self.maxlen, approximate=True)
        with self.guard():
            return [_text(e) for e in pipe.execute()]

    def publish_raw(
        self, data: str | bytes | Mapping[str, Any], topic: str = "events"
    ) -> str | None:
        """Decode wire data and publish it; ``None`` when it was rejected (then it is on the
        dead-letter stream with the reason)."""
        try:
            event = decode(data)
        except EventRejectedError as exc:
            self.dead_letter(DeadLetter(reason=exc.reason, topic=topic, raw=raw_text(data)))
            return None
        return self.publish(event, topic)

    # -- dead letters -------------------------------------------------------------------

    def dead_letter(self, letter: DeadLetter, pipe: Any = None) -> None:
        """Append ``letter`` to the dead-letter stream (queued on ``pipe`` when given)."""
        fields = {"reason": letter.reason, "letter": letter.model_dump_json()}
        if pipe is not None:
            pipe.xadd(self.key(DEAD_LETTER_TOPIC), fields)
            return
        with self.guard():
            self.client.xadd(self.key(DEAD_LETTER_TOPIC), fields)

    def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters."""
        with self.guard():
            entries = self.client.xrange(self.key(DEAD_LETTER_TOPIC), count=count)
        return [DeadLetter.model_validate_json(f[b"letter"]) for _, f in entries]

    # -- consumers ----------------------------------------------------------------------

    def subscribe(
        self,
        topic: str,
        group: str,
        handler: Callable[..., Any],
        *,
        consumer: str = "main",
        start: str = "0",
        types: Collection[str] | None = None,
        transactional: bool = False,
        batch_size: int = 256,
        claim_idle_ms: int = 30_000,
        window_ms: int = DEFAULT_WINDOW_MS,
    ) -> RedisConsumer:
        """Consumer ``consumer`` of group ``group`` on ``topic`` (the group is created when
        missing, reading from entry id ``start``: ``"0"`` all, ``"$"`` only new ones).

        ``handler(event)``, or ``handler(event, tx)`` when ``transactional``
        (``tx``: the redis-py pipeline that commits with the acknowledgement).
        """
        return RedisConsumer(
            self,
            topic,
            group,
            handler,
            consumer=consumer,
            start=start,
            types=types,
            transactional=transactional,
            batch_size=batch_size,
            claim_idle_ms=claim_idle_ms,
            window_ms=window_ms,
        )

    def topics(self) -> list[str]:
        """The topics (streams) under this bus's prefix, sorted; the dead-letter stream too."""
        found = []
        with self.guard():
            for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000, _type="stream"):
                found.append(_text(key)[len(self.prefix) + 1 :])
        return sorted(found)

    def info(self, topic: str) -> dict[str, Any]:
        """``topic``'s length, first and last entry ids, and per group: consumers, pending
        entries, entries not yet delivered (``lag``) and the last-delivered id (its offset)."""
        key = self.key(topic)
        with self.guard():
            if not self.client.exists(key):
                return {"topic": topic, "length": 0, "first": None, "last": None, "groups": []}
            stream = self.client.xinfo_stream(key)
            groups = self.client.xinfo_groups(key)
        first, last = stream.get("first-entry"), stream.get("last-entry")
        return {
            "topic": topic,
            "length": int(stream["length"]),
            "first": _text(first[0]) if first else None,
            "last": _text(last[0]) if last else None,
            "groups": [
                {
                    "group": _text(g["name"]),
                    "consumers": int(g["consumers"]),
                    "pending": int(g["pending"]),
                    "lag": None if g.get("lag") is None else int(g["lag"]),
                    "offset": _text(g["last-delivered-id"]),
                }
                for g in groups
            ],
        }

    def drop(self, *topics: str, groups: Collection[str] = ()) -> None:
        """Delete ``topics``' streams and the applied-id records of ``groups`` on them."""
        keys = [self.key(t) for t in topics]
        keys += [f"{self.key(t)}:{g}:applied" for t in topics for g in groups]
        if keys:
            with self.guard():
                self.client.delete(*keys)


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
        self._pruned_at = 0.0
        self.applied = 0
        redis = _redis()
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
        while not stop():
            total += self.poll(self._batch, block_ms=block_ms)
        return total

    def seek(self, entry_id: str) -> None:
        """Replay from after ``entry_id`` (``"0"``: from the start): move the group's offset
        and forget the ids applied from that entry's millisecond on."""
        with self.bus.guard():
            self.bus.client.xgroup_setid(self._key, self.group, entry_id)
            self.bus.client.zremrangebyscore(self._applied_key, _ms(entry_id), "+inf")

    def offset(self) -> str:
        """The group's stored offset: the last entry id delivered (``"0-0"`` when none)."""
        with self.bus.guard():
            for info in self.bus.client.xinfo_groups(self._key):
                if _text(info["name"]) == self.group:
                    return _text(info["last-delivered-id"])
        raise BusError(f"group {self.group!r} is gone from {self._key}")

    def pending(self) -> int:
        """Entries delivered to the group and not yet acknowledged (``XPENDING``)."""
        with self.bus.guard():
            return int(self.bus.client.xpending(self._key, self.group)["pending"])

    # -- reading ------------------------------------------------------------------------

    def _read(self, block_ms: int | None) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        client = self.bus.client
        count = self._batch
        if not self._recover and time.monotonic() >= self._next_claim:
            self._recover = True
        self._drained = False
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
                self._claim_from = _text(cursor)
                if claimed:
                    self._count_deliveries(claimed)
                    return claimed
                if self._claim_from == "0-0":
                    break
            self._recover = False
            self._next_claim = time.monotonic() + self._claim_idle_ms / 1000
        self._deliveries = {}
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
        if events:
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
                letters.append(self._letter(entry_id, reason, _dump(event), event.id))
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
            applied[event.id] = _ms(entry_id)
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
            _text(entry_id),
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
            offset=_text(entry_id),
            consumer=self.group,
            event_id=event_id,
        )

    def _commit(self, pipe: Any, acks: list[bytes], applied: dict[str, int]) -> None:
        if applied:
            pipe.zadd(self._applied_key, applied)
        if acks:
            pipe.xack(self._key, self.group, *acks)
        now = time.monotonic()
        if now - self._pruned_at > 60.0:
            self._pruned_at = now
            horizon = int(time.time() * 1000) - self._window_ms
            pipe.zremrangebyscore(self._applied_key, "-inf", horizon)
        pipe.execute()
        self.applied += len(applied)
