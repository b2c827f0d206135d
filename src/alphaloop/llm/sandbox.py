"""The strategy-code sandbox, kept importable from here: it lives in :mod:`alphaloop.sandbox`.

The sandbox is not specific to language models (a spec's ``signal: {code: ...}``
runs in it too), so it sits below the backtest layer; these names are the
same objects.
"""

from __future__ import annotations

from alphaloop.sandbox import (
    INPUT_FIELDS,
    SandboxError,
    SandboxInputError,
    SandboxLimitExceeded,
    SandboxOutputError,
    SandboxViolation,
    check_strategy_code,
    run_strategy_code,
)

__all__ = [
    "INPUT_FIELDS",
    "SandboxError",
    "SandboxInputError",
    "SandboxLimitExceeded",
    "SandboxOutputError",
    "SandboxViolation",
    "check_strategy_code",
    "run_strategy_code",
]
