"""Portable schemas: only the keywords every structured-output backend accepts."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from alphaloop.llm import LLMSchemaError, portable_schema, schema_keywords
from alphaloop.llm.schema import PORTABLE_KEYWORDS, PORTABLE_TYPES
from tests.llm.support import VALID, Idea


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(BaseModel):
    """An inner model with a description."""

    level: int = Field(ge=0, le=9, examples=[3])
    note: str | None = Field(default=None, pattern="^[a-z]+$", max_length=10)


class Outer(BaseModel):
    inner: Inner
    maybe_inner: Inner | None = None
    inners: list[Inner] = Field(default_factory=list, min_length=0, max_length=5)
    color: Color = Color.RED
    kind: Literal["a", "b"] = "a"
    fixed: Literal["only"] = "only"
    ratio: float = Field(default=0.5, gt=0.0, lt=1.0, title="Ratio")
    when: str = Field(default="2024-01-01", json_schema_extra={"format": "date"})
    choice: int | str = 1
    flags: list[bool] = Field(default_factory=list)


class Node(BaseModel):
    value: int
    children: list[Node] = Field(default_factory=list)


class Mapping(BaseModel):
    weights: dict[str, float]


class Pair(BaseModel):
    pair: tuple[int, int]


class Anything(BaseModel):
    value: Any


def walk(schema: dict[str, Any]):
    """Every sub-schema, depth first."""
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from walk(sub)
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"])
    for sub in schema.get("anyOf", []):
        yield from walk(sub)


def assert_portable(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    assert "$ref" not in text
    assert "$defs" not in text
    assert schema_keywords(schema) <= PORTABLE_KEYWORDS, schema_keywords(schema) - PORTABLE_KEYWORDS
    assert schema["type"] == "object"
    for node in walk(schema):
        if "type" in node:
            assert node["type"] in PORTABLE_TYPES
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert node["required"] == list(node["properties"])


def spec_models() -> list[type[BaseModel]]:
    from alphaloop.backtest import spec

    names = ["Component", "CostModel", "Exits", "Rebalance"]
    names += ["Signal", "Stops", "VolatilityTarget"]
    return [getattr(spec, name) for name in names]


def mapping_spec_models() -> list[type[BaseModel]]:
    """Spec parts with free-form mappings (risk-limit groups, optimizer views and
    budgets): a model never writes them; it writes a draft (``StrategyDraft``,
    ``RecipeDraft``) that code turns into a spec."""
    from alphaloop.backtest import spec

    return [spec.Limits, spec.PortfolioRule]


@pytest.mark.parametrize("model", [Idea, Outer, Inner, *spec_models()], ids=lambda m: m.__name__)
def test_emitted_schemas_use_only_portable_keywords(model):
    assert_portable(portable_schema(model))


@pytest.mark.parametrize("model", mapping_spec_models(), ids=lambda m: m.__name__)
def test_spec_parts_with_mappings_are_refused_with_the_path(model):
    with pytest.raises(LLMSchemaError, match=r"free-form mapping has no portable form"):
        portable_schema(model)


def test_optional_is_a_union_with_null_and_everything_is_required():
    schema = portable_schema(Outer)
    props = schema["properties"]
    assert {"type": "null"} in props["maybe_inner"]["anyOf"]
    assert props["inner"]["properties"]["note"]["anyOf"][1] == {"type": "null"}
    assert set(schema["required"]) == set(Outer.model_fields)


def test_nested_models_are_inlined():
    inner = portable_schema(Outer)["properties"]["inner"]
    assert inner["type"] == "object"
    assert inner["description"] == "An inner model with a description."
    assert set(inner["properties"]) == {"level", "note"}
    assert (
        portable_schema(Outer)["properties"]["inners"]["items"]["properties"] == inner["properties"]
    )


def test_enums_and_literals_become_enum():
    props = portable_schema(Outer)["properties"]
    assert props["color"]["enum"] == ["red", "blue"]
    assert props["kind"]["enum"] == ["a", "b"]
    assert props["fixed"]["enum"] == ["only"]  # const -> one-value enum


def test_dropped_keywords_and_defaults_in_descriptions():
    props = portable_schema(Outer)["properties"]
    assert props["ratio"] == {"type": "number", "description": "Default: 0.5."}
    assert props["when"]["type"] == "string"
    assert props["inner"]["properties"]["level"] == {"type": "integer"}
    assert "Look-back in bars." in portable_schema(Idea)["properties"]["window"]["description"]


def test_union_of_scalars():
    props = portable_schema(Outer)["properties"]
    assert props["choice"]["anyOf"][:2] == [{"type": "integer"}, {"type": "string"}]


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (Node, "refers to itself"),
        (Mapping, "free-form mapping"),
        (Pair, "tuple"),
        (Anything, "any type"),
    ],
)
def test_models_without_a_portable_form_are_refused(model, words):
    with pytest.raises(LLMSchemaError, match=words):
        portable_schema(model)


def test_strategy_spec_needs_a_projection():
    """StrategySpec holds free-form mappings (a template's ``groups``): refused, with the path."""
    from alphaloop.backtest.spec import StrategySpec

    with pytest.raises(LLMSchemaError, match=r"StrategySpec\..*groups"):
        portable_schema(StrategySpec)


def test_valid_answers_validate_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = portable_schema(Idea)
    jsonschema.validate(VALID, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**VALID, "extra": 1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in VALID.items() if k != "weight"}, schema)
    jsonschema.Draft202012Validator.check_schema(portable_schema(Outer))
