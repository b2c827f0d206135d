"""The constrained StrategyDraft schema: llama.cpp keywords only, and every instance is valid."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import numpy as np
import pytest

from alphaloop.llm import portable_schema, schema_keywords
from alphaloop.research import StrategyDraft, constrained_draft_schema, draft_to_spec
from alphaloop.research.draft_schema import CONSTRAINED_KEYWORDS, MAX_ASSUMPTIONS

# what llama_cpp/llama_grammar.py's SchemaConverter.visit reads (numeric minimum and
# maximum are not among them: "TODO: support minimum, maximum ..."), less the ones
# (const, oneOf, $ref, allOf, prefixItems, pattern, format) the constrained schema avoids
LLAMA_CPP_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "anyOf"}
    | {"minItems", "maxItems", "minLength", "maxLength", "description"}
    | {"const", "oneOf", "$ref", "allOf", "prefixItems", "pattern", "format"}
)
CLOSE_ONLY = ("close",)
OHLCV = ("open", "high", "low", "close", "volume")
ASSETS = tuple(f"A{i:02d}" for i in range(12))


def _sample(node: dict[str, Any], rng: np.random.Generator) -> Any:
    """One random instance of a constrained schema node (optional properties drawn too)."""
    if "anyOf" in node:
        return _sample(node["anyOf"][int(rng.integers(len(node["anyOf"])))], rng)
    if "enum" in node:
        return node["enum"][int(rng.integers(len(node["enum"])))]
    kind = node["type"]
    if kind == "object":
        required = set(node["required"])
        return {
            name: _sample(sub, rng)
            for name, sub in node["properties"].items()
            if name in required or rng.random() < 0.5
        }
    if kind == "array":
        n = int(rng.integers(node.get("minItems", 0), node["maxItems"] + 1))
        return [_sample(node["items"], rng) for _ in range(n)]
    if kind == "string":
        n = int(rng.integers(node.get("minLength", 0), node["maxLength"] + 1))
        return "".join(rng.choice(list("ab c-1%é"), size=n))
    if kind == "boolean":
        return bool(rng.random() < 0.5)
    raise AssertionError(f"unexpected node {node}")


@pytest.mark.parametrize("fields", [CLOSE_ONLY, OHLCV])
def test_only_keywords_llama_cpp_honours(fields):
    schema = constrained_draft_schema(fields)
    used = schema_keywords(schema) | schema_keywords(schema["properties"]["assumptions"]["items"])
    assert used <= CONSTRAINED_KEYWORDS <= LLAMA_CPP_KEYWORDS
    assert not used & {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    assert schema["properties"]["assumptions"]["maxItems"] == MAX_ASSUMPTIONS
    json.dumps(schema, allow_nan=False)


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="no llama_cpp")
def test_llama_cpp_turns_it_into_a_bounded_grammar():
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(json.dumps(constrained_draft_schema(CLOSE_ONLY)))
    assert '"252"' in grammar  # a grid value as a literal, not any integer
    assert "integer ::=" not in grammar
    assert "number ::=" not in grammar
    assert "expr" not in grammar


@pytest.mark.parametrize("fields", [CLOSE_ONLY, OHLCV])
def test_every_instance_is_a_valid_draft_that_makes_a_spec(fields):
    schema = constrained_draft_schema(fields)
    rng = np.random.default_rng(11)
    seen = set()
    for _ in range(400):
        doc = _sample(schema, rng)
        draft = StrategyDraft.model_validate(doc)
        made = draft_to_spec(draft, "d", fields=fields, assets=ASSETS, intent="x")
        assert made.spec.data == "d"
        seen.add(draft.signal.template)
    # every template the data allows was drawn at least once
    branches = schema["properties"]["signal"]["anyOf"]
    assert seen == {b["properties"]["template"]["enum"][0] for b in branches}


def test_templates_follow_the_data_fields():
    def templates(fields):
        branches = constrained_draft_schema(fields)["properties"]["signal"]["anyOf"]
        return {b["properties"]["template"]["enum"][0] for b in branches}

    assert "volume_trend" not in templates(CLOSE_ONLY)
    assert {"volume_trend", "channel_hl", "mom"} <= templates(OHLCV)
    stops = constrained_draft_schema(CLOSE_ONLY)["properties"]["exits"]["properties"]
    assert stops["stop_loss"]["enum"] == [0.0]  # no high/low: no stops


def test_the_portable_schema_is_unchanged():
    # hosted providers keep the full draft: both signal kinds, universe, no lengths
    schema = portable_schema(StrategyDraft)
    assert "universe" in schema["properties"]
    kinds = {b["properties"]["kind"]["enum"][0] for b in schema["properties"]["signal"]["anyOf"]}
    assert kinds == {"template", "expression"}
    assert not schema_keywords(schema) & {"maxItems", "maxLength", "minLength"}
