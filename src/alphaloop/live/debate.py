"""Debate orchestrator: a bull, a bear and a risk officer argue over one position.

The debate is about one symbol at one bar. Its evidence (:class:`DebateFacts`) is
computed from data up to that bar only: trend t-statistic and direction, 63-bar
return, distance from the 20-bar mean in standard deviations, volatility percentile
in the symbol's own history, the symbol's drawdown, the correlation with the
current book and the global risk mode.

Each role answers with a stance in [-1, 1] (bull: how strongly to hold it, bear: how
strongly to avoid it, risk: how much of the normal size to allow, 0..1) and its
points. Offline the roles are rules (below); with a language model each role is one
structured request. The model sees the evidence **anonymised**: no symbol, no date,
only numbers, so it cannot recall what happened next. A failed or invalid answer
falls back to that role's rule, and the transcript says so.

The verdict: ``conviction = (bull - bear) / 2`` in [-1, 1]; ``size = conviction *
risk`` (a fraction of the normal position, signed); ``action`` is ``buy`` above
+0.15, ``sell`` below -0.15, ``hold`` between.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from alphaloop.data.panel import Panel
from alphaloop.errors import AlphaloopError
from alphaloop.live.controller import RISK_MODES
from alphaloop.live.ranker import OpportunityRanker, RankerConfig

if TYPE_CHECKING:
    from alphaloop.llm.client import LLMClient

__all__ = [
    "ROLES",
    "Argument",
    "DebateError",
    "DebateFacts",
    "DebateResult",
    "debate",
    "debate_facts",
]

ROLES: tuple[str, ...] = ("bull", "bear", "risk")
ACTION_BAND = 0.15


class DebateError(AlphaloopError):
    """A debate was asked about something it cannot judge (unknown symbol, no data)."""


@dataclass(frozen=True)
class DebateFacts:
    """The evidence of one debate (all from data up to ``at``)."""

    symbol: str
    at: pd.Timestamp
    trend_t: float
    direction: float
    return_63: float
    zscore_20: float
    vol_percentile: float
    drawdown: float
    book_correlation: float | None
    risk_mode: str

    def anonymised(self) -> dict[str, Any]:
        """The numbers without symbol or date (what a language model is shown)."""
        out = asdict(self)
        out.pop("symbol")
        out.pop("at")
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


class RoleAnswer(BaseModel):
    """A role's structured answer."""

    model_config = ConfigDict(extra="forbid")

    stance: float = Field(ge=-1.0, le=1.0, description="Strength of the role's view.")
    points: list[str] = Field(min_length=1, max_length=5, description="Short reasons.")


@dataclass(frozen=True)
class Argument:
    """One role's say: its stance, its points and where it came from."""

    role: str
    stance: float
    points: tuple[str, ...]
    source: Literal["rules", "llm", "rules (llm failed)"] = "rules"


@dataclass(frozen=True)
class DebateResult:
    """The debate's transcript and verdict."""

    facts: DebateFacts
    arguments: tuple[Argument, ...]
    conviction: float
    size: float
    action: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON form: facts (symbol and date included), arguments, verdict."""
        facts = asdict(self.facts)
        facts["at"] = self.facts.at.isoformat()
        return {
            "facts": facts,
            "arguments": [asdict(a) | {"points": list(a.points)} for a in self.arguments],
            "conviction": self.conviction,
            "size": self.size,
            "action": self.action,
            "notes": list(self.notes),
        }


def debate_facts(
    panel: Panel,
    symbol: str,
    at: Any = None,
    *,
    book: dict[str, float] | None = None,
    risk_mode: str = "NORMAL",
) -> DebateFacts:
    """The evidence about ``symbol`` at bar ``at`` (default the last), from data up to it."""
    if symbol not in panel.assets:
        raise DebateError(f"symbol {symbol!r} is not in the panel")
    if risk_mode not in RISK_MODES:
        raise DebateError(f"risk_mode must be one of {', '.join(RISK_MODES)}, got {risk_mode!r}")
    ranking = OpportunityRanker(RankerConfig(lookback=63, min_history=40)).rank(
        panel, at, book=book
    )
    if symbol not in ranking.table.index:
        why = ranking.excluded.get(symbol, "not ranked")
        raise DebateError(f"no debate on {symbol} at {ranking.at:%Y-%m-%d}: {why}")
    row = ranking.table.loc[symbol]
    j = panel.asset_index(symbol)
    upto = int(panel.index.searchsorted(ranking.at, side="right"))
    close = panel.field("close")[:upto, j]
    close = close[np.isfinite(close)]
    last = close[-1]
    r63 = float(last / close[-64] - 1.0) if close.size > 63 else float("nan")
    window = close[-20:]
    sd = float(window.std(ddof=1)) if window.size > 2 else 0.0
    z = float((last - window.mean()) / sd) if sd > 0 else 0.0
    dd = float(1.0 - last / close.max())
    corr = None if pd.isna(row["diversify"]) else -float(row["diversify"])
    calm = float(row["calm"]) if np.isfinite(row["calm"]) else 0.5
    return DebateFacts(
        symbol=symbol,
        at=ranking.at,
        trend_t=float(row["trend"] * row["direction"]),
        direction=float(row["direction"]),
        return_63=r63,
        zscore_20=z,
        vol_percentile=1.0 - calm,
        drawdown=dd,
        book_correlation=corr,
        risk_mode=risk_mode,
    )


def _bull(f: DebateFacts) -> Argument:
    pts, s = [], 0.0
    if f.trend_t > 2:
        s += 0.5
        pts.append(f"uptrend with t-statistic {f.trend_t:.1f}")
    if f.return_63 > 0.05:
        s += 0.3
        pts.append(f"up {f.return_63:.0%} over 63 bars")
    if f.vol_percentile < 0.5:
        s += 0.2
        pts.append("volatility below its median")
    return Argument("bull", min(s, 1.0), tuple(pts) or ("no case for holding it",))


def _bear(f: DebateFacts) -> Argument:
    pts, s = [], 0.0
    if f.trend_t < -2:
        s += 0.5
        pts.append(f"downtrend with t-statistic {f.trend_t:.1f}")
    if f.zscore_20 > 2:
        s += 0.3
        pts.append(f"{f.zscore_20:.1f} standard deviations above its 20-bar mean: stretched")
    if f.drawdown > 0.2:
        s += 0.3
        pts.append(f"{f.drawdown:.0%} below its high")
    return Argument("bear", min(s, 1.0), tuple(pts) or ("no case against it",))


def _risk(f: DebateFacts) -> Argument:
    allow, pts = 1.0, []
    if f.vol_percentile > 0.8:
        allow *= 0.5
        pts.append(f"volatility in its top {1 - f.vol_percentile:.0%} of history: half size")
    if f.book_correlation is not None and f.book_correlation > 0.7:
        allow *= 0.5
        pts.append(f"correlation {f.book_correlation:.2f} with the book: half size")
    if f.risk_mode == "DEFENSIVE":
        allow *= 0.3
        pts.append("risk mode DEFENSIVE: 30% size")
    return Argument("risk", allow, tuple(pts) or ("within normal risk",))


_RULES = {"bull": _bull, "bear": _bear, "risk": _risk}
_BRIEFS = {
    "bull": "You argue FOR holding the asset. stance 0 = no case, 1 = strongest case.",
    "bear": "You argue AGAINST holding the asset. stance 0 = no case, 1 = strongest case.",
    "risk": "You are the risk officer. stance = fraction of normal size allowed, 0 to 1.",
}


def _ask(client: LLMClient, role: str, facts: DebateFacts, seed: int) -> Argument:
    import json

    from alphaloop.llm.structured import ask_structured

    messages = [
        {
            "role": "system",
            "content": f"{_BRIEFS[role]} Answer with JSON: stance and up to five short points. "
            "Use only the numbers given; they describe one unnamed asset.",
        },
        {"role": "user", "content": json.dumps(facts.anonymised(), sort_keys=True)},
    ]
    answer = ask_structured(client, messages, RoleAnswer, seed=seed, max_tokens=400)
    # every role's stance is a strength or a fraction in [0, 1]
    stance = min(max(float(answer.stance), 0.0), 1.0)
    return Argument(role, stance, tuple(answer.points), "llm")


def debate(facts: DebateFacts, *, client: LLMClient | None = None, seed: int = 0) -> DebateResult:
    """Hold the debate: rules offline, or one structured request per role with ``client``.

    A role whose request fails (an :class:`~alphaloop.llm.errors.LLMError`) argues by
    its rule instead and the notes say so; configuration errors are raised.
    """
    from alphaloop.llm.errors import LLMConfigError, LLMError

    args: list[Argument] = []
    notes: list[str] = []
    for role in ROLES:
        if client is None:
            args.append(_RULES[role](facts))
            continue
        try:
            args.append(_ask(client, role, facts, seed))
        except LLMConfigError:
            raise
        except LLMError as exc:
            rule = _RULES[role](facts)
            args.append(Argument(role, rule.stance, rule.points, "rules (llm failed)"))
            notes.append(f"{role}: the language model failed ({exc}); its rule argued instead")
    stance = {a.role: a.stance for a in args}
    conviction = (stance["bull"] - stance["bear"]) / 2.0
    size = conviction * stance["risk"]
    action = "buy" if size > ACTION_BAND else "sell" if size < -ACTION_BAND else "hold"
    return DebateResult(facts, tuple(args), conviction, size, action, tuple(notes))
