"""What the gate decided, command by command, and the plan that replays it after a restart.

Each command of the strategy that passes the gate (a new order or a
rebalance) gets a sequence number ``seq`` (1, 2, ...), in the order the
strategy sends them; a command's decisions are numbered by ``step``: a
command is ``sent``, ``refused`` or ``held`` (waiting for a person), and a
held one later ``sent`` or ``refused``. The gate's own acts that are not a
strategy command (orders canceled when a kill is enforced) use ``seq`` 0.

A session that restarts rebuilds its simulated venue by replaying its bars;
the gate then replays the recorded decisions (:class:`ReplayPlan`) instead
of deciding again: a refused order is refused again with the recorded
reason, a held one is released at the bar where it left, and nothing is
audited or requested twice. A strategy whose commands differ from the
recorded ones on replay raises :class:`ReplayMismatchError`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from alphaloop.errors import AlphaloopError

__all__ = ["ACTIONS", "GateDecision", "ReplayMismatchError", "ReplayPlan"]

#: what a decision did to its command
ACTIONS = ("sent", "refused", "held", "canceled")


class ReplayMismatchError(AlphaloopError):
    """On replay, the strategy sent a command the recorded decisions do not describe."""


@dataclass(frozen=True, slots=True)
class GateDecision:
    """One decision of the gate.

    Attributes
    ----------
    seq : int
        The command's number (0 = an act of the gate itself, e.g. a kill's cancel).
    step : int
        The decision's number for this command (0, 1, ...).
    row : int
        The bar it was taken on.
    kind : str
        ``order``, ``rebalance`` or ``cancel``.
    order_id : int or None
        The order's id (None for a rebalance).
    action : str
        ``sent``, ``refused``, ``held`` or ``canceled``.
    stage : str
        Which check decided (``kill_switch``, ``autonomy``, ``compliance``,
        ``risk``, ``approval``; ``gate`` for a plain pass).
    message : str
        Why, in words (empty for a plain pass).
    approval_id : int or None
        The approval request of a held command.
    detail : dict
        Extra facts: a rebalance's target ``weights`` (a signal of an L1
        session), the refusal's rule.
    """

    seq: int
    step: int
    row: int
    kind: str
    order_id: int | None
    action: str
    stage: str = "gate"
    message: str = ""
    approval_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "step": self.step,
            "row": self.row,
            "kind": self.kind,
            "order_id": self.order_id,
            "action": self.action,
            "stage": self.stage,
            "message": self.message,
            "approval_id": self.approval_id,
            "detail": dict(self.detail),
        }


class ReplayPlan:
    """The recorded decisions, arranged for a replay.

    ``first(seq)`` is what happened to a command when it was sent; the later
    decisions (a held command's release, a kill's cancels) are applied at the
    end of their bar, :meth:`due` lists them.
    """

    def __init__(self, decisions: Iterable[GateDecision]) -> None:
        by_seq: dict[int, list[GateDecision]] = defaultdict(list)
        for d in decisions:
            by_seq[d.seq].append(d)
        self._first: dict[int, GateDecision] = {}
        self._due: dict[int, list[GateDecision]] = defaultdict(list)
        self.steps: dict[int, int] = {}
        for seq in sorted(by_seq):
            items = sorted(by_seq[seq], key=lambda d: d.step)
            self.steps[seq] = len(items)
            later = items
            if seq > 0:
                self._first[seq] = items[0]
                later = items[1:]
            for d in later:
                self._due[d.row].append(d)

    def first(self, seq: int, kind: str, order_id: int | None) -> GateDecision:
        """The decision taken when command ``seq`` arrived; it must be the same command."""
        d = self._first.get(seq)
        if d is None or d.kind != kind or d.order_id != order_id:
            what = f"{kind} {order_id}" if order_id is not None else kind
            recorded = "nothing" if d is None else f"{d.kind} {d.order_id}"
            raise ReplayMismatchError(
                f"on replay, command {seq} of the strategy is {what}; the record holds "
                f"{recorded}: the strategy no longer repeats what it did",
                hint="the strategy or its data changed under the session; start a new session",
            )
        return d

    def due(self, row: int) -> list[GateDecision]:
        """Decisions applied at the end of bar ``row``: the gate's own acts first, then by seq."""
        return sorted(self._due.pop(row, []), key=lambda d: (d.seq, d.step))
