"""Governance news for the WebSocket, read from the audit chain.

Every approval request and decision, kill-switch change and policy change
is appended to the workspace's audit chain, whoever made it: this service,
the command line, a paper or live session in another process. A
:class:`AuditWatcher` thread reads the entries appended since its last look
(every ``poll_s`` seconds: one indexed query for the head, one for the new
entries) and publishes them:

====================  ==========
audit action prefix   WS topic
====================  ==========
``approval.``         approvals
``kill.``             risk
``policy.``           risk
====================  ==========

``data`` is the entry: ``{"seq", "at", "actor", "action", "subject",
"payload"}``. Entries written before the watcher started are not replayed.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alphaloop.api.hub import Hub
    from alphaloop.app import Workspace

__all__ = ["AUDIT_TOPICS", "AuditWatcher"]

logger = logging.getLogger("alphaloop.api")

AUDIT_TOPICS: dict[str, str] = {"approval.": "approvals", "kill.": "risk", "policy.": "risk"}
"""Audit action prefix -> WebSocket topic."""
MAX_BATCH = 500
"""Most entries read in one look (a burst larger than this between looks is skipped over)."""


def topic_of(action: str) -> str | None:
    """The WebSocket topic of an audit action, or None."""
    for prefix, topic in AUDIT_TOPICS.items():
        if action.startswith(prefix):
            return topic
    return None


class AuditWatcher:
    """Publishes new audit entries of governance actions to the hub.

    Parameters
    ----------
    ws : Workspace
        Whose audit chain to read.
    hub : Hub
        Where the news goes.
    poll_s : float
        Seconds between looks.
    """

    def __init__(self, ws: Workspace, hub: Hub, poll_s: float = 0.5) -> None:
        from alphaloop.app.governance import governance

        self.audit = governance(ws).audit
        self.hub = hub
        self.poll_s = poll_s
        self.last_seq = self.audit.head()[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alphaloop-audit", daemon=True)

    def step(self) -> int:
        """One look; the number of entries published."""
        head = self.audit.head()[0]
        if head <= self.last_seq:
            return 0
        entries = self.audit.entries(limit=min(head - self.last_seq, MAX_BATCH))
        published = 0
        for entry in entries:
            if entry.seq <= self.last_seq:
                continue
            topic = topic_of(entry.action)
            if topic is not None:
                doc = entry.to_dict()
                doc.pop("prev_hash", None)
                doc.pop("hash", None)
                self.hub.publish_threadsafe(topic, doc)
                published += 1
        self.last_seq = max(self.last_seq, head)
        return published

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.step()
            except Exception:
                logger.exception("audit watcher: reading the audit chain failed")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
