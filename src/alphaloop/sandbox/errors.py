"""Typed errors of the strategy-code sandbox (:mod:`alphaloop.sandbox.run`).

All of them derive from :class:`SandboxError`, so ``except SandboxError``
catches every way strategy code can fail; each subclass says which line of
defence refused it:

- :class:`SandboxViolation`: the code uses something outside the allowlist,
  found statically (before anything runs) or refused at run time by the
  child's audit hook;
- :class:`SandboxLimitExceeded`: the CPU, memory or wall-clock limit was hit;
- :class:`SandboxOutputError`: ``signal`` returned something that is not a
  finite-or-NaN float panel of the input's shape;
- :class:`SandboxError` itself: the strategy code raised an exception
  (its type and message, never the sandbox's own traceback).
"""

from __future__ import annotations

from typing import Any

from alphaloop.errors import AlphaloopError


class SandboxError(AlphaloopError):
    """Strategy code failed in the sandbox: it raised, or (subclasses) it was refused.

    Attributes
    ----------
    error_type : str or None
        The name of the exception the strategy code raised (``"ZeroDivisionError"``),
        None when the sandbox itself refused the code.
    line : int or None
        1-based line of the strategy code where it happened, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_type = error_type
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "error_type": self.error_type, "line": self.line}


class SandboxViolation(SandboxError):  # noqa: N818 - the name says what happened
    """The code uses a construct, name, import or operation outside the allowlist.

    Attributes
    ----------
    construct : str
        What was refused, e.g. ``"import of os"``, ``"attribute '__class__'"``,
        ``"audit event 'open'"``.
    """

    def __init__(self, construct: str, *, line: int | None = None, hint: str | None = None) -> None:
        where = f" at line {line}" if line is not None else ""
        super().__init__(f"strategy code refused: {construct}{where}", line=line, hint=hint)
        self.construct = construct

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "construct": self.construct}


class SandboxLimitExceeded(SandboxError):  # noqa: N818 - the name says what happened
    """The strategy code hit a resource limit and was stopped.

    Attributes
    ----------
    limit : str
        ``"cpu"`` (CPU seconds), ``"memory"`` (address space) or ``"wall"``
        (wall-clock seconds).
    """

    def __init__(self, limit: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.limit = limit

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "limit": self.limit}


class SandboxOutputError(SandboxError):
    """``signal`` returned a value of the wrong kind, shape or with infinite values."""


class SandboxInputError(AlphaloopError):
    """The arrays given to the sandbox are not a valid (time, asset) panel."""
