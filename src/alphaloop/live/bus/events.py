"""The envelope of every bus event, the registry of event types, and the wire codec.

An event is a frozen pydantic model with five envelope fields and a typed
payload:

- ``type``: what happened (``"bar"``, ``"fill"``, ...), a literal per class;
- ``version``: the payload schema's version (an int, a literal per class);
  a change that is not backwards compatible is a new version, registered
  beside the old one;
- ``id``: unique per event (32 hex characters by default); consumers use it
  to apply a re-delivered event once;
- ``ts``: when the event happened, a timezone-aware UTC datetime;
- ``source``: who published it (free text, may be empty).

Only registered ``(type, version)`` pairs travel on the bus (:func:`register_event`;
the built-in types are in :mod:`.catalog`). :func:`decode` turns wire data
(JSON text or bytes, or a mapping) back into the right class and raises
:class:`~.errors.EventRejectedError` with a one-line reason for anything
else; the buses send such data to their dead-letter stream as a
:class:`DeadLetter`, never dropping it silently.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from alphaloop.live.bus.errors import EventRejectedError

__all__ = [
    "DEAD_LETTER_TOPIC",
    "DeadLetter",
    "Event",
    "Payload",
    "check_registered",
    "decode",
    "encode",
    "event_class",
    "event_text",
    "new_event_id",
    "raw_text",
    "register_event",
    "registered_events",
]

#: the topic (stream) rejected events and failed deliveries go to
DEAD_LETTER_TOPIC = "dead-letter"

#: longest raw text a dead letter keeps of what was rejected, characters
_RAW_LIMIT = 4096


def new_event_id() -> str:
    """A fresh random event id: 32 hex characters (128 bits)."""
    return os.urandom(16).hex()


def _now() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of event payloads: frozen, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(BaseModel):
    """Base of bus events (see the module docstring for the envelope).

    Subclasses set ``type`` and ``version`` as literals with defaults and
    ``payload`` to their payload model, and are registered with
    :func:`register_event`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    version: int
    id: str = Field(default_factory=new_event_id, min_length=1, max_length=128)
    ts: AwareDatetime = Field(default_factory=_now)
    source: str = ""
    payload: Payload


_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def register_event(cls: type[Event]) -> type[Event]:
    """Register an event class under its ``(type, version)``; usable as a class decorator.

    Registering a class again does nothing; a class of the same module and
    name (a redefinition, as when a notebook cell runs again) replaces the
    one held.

    Raises
    ------
    TypeError
        ``cls`` is not an :class:`Event` subclass with defaults for ``type``
        and ``version``, or another class holds its key.
    """
    if not (isinstance(cls, type) and issubclass(cls, Event)):
        raise TypeError(f"{cls!r} is not an Event subclass")
    fields = cls.model_fields
    type_, version = fields["type"].default, fields["version"].default
    if not isinstance(type_, str) or not type_ or not isinstance(version, int):
        raise TypeError(f"{cls.__name__} needs defaults for type (a str) and version (an int)")
    key = (type_, version)
    held = _REGISTRY.get(key, cls)
    if held is not cls and (held.__module__, held.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise TypeError(
            f"event type {type_!r} version {version} is already registered "
            f"to {_REGISTRY[key].__name__}"
        )
    _REGISTRY[key] = cls
    return cls


def registered_events() -> dict[tuple[str, int], type[Event]]:
    """A copy of the registry: ``(type, version)`` to event class."""
    return dict(_REGISTRY)


def _load_builtin() -> bool:
    """Import the built-in event types (registered on import); False when they already were."""
    if "alphaloop.live.bus.catalog" in sys.modules:
        return False
    import alphaloop.live.bus.catalog  # noqa: F401

    return True


def event_class(type_: str, version: int) -> type[Event]:
    """The class registered for ``(type_, version)``.

    Raises
    ------
    EventRejectedError
        Nothing is registered under it; the reason names what is.
    """
    cls = _REGISTRY.get((type_, version))
    if cls is None and _load_builtin():
        cls = _REGISTRY.get((type_, version))
    if cls is None:
        known = sorted(v for (t, v) in _REGISTRY if t == type_)
        if known:
            reason = f"unknown version {version} of event type {type_!r} (known: {known})"
        else:
            reason = f"unknown event type {type_!r}"
        raise EventRejectedError(reason, hint="register the event class with register_event")
    return cls


def check_registered(event: Event) -> None:
    """Raise :class:`~.errors.EventRejectedError` unless ``event``'s class is the registered
    class of its ``(type, version)``."""
    if _REGISTRY.get((event.type, event.version)) is not event.__class__:
        event_class(event.type, event.version)  # raises for an unknown key
        raise EventRejectedError(
            f"{type(event).__name__} is not the class registered for "
            f"{event.type!r} v{event.version}",
            hint="register the event class with register_event",
        )


def encode(event: Event) -> bytes:
    """The event as compact JSON (UTF-8), the form every backend stores."""
    return event.__pydantic_serializer__.to_json(event)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "event"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"


def decode(
    data: str | bytes | Mapping[str, Any],
    *,
    type_: str | None = None,
    version: int | None = None,
) -> Event:
    """The registered event that ``data`` holds.

    Parameters
    ----------
    data : str, bytes or mapping
        JSON text of a whole event, or its mapping.
    type_, version : optional
        The key when the caller already knows it (a stream entry carries it
        beside the JSON); then the JSON is parsed once, by the event class.

    Raises
    ------
    EventRejectedError
        Not JSON, not an object, no ``type``/``version``, an unregistered
        key, or a field that fails validation; the reason says which.
    """
    if type_ is None or version is None:
        if isinstance(data, Mapping):
            obj: Any = data
        else:
            try:
                obj = json.loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise EventRejectedError(f"not JSON: {exc}") from None
        if not isinstance(obj, Mapping):
            raise EventRejectedError(f"not a JSON object but {type(obj).__name__}")
        type_, version = obj.get("type"), obj.get("version")
        if not isinstance(type_, str) or not isinstance(version, int) or isinstance(version, bool):
            raise EventRejectedError(
                f"missing or malformed type/version (type={type_!r}, version={version!r})"
            )
        data = obj
    cls = event_class(type_, version)
    try:
        if isinstance(data, Mapping):
            return cls.model_validate(data)
        return cls.model_validate_json(data)
    except ValidationError as exc:
        raise EventRejectedError(f"{type_} v{version}: {_first_error(exc)}") from None


def event_text(event: object) -> str:
    """An event as text for a dead letter: its JSON, or its repr when it cannot be encoded."""
    try:
        return raw_text(encode(event))  # type: ignore[arg-type]
    except Exception:
        return raw_text(repr(event))


def raw_text(data: object) -> str:
    """What was rejected, as text for a dead letter (cut to 4,096 characters)."""
    if isinstance(data, bytes):
        text = data.decode("utf-8", errors="replace")
    elif isinstance(data, str):
        text = data
    else:
        try:
            text = json.dumps(data, default=str)
        except (TypeError, ValueError):
            text = repr(data)
    return text if len(text) <= _RAW_LIMIT else text[:_RAW_LIMIT] + "..."


class DeadLetter(BaseModel):
    """An event the bus would not deliver, with the reason.

    Attributes
    ----------
    reason : str
        Why: the decoder's reason, or the handler's exception after the
        last attempt.
    topic : str
        The topic it was published to.
    raw : str
        What was published (JSON text, cut to 4,096 characters).
    offset : str
        Where it sat in the topic (an index in process, a stream entry id
        on Redis), or ``""`` when it was refused at publication.
    consumer : str
        The consumer (group) that gave up on it, or ``""`` for a rejection
        at publication or decoding.
    event_id : str
        The event's id when it was readable, else ``""``.
    ts : datetime
        When it was dead-lettered (UTC).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str
    topic: str
    raw: str
    offset: str = ""
    consumer: str = ""
    event_id: str = ""
    ts: AwareDatetime = Field(default_factory=_now)
