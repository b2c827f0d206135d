"""Starting Ray (or joining a running instance) for the Ray pool and the Ray job backend."""

from __future__ import annotations

from typing import Any

from alphaloop.errors import ConfigError

__all__ = ["ray_runtime"]


def ray_runtime(
    address: str | None, workers: int, *, missing: str = "the Ray executor needs the ray package"
) -> tuple[Any, bool]:
    """The ``ray`` module, initialised (a local instance of ``workers`` CPUs unless
    ``address`` names a cluster or Ray is already initialised), and whether it was
    started here (then the caller shuts it down).

    ``missing`` is the error's sentence when Ray is not installed.

    Raises
    ------
    ConfigError
        Ray is not installed or the cluster at ``address`` does not answer.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(missing, hint="pip install 'alphaloop[ray]'") from None
    if ray.is_initialized():
        return ray, False
    try:
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except ConnectionError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address!r}: {exc}",
            hint="check ALPHALOOP_RAY_ADDRESS and that the Ray head is running",
        ) from exc
    return ray, True
