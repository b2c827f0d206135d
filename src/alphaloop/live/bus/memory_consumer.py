"""The consumer of an in-process topic: batches, commits, de-duplication, retries.

An :class:`InProcessConsumer` reads its topic from its offset in batches,
calls its handler once per event it has not applied, and commits the new
offset and the applied ids to its :class:`~.offsets.OffsetStore` once per
batch (see :mod:`.memory` for the bus and the guarantees).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any

from alphaloop.live.bus.errors import BusError, OffsetError
from alphaloop.live.bus.events import DeadLetter, Event, event_text
from alphaloop.live.bus.offsets import OffsetStore

if TYPE_CHECKING:
    from alphaloop.live.bus.memory import InProcessBus

__all__ = ["Handler", "InProcessConsumer"]

_log = logging.getLogger(__name__)

#: a handler: ``handler(event)`` or, for a transactional consumer, ``handler(event, tx)``;
#: either may be a coroutine function (then use ``await consumer.run()``)
Handler = Callable[..., Any] | Callable[..., Awaitable[Any]]


class InProcessConsumer:
    """A consumer of one topic of an :class:`InProcessBus` (made by :meth:`InProcessBus.subscribe`).

    Attributes
    ----------
    offset : int
        The offset of the next event to deliver (committed with each batch).
    applied : int
        Events this consumer object applied (not counting skipped duplicates).
    """

    def __init__(
        self,
        bus: InProcessBus,
        topic: str,
        name: str,
        handler: Handler,
        *,
        offsets: OffsetStore,
        types: Collection[str] | None,
        transactional: bool,
        batch_size: int,
        window: int,
    ) -> None:
        if batch_size < 1 or window < 1:
            raise BusError(f"batch_size and window must be at least 1 ({batch_size}, {window})")
        self.bus, self.topic, self.name = bus, topic, name
        self._handler = handler
        self._async = inspect.iscoroutinefunction(handler)
        self._store = offsets
        self._types = frozenset(types) if types is not None else None
        self._transactional = transactional
        self._batch = batch_size
        self._window = window
        self._log = bus.topic(topic)
        self.offset, ids = offsets.load(topic, name, window)
        # applied ids in two generations: the window holds between window and 2 x window ids
        self._seen: set[str] = set(ids)
        self._older: set[str] = set()
        self._attempts: dict[int, int] = {}
        self._careful_until = 0
        self._stopped = False
        self.applied = 0

    # -- the sync API ------------------------------------------------------------------

    def poll(self, max_events: int | None = None) -> int:
        """Deliver the events published so far (up to about ``max_events``); events applied."""
        if self._async:
            raise BusError(
                f"consumer {self.name!r} has a coroutine handler",
                hint="use 'await consumer.run()' or 'await consumer.apoll()'",
            )
        total = 0
        while self.offset < self.bus.length(self.topic) and (
            max_events is None or total < max_events
        ):
            tx, applied, failed = self._run_batch(self._batch_end())
            total += self._settle(tx, applied, failed)
        return total

    def seek(self, offset: int) -> None:
        """Replay from ``offset``: store it and forget the ids applied at or after it.

        Raises
        ------
        OffsetError
            ``offset`` is negative or beyond the end of the topic.
        """
        start, end = self.bus.start(self.topic), self.bus.length(self.topic)
        if not start <= offset <= end:
            raise OffsetError(
                f"offset {offset} is outside topic {self.topic!r} ({start} to {end})",
                hint=None if start == 0 else "older events were dropped (the bus's retain)",
            )
        self._store.forget_from(self.topic, self.name, offset)
        self.offset, ids = self._store.load(self.topic, self.name, self._window)
        self._seen, self._older = set(ids), set()
        self._attempts.clear()

    # -- asyncio -----------------------------------------------------------------------

    async def apoll(self, max_events: int | None = None) -> int:
        """As :meth:`poll`, for coroutine handlers too; yields to the loop between batches."""
        total = 0
        while self.offset < self.bus.length(self.topic) and (
            max_events is None or total < max_events
        ):
            end = self._batch_end()
            if self._async:
                tx, applied, failed = await self._arun_batch(end)
            else:
                tx, applied, failed = self._run_batch(end)
            total += self._settle(tx, applied, failed)
            await asyncio.sleep(0)
        return total

    async def run(self, *, until_idle: bool = False) -> int:
        """Deliver events as they are published until :meth:`stop` (or, with ``until_idle``,
        until the topic is drained); events applied."""
        signal = self.bus._signal(self.topic)
        total = 0
        try:
            while not self._stopped:
                signal.clear()
                if self.offset < self.bus.length(self.topic):
                    total += await self.apoll(self._batch)
                elif until_idle:
                    break
                else:
                    await signal.wait()
        finally:
            self._stopped = False  # a later run() starts afresh
        return total

    def stop(self) -> None:
        """Make :meth:`run` return after the current batch (or at once, if it has not started)."""
        self._stopped = True
        self.bus._signal(self.topic).set()

    # -- delivery ----------------------------------------------------------------------

    def _batch_end(self) -> int:
        start = self.bus.start(self.topic)
        if self.offset < start:
            raise OffsetError(
                f"consumer {self.name!r} is at offset {self.offset} of topic {self.topic!r}, "
                f"which holds events from offset {start} on",
                hint="events it never got were dropped: subscribe it before publishing, "
                "or give the bus a larger retain",
            )
        if self.offset < self._careful_until:
            return self.offset + 1
        return min(self.bus.length(self.topic), self.offset + self._batch)

    def _events(self, end: int) -> Iterator[tuple[int, Event]]:
        """``(offset, event)`` from the consumer's offset to ``end``."""
        base = self.bus.start(self.topic)
        return enumerate(self._log[self.offset - base : end - base], self.offset)

    def _run_batch(
        self, end: int
    ) -> tuple[Any, list[tuple[int, str]], tuple[int, Exception | None]]:
        """Apply events up to ``end`` inside a transaction of the store (not committed)."""
        seen, older, types = self._seen, self._older, self._types
        handler, transactional = self._handler, self._transactional
        tx = self._store.begin()
        applied: list[tuple[int, str]] = []
        append, mark = applied.append, seen.add
        outcome: tuple[int, Exception | None] = (end, None)
        if types is None and not transactional:  # the common case, kept tight
            try:
                for off, event in self._events(end):
                    eid = event.id
                    if eid in seen or eid in older:
                        continue
                    try:
                        handler(event)
                    except Exception as exc:
                        return tx, applied, (off, exc)
                    mark(eid)
                    append((off, eid))
            except BaseException:
                self._unmark(applied)
                self._store.rollback(tx)
                raise
            return tx, applied, outcome
        try:
            for off, event in self._events(end):
                if types is not None and event.type not in types:
                    continue
                eid = event.id
                if eid in seen or eid in older:
                    continue
                try:
                    if transactional:
                        handler(event, tx)
                    else:
                        handler(event)
                except Exception as exc:
                    outcome = (off, exc)
                    break
                mark(eid)
                append((off, eid))
        except BaseException:
            self._unmark(applied)
            self._store.rollback(tx)
            raise
        return tx, applied, outcome

    async def _arun_batch(
        self, end: int
    ) -> tuple[Any, list[tuple[int, str]], tuple[int, Exception | None]]:
        """As :meth:`_run_batch`, awaiting a coroutine handler."""
        seen, older, types, handler = self._seen, self._older, self._types, self._handler
        tx = self._store.begin()
        applied: list[tuple[int, str]] = []
        outcome: tuple[int, Exception | None] = (end, None)
        try:
            for off, event in self._events(end):
                if types is not None and event.type not in types:
                    continue
                eid = event.id
                if eid in seen or eid in older:
                    continue
                try:
                    await (handler(event, tx) if self._transactional else handler(event))
                except Exception as exc:
                    outcome = (off, exc)
                    break
                seen.add(eid)
                applied.append((off, eid))
        except BaseException:
            self._unmark(applied)
            self._store.rollback(tx)
            raise
        return tx, applied, outcome

    def _unmark(self, applied: list[tuple[int, str]]) -> None:
        """Forget ids whose transaction is rolled back."""
        for _, eid in applied:
            self._seen.discard(eid)

    def _settle(
        self, tx: Any, applied: list[tuple[int, str]], outcome: tuple[int, Exception | None]
    ) -> int:
        """Commit a batch (or its part before a failure); count the failure. Events applied."""
        off, exc = outcome
        if exc is None:
            self._commit(tx, off, applied)
            return len(applied)
        attempts = self._attempts.get(off, 0) + 1
        self._attempts[off] = attempts
        if self._transactional:
            self._unmark(applied)
            self._store.rollback(tx)
            if off > self.offset:  # earlier events of the batch go again, one per transaction
                self._careful_until = off + 1
                return 0
            applied = []
        else:
            self._commit(tx, off, applied)
        _log.warning(
            "consumer %s: handler raised on %s offset %d (attempt %d of %d): %r",
            self.name,
            self.topic,
            off,
            attempts,
            self.bus.max_attempts,
            exc,
        )
        if attempts >= self.bus.max_attempts:
            event = self._log[off - self.bus.start(self.topic)]
            reason = (
                f"handler raised {type(exc).__name__}: {exc} (attempt {attempts} of {attempts})"
            )
            self.bus._dead_letter(
                DeadLetter(
                    reason=reason,
                    topic=self.topic,
                    raw=event_text(event),
                    offset=str(off),
                    consumer=self.name,
                    event_id=event.id,
                )
            )
            del self._attempts[off]
            self._commit(self._store.begin(), off + 1, [])
        return len(applied)

    def _commit(self, tx: Any, offset: int, applied: list[tuple[int, str]]) -> None:
        try:
            self._store.commit(tx, self.topic, self.name, offset, applied, self._window)
        except BaseException:
            self._unmark(applied)
            raise
        self.offset = offset
        self.applied += len(applied)
        if len(self._seen) >= self._window:  # a new generation; the oldest one goes
            self._older, self._seen = self._seen, set()
