"""The typed errors of :mod:`alphaloop.risk`.

Every error raised on purpose derives from :class:`RiskError`, so ``except
RiskError`` catches them all. Each carries ``field``: the name of the input
that was wrong (``"confidence"``, ``"returns"``, ``"covariance"``,
``"scenario"``, ...), which the message names too.
"""

from __future__ import annotations

from typing import Any

from alphaloop.errors import AlphaloopError

__all__ = ["CovarianceError", "RiskError", "RiskInputError", "ScenarioError"]


class RiskError(AlphaloopError):
    """A risk measure was asked for something its inputs cannot give.

    Parameters
    ----------
    message : str
        What was wrong and where.
    field : str, optional
        The name of the offending input, e.g. ``"confidence"`` (None where
        the message alone names it).
    hint : str, optional
        What the user can do about it.
    """

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "field": self.field}


class RiskInputError(RiskError):
    """An input value is invalid: NaNs in returns, a confidence outside (0, 1), bad shapes."""


class CovarianceError(RiskInputError):
    """A covariance matrix is not symmetric positive definite (or has the wrong shape)."""


class ScenarioError(RiskInputError):
    """A stress scenario is unknown or badly defined (names, dates, shocks)."""
