"""The sandbox's static allowlist, kept importable here (:mod:`alphaloop.sandbox.allowlist`)."""

from __future__ import annotations

from alphaloop.sandbox import (
    DENIED_ATTRIBUTES,
    NUMPY_ALLOWED,
    SAFE_BUILTINS,
    check_strategy_code,
)

__all__ = ["DENIED_ATTRIBUTES", "NUMPY_ALLOWED", "SAFE_BUILTINS", "check_strategy_code"]
