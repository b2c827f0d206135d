"""The in-process event bus: topics as append-only logs, consumers with stored offsets.

One process, one thread (the asyncio loop's, when there is one). A topic is
a list of events; an event's *offset* is its index in the list. A consumer
reads from its stored offset in batches, calls its handler once per event,
and commits the new offset and the ids it applied to its
:class:`~.offsets.OffsetStore` once per batch. Delivery is at least once: a
consumer that dies mid-batch gets the batch again after a restart, and skips
the ids it has already applied (the de-duplication window). A handler that
raises gets the same event again, up to ``max_attempts`` times in all, after
which the event goes to the dead-letter topic with the exception as the
reason and the consumer moves on.

The log lives in memory: after a restart the producer publishes again (a
replayed feed publishes the same events with the same ids), and each
consumer resumes at its stored offset. Sync API: :meth:`InProcessConsumer.poll`;
asyncio: ``await consumer.run()``, woken when events arrive (publish from
the loop's thread).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Collection, Mapping
from typing import Any

from alphaloop.live.bus.errors import BusError, EventRejectedError
from alphaloop.live.bus.events import (
    _REGISTRY,
    DEAD_LETTER_TOPIC,
    DeadLetter,
    Event,
    check_registered,
    decode,
    event_text,
    raw_text,
)
from alphaloop.live.bus.memory_consumer import Handler, InProcessConsumer
from alphaloop.live.bus.offsets import DEFAULT_WINDOW, MemoryOffsets, OffsetStore

__all__ = ["InProcessBus"]

_log = logging.getLogger(__name__)


class InProcessBus:
    """Topics in this process's memory (see the module docstring).

    Parameters
    ----------
    max_attempts : int, default 5
        Deliveries of an event whose handler raises, before it is dead-lettered.
    retain : int, optional
        Keep about this many events per topic (between ``retain`` and twice
        that): older events are dropped once every consumer subscribed to the
        topic has committed past them; offsets keep counting from the start.
        Default: keep every event (any offset can be replayed; memory grows).
    """

    def __init__(self, *, max_attempts: int = 5, retain: int | None = None) -> None:
        if max_attempts < 1:
            raise BusError(f"max_attempts must be at least 1, got {max_attempts}")
        if retain is not None and retain < 1:
            raise BusError(f"retain must be at least 1 (or None: keep all), got {retain}")
        self.max_attempts = max_attempts
        self.retain = retain
        self._topics: dict[str, list[Event]] = {}
        self._base: dict[str, int] = {}
        self._consumers: dict[str, weakref.WeakSet[InProcessConsumer]] = {}
        self._dead: list[DeadLetter] = []
        self._signals: dict[str, asyncio.Event] = {}

    def topic(self, name: str) -> list[Event]:
        """The retained events of topic ``name`` (created empty when new), from offset
        :meth:`start`; do not modify the list."""
        log = self._topics.get(name)
        if log is None:
            log = self._topics[name] = []
            self._base[name] = 0
            self._consumers[name] = weakref.WeakSet()
        return log

    def length(self, topic: str = "events") -> int:
        """Events published to ``topic`` so far (the next event's offset)."""
        return self._base.get(topic, 0) + len(self._topics.get(topic, ()))

    def start(self, topic: str = "events") -> int:
        """The offset of the oldest event ``topic`` still holds (0 unless ``retain`` dropped
        some)."""
        return self._base.get(topic, 0)

    def trim(self, topic: str = "events") -> int:
        """Drop the events of ``topic`` that every subscribed consumer has committed past,
        keeping at least ``retain`` (all, when ``retain`` is None); the new start offset."""
        log = self.topic(topic)
        base = self._base[topic]
        end = base + len(log)
        keep_from = end - (self.retain if self.retain is not None else len(log))
        for consumer in self._consumers[topic]:
            keep_from = min(keep_from, consumer.offset)
        if keep_from > base:
            del log[: keep_from - base]
            self._base[topic] = keep_from
        return self._base[topic]

    def publish(self, event: Event, topic: str = "events") -> int:
        """Append ``event`` to ``topic``; its offset.

        Raises
        ------
        EventRejectedError
            The event's class is not registered for its type and version
            (it is dead-lettered with the reason first).
        """
        if _REGISTRY.get((event.type, event.version)) is not event.__class__:
            try:
                check_registered(event)
            except EventRejectedError as exc:
                self._dead_letter(DeadLetter(reason=exc.reason, topic=topic, raw=event_text(event)))
                raise
        log = self._topics.get(topic)
        if log is None:
            log = self.topic(topic)
        log.append(event)
        if self._signals:
            signal = self._signals.get(topic)
            if signal is not None:
                signal.set()
        if self.retain is not None and len(log) > 2 * self.retain:
            self.trim(topic)
        return self._base[topic] + len(log) - 1

    def publish_many(self, events: Collection[Event], topic: str = "events") -> int:
        """Append ``events`` in order; the offset after the last one."""
        for event in events:
            check_registered(event)
        log = self.topic(topic)
        log.extend(events)
        signal = self._signals.get(topic)
        if signal is not None:
            signal.set()
        if self.retain is not None and len(log) > 2 * self.retain:
            self.trim(topic)
        return self.length(topic)

    def publish_raw(
        self, data: str | bytes | Mapping[str, Any], topic: str = "events"
    ) -> int | None:
        """Decode wire data (JSON or a mapping) and publish it; ``None`` when it was rejected
        (then it is on the dead-letter topic with the reason)."""
        try:
            event = decode(data)
        except EventRejectedError as exc:
            self._dead_letter(DeadLetter(reason=exc.reason, topic=topic, raw=raw_text(data)))
            return None
        return self.publish(event, topic)

    def dead_letters(self) -> list[DeadLetter]:
        """Everything rejected or given up on, oldest first."""
        return list(self._dead)

    def subscribe(
        self,
        topic: str,
        name: str,
        handler: Handler,
        *,
        offsets: OffsetStore | None = None,
        types: Collection[str] | None = None,
        transactional: bool = False,
        batch_size: int = 1024,
        window: int = DEFAULT_WINDOW,
    ) -> InProcessConsumer:
        """A consumer ``name`` of ``topic`` that resumes at its offset in ``offsets``.

        Parameters
        ----------
        handler : callable
            Called once per event; ``handler(event, tx)`` when
            ``transactional`` (``tx`` from ``offsets.begin()``).
        offsets : OffsetStore, optional
            Where the offset and applied ids are kept (default: in memory).
        types : collection of str, optional
            Event types to deliver; others are passed over (default: all).
        batch_size : int, default 1024
            Events per commit.
        window : int, default 100,000
            Applied ids remembered for de-duplication.
        """
        consumer = InProcessConsumer(
            self,
            topic,
            name,
            handler,
            offsets=offsets or MemoryOffsets(),
            types=types,
            transactional=transactional,
            batch_size=batch_size,
            window=window,
        )
        self._consumers[topic].add(consumer)
        return consumer

    def _dead_letter(self, letter: DeadLetter) -> None:
        _log.warning("dead letter on %s: %s", letter.topic, letter.reason)
        self._dead.append(letter)
        self.topic(DEAD_LETTER_TOPIC)  # the topic exists once something went there

    def _signal(self, topic: str) -> asyncio.Event:
        signal = self._signals.get(topic)
        if signal is None:
            signal = self._signals[topic] = asyncio.Event()
        return signal
