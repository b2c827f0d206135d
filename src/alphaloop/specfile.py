"""Spec files: read YAML or JSON, validate into a pydantic spec class, and say
what was wrong in plain sentences.

Used by every spec type (strategies, models, and whatever comes next); the
spec class is an argument, so this module knows none of them.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from alphaloop.errors import SpecError

__all__ = ["describe_validation_error", "load_spec_file", "read_spec_file"]


class _FromDict(Protocol):
    @classmethod
    def from_dict(cls, data: Any, *, source: str = ...) -> Any: ...


S = TypeVar("S", bound=_FromDict)


def describe_validation_error(exc: ValidationError, root: type[BaseModel]) -> str:
    """Plain sentences: ``field: value 'x' is not allowed; use ...``.

    ``root`` is the model validated, to list the known fields when one is unknown.
    """
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        loc = loc.replace(".literal[", "[")
        value = err.get("input")
        msg = err["msg"]
        kind = err["type"]
        if kind == "missing":
            parts.append(f"{loc} is required")
        elif kind == "extra_forbidden":
            known = ", ".join(_known_fields(err["loc"][:-1], root))
            parts.append(f"{loc} is not a known field (known: {known})")
        elif kind in ("literal_error", "enum"):
            allowed = msg.split("Input should be ", 1)[-1]
            parts.append(f"{loc}: {value!r} is not allowed; use {allowed}")
        elif kind == "value_error":
            text = msg.removeprefix("Value error, ")
            parts.append(f"{loc}: {text}" if loc else text)
        else:
            parts.append(f"{loc}: {_short(value)} is invalid ({msg})")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _known_fields(loc: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    """Field names of the model found by following ``loc`` from ``root``."""
    model: Any = root
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
        # an optional sub-model (``CostModel | None``): follow the model
        model = next((a for a in typing.get_args(model) if hasattr(a, "model_fields")), model)
    return list(getattr(model, "model_fields", {}))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_spec_file(path: str | Path, what: str = "spec") -> Any:
    """The parsed content of a YAML or JSON file (``.json`` is JSON, anything else YAML).

    Raises
    ------
    SpecError
        The file is missing or unreadable, or is not valid YAML/JSON.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{what} file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {what} file {p}: {exc}") from None
    try:
        return json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
        raise SpecError(f"{p} is not valid {kind}: {exc}") from None


def load_spec_file(path: str | Path, spec_class: type[S], what: str = "spec") -> S:
    """Read ``path`` and validate it with ``spec_class.from_dict``.

    Raises
    ------
    SpecError
        The file is missing or unreadable, is not YAML/JSON, or a field is invalid.
    """
    return spec_class.from_dict(read_spec_file(path, what), source=str(path))
