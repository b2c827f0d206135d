"""What the model improver tried and decided: one record per proposal, one per call."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from alphaloop.research.paired_test import DECISION_TEST, PairedComparison

__all__ = ["ImprovementResult", "ProposalOutcome"]


@dataclass(frozen=True)
class ProposalOutcome:
    """One proposal and how it fared.

    ``comparison`` is None when the proposal failed to evaluate (``error``
    says why); such a proposal still counts in the Bonferroni ``k``.
    """

    kind: str
    description: str
    spec: dict[str, Any]
    comparison: PairedComparison | None
    significant: bool
    error: str | None = None
    source: str = "offline"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "source": self.source,
            "spec": self.spec,
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "significant": self.significant,
            "error": self.error,
        }


@dataclass(frozen=True)
class ImprovementResult:
    """What one :meth:`ModelImprover.improve` call tried and decided.

    Attributes
    ----------
    ref : str
        The incumbent (concrete ``name/vN``).
    proposals : tuple of ProposalOutcome
        In the order tried.
    decision : {"registered", "kept", "no proposals"}
    new_ref : str or None
        The version registered on a win.
    alpha, alpha_per_test, margin : float
        Family-wise level, the per-proposal level (``alpha / k``), the IC margin.
    incumbent_ic : float
        The incumbent's mean per-date validation IC (NaN without proposals).
    winner : int or None
        Index in ``proposals`` of the registered one.
    ideas : dict or None
        With an idea source: what it proposed, refused, and why the
        offline proposals took over (``fallback``); None without one.
    """

    ref: str
    proposals: tuple[ProposalOutcome, ...]
    decision: str
    new_ref: str | None
    alpha: float
    alpha_per_test: float
    margin: float
    incumbent_ic: float
    winner: int | None = None
    ideas: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "decision": self.decision,
            "new_ref": self.new_ref,
            "winner": self.winner,
            "alpha": self.alpha,
            "alpha_per_test": self.alpha_per_test,
            "margin": self.margin,
            "decision_test": DECISION_TEST,
            "incumbent_ic": None if math.isnan(self.incumbent_ic) else self.incumbent_ic,
            "proposals": [p.to_dict() for p in self.proposals],
            **({"ideas": self.ideas} if self.ideas is not None else {}),
        }
