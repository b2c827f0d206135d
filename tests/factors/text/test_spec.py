"""Text factor definitions: validation with plain messages."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaloop.errors import SpecError
from alphaloop.factors.text.spec import DEFAULT_POSITIVE, TextFactorSpec


def test_defaults_and_durations() -> None:
    spec = TextFactorSpec.from_dict({"name": "tone", "kind": "sentiment"})
    assert spec.latency_delta == pd.Timedelta("1min")
    assert spec.half_life_delta == pd.Timedelta("3D")
    assert spec.max_age_delta == pd.Timedelta("30D")
    assert spec.positive_phrases == DEFAULT_POSITIVE
    assert len(spec.phrases()) == len(DEFAULT_POSITIVE) + len(spec.negative_phrases)
    assert TextFactorSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "Tone", "kind": "sentiment"}, "not a text factor name"),
        ({"name": "tone", "kind": "mood"}, "'mood' is not allowed"),
        ({"name": "tone", "kind": "similarity"}, "needs references"),
        ({"name": "tone", "kind": "pca", "references": ["x"]}, "references apply to"),
        ({"name": "tone", "kind": "sentiment", "latency": "-5min"}, "negative"),
        ({"name": "tone", "kind": "sentiment", "half_life": "soon"}, "not a duration"),
        ({"name": "tone", "kind": "sentiment", "max_age": "0D"}, "must be positive"),
        ({"name": "tone", "kind": "pca", "component": -1}, "component must be 0 or more"),
        ({"name": "tone", "kind": "sentiment", "colour": "red"}, "colour is not a known field"),
    ],
)
def test_invalid_specs_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        TextFactorSpec.from_dict(fields, source="tone.yaml")
