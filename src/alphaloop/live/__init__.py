"""The running system: paper trading now; the event bus and lifecycle later.

:class:`PaperSession` drives an event-backtest strategy on a
:class:`~alphaloop.execution.Feed` through a broker, bar by bar, with the
backtest's cost and fill model; :class:`PaperStore` and
:class:`StoreRecorder` keep each bar in the database (one transaction per
bar); :func:`reconcile` repairs the record against the broker after a
restart.

Modules: :mod:`.session`, :mod:`.records`, :mod:`.reconcile`.
"""

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
