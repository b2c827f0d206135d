"""The running system: paper trading now; the event bus and lifecycle later.

:class:`PaperSession` drives an event-backtest strategy on a
:class:`~alphaloop.execution.Feed` through a broker, bar by bar, with the
backtest's cost and fill model; :class:`PaperStore` and
:class:`StoreRecorder` keep each bar in the database (one transaction per
bar); :func:`reconcile` repairs the record against the broker after a
restart.

Modules: :mod:`.session`, :mod:`.records`, :mod:`.reconcile`. Public names
load on first use, so reading the session tables does not import the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.live.reconcile import Reconciliation, reconcile
    from alphaloop.live.records import ACTIVE, PaperSessionInfo, PaperStore, StoreRecorder
    from alphaloop.live.session import BarRecorder, PaperSession

__all__ = [
    "ACTIVE",
    "BarRecorder",
    "PaperSession",
    "PaperSessionInfo",
    "PaperStore",
    "Reconciliation",
    "StoreRecorder",
    "reconcile",
]

_HOME: dict[str, str] = {
    "ACTIVE": "alphaloop.live.records",
    "BarRecorder": "alphaloop.live.session",
    "PaperSession": "alphaloop.live.session",
    "PaperSessionInfo": "alphaloop.live.records",
    "PaperStore": "alphaloop.live.records",
    "Reconciliation": "alphaloop.live.reconcile",
    "StoreRecorder": "alphaloop.live.records",
    "reconcile": "alphaloop.live.reconcile",
}


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
