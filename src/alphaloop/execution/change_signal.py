"""How a table's writers tell its readers that it changed, without a query per check.

On PostgreSQL a writer announces the table's new version with ``NOTIFY`` on a
channel per schema (delivered at commit) and a reader looks at the
notifications that arrived on its listening connection (:class:`ChangeNotices`).
On a SQLite file the writer replaces a small signal file next to the database
after the commit (:func:`replace_signal_file`). Both are best effort: readers
still query the database now and then, so a lost signal never hides a change
for long.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from alphaloop.store import Database

__all__ = ["ChangeNotices", "replace_signal_file"]


class ChangeNotices:
    """Change notifications of one table on PostgreSQL (nothing elsewhere).

    Parameters
    ----------
    db : Database
    prefix : str
        The channel's name before the schema (``<prefix>_<schema>``).
    """

    def __init__(self, db: Database, prefix: str) -> None:
        self.db = db
        self.channel = f"{prefix}_{db.schema or 'public'}"
        self.notified = 0  # the highest version notified (or read) so far
        self._listener: Any = None
        self._listening = db.url.startswith("postgresql")

    def listen(self) -> Any:
        """The connection that listens for changes on PostgreSQL (None: not available)."""
        if self._listener is None and self._listening:
            try:
                import psycopg
                from sqlalchemy.engine import make_url

                url = make_url(self.db.url).set(drivername="postgresql")
                conn = psycopg.connect(url.render_as_string(hide_password=False),
                                       autocommit=True)  # fmt: skip
                conn.execute(f'LISTEN "{self.channel}"')
                self._listener = conn
                weakref.finalize(self, conn.close)  # closed with its owner, never leaked
            except Exception:
                self._listening = False  # checks query the database instead
        return self._listener

    def latest(self) -> int | None:
        """The highest version notified so far, after reading what has arrived; None
        when nothing listens (not PostgreSQL, or the listener failed: it is dropped)."""
        listener = self.listen()
        if listener is None:
            return None
        try:
            for note in listener.notifies(timeout=0):
                self.notified = max(self.notified, int(note.payload))
        except Exception:
            self._listener, self._listening = None, False
            return None
        return self.notified

    def notify(self, session: Any, version: int) -> None:
        """Announce ``version`` to listeners (PostgreSQL; delivered at commit)."""
        if session.connection().dialect.name == "postgresql":
            session.execute(text("SELECT pg_notify(:c, :v)"),
                            {"c": self.channel, "v": str(version)})  # fmt: skip

    def close(self) -> None:
        """Close the listening connection, if any."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None


def replace_signal_file(path: str | os.PathLike[str], content: str) -> None:
    """Replace the file at ``path`` with ``content`` atomically (a temporary file of this
    process, then a rename); best effort: an error leaves the old file."""
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
