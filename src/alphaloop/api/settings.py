"""The service's settings: the signing secret, token lifetimes, CORS, limits, workers.

Read from ``ALPHALOOP_API_*`` environment variables (``ALPHALOOP_API_SECRET``,
``ALPHALOOP_API_CORS_ORIGINS`` as a JSON list, ...) or given explicitly. The
secret signs every access token: the service refuses to start without one,
and refuses one shorter than 32 characters, one from a list of well-known
defaults, or one with too few distinct characters. There is no fallback.

Units are in the names: ``*_s`` seconds, ``*_bytes`` bytes, ``*_per_s``
requests per second.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.api.errors import ServiceConfigError

__all__ = ["MIN_SECRET_CHARS", "WEAK_SECRETS", "ApiSettings", "load_settings"]

MIN_SECRET_CHARS = 32
"""Shortest accepted secret (characters)."""

WEAK_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "secret",
        "password",
        "somethingrandom",
        "super-secret",
        "supersecret",
        "your-secret-key",
        "your_secret_key",
        "jwt-secret",
        "default",
        "alphaloop",
        "test",
    }
)
"""Well-known default secrets (compared without case, dashes, underscores and digits)."""


def _normalized(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalpha())


def check_secret(secret: str) -> str:
    """``secret`` when it is strong enough to sign tokens; a clear error otherwise."""
    if not secret:
        raise ValueError(
            "no secret configured: set ALPHALOOP_API_SECRET to a random text of at least "
            f"{MIN_SECRET_CHARS} characters (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`)"
        )
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(
            f"the secret has {len(secret)} characters; at least {MIN_SECRET_CHARS} are needed"
        )
    stripped = _normalized(secret)
    if any(stripped.startswith(w.replace("-", "").replace("_", "")) for w in WEAK_SECRETS) and (
        len(set(secret)) < 16
    ):
        raise ValueError("the secret is a well-known default value; generate a random one")
    if len(set(secret)) < 10:
        raise ValueError(
            f"the secret uses only {len(set(secret))} distinct characters; generate a random one"
        )
    return secret


class ApiSettings(BaseSettings):
    """Settings of ``alphaloop serve`` (environment: ``ALPHALOOP_API_<FIELD>``)."""

    model_config = SettingsConfigDict(env_prefix="ALPHALOOP_API_", extra="forbid")

    secret: SecretStr = Field(default=SecretStr(""), description="Token signing secret.")
    access_ttl_s: int = Field(900, ge=30, le=86_400, description="Access token lifetime.")
    refresh_ttl_s: int = Field(
        7 * 86_400, ge=300, le=90 * 86_400, description="Refresh token lifetime."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty: none (closed)."
    )
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    rate_per_s: float = Field(20.0, gt=0, description="Sustained requests per second per user.")
    rate_burst: int = Field(60, ge=1, description="Requests a user may make at once.")
    login_rate_per_s: float = Field(
        0.5, gt=0, description="Sustained login and refresh attempts per second per address."
    )
    login_burst: int = Field(10, ge=1, description="Login attempts an address may make at once.")
    workers: int = Field(2, ge=1, le=64, description="Background jobs run at once.")
    job_poll_s: float = Field(0.5, gt=0, le=60, description="How often job progress is read.")
    jobs: Literal["local", "ray"] | None = Field(
        None,
        description="Where background jobs run: local worker processes or Ray tasks; none: "
        "Ray when the workspace settings name a Ray address (ALPHALOOP_RAY_ADDRESS), else local.",
    )
    bus_url: str | None = Field(
        None,
        description="Redis URL of the live event bus whose events feed the WebSocket topics "
        "(fills, P&L ticks, risk states, alerts); none: only the service's own events.",
    )
    bus_topic: str = Field("events", min_length=1, max_length=100, description="Bus topic read.")

    @field_validator("secret")
    @classmethod
    def _strong(cls, value: SecretStr) -> SecretStr:
        check_secret(value.get_secret_value())
        return value


def load_settings(**overrides: object) -> ApiSettings:
    """Settings from the environment with ``overrides`` on top.

    Raises
    ------
    ServiceConfigError
        No secret, a weak one, or another invalid value (which field, and why).
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return ApiSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "?"
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise ServiceConfigError(
            f"the service cannot start: {key} (ALPHALOOP_API_{key.upper()}): {msg}"
        ) from None
