"""The service's state: one workspace and what the routes share, passed explicitly.

:class:`ServiceContext` is built once by :func:`~alphaloop.api.app.create_app`
and reached by routes through ``request.app.state.ctx``; two apps over two
workspaces live side by side in one process (the tests do).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alphaloop.api.hub import Hub
from alphaloop.api.limits import RateLimiter
from alphaloop.api.settings import ApiSettings
from alphaloop.api.users import UserStore

if TYPE_CHECKING:
    from alphaloop.api.jobs import JobManager
    from alphaloop.app import Workspace

__all__ = ["ServiceContext"]


@dataclass
class ServiceContext:
    """Everything a request may need."""

    ws: Workspace
    settings: ApiSettings
    users: UserStore
    limiter: RateLimiter
    login_limiter: RateLimiter
    hub: Hub
    jobs: JobManager
    extras: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict, repr=False)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cached(self, key: str, ttl_s: float, compute: Callable[[], Any]) -> Any:
        """``compute()``, reused for ``ttl_s`` seconds: for answers that are costly to build
        and may be that old (the dataset list: a new import shows within ``ttl_s``)."""
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = compute()
        with self._cache_lock:
            self._cache[key] = (now + ttl_s, value)
        return value

    def forget(self, key: str) -> None:
        """Drop a cached answer (after a change this service made itself)."""
        with self._cache_lock:
            self._cache.pop(key, None)

    @property
    def secret(self) -> str:
        return self.settings.secret.get_secret_value()

    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append ``actor`` did ``action`` on ``target`` (because ``reason``) to the audit chain."""
        from alphaloop.app.governance import governance

        payload = {"reason": reason, "via": "api", **(detail or {})}
        governance(self.ws).audit.append(actor, action, target, payload)
