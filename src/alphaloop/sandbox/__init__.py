"""Run untrusted Python strategy code: a static allowlist, then a locked-down child process.

Not tied to language models: a user's hand-written signal and a model-written
one go through the same two lines of defence. It sits just above the
foundations (numpy, the standard library and :mod:`alphaloop.errors` only), so
the backtest runner and the lookahead scan can run a spec's ``signal: {code:
...}`` themselves. :mod:`alphaloop.llm` re-exports the same names.

:mod:`~alphaloop.sandbox.run`
    :func:`run_strategy_code`: the contract (``def signal(close, high=None,
    low=None, volume=None, open=None)`` returning a (time, asset) panel), the
    child process and its limits (CPU, memory, wall clock).
:mod:`~alphaloop.sandbox.allowlist`
    :func:`check_strategy_code`: what strategy code may say, checked without
    running it.
:mod:`~alphaloop.sandbox.child`
    The child process (a script: standard library and numpy only).
:mod:`~alphaloop.sandbox.errors`
    :class:`SandboxError` and its subclasses.
"""

from __future__ import annotations

from alphaloop.sandbox.allowlist import (
    DENIED_ATTRIBUTES,
    NUMPY_ALLOWED,
    SAFE_BUILTINS,
    check_strategy_code,
)
from alphaloop.sandbox.errors import (
    SandboxError,
    SandboxInputError,
    SandboxLimitExceeded,
    SandboxOutputError,
    SandboxViolation,
)
from alphaloop.sandbox.run import INPUT_FIELDS, run_strategy_code

__all__ = [
    "DENIED_ATTRIBUTES",
    "INPUT_FIELDS",
    "NUMPY_ALLOWED",
    "SAFE_BUILTINS",
    "SandboxError",
    "SandboxInputError",
    "SandboxLimitExceeded",
    "SandboxOutputError",
    "SandboxViolation",
    "check_strategy_code",
    "run_strategy_code",
]
