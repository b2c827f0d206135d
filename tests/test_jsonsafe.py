"""JSON-safe values: strict JSON out of numpy scalars, NaN, infinities and NaT."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_number, json_safe


def test_numbers() -> None:
    assert json_number(float("nan")) is None
    assert json_number(np.float32("inf")) is None
    assert json_number(np.float64(1.5)) == 1.5
    assert type(json_number(np.int64(3))) is int
    assert json_number(np.bool_(True)) is True
    assert json_number("text") == "text"


def test_nested() -> None:
    value = {
        1: [np.float64(math.nan), (np.int32(2), -math.inf)],
        "t": pd.NaT,
        "ok": {"x": np.float32(0.25)},
    }
    out = json_safe(value)
    assert out == {"1": [None, [2, None]], "t": None, "ok": {"x": 0.25}}
    json.dumps(out, allow_nan=False)
