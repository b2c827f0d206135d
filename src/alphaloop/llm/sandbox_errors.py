"""The sandbox's errors, kept importable from here: see :mod:`alphaloop.sandbox.errors`."""

from __future__ import annotations

from alphaloop.sandbox import (
    SandboxError,
    SandboxInputError,
    SandboxLimitExceeded,
    SandboxOutputError,
    SandboxViolation,
)

__all__ = [
    "SandboxError",
    "SandboxInputError",
    "SandboxLimitExceeded",
    "SandboxOutputError",
    "SandboxViolation",
]
