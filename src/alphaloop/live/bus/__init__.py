"""The live loop's event bus: typed, versioned events; in-process and Redis Streams backends.

Events (:mod:`.events`, :mod:`.catalog`) are frozen pydantic models with an
envelope (``type``, ``version``, ``id``, ``ts``, ``source``) and a typed
payload; only registered ``(type, version)`` pairs travel, and anything else
goes to the dead-letter topic with the reason. Consumers get each event at
least once, skip ids they have applied (so a re-delivered event is applied
once), and resume at a stored offset: :class:`InProcessBus` with an
:class:`OffsetStore` (:class:`MemoryOffsets`, :class:`SqliteOffsets`),
:class:`RedisBus` with consumer groups (the ``live`` extra; redis is
imported only when a :class:`RedisBus` is made).

Modules: :mod:`.events`, :mod:`.catalog`, :mod:`.offsets`, :mod:`.memory`
and :mod:`.memory_consumer`, :mod:`.redis_streams` and :mod:`.redis_consumer`,
:mod:`.errors`. See docs/bus.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.live.bus.catalog import (
        Alert,
        AlertRaised,
        Bar,
        BarClosed,
        Fill,
        LifecycleTransition,
        LifecycleTransitioned,
        ModelRelease,
        ModelReleased,
        OrderFilled,
        OrderRequest,
        OrderSubmitted,
        PnlTick,
        PnlTicked,
        PolicyChange,
        PolicyChanged,
        RiskState,
        RiskStateChanged,
        Signal,
        SignalEmitted,
    )
    from alphaloop.live.bus.errors import (
        BusBackendMissingError,
        BusError,
        BusUnavailableError,
        EventRejectedError,
        OffsetError,
    )
    from alphaloop.live.bus.events import (
        DEAD_LETTER_TOPIC,
        DeadLetter,
        Event,
        Payload,
        decode,
        encode,
        event_class,
        register_event,
        registered_events,
    )
    from alphaloop.live.bus.memory import InProcessBus
    from alphaloop.live.bus.memory_consumer import InProcessConsumer
    from alphaloop.live.bus.offsets import MemoryOffsets, OffsetStore, SqliteOffsets
    from alphaloop.live.bus.redis_consumer import RedisConsumer
    from alphaloop.live.bus.redis_streams import RedisBus

_CATALOG = "alphaloop.live.bus.catalog"
_ERRORS = "alphaloop.live.bus.errors"
_EVENTS = "alphaloop.live.bus.events"
_MEMORY = "alphaloop.live.bus.memory"
_OFFSETS = "alphaloop.live.bus.offsets"
_REDIS = "alphaloop.live.bus.redis_streams"

_HOME: dict[str, str] = {
    "Alert": _CATALOG,
    "AlertRaised": _CATALOG,
    "Bar": _CATALOG,
    "BarClosed": _CATALOG,
    "BusBackendMissingError": _ERRORS,
    "BusError": _ERRORS,
    "BusUnavailableError": _ERRORS,
    "DEAD_LETTER_TOPIC": _EVENTS,
    "DeadLetter": _EVENTS,
    "Event": _EVENTS,
    "EventRejectedError": _ERRORS,
    "Fill": _CATALOG,
    "InProcessBus": _MEMORY,
    "InProcessConsumer": "alphaloop.live.bus.memory_consumer",
    "LifecycleTransition": _CATALOG,
    "LifecycleTransitioned": _CATALOG,
    "MemoryOffsets": _OFFSETS,
    "ModelRelease": _CATALOG,
    "ModelReleased": _CATALOG,
    "OffsetError": _ERRORS,
    "OffsetStore": _OFFSETS,
    "OrderFilled": _CATALOG,
    "OrderRequest": _CATALOG,
    "OrderSubmitted": _CATALOG,
    "Payload": _EVENTS,
    "PnlTick": _CATALOG,
    "PnlTicked": _CATALOG,
    "PolicyChange": _CATALOG,
    "PolicyChanged": _CATALOG,
    "RedisBus": _REDIS,
    "RedisConsumer": "alphaloop.live.bus.redis_consumer",
    "RiskState": _CATALOG,
    "RiskStateChanged": _CATALOG,
    "Signal": _CATALOG,
    "SignalEmitted": _CATALOG,
    "SqliteOffsets": _OFFSETS,
    "decode": _EVENTS,
    "encode": _EVENTS,
    "event_class": _EVENTS,
    "register_event": _EVENTS,
    "registered_events": _EVENTS,
}

__all__ = [
    "DEAD_LETTER_TOPIC",
    "Alert",
    "AlertRaised",
    "Bar",
    "BarClosed",
    "BusBackendMissingError",
    "BusError",
    "BusUnavailableError",
    "DeadLetter",
    "Event",
    "EventRejectedError",
    "Fill",
    "InProcessBus",
    "InProcessConsumer",
    "LifecycleTransition",
    "LifecycleTransitioned",
    "MemoryOffsets",
    "ModelRelease",
    "ModelReleased",
    "OffsetError",
    "OffsetStore",
    "OrderFilled",
    "OrderRequest",
    "OrderSubmitted",
    "Payload",
    "PnlTick",
    "PnlTicked",
    "PolicyChange",
    "PolicyChanged",
    "RedisBus",
    "RedisConsumer",
    "RiskState",
    "RiskStateChanged",
    "Signal",
    "SignalEmitted",
    "SqliteOffsets",
    "decode",
    "encode",
    "event_class",
    "register_event",
    "registered_events",
]


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
