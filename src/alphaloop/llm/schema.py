"""JSON Schema in the subset every structured-output backend accepts.

OpenAI's strict structured outputs, Anthropic's tool ``input_schema`` and
grammar-constrained local decoding (llama.cpp converts a schema to a GBNF
grammar) each reject some JSON Schema keywords. :func:`portable_schema`
derives a schema from a pydantic model that uses only:

``type`` (object, array, string, number, integer, boolean, null), ``properties``,
``required``, ``additionalProperties`` (always ``false``), ``items``, ``enum``,
``anyOf`` and ``description``.

Conventions:

- every ``$ref`` is inlined (``$defs`` disappear); a recursive model raises
  :class:`~alphaloop.llm.errors.LLMSchemaError`;
- every property is listed in ``required``; an ``Optional`` field becomes
  ``anyOf [X, null]``; a field with a default keeps its type and its default
  is stated in its ``description`` (the model must write a value);
- ``const`` becomes a one-value ``enum``, ``oneOf`` becomes ``anyOf`` (a
  discriminated union stays decidable through the discriminator's enum);
- bounds, lengths, patterns, formats, titles, defaults and examples are
  dropped: pydantic validation of the answer enforces them, and a violation
  goes back to the model in the repair round;
- free-form mappings (``dict[str, X]``), tuples and ``Any`` have no
  portable form and raise :class:`~alphaloop.llm.errors.LLMSchemaError`;
  such models get a projection (a model of the fields an LLM should write).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from alphaloop.llm.errors import LLMSchemaError

__all__ = ["PORTABLE_KEYWORDS", "PORTABLE_TYPES", "portable_schema", "schema_keywords"]

PORTABLE_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "anyOf"}
    | {"description"}
)
"""The only keywords a portable schema contains."""

PORTABLE_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
"""The only values of ``type`` in a portable schema."""

_NULL: dict[str, Any] = {"type": "null"}


def portable_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The portable JSON Schema of a pydantic model (see the module docstring).

    Parameters
    ----------
    model : type of pydantic.BaseModel
        The model an answer must validate against.

    Returns
    -------
    dict
        A schema whose root is an object; JSON-serializable.

    Raises
    ------
    LLMSchemaError
        The model is recursive or has a field with no portable form; the
        message names the path of the field.
    """
    raw = model.model_json_schema(mode="validation")
    defs = raw.pop("$defs", {})
    out = _convert(raw, defs, (), model.__name__)
    if out.get("type") != "object":
        raise LLMSchemaError(
            f"{model.__name__}: the schema root must be an object, not {out.get('type')!r}",
            hint="wrap the value in a model with one field",
        )
    return out


def schema_keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in ``schema`` (property names excluded)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key == "properties":
                for sub in value.values():
                    found |= schema_keywords(sub)
            elif key in ("items", "additionalProperties"):
                found |= schema_keywords(value)
            elif key == "anyOf":
                for sub in value:
                    found |= schema_keywords(sub)
    return found


def _convert(node: dict[str, Any], defs: dict[str, Any], stack: tuple[str, ...], path: str):
    """One schema node in the portable subset; ``stack`` holds the refs being inlined."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in stack:
            raise LLMSchemaError(
                f"{path}: {name} refers to itself; a recursive schema has no portable form",
                hint="give the LLM a non-recursive projection of the model",
            )
        if name not in defs:
            raise LLMSchemaError(f"{path}: unresolved reference {node['$ref']!r}")
        inner = _convert(defs[name], defs, (*stack, name), path)
        if node.get("description"):
            inner = {**inner, "description": node["description"]}
        return inner
    if "allOf" in node:
        parts = node["allOf"]
        if len(parts) != 1:
            raise LLMSchemaError(f"{path}: allOf with {len(parts)} parts has no portable form")
        merged = {k: v for k, v in node.items() if k != "allOf"}
        return _convert({**parts[0], **merged}, defs, stack, path)
    description = _description(node)
    if "const" in node:
        out: dict[str, Any] = {"enum": [node["const"]]}
        if isinstance(node.get("type"), str):
            out["type"] = node["type"]
        return _with(out, description)
    branches = node.get("anyOf") or node.get("oneOf")
    if branches is not None:
        flat: list[dict[str, Any]] = []
        for i, branch in enumerate(branches):
            sub = _convert(branch, defs, stack, f"{path}|{i}")
            flat.extend(sub["anyOf"] if set(sub) <= {"anyOf", "description"} else [sub])
        unique = _unique(flat)
        out = unique[0] if len(unique) == 1 else {"anyOf": unique}
        return _with(out, description)
    kind = node.get("type")
    if isinstance(kind, list):
        split = {"anyOf": [{**node, "type": t} for t in kind]}
        return _convert(split, defs, stack, path)
    if kind is None:
        if "enum" in node:
            return _with({"enum": list(node["enum"])}, description)
        raise LLMSchemaError(
            f"{path}: a value of any type has no portable form", hint="give the field a type"
        )
    if kind not in PORTABLE_TYPES:
        raise LLMSchemaError(f"{path}: type {kind!r} has no portable form")
    out = {"type": kind}
    if "enum" in node:
        out["enum"] = list(node["enum"])
    if kind == "object":
        out.update(_object(node, defs, stack, path))
    elif kind == "array":
        if "prefixItems" in node:
            raise LLMSchemaError(
                f"{path}: a tuple has no portable form", hint="use a list or a model"
            )
        items = node.get("items")
        if not isinstance(items, dict) or not items:
            raise LLMSchemaError(f"{path}: a list of any type has no portable form")
        out["items"] = _convert(items, defs, stack, f"{path}[]")
    return _with(out, description)


def _object(node: dict[str, Any], defs: dict[str, Any], stack: tuple[str, ...], path: str):
    """``properties``, ``required`` (all of them) and ``additionalProperties: false``."""
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) or (extra is True and not node.get("properties")):
        raise LLMSchemaError(
            f"{path}: a free-form mapping has no portable form",
            hint="give the LLM a projection with named fields",
        )
    properties = node.get("properties", {})
    if not properties:
        raise LLMSchemaError(f"{path}: an object without properties has no portable form")
    required = set(node.get("required", ()))
    converted: dict[str, Any] = {}
    for name, sub in properties.items():
        prop = _convert(sub, defs, stack, f"{path}.{name}")
        if name not in required and "default" in sub and sub["default"] is not None:
            note = f"Default: {json.dumps(sub['default'], default=str)}."
            prop = {**prop, "description": f"{prop.get('description', '')} {note}".strip()}
        converted[name] = prop
    return {
        "properties": converted,
        "required": list(converted),
        "additionalProperties": False,
    }


def _description(node: dict[str, Any]) -> str | None:
    text = node.get("description")
    return text if isinstance(text, str) and text else None


def _with(out: dict[str, Any], description: str | None) -> dict[str, Any]:
    return {**out, "description": description} if description else out


def _unique(branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for branch in branches:
        key = json.dumps(branch, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(branch)
    return out
