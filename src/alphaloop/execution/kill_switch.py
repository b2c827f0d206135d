"""The persisted kill switch: set and cleared by people, polled cheaply by every gated broker.

The switch is a list of events in ``kill_switch_events`` (set or clear, per
scope): ``all`` stops everything; ``session ID`` and ``strategy ID`` stop
one paper/live session or one strategy. Setting and clearing are audited
(``kill.set``, ``kill.cleared``).

A broker asks :meth:`KillSwitch.tripped` before each order. The answer is
cached under the switch's *version* (the id of its latest event): a check
reads one integer (``max(id)`` on the primary key) and reloads the active
scopes only when it changed, so a switch set by another process is seen
on the very next check. ``poll_interval_s`` > 0 trades that promptness for
fewer reads (the version is then read at most once per interval).

On a SQLite file the version is also written, after each commit, to a
signal file next to the database (``<file>-kill``); a check then reads that
small file instead of querying the database. On PostgreSQL each change is
announced with ``NOTIFY`` on a channel per schema, and a check looks at the
notifications that arrived on a listening connection (no round trip). Either
way the database is still queried at least once a second
(``db_recheck_s``), so a signal that was lost never hides a kill for long.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alphaloop.errors import AlphaloopError
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.change_signal import ChangeNotices, replace_signal_file
from alphaloop.store import Database, KillSwitchEventRow, sqlite_path

__all__ = ["KillScope", "KillState", "KillSwitch", "KillSwitchError"]


class KillSwitchError(AlphaloopError):
    """A kill-switch command that cannot be done (bad scope, nothing to clear)."""


class KillScope(StrEnum):
    """What a kill stops: everything, one session, or one strategy."""

    ALL = "all"
    SESSION = "session"
    STRATEGY = "strategy"


@dataclass(frozen=True, slots=True)
class KillState:
    """One active kill: its scope, target id ('' for ``all``), reason, who and when."""

    scope: KillScope
    target: str
    reason: str
    actor: str
    at: datetime

    def covers(self, session: str, strategy: str) -> bool:
        """Whether this kill stops orders of ``session`` / ``strategy``."""
        if self.scope is KillScope.ALL:
            return True
        if self.scope is KillScope.SESSION:
            return self.target == session
        return self.target == strategy

    @property
    def label(self) -> str:
        return "all" if self.scope is KillScope.ALL else f"{self.scope.value} {self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope.value,
            "target": self.target,
            "reason": self.reason,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }


def _scope(scope: KillScope | str, target: str | None) -> tuple[KillScope, str]:
    try:
        kind = KillScope(scope)
    except ValueError:
        allowed = ", ".join(s.value for s in KillScope)
        raise KillSwitchError(f"unknown kill scope {scope!r}", hint=f"allowed: {allowed}") from None
    target = (target or "").strip()
    if kind is KillScope.ALL and target:
        raise KillSwitchError(f"the scope 'all' takes no id, got {target!r}")
    if kind is not KillScope.ALL and not target:
        raise KillSwitchError(f"the scope {kind.value!r} needs an id")
    return kind, target


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class KillSwitch:
    """The kill switch of one database.

    Parameters
    ----------
    db : Database
    audit : AuditLog
        Where setting and clearing are recorded.
    poll_interval_s : float, default 0
        Seconds between reads of the version (0: at every check).
    db_recheck_s : float, default 1
        With a signal file (SQLite), the database is still queried at least
        this often, seconds.
    """

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        poll_interval_s: float = 0.0,
        db_recheck_s: float = 1.0,
    ) -> None:
        self.db = db
        self.audit = audit
        self.poll_interval_s = float(poll_interval_s)
        self.db_recheck_s = float(db_recheck_s)
        self._version = -1
        self._active: list[KillState] = []
        self._polled_at = -float("inf")
        self._queried_at = -float("inf")
        self.n_reads = 0
        dbfile = sqlite_path(db.url)
        self._signal: Path | None = None if dbfile is None else Path(f"{dbfile}-kill")
        self._notices = ChangeNotices(db, "alphaloop_kill")

    def _forget(self) -> None:
        """Drop the cached state after this switch changed it: the next check re-reads.

        Another connection's notification may reach the listener a moment
        after the commit; a change made here must not wait for it.
        """
        self._version = -1
        self._polled_at = -float("inf")

    def close(self) -> None:
        """Close the listening connection, if any."""
        self._notices.close()

    def _write_signal(self) -> None:
        """Publish the version in the signal file (atomically; best effort)."""
        if self._signal is None:
            return
        replace_signal_file(self._signal, str(self.version()))

    def _signalled(self) -> int | None:
        """The version the signal file or the notifications announce (None: no signal)."""
        notified = self._notices.latest()
        if notified is not None:
            return notified
        if self._signal is None:
            return None
        try:
            return int(self._signal.read_text() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError):
            return None

    # ---------------------------------------------------------- commands
    def set(
        self, reason: str, *, actor: str, scope: KillScope | str = KillScope.ALL,
        target: str | None = None,
    ) -> KillState:  # fmt: skip
        """Trip the switch for a scope (audited as ``kill.set``)."""
        kind, tgt = _scope(scope, target)
        if not reason.strip():
            raise KillSwitchError("a kill needs a reason (--reason TEXT)")
        with self.db.write_session() as s:
            row = KillSwitchEventRow(
                scope=kind.value, target=tgt, active=True, reason=reason, actor=actor,
                at=datetime.now(UTC),
            )  # fmt: skip
            s.add(row)
            s.flush()
            self._notices.notify(s, row.id)
            state = KillState(kind, tgt, reason, actor, _aware(row.at))
        self._forget()
        self._write_signal()
        self.audit.append(actor, "kill.set", state.label, {"reason": reason, "scope": kind.value,
                                                            "target": tgt})  # fmt: skip
        return state

    def clear(
        self, reason: str, *, actor: str, scope: KillScope | str = KillScope.ALL,
        target: str | None = None,
    ) -> None:  # fmt: skip
        """Clear the switch for a scope (audited as ``kill.cleared``); it must be set."""
        kind, tgt = _scope(scope, target)
        if not reason.strip():
            raise KillSwitchError("clearing the kill switch needs a reason (--reason TEXT)")
        if not any(k.scope is kind and k.target == tgt for k in self.active(refresh=True)):
            label = "all" if kind is KillScope.ALL else f"{kind.value} {tgt}"
            raise KillSwitchError(
                f"the kill switch is not set for {label}: nothing to clear",
                hint="see `alphaloop kill --status`",
            )
        with self.db.write_session() as s:
            row = KillSwitchEventRow(scope=kind.value, target=tgt, active=False, reason=reason,
                                     actor=actor, at=datetime.now(UTC))  # fmt: skip
            s.add(row)
            s.flush()
            self._notices.notify(s, row.id)
        self._forget()
        self._write_signal()
        label = "all" if kind is KillScope.ALL else f"{kind.value} {tgt}"
        self.audit.append(actor, "kill.cleared", label, {"reason": reason, "scope": kind.value,
                                                         "target": tgt})  # fmt: skip

    # ------------------------------------------------------------ queries
    def version(self) -> int:
        """The id of the latest event (0: never used): changes whenever the switch does."""
        self.n_reads += 1
        with self.db.session() as s:
            return int(s.scalar(select(func.max(KillSwitchEventRow.id))) or 0)

    def active(self, *, refresh: bool = False) -> list[KillState]:
        """Every active kill (cached; re-read when the version changed)."""
        now = time.monotonic()
        if refresh or now - self._polled_at >= self.poll_interval_s:
            self._polled_at = now
            if (
                not refresh
                and self._signalled() == self._version
                and now - self._queried_at < self.db_recheck_s
            ):
                return list(self._active)
            self._queried_at = now
            self._notices.listen()  # listen before reading: no change falls between the two
            version = self.version()
            self._notices.notified = max(self._notices.notified, version)
            if version != self._version:
                self._active = self._load()
                self._version = version
        return list(self._active)

    def tripped(self, session: str = "", strategy: str = "") -> KillState | None:
        """The active kill that stops ``session`` / ``strategy``, or None."""
        for k in self.active():
            if k.covers(session, strategy):
                return k
        return None

    def _load(self) -> list[KillState]:
        latest: dict[tuple[str, str], KillSwitchEventRow] = {}
        with self.db.session() as s:
            for row in s.scalars(select(KillSwitchEventRow).order_by(KillSwitchEventRow.id)):
                latest[(row.scope, row.target)] = row
            return [
                KillState(KillScope(r.scope), r.target, r.reason, r.actor, _aware(r.at))
                for r in latest.values()
                if r.active
            ]
