"""The service's state: one workspace and what the routes share, passed explicitly.

:class:`ServiceContext` is built once by :func:`~alphaloop.api.app.create_app`
and reached by routes through ``request.app.state.ctx``; two apps over two
workspaces live side by side in one process (the tests do).
"""

from __future__ import annotations

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
    hub: Hub
    jobs: JobManager
    extras: dict[str, Any] = field(default_factory=dict)

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
