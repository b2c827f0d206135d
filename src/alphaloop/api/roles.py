"""Roles and the permission table: who may do what, in one place.

Roles are ordered: ``viewer < researcher < trader < admin``; a role has every
permission of the roles below it. Each permission names the lowest role
that holds it. Every route of the service names one permission (reading
routes ``read``); a route without one is refused by the tests.

=====================  ============  ==============================================
permission             lowest role   what it allows
=====================  ============  ==============================================
read                   viewer        every reading endpoint, the WebSocket
research.run           researcher    factor jobs, backtests, validations, research
                                     sessions (start, stop), dataset imports, job
                                     cancellation
risk.manage            trader        kill switch, approvals, risk reports as jobs
policy.manage          admin         the autonomy policy, lifecycle moves
users.manage           admin         users, roles, API keys of others
=====================  ============  ==============================================
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["PERMISSIONS", "Role", "allowed", "lowest_role"]


class Role(IntEnum):
    """A user's role; a higher value holds every permission of a lower one."""

    viewer = 1
    researcher = 2
    trader = 3
    admin = 4

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text`` (ValueError naming the allowed ones otherwise)."""
        try:
            return cls[text.strip().lower()]
        except KeyError:
            allowed_names = ", ".join(r.name for r in cls)
            raise ValueError(f"unknown role {text!r}; allowed: {allowed_names}") from None


PERMISSIONS: dict[str, Role] = {
    "read": Role.viewer,
    "research.run": Role.researcher,
    "risk.manage": Role.trader,
    "policy.manage": Role.admin,
    "users.manage": Role.admin,
}
"""Permission -> the lowest role that holds it."""


def lowest_role(permission: str) -> Role:
    """The lowest role holding ``permission`` (KeyError for an unknown one: a bug)."""
    return PERMISSIONS[permission]


def allowed(role: Role, permission: str) -> bool:
    """Whether ``role`` holds ``permission``."""
    return role >= PERMISSIONS[permission]
