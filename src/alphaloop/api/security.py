"""Passwords, signed access tokens and random secrets.

- Passwords: argon2id (argon2-cffi's defaults), never stored in clear.
- Access tokens: JWT, HS256 signed with the service secret, short-lived
  (``access_ttl_s``), carrying the user name (``sub``), role and user id.
- Refresh tokens and API keys: 256-bit random texts, stored as their
  sha256 (a slow hash adds nothing to an unguessable secret).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from alphaloop.api.errors import AuthError
from alphaloop.api.roles import Role

__all__ = [
    "API_KEY_PREFIX",
    "TokenClaims",
    "decode_access_token",
    "hash_password",
    "hash_secret",
    "issue_access_token",
    "new_secret",
    "verify_password",
]

API_KEY_PREFIX = "alk_"
"""API keys start with this, so a leaked one is recognizable."""

_ALGORITHM = "HS256"
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False on any mismatch)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str = "") -> str:
    """A fresh random text (256 bits, URL-safe) with ``prefix``."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    """sha256 hex of a random token or key (what the database stores)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenClaims:
    """Who an access token (or API key) speaks for."""

    user_id: int
    name: str
    role: Role
    via: str = "token"  # "token" or "key"


def issue_access_token(claims: TokenClaims, secret: str, ttl_s: int) -> tuple[str, int]:
    """A signed access token for ``claims`` and its expiry (Unix seconds)."""
    now = int(time.time())
    exp = now + ttl_s
    payload: dict[str, Any] = {
        "sub": claims.name,
        "uid": claims.user_id,
        "role": claims.role.name,
        "iat": now,
        "exp": exp,
        "typ": "access",
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM), exp


def decode_access_token(token: str, secret: str) -> TokenClaims:
    """The claims of a valid access token.

    Raises
    ------
    AuthError
        Expired, badly signed, malformed or not an access token.
    """
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            options={"require": ["exp", "sub", "uid", "role", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(
            "the access token has expired", hint="refresh it at /api/v1/auth/refresh"
        ) from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid access token: {exc}") from None
    if payload.get("typ") != "access":
        raise AuthError("invalid access token: not an access token")
    try:
        role = Role.parse(str(payload["role"]))
        return TokenClaims(int(payload["uid"]), str(payload["sub"]), role)
    except (ValueError, TypeError):
        raise AuthError("invalid access token: bad claims") from None
