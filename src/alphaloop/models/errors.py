"""The typed errors of :mod:`alphaloop.models`.

:class:`ModelError` covers learning datasets, estimators, training and
monitoring; the registry's errors derive from it, so ``except ModelError``
catches every error this package raises on purpose.
"""

from __future__ import annotations

from alphaloop.errors import AlphaloopError, ExitCode

__all__ = ["ArtifactTamperedError", "ModelError", "ModelNotFoundError", "RegistryError"]


class ModelError(AlphaloopError):
    """A learning dataset or model was asked for something its inputs cannot give."""


class RegistryError(ModelError):
    """A model cannot be registered, found, loaded or moved to that stage."""


class ModelNotFoundError(RegistryError):
    """No registered model version matches the reference."""


class ArtifactTamperedError(RegistryError):
    """A version's artifact files no longer match the SHA-256 recorded at registration."""

    exit_code = ExitCode.WORKSPACE  # the workspace's storage was changed behind its back
