"""Users, refresh tokens and API keys in the workspace database.

:class:`UserStore` is what ``alphaloop users`` and the service's auth
endpoints use. Refresh tokens rotate: each use marks the token used and
issues a new one of the same *family*; a used token presented again means
it was stolen, and the whole family is revoked. Disabling a user revokes
their refresh tokens and keys, and their access tokens stop working at the
next request (the role and the disabled flag are read on every request).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from alphaloop.api.errors import AuthError, NotFoundError
from alphaloop.api.roles import Role
from alphaloop.api.security import (
    API_KEY_PREFIX,
    TokenClaims,
    hash_password,
    hash_secret,
    new_secret,
    verify_password,
)
from alphaloop.errors import UsageError
from alphaloop.store import ApiKeyRow, Database, RefreshTokenRow, UserRow

__all__ = ["MIN_PASSWORD_CHARS", "ApiKey", "User", "UserStore"]

MIN_PASSWORD_CHARS = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
# a fixed hash to verify against when the user does not exist (same time either way)
_DUMMY_HASH = hash_password("not a password of anyone")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class User:
    """A user as the service sees one."""

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.name,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ApiKey:
    """An API key's record (never the key itself, except ``secret`` right after creation)."""

    id: int
    user: str
    name: str
    prefix: str
    revoked: bool
    created_at: datetime
    secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "prefix": self.prefix,
            "revoked": self.revoked,
            "created_at": self.created_at.isoformat(),
        }
        if self.secret is not None:
            doc["key"] = self.secret
        return doc


def _user(row: UserRow) -> User:
    return User(row.id, row.name, Role.parse(row.role), row.disabled, _aware(row.created_at))


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"invalid user name {name!r}",
            hint="1-100 characters: letters, digits, '.', '_', '@', '-'; starting with a "
            "letter or digit",
        )
    return name


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(
            f"the password has {len(password)} characters; at least {MIN_PASSWORD_CHARS} are needed"
        )
    return password


def _role(role: Role | str) -> Role:
    if isinstance(role, Role):
        return role
    try:
        return Role.parse(role)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class UserStore:
    """Users, refresh tokens and API keys of one database.

    Parameters
    ----------
    db : Database
        The workspace's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------- users
    def add(self, name: str, password: str, role: Role | str = Role.viewer) -> User:
        """Create a user (UsageError when the name is taken or the password too short)."""
        row = UserRow(
            name=_check_name(name),
            password_hash=hash_password(_check_password(password)),
            role=_role(role).name,
            disabled=False,
            created_at=datetime.now(UTC),
        )
        try:
            with self.db.session() as s:
                s.add(row)
                s.flush()
                return _user(row)
        except IntegrityError:
            raise UsageError(f"a user named {name!r} already exists") from None

    def list(self) -> list[User]:
        with self.db.session() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.id))]

    def get(self, name: str) -> User:
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFoundError(f"no user named {name!r}", hint="see `alphaloop users list`")
            return _user(row)

    def by_id(self, user_id: int) -> User | None:
        with self.db.session() as s:
            row = s.get(UserRow, user_id)
            return None if row is None else _user(row)

    def count(self) -> int:
        return len(self.list())

    def set_role(self, name: str, role: Role | str) -> User:
        new = _role(role)
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFoundError(f"no user named {name!r}")
            row.role = new.name
            return _user(row)

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        """Disable (or enable) a user; disabling revokes their refresh tokens and keys."""
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFoundError(f"no user named {name!r}")
            row.disabled = disabled
            if disabled:
                s.execute(
                    update(RefreshTokenRow)
                    .where(RefreshTokenRow.user_id == row.id)
                    .values(revoked=True)
                )
                s.execute(update(ApiKeyRow).where(ApiKeyRow.user_id == row.id).values(revoked=True))
            return _user(row)

    def authenticate(self, name: str, password: str) -> User:
        """The user when ``password`` is theirs and they are enabled (AuthError otherwise)."""
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            stored = row.password_hash if row is not None else _DUMMY_HASH
        ok = verify_password(stored, password)
        if row is None or not ok:
            raise AuthError("wrong user name or password")
        if row.disabled:
            raise AuthError(f"user {name!r} is disabled")
        return _user(row)

    def active(self, user_id: int) -> User:
        """The enabled user ``user_id`` (AuthError when gone or disabled)."""
        user = self.by_id(user_id)
        if user is None or user.disabled:
            raise AuthError("the user of this token no longer exists or is disabled")
        return user

    # ---------------------------------------------------- refresh tokens
    def issue_refresh(self, user: User, ttl_s: int, family: str | None = None) -> str:
        """A new refresh token for ``user`` (the clear text, returned once)."""
        token = new_secret("rt_")
        with self.db.session() as s:
            s.add(
                RefreshTokenRow(
                    user_id=user.id,
                    token_hash=hash_secret(token),
                    family=family or secrets.token_hex(16),
                    expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
                    used=False,
                    revoked=False,
                    created_at=datetime.now(UTC),
                )
            )
        return token

    def rotate_refresh(self, token: str, ttl_s: int) -> tuple[User, str]:
        """Spend ``token`` and issue its successor; a reused token revokes its family.

        Raises
        ------
        AuthError
            Unknown, expired, revoked or already used (then the family is revoked).
        """
        digest = hash_secret(token)
        with self.db.write_session() as s:
            row = s.scalar(select(RefreshTokenRow).where(RefreshTokenRow.token_hash == digest))
            if row is None:
                raise AuthError("unknown refresh token")
            if row.used or row.revoked:
                s.execute(
                    update(RefreshTokenRow)
                    .where(RefreshTokenRow.family == row.family)
                    .values(revoked=True)
                )
                reused = row.used and not row.revoked
                family = row.family
                user_id = row.user_id
            else:
                reused = None
            if reused is None:
                if _aware(row.expires_at) <= datetime.now(UTC):
                    raise AuthError("the refresh token has expired", hint="log in again")
                row.used = True
                family, user_id = row.family, row.user_id
        if reused is not None:
            raise AuthError(
                "this refresh token was already used or revoked; every token of its login "
                "is now revoked",
                hint="log in again",
            )
        user = self.active(user_id)
        return user, self.issue_refresh(user, ttl_s, family)

    def revoke_refresh(self, token: str) -> bool:
        """Revoke ``token``'s whole family (logout); False when unknown."""
        digest = hash_secret(token)
        with self.db.session() as s:
            row = s.scalar(select(RefreshTokenRow).where(RefreshTokenRow.token_hash == digest))
            if row is None:
                return False
            s.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.family == row.family)
                .values(revoked=True)
            )
            return True

    # ----------------------------------------------------------- API keys
    def create_key(self, user_name: str, key_name: str) -> ApiKey:
        """A new API key for ``user_name``; ``secret`` holds the key, shown only now."""
        user = self.get(user_name)
        if not key_name.strip() or len(key_name) > 100:
            raise UsageError("an API key needs a name of 1-100 characters")
        secret = new_secret(API_KEY_PREFIX)
        with self.db.session() as s:
            row = ApiKeyRow(
                user_id=user.id,
                name=key_name.strip(),
                prefix=secret[:12],
                key_hash=hash_secret(secret),
                revoked=False,
                created_at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            return ApiKey(row.id, user.name, row.name, row.prefix, False, row.created_at, secret)

    def list_keys(self, user_name: str | None = None) -> list[ApiKey]:
        with self.db.session() as s:
            q = select(ApiKeyRow, UserRow.name).join(UserRow, UserRow.id == ApiKeyRow.user_id)
            if user_name is not None:
                q = q.where(UserRow.name == user_name)
            return [
                ApiKey(k.id, n, k.name, k.prefix, k.revoked, _aware(k.created_at))
                for k, n in s.execute(q.order_by(ApiKeyRow.id)).all()
            ]

    def revoke_key(self, key_id: int) -> ApiKey:
        with self.db.session() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            row.revoked = True
            owner = s.get(UserRow, row.user_id)
            name = owner.name if owner is not None else "?"
            return ApiKey(row.id, name, row.name, row.prefix, True, _aware(row.created_at))

    def authenticate_key(self, key: str) -> TokenClaims:
        """The claims of a valid, unrevoked key of an enabled user (AuthError otherwise)."""
        digest = hash_secret(key)
        with self.db.session() as s:
            row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
            if row is None or row.revoked:
                raise AuthError("unknown or revoked API key")
            user_id = row.user_id
        user = self.active(user_id)
        return TokenClaims(user.id, user.name, user.role, via="key")
