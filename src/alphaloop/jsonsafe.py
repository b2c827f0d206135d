"""Values ready for JSON: NaN and infinities become None, numpy scalars Python ones.

Every report's ``to_dict`` goes through here, so JSON written by alphaloop is
strict (``json.dumps(..., allow_nan=False)`` accepts it) and reads the same
in every language.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_number", "json_safe"]


def json_number(value: Any) -> Any:
    """A float or integer ready for JSON: NaN and infinities become None, numpy scalars Python."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def json_safe(value: Any) -> Any:
    """:func:`json_number` applied throughout dicts, lists and tuples; NaT becomes None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    return json_number(value)
