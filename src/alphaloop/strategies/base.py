"""What every strategy template is: typed parameters that turn a Panel into a book.

A template is a pydantic model (one class per family, told apart by its
``template`` field) that a :class:`~alphaloop.backtest.spec.StrategySpec`
carries under ``template:``. Given the spec's data it builds a
:class:`TemplateOutput`, one of three kinds:

``weights``
    Target weights of equity per (time, asset), NaN where the template
    places no order (the simulators leave that asset as it is on that row;
    a row of NaN is no rebalance). Pairs, PCA statistical arbitrage,
    time-series momentum, mean reversion and breakouts, factor portfolios.
``signal``
    A score per (time, asset), higher = more attractive, that the spec's
    ordinary portfolio rule turns into weights (cross-sectional momentum).
``quotes``
    Bid and ask quotes for market making on bars, simulated by the
    quote simulator of both engines.

Point in time, always: row ``t`` of every output uses bars up to and
including ``t`` only (fills come at the next bar, as for any spec). Every
estimate a template makes (pair selection, hedge ratios, PCA loadings,
volatilities) is re-made from trailing data at each formation date; nothing
is fitted on the whole sample. The lookahead scan checks it like any spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from alphaloop.data import Panel

__all__ = ["OutputKind", "TemplateInputs", "TemplateOutput", "TemplateParams"]

OutputKind = Literal["weights", "signal", "quotes"]


@dataclass(frozen=True)
class TemplateInputs:
    """What a template sees: the spec's data and the few spec fields it needs.

    Attributes
    ----------
    panel : Panel
        The spec's dataset, universe selected, every loaded bar (history
        before the backtest included; nothing after the spec's end).
    eligible : ndarray of bool, shape (time, asset)
        Membership and a finite, positive close.
    rebalance : ndarray of bool, shape (time,)
        The spec's rebalance schedule over every bar of ``panel``: the bars
        on whose close a calendar-driven template may trade. Templates with
        their own entry and exit rules (bands, states) decide on every bar.
    signal : ndarray, shape (time, asset), optional
        The spec's own signal, for templates that read one
        (:attr:`TemplateParams.USES_SIGNAL`).
    max_weight, max_leverage : float
        The spec's limits: the largest |weight| of one asset, and of the sum
        of |weights|.
    allow_short : bool
    periods_per_year : float
        Bars per year of the dataset (annualizes volatility targets).
    """

    panel: Panel
    eligible: np.ndarray
    rebalance: np.ndarray
    signal: np.ndarray | None = None
    max_weight: float = 1.0
    max_leverage: float = 1.0
    allow_short: bool = False
    periods_per_year: float = 252.0


@dataclass(frozen=True)
class TemplateOutput:
    """A template's book on every bar of its input panel.

    Attributes
    ----------
    kind : {"weights", "signal", "quotes"}
    signal : ndarray, shape (time, asset)
        The template's score (higher = more attractive; NaN where it has
        none, e.g. in its warm-up). For ``weights`` and ``quotes`` outputs it
        is what the template trades on (a spread's negated z-score, a
        residual's negated s-score); the backtest starts at its first value.
    weights : ndarray, shape (time, asset), optional
        Target weights of equity (``kind == "weights"``).
    quotes : object, optional
        The quote plan (``kind == "quotes"``), read by the quote simulator.
    diagnostics : dict
        JSON-ready facts about the fit (pairs selected at each formation
        date with their test statistics, factors kept, ...), recorded with
        the result.
    notes : tuple of str
        Sentences for the result's assumptions.
    """

    kind: OutputKind
    signal: np.ndarray
    weights: np.ndarray | None = None
    quotes: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


class TemplateParams(BaseModel):
    """Base of every template's parameters (frozen, unknown fields refused).

    A subclass sets ``template: Literal["name"] = "name"`` and the class
    attributes below, and implements :meth:`build`.

    Class attributes
    ----------------
    TITLE : str
        Human name (``Pairs trading``).
    SUMMARY : str
        One line: what it trades and how.
    ASSUMES : tuple of str
        What its results assume (listed by ``alphaloop strategy templates``).
    PITFALLS : tuple of str
        Known ways this family fools people, and what the template does about each.
    OUTPUT : {"weights", "signal", "quotes"}
        The kind of :class:`TemplateOutput` :meth:`build` returns.
    USES_SIGNAL : bool
        Whether the spec must carry a ``signal:`` that the template reads.
    FIELDS : tuple of str
        Data fields it reads.
    GRID : dict of str to tuple
        Search ranges for the research engine: each tunable parameter and its
        allowed values in increasing order (a neighbour is the previous or
        next value).
    MIN_ASSETS : int
        Fewest assets of the universe the template can work on (a pair needs
        2, PCA residuals many); the research engine does not draw the template
        on a smaller universe.
    CALENDAR : bool or None
        Whether the template trades on the spec's rebalance schedule (full
        rows on rebalance bars) rather than by its own entry and exit rules
        on every bar. None: inferred (signal outputs and signal readers are;
        others are when :meth:`spec_defaults` rebalances less often than
        daily).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str
    TITLE: ClassVar[str] = ""
    SUMMARY: ClassVar[str] = ""
    ASSUMES: ClassVar[tuple[str, ...]] = ()
    PITFALLS: ClassVar[tuple[str, ...]] = ()
    OUTPUT: ClassVar[OutputKind] = "weights"
    USES_SIGNAL: ClassVar[bool] = False
    FIELDS: ClassVar[tuple[str, ...]] = ("close",)
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {}
    MIN_ASSETS: ClassVar[int] = 1
    CALENDAR: ClassVar[bool | None] = None

    @property
    def output_kind(self) -> OutputKind:
        """What :meth:`build` returns (the class's ``OUTPUT``)."""
        return self.OUTPUT

    @property
    def shorts(self) -> bool:
        """Whether the template ever takes short positions (the spec must allow them)."""
        return False

    def warmup(self) -> int:
        """Bars of history the template needs before its first value."""
        return 0

    def min_assets(self) -> int:
        """Fewest assets of the universe these parameters work on (default ``MIN_ASSETS``;
        a template whose need grows with a parameter, e.g. its number of factors, says so)."""
        return self.MIN_ASSETS

    def describe(self) -> str:
        """One line naming the template and its parameters."""
        params = ", ".join(
            f"{k}={v}" for k, v in self.model_dump(mode="json").items() if k != "template"
        )
        return f"{self.template}({params})"

    def neighbours(self) -> list[TemplateParams]:
        """Close variants: each :attr:`GRID` parameter moved one step along its grid.

        A value off its grid steps to the nearest grid values below and
        above it. Variants that fail validation (e.g. an exit band beyond
        its entry) are left out. Validation judges a template spec over
        these (its trial family), as it judges a ranked spec over other
        ``k``.
        """
        out: list[TemplateParams] = []
        current = self.model_dump()
        for name, grid in self.GRID.items():
            value = current.get(name)
            values = sorted(grid)
            below = [v for v in values if v < value] if value is not None else []
            above = [v for v in values if v > value] if value is not None else []
            for step in (below[-1:] + above[:1]) if value is not None else values[:1]:
                try:
                    out.append(type(self).model_validate({**current, name: step}))
                except ValueError:
                    continue
        return out

    def spec_defaults(self) -> dict[str, Any]:
        """StrategySpec fields a new spec of this template starts from.

        e.g. ``{"rebalance": {"frequency": "daily"}, "limits": {"allow_short":
        True, "max_leverage": 2.0}}``; ``alphaloop strategy new`` writes them
        and the user edits.
        """
        return {}

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        """The template's book on every bar of ``inputs.panel`` (point in time)."""
        raise NotImplementedError
