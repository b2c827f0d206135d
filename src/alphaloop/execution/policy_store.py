"""The policy store: the current policy and every change to it, in the workspace database.

Each change appends one row to ``policy_changes`` (who, when, why, what,
and the whole policy after it) and one entry to the audit trail
(``policy.mode_changed``, ``policy.blocked``, ``policy.allowed``,
``policy.settings_changed``). Nothing is updated or deleted: the history is
the table. The current policy is the last row's; with no row it is the
default :class:`~alphaloop.execution.policy.Policy` (mode ``normal``,
nothing blocked, the shipped per-mode settings).

Readers (a risk engine, the lifecycle) call :meth:`PolicyStore.current`:
the answer is cached under the policy's version (the last row's id), and a
check reads only that integer (``max(id)`` on the primary key), reloading
the policy when it changed. On a SQLite file each change also replaces a
small signal file next to the database (``<file>-policy``); a check then
looks at that file's identity (one ``stat``) and queries the database only
when it changed. On PostgreSQL each change is announced with ``NOTIFY`` (a
channel per schema) and a check looks at the notifications that arrived on
a listening connection (no round trip). Either way the database is still
queried at least once per ``db_recheck_s`` (so a lost signal never hides a
change for long). ``poll_interval_s`` > 0 looks at most once
per interval. A change appends under the database's write lock (``BEGIN
IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so two writers never
build on the same version.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, text

from alphaloop.execution.audit_chain import canonical_json
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.change_signal import ChangeNotices, replace_signal_file
from alphaloop.execution.policy import (
    LifecycleThresholds,
    ModeSettings,
    Policy,
    PolicyError,
    RiskMode,
    risk_mode,
)
from alphaloop.execution.risk_limits import RiskLimits
from alphaloop.store import Database, PolicyChangeRow, sqlite_path

__all__ = ["PolicyChange", "PolicyStore"]

#: key of the PostgreSQL advisory lock held while a change is appended
_CHANGE_LOCK = 0x706F6C69  # "poli"
#: kind -> (its blocked list, its allow list) in the policy
_LISTS = {
    "symbol": ("blocked_symbols", "allowed_symbols"),
    "strategy": ("blocked_strategies", "allowed_strategies"),
}
_ACTIONS = {
    "mode": "policy.mode_changed",
    "block": "policy.blocked",
    "allow": "policy.allowed",
    "settings": "policy.settings_changed",
}


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One stored change: its id (the policy's new version), who, when, why, what."""

    id: int
    at: datetime
    actor: str
    reason: str
    change: str
    detail: dict[str, Any]
    policy: Policy

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "reason": self.reason,
            "change": self.change,
            "detail": self.detail,
            "mode": self.policy.mode.value,
        }


def _change(row: PolicyChangeRow) -> PolicyChange:
    return PolicyChange(
        row.id, _aware(row.at), row.actor, row.reason, row.change, json.loads(row.detail),
        Policy.from_dict(json.loads(row.policy), version=row.id),
    )  # fmt: skip


def _lists(kind: str) -> tuple[str, str]:
    if kind not in _LISTS:
        raise PolicyError(f"unknown kind {kind!r}", hint="allowed: symbol, strategy")
    return _LISTS[kind]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PolicyStore:
    """The policy of one database: read cheaply, changed with a reason, every change kept.

    Parameters
    ----------
    db : Database
    audit : AuditLog
        Where each change is recorded.
    poll_interval_s : float, default 0
        Seconds between looks at the version (0: at every :meth:`current`).
    db_recheck_s : float, default 1
        With a signal file (SQLite), the database is still queried at least
        this often, seconds.
    clock : callable, optional
        Time of a change (timezone-aware; default now, UTC).
    """

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        poll_interval_s: float = 0.0,
        db_recheck_s: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if poll_interval_s < 0:
            raise PolicyError(f"poll_interval_s must be >= 0, got {poll_interval_s}")
        self.db = db
        self.audit = audit
        self.clock = clock
        self.poll_interval_s = float(poll_interval_s)
        self.db_recheck_s = float(db_recheck_s)
        self._policy = Policy()
        self._version = -1
        self._polled_at = -float("inf")
        self._queried_at = -float("inf")
        self._seen: tuple[int, int] | None = None
        dbfile = sqlite_path(db.url)
        self._signal = None if dbfile is None else f"{dbfile}-policy"
        self._notices = ChangeNotices(db, "alphaloop_policy")
        self.n_reads = 0

    def close(self) -> None:
        """Close the listening connection, if any."""
        self._notices.close()

    def _signature(self) -> tuple[int, int] | None:
        """What the signals say: on PostgreSQL the latest version notified; on SQLite the
        signal file's identity (inode, mtime in ns), (0, 0) before it exists; None when
        there is no signal (in-memory SQLite, a listener that failed)."""
        notified = self._notices.latest()
        if notified is not None:
            return (notified, 0)
        if self._signal is None:
            return None
        try:
            st = os.stat(self._signal)
        except FileNotFoundError:
            return (0, 0)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _write_signal(self, version: int) -> None:
        """Replace the signal file (atomically; best effort: readers recheck anyway)."""
        if self._signal is None:
            return
        replace_signal_file(self._signal, str(version))

    # ------------------------------------------------------------ reading
    def version(self) -> int:
        """The id of the latest change (0: never changed)."""
        self.n_reads += 1
        with self.db.session() as s:
            return int(s.scalar(select(func.max(PolicyChangeRow.id))) or 0)

    def current(self, *, refresh: bool = False) -> Policy:
        """The current policy (cached; re-read when its version changed)."""
        now = time.monotonic()
        if refresh or now - self._polled_at >= self.poll_interval_s:
            self._polled_at = now
            seen = self._signature()
            if (
                not refresh
                and seen is not None
                and seen == self._seen
                and now - self._queried_at < self.db_recheck_s
            ):
                return self._policy
            # the signature is taken before the query: a change after it is seen next time
            self._seen, self._queried_at = seen, now
            version = self.version()
            if version != self._version:
                self._policy = self._load(version)
                self._version = version
        return self._policy

    def _load(self, version: int) -> Policy:
        if version == 0:
            return Policy()
        with self.db.session() as s:
            row = s.get(PolicyChangeRow, version)
            if row is None:  # pragma: no cover - rows are never deleted
                raise PolicyError(f"policy version {version} is missing from the database")
            return Policy.from_dict(json.loads(row.policy), version=row.id)

    def history(self, limit: int | None = None) -> list[PolicyChange]:
        """Every change, oldest first (the last ``limit`` of them)."""
        q = select(PolicyChangeRow)
        q = (q.order_by(PolicyChangeRow.id.desc()).limit(limit) if limit is not None
             else q.order_by(PolicyChangeRow.id))  # fmt: skip
        with self.db.session() as s:
            rows = [_change(r) for r in s.scalars(q).all()]
        return sorted(rows, key=lambda c: c.id)

    # ------------------------------------------------------------ changes
    def _apply(
        self,
        change: str,
        update: Callable[[Policy], Policy],
        detail: Callable[[Policy, Policy], dict[str, Any]],
        *,
        actor: str,
        reason: str,
    ) -> PolicyChange | None:
        """Append ``update(current)`` as the new policy; None when it changes nothing."""
        if not actor.strip():
            raise PolicyError("a policy change needs the name of who makes it (--actor)")
        if not reason.strip():
            raise PolicyError("a policy change needs a reason (--reason TEXT)")
        with self.db.write_session() as s:
            conn = s.connection()
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHANGE_LOCK})
            last = s.scalars(
                select(PolicyChangeRow).order_by(PolicyChangeRow.id.desc()).limit(1)
            ).first()
            before = Policy() if last is None else Policy.from_dict(json.loads(last.policy),
                                                                    version=last.id)  # fmt: skip
            after = update(before)
            if after.to_dict() | {"version": 0} == before.to_dict() | {"version": 0}:
                return None
            what = detail(before, after)
            row = PolicyChangeRow(at=self.clock(), actor=actor, reason=reason, change=change,
                                  detail=canonical_json(what),
                                  policy=canonical_json(after.to_dict()))  # fmt: skip
            s.add(row)
            s.flush()
            self._notices.notify(s, row.id)  # delivered to listeners at commit
            stored = _change(row)
        self._version, self._polled_at, self._seen = -1, -float("inf"), None  # reload next
        self._write_signal(stored.id)
        self.audit.append(actor, _ACTIONS[change], f"policy v{stored.id}",
                          {"reason": reason, "change": change, **what,
                           "mode": stored.policy.mode.value})  # fmt: skip
        return stored

    def set_mode(self, mode: RiskMode | str, *, actor: str, reason: str) -> PolicyChange | None:
        """Switch the risk mode (None when it already is ``mode``)."""
        new = risk_mode(mode)
        return self._apply(
            "mode",
            lambda p: p.model_copy(update={"mode": new}),
            lambda b, a: {"from": b.mode.value, "to": a.mode.value},
            actor=actor,
            reason=reason,
        )

    def block(self, name: str, *, kind: str = "symbol", actor: str, reason: str
              ) -> PolicyChange | None:  # fmt: skip
        """Block a symbol or strategy: it may only reduce positions from the next check."""
        (blocked, allowed), name = _lists(kind), name.strip()
        if not name:
            raise PolicyError(f"blocking needs a {kind} name")

        def update(p: Policy) -> Policy:
            names = getattr(p, blocked)
            return p.model_copy(update={
                blocked: names if name in names else (*names, name),
                allowed: tuple(n for n in getattr(p, allowed) if n != name),
            })  # fmt: skip

        return self._apply("block", update, lambda b, a: {"kind": kind, "name": name},
                           actor=actor, reason=reason)  # fmt: skip

    def allow(
        self,
        name: str | None,
        *,
        kind: str = "symbol",
        only: bool = False,
        actor: str,
        reason: str,
    ) -> PolicyChange | None:
        """Unblock ``name``; with ``only``, add it to the allow list (then only listed names
        may open positions). ``name=None`` clears the allow list (every name may trade)."""
        blocked, allowed = _lists(kind)
        if name is None:
            if only:
                raise PolicyError("--only needs a name to add to the allow list")
            return self._apply(
                "allow", lambda p: p.model_copy(update={allowed: ()}),
                lambda b, a: {"kind": kind, "cleared_allow_list": list(getattr(b, allowed))},
                actor=actor, reason=reason,
            )  # fmt: skip
        name = name.strip()

        def update(p: Policy) -> Policy:
            names = getattr(p, allowed)
            return p.model_copy(update={
                blocked: tuple(n for n in getattr(p, blocked) if n != name),
                allowed: (*names, name) if only and name not in names else names,
            })  # fmt: skip

        return self._apply("allow", update,
                           lambda b, a: {"kind": kind, "name": name, "only": only},
                           actor=actor, reason=reason)  # fmt: skip

    def set_mode_settings(
        self,
        mode: RiskMode | str,
        *,
        limits: Mapping[str, Any] | None = None,
        thresholds: Mapping[str, Any] | None = None,
        actor: str,
        reason: str,
    ) -> PolicyChange | None:
        """Change some of a mode's limits or thresholds (a limit set to None is removed)."""
        m = risk_mode(mode)

        def update(p: Policy) -> Policy:
            old = p.modes[m]
            current = old.limits.model_dump(exclude_defaults=True)
            merged = {k: v for k, v in {**current, **(limits or {})}.items() if v is not None}
            try:
                settings = ModeSettings(
                    limits=RiskLimits.model_validate(merged),
                    thresholds=LifecycleThresholds.model_validate(
                        {**old.thresholds.model_dump(), **(thresholds or {})}
                    ),
                )
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(x) for x in err["loc"]) or "(settings)"
                msg = str(err["msg"]).removeprefix("Value error, ")
                raise PolicyError(f"policy mode {m.value}: {field}: {msg}") from None
            return p.model_copy(update={"modes": {**p.modes, m: settings}})

        return self._apply(
            "settings", update,
            lambda b, a: {"mode": m.value, "limits": dict(limits or {}),
                          "thresholds": dict(thresholds or {})},
            actor=actor, reason=reason,
        )  # fmt: skip
