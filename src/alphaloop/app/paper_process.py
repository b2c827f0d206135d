"""Paper sessions as processes: stop one (its flag, and SIGTERM on this machine), or run
one in a background process of its own (``paper start --detach``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from alphaloop.app.paper import _ENDED, paper_store
from alphaloop.errors import PaperError
from alphaloop.live.records import PaperSessionInfo

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = ["BUS_ENV", "detach_paper", "stop_paper"]

#: the event bus URL a session publishes to (``paper start --bus``)
BUS_ENV = "ALPHALOOP_BUS_URL"


def stop_paper(ws: Workspace, session_id: int) -> PaperSessionInfo:
    """Ask a session to stop after its current bar; a session whose process is gone stops now.

    Raises
    ------
    PaperError
        The session has already ended.
    """
    store = paper_store(ws)
    info = store.get(session_id)
    if info.status in (*_ENDED, "stopped"):
        raise PaperError(f"paper session {session_id} is already {info.status}")
    if info.status == "running" and info.alive:
        store.update(session_id, stop_requested=True)  # read by the session within a second
        if info.pid is not None and info.pid != os.getpid():
            os.kill(info.pid, signal.SIGTERM)
    else:
        store.update(session_id, status="stopped", stop_requested=True)
    return store.get(session_id)


def detach_paper(
    ws: Workspace, session_id: int, *, bus: str | None = None, bus_topic: str = "events"
) -> int:
    """Run a session in a background process of its own; returns its pid.

    The process runs ``alphaloop paper resume ID`` on this workspace in a
    new session (it survives the terminal); its output goes to
    ``<workspace>/paper/ID.log``. ``bus`` (in the child's environment, as
    ``ALPHALOOP_BUS_URL``: a URL may hold a password) and ``bus_topic`` are passed on.
    """
    log_dir = Path(ws.root) / "paper"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{session_id}.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "alphaloop.cli", "--workspace", str(ws.root),
                "paper", "resume", str(session_id),
                *(["--live"] if _is_live(ws, session_id) else []),
                *(["--bus-topic", bus_topic] if bus else []),
            ],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=_child_env(ws, bus),
        )  # fmt: skip
    finally:
        log.close()
    return proc.pid


def _child_env(ws: Workspace, bus: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(BUS_ENV, None)  # the session publishes where it was told to, or nowhere
    if bus:
        env[BUS_ENV] = bus
    settings = ws.settings
    if getattr(settings, "database_url", None):
        env["ALPHALOOP_DATABASE_URL"] = str(settings.database_url)
    if getattr(settings, "database_schema", None):
        env["ALPHALOOP_DATABASE_SCHEMA"] = str(settings.database_schema)
    env["ALPHALOOP_HOLDOUT_FRACTION"] = str(settings.holdout_fraction)
    return env


def _is_live(ws: Workspace, session_id: int) -> bool:
    return paper_store(ws).get(session_id).mode == "live"
