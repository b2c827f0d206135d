"""The event bus on Redis Streams: one stream per topic, consumer groups, pending re-delivery.

Publication is ``XADD`` of three fields (``type``, ``version``, ``event``:
the JSON of :func:`~.events.encode`), in a Lua script that first records
the event id in the stream's published-id set and appends nothing when the
id is already there (within ``dedupe_window_ms``). A consumer is a *group* (the logical
reader, with its own offset) and a *consumer name* (the process reading for
it). Redis keeps both durably: the group's last-delivered id is the stored
offset, and every entry handed out but not acknowledged stays in the
group's pending list until a consumer acknowledges it.

A batch is read with ``XREADGROUP``, decoded, handed to the handler one
event at a time, then acknowledged and recorded in the group's applied-id
record (a sorted set of event ids scored by entry time, pruned after
``window_ms``) in **one** ``MULTI``/``EXEC`` transaction; re-delivered
entries are checked against that record first.
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
from typing import TYPE_CHECKING, Any
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
    event_text,
    raw_text,
)

if TYPE_CHECKING:
    from alphaloop.live.bus.redis_consumer import RedisConsumer

__all__ = ["DEFAULT_URL", "DEFAULT_WINDOW_MS", "RedisBus", "safe_url"]

_log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"

#: applied ids kept per group for de-duplication, milliseconds of entry time (a day)
DEFAULT_WINDOW_MS = 86_400_000

_INSTALL_HINT = "pip install 'alphaloop[live]'"

# KEYS: the stream, its published-id set. ARGV: now (ms), window (ms), maxlen ("" for none),
# then id, type, version, event JSON per event. Appends the events whose id is new to the
# set (recorded with the time), in order; returns their entry ids (false for the others).
_APPEND_NEW = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
local out = {}
for i = 4, #ARGV, 4 do
  if redis.call('ZADD', KEYS[2], 'NX', now, ARGV[i]) == 1 then
    if ARGV[3] == '' then
      out[#out + 1] = redis.call('XADD', KEYS[1], '*', 'type', ARGV[i + 1],
                                 'version', ARGV[i + 2], 'event', ARGV[i + 3])
    else
      out[#out + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
                                 'type', ARGV[i + 1], 'version', ARGV[i + 2],
                                 'event', ARGV[i + 3])
    end
  else
    out[#out + 1] = false
  end
end
return out
"""


def import_redis() -> Any:
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


def entry_ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def as_text(value: bytes | str) -> str:
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
    dedupe_window_ms : int, default 86,400,000 (a day)
        An event id published again within this time is not appended again:
        the id is recorded in ``{stream}:published`` atomically with the
        ``XADD`` (one Lua script), so a producer that retries cannot put an
        event on the stream twice.

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
        dedupe_window_ms: int = DEFAULT_WINDOW_MS,
    ) -> None:
        if max_attempts < 1:
            raise BusError(f"max_attempts must be at least 1, got {max_attempts}")
        redis = import_redis()
        self.url, self.prefix = url, prefix
        self.max_attempts, self.maxlen = max_attempts, maxlen
        self.dedupe_window_ms = dedupe_window_ms
        self._errors = (redis.ConnectionError, redis.TimeoutError)
        try:
            self.client = redis.Redis.from_url(url, socket_connect_timeout=3)
        except ValueError as exc:
            raise BusError(f"not a Redis URL: {safe_url(url)} ({exc})") from None
        with self.guard():
            self.client.ping()
        self._append = self.client.register_script(_APPEND_NEW)

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

    def _append_new(self, events: Sequence[Event], topic: str) -> list[str | None]:
        """XADD the events whose ids were not published in the window; entry ids (None for
        an id already published)."""
        key = self.key(topic)
        args: list[Any] = [int(time.time() * 1000), self.dedupe_window_ms, self.maxlen or ""]
        for event in events:
            args += [event.id, event.type, event.version, encode(event)]
        with self.guard():
            entries = self._append(keys=[key, f"{key}:published"], args=args)
        return [as_text(e) if e else None for e in entries]

    def publish(self, event: Event, topic: str = "events") -> str | None:
        """Append ``event`` to ``topic``; its entry id, or None when its id was already
        published within ``dedupe_window_ms`` (then nothing is appended).

        Raises
        ------
        EventRejectedError
            The event's class is not registered (it is dead-lettered first).
        """
        try:
            check_registered(event)
        except EventRejectedError as exc:
            self.dead_letter(DeadLetter(reason=exc.reason, topic=topic, raw=event_text(event)))
            raise
        return self._append_new([event], topic)[0]

    def publish_many(self, events: Sequence[Event], topic: str = "events") -> list[str | None]:
        """Append ``events`` in order in one round trip; their entry ids (None for an id
        already published, earlier or within ``events``)."""
        for event in events:
            check_registered(event)
        return self._append_new(events, topic) if events else []

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
        from alphaloop.live.bus.redis_consumer import RedisConsumer

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
                found.append(as_text(key)[len(self.prefix) + 1 :])
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
            "first": as_text(first[0]) if first else None,
            "last": as_text(last[0]) if last else None,
            "groups": [
                {
                    "group": as_text(g["name"]),
                    "consumers": int(g["consumers"]),
                    "pending": int(g["pending"]),
                    "lag": None if g.get("lag") is None else int(g["lag"]),
                    "offset": as_text(g["last-delivered-id"]),
                }
                for g in groups
            ],
        }

    def drop(self, *topics: str, groups: Collection[str] = ()) -> None:
        """Delete ``topics``' streams, their published-id records and the applied-id records
        of ``groups`` on them."""
        keys = [self.key(t) for t in topics] + [f"{self.key(t)}:published" for t in topics]
        keys += [f"{self.key(t)}:{g}:applied" for t in topics for g in groups]
        if keys:
            with self.guard():
                self.client.delete(*keys)
