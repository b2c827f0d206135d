"""The typed errors and warnings of :mod:`alphaloop.rl`.

:class:`RLError` covers environments and their settings; ``except RLError``
catches every error this package raises on purpose. The warnings record what
an environment repaired on its own (an action out of range, a missing
observation value); each is also counted on the environment and reported in
the step's ``info``.
"""

from __future__ import annotations

from alphaloop.errors import AlphaloopError

__all__ = ["RLActionWarning", "RLConfigError", "RLError", "RLObservationWarning"]


class RLError(AlphaloopError):
    """An environment cannot be built or stepped as asked."""


class RLConfigError(RLError):
    """An environment setting is invalid, or does not fit the data (bad input)."""


class RLActionWarning(UserWarning):
    """An action was out of range or not finite and was clipped (or held, for NaN)."""


class RLObservationWarning(UserWarning):
    """Observation values were missing (NaN) and were replaced by 0 (the running mean)."""
