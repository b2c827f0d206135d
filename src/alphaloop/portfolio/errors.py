"""The typed errors of :mod:`alphaloop.portfolio`."""

from __future__ import annotations

from alphaloop.errors import AlphaloopError

__all__ = ["OptimizationError", "PortfolioInputError"]


class PortfolioInputError(AlphaloopError):
    """Inputs an optimizer cannot take (bad window, contradicting bounds, unknown asset).

    ``field`` names the offending input; the message names it too.
    """

    def __init__(self, message: str, *, field: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class OptimizationError(AlphaloopError):
    """An optimizer failed on one window (solver failure, infeasible problem, bad weights).

    Inside a walk-forward this is caught and a fallback is used; it reaches
    the caller only from a single :func:`~alphaloop.portfolio.optimize_weights` call.
    """
