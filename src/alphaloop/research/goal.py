"""Research goals: plain-language text turned into typed constraints.

:func:`parse_goal` is a deterministic, rule-based parser (regular
expressions and keywords, no model): it reads the side (long-only,
long-short, market neutral), the universe (tickers after "on", "universe",
"tickers" or "only"), turnover and drawdown limits, the horizon, the kinds
of strategies allowed and a minimum Sharpe ratio. Everything it had to
assume is listed in :attr:`Goal.assumptions` as plain sentences, so a
report can say what the search took for granted. A goal that cannot be
satisfied on the dataset raises :class:`~alphaloop.errors.GoalError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.errors import GoalError

__all__ = ["HORIZONS", "KINDS", "Constraints", "Goal", "parse_goal"]

Horizon = Literal["daily", "weekly", "monthly", "quarterly"]

#: strategy kinds, in the order they are listed
KINDS: tuple[str, ...] = ("pure_technical", "hybrid_ml", "pure_ml")

#: horizon -> fewest bars per year the data needs for it (a daily horizon needs daily bars)
HORIZONS: dict[str, float] = {"daily": 200.0, "weekly": 45.0, "monthly": 11.0, "quarterly": 3.5}

#: "low turnover" means at most this many times equity traded per year (one-way)
LOW_TURNOVER = 2.0
MIN_LONG_SHORT_ASSETS = 4


class Constraints(BaseModel):
    """What every strategy of a search must respect.

    Parameters
    ----------
    long_only : bool
        True: no short positions. False: long-short (a quantile long-short
        book, short selling allowed).
    universe : "all" or list of str
        Assets to trade, spelled as in the dataset.
    max_turnover : float, optional
        Annual one-way turnover limit, a multiple of equity (2.0 = 200% a year).
    max_drawdown : float, optional
        Largest peak-to-trough loss allowed, a fraction in (0, 1).
    horizon : {"daily", "weekly", "monthly", "quarterly"}, optional
        Rebalancing frequency every strategy uses; None leaves it to the search.
    kinds : tuple of str
        Strategy kinds allowed: ``pure_technical``, ``hybrid_ml``, ``pure_ml``.
    min_sharpe : float, optional
        Annualized search-span Sharpe ratio a pick must reach.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    long_only: bool = True
    universe: Literal["all"] | list[str] = "all"
    max_turnover: float | None = Field(None, gt=0)
    max_drawdown: float | None = Field(None, gt=0, lt=1)
    horizon: Horizon | None = None
    kinds: tuple[str, ...] = KINDS
    min_sharpe: float | None = None


@dataclass(frozen=True)
class Goal:
    """A parsed goal: the text, its constraints and every assumption made."""

    text: str
    constraints: Constraints
    assumptions: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ patterns
_NUM = r"(-?\d+(?:\.\d+)?)"
_LONG_ONLY = re.compile(r"\blong[\s-]*only\b|\bno\s+short(?:s|ing|\s+selling)?\b", re.I)
_LONG_SHORT = re.compile(r"\blong[\s/-]*short\b|\bshort[\s-]*selling\b|\ballow\s+shorts?\b", re.I)
_NEUTRAL = re.compile(r"\b(?:market|dollar|beta)[\s-]*neutral\b", re.I)
_TICKER = r"[A-Z][A-Z0-9._]*(?![\w&])"
_UNIVERSE = re.compile(
    r"(?i:\b(?:on|universe(?:\s+of)?|tickers?|assets?|stocks?|only|trade|trading)\s*:?\s+)"
    rf"({_TICKER}(?:(?:\s*,\s*|\s+(?i:and|&)\s+|\s*,\s*(?i:and)\s+){_TICKER})*)"
)
_NOT_TICKERS = frozenset({"ML", "AI", "ETF", "ETFS", "US", "USA", "LS", "MA", "EMA", "RSI"})
_SECTOR = re.compile(
    r"\b(tech(?:nology)?|financials?|banks?|energy|health\s*care|healthcare|utilities|"
    r"consumer|industrials?|materials|real\s+estate|telecom|semiconductors?)\s+"
    r"(?:stocks?|names|sector|companies|shares)\b",
    re.I,
)
_LOW_TURNOVER = re.compile(r"\blow[\s-]+turnover\b", re.I)
_TURNOVER = re.compile(
    r"\b(?:max(?:imum)?\s+turnover|turnover\s*(?:limit|cap)?)\s*(?:of\s+)?"
    r"(?:below|under|less\s+than|at\s+most|no\s+more\s+than|up\s+to|max(?:imum)?|<=?|:)?\s*"
    rf"{_NUM}\s*(%|percent|x\b|times\b)?",
    re.I,
)
_DRAWDOWN = re.compile(
    r"\bdrawdowns?\s*(?:limit|cap)?\s*(?:of\s+)?"
    r"(?:below|under|less\s+than|at\s+most|no\s+more\s+than|up\s+to|within|"
    r"limited\s+to|max(?:imum)?|<=?|:)?\s*"
    rf"{_NUM}\s*(%|percent)?",
    re.I,
)
_SHARPE = re.compile(
    r"\bsharpe(?:\s+ratio)?\s*(?:of\s+)?"
    r"(?:above|over|at\s+least|greater\s+than|more\s+than|min(?:imum)?|>=?|:)?\s*"
    rf"{_NUM}",
    re.I,
)
_DATA_FREQ = re.compile(
    r"\b(?:daily|weekly|monthly|quarterly|hourly)\s+(?:data|bars?|prices|candles|closes)\b", re.I
)
_HORIZON_WORDS: tuple[tuple[str, re.Pattern[str], str | None], ...] = (
    (
        "intraday",
        re.compile(r"\bintra[\s-]*day\b|\bhourly\b|\bminutes?\b|\bhigh[\s-]*frequency\b", re.I),
        None,
    ),
    (
        "daily",
        re.compile(r"\bdaily\b|\bevery\s+day\b|\bday[\s-]*trad\w*", re.I),
        None,
    ),
    (
        "weekly",
        re.compile(r"\bweekly\b|\bevery\s+week\b|\bshort[\s-]*term\b", re.I),
        "short-term: weekly rebalancing",
    ),
    (
        "monthly",
        re.compile(r"\bmonthly\b|\bevery\s+month\b|\blong[\s-]*term\b", re.I),
        "long-term: monthly rebalancing",
    ),
    ("quarterly", re.compile(r"\bquarterly\b|\bevery\s+quarter\b", re.I), None),
)
_TECH_ONLY = re.compile(
    r"\btechnical(?:\s+\w+)?\s+only\b|\bonly\s+technical\b|\bpure(?:ly)?\s+technical\b|"
    r"\bno\s+(?:ml|machine\s+learning|models?)\b|\bwithout\s+(?:ml|machine\s+learning|models?)\b|"
    r"\brule[\s-]*based\b",
    re.I,
)
_ML_ONLY = re.compile(
    r"\b(?:ml|machine\s+learning)(?:\s+\w+)?\s+only\b|\bonly\s+(?:ml|machine\s+learning)\b|"
    r"\bpure(?:ly)?\s+(?:ml|machine\s+learning)\b",
    re.I,
)
_HYBRID = re.compile(r"\bhybrid\b", re.I)


def parse_goal(
    text: str, *, assets: Sequence[str], fields: Sequence[str], periods_per_year: float
) -> Goal:
    """Read a research goal into :class:`Constraints` and the assumptions made.

    Parameters
    ----------
    text : str
        The goal, e.g. ``"long-short momentum on AAPL, MSFT, JPM and XOM, max
        drawdown 20%, weekly rebalancing"``.
    assets : sequence of str
        The dataset's assets (tickers are matched case-insensitively).
    fields : sequence of str
        The dataset's fields (``close``, ``volume``, ...); named in assumptions.
    periods_per_year : float
        Bars per year of the data (252 daily, 52 weekly, ...): a horizon
        shorter than one bar is refused.

    Raises
    ------
    GoalError
        Empty text, unknown tickers, long-short on fewer than four assets,
        a drawdown limit outside (0, 100%), a horizon shorter than the bar,
        a non-positive turnover limit, or contradictory requests.
    """
    if not text or not text.strip():
        raise GoalError(
            "the research goal is empty",
            hint='say what to look for, e.g. "long-only momentum, monthly rebalancing"',
        )
    notes: list[str] = []
    universe = _universe(text, assets, notes)
    n_assets = len(assets) if universe == "all" else len(universe)
    long_only = _side(text, n_assets, notes)
    max_turnover = _turnover(text, notes)
    max_drawdown = _drawdown(text, notes)
    horizon = _horizon(text, periods_per_year, notes)
    kinds = _kinds(text, notes)
    min_sharpe = _min_sharpe(text, notes)
    notes.append("no leverage: gross exposure 1.0")
    notes.append("costs: the dataset's asset-class preset")
    if fields and "open" not in fields:
        notes.append("fills: at the next bar's close (the data has no open)")
    else:
        notes.append("fills: at the next bar's open")
    if fields:
        notes.append(f"signals use the dataset's fields: {', '.join(sorted(fields))}")
    constraints = Constraints(
        long_only=long_only,
        universe=universe,
        max_turnover=max_turnover,
        max_drawdown=max_drawdown,
        horizon=horizon,
        kinds=kinds,
        min_sharpe=min_sharpe,
    )
    return Goal(text=text.strip(), constraints=constraints, assumptions=notes)


def _universe(text: str, assets: Sequence[str], notes: list[str]) -> Literal["all"] | list[str]:
    by_upper = {a.upper(): a for a in assets}
    named: list[str] = []
    for match in _UNIVERSE.finditer(text):
        for raw in re.split(r"\s*,\s*(?:and\s+)?|\s+(?:and|&)\s+", match.group(1), flags=re.I):
            token = raw.strip().rstrip("._")
            if token and token.upper() not in _NOT_TICKERS and token not in named:
                named.append(token)
    if named:
        unknown = [t for t in named if t.upper() not in by_upper]
        if unknown:
            few = ", ".join(sorted(assets)[:8]) + (", ..." if len(assets) > 8 else "")
            raise GoalError(
                f"the goal names {'tickers' if len(unknown) > 1 else 'a ticker'} the dataset "
                f"does not hold: {', '.join(unknown)}",
                hint=f"the dataset has {len(assets)} assets: {few}",
            )
        picked = sorted({by_upper[t.upper()] for t in named})
        notes.append(f"universe: {', '.join(picked)} (named in the goal)")
        return picked
    sector = _SECTOR.search(text)
    if sector:
        notes.append(
            f"universe: all {len(assets)} assets (no sector data to restrict to "
            f"'{sector.group(0).strip()}')"
        )
    else:
        notes.append(f"universe: all {len(assets)} assets of the dataset")
    return "all"


def _side(text: str, n_assets: int, notes: list[str]) -> bool:
    long_only = bool(_LONG_ONLY.search(text))
    neutral = bool(_NEUTRAL.search(text))
    long_short = bool(_LONG_SHORT.search(text)) or neutral
    if long_only and long_short:
        what = "market neutral" if neutral else "long-short"
        raise GoalError(
            f"the goal asks for both long-only and {what}",
            hint="a market-neutral or long-short book needs short positions; keep one of them",
        )
    if not long_short:
        if not long_only:
            notes.append("long-only: no short positions (the goal does not ask for shorts)")
        return True
    if n_assets < MIN_LONG_SHORT_ASSETS:
        raise GoalError(
            f"a long-short goal needs at least {MIN_LONG_SHORT_ASSETS} assets to hold a long "
            f"and a short book; the universe has {n_assets}",
            hint="name more tickers, or ask for long-only",
        )
    if neutral:
        notes.append("market neutral: dollar-neutral long-short, equal long and short books")
    notes.append("long-short: long the top quantile, short the bottom one, half the gross each")
    return False


def _turnover(text: str, notes: list[str]) -> float | None:
    match = _TURNOVER.search(text)
    if match:
        value, unit = float(match.group(1)), (match.group(2) or "").lower()
        if unit in ("%", "percent"):
            limit = value / 100.0
        elif unit in ("x", "times"):
            limit = value
        else:
            limit = value / 100.0 if value > 20 else value
            notes.append(
                f"turnover {match.group(1)} without a unit read as "
                f"{'a percentage' if value > 20 else 'a multiple of equity'}"
            )
        if limit <= 0:
            raise GoalError(
                f"turnover limit {match.group(0).strip()!r} must be positive",
                hint="e.g. 'turnover below 200%/yr' or 'max turnover 2x'",
            )
        notes.append(f"turnover: at most {limit:.0%} of equity a year, one-way")
        return limit
    if _LOW_TURNOVER.search(text):
        notes.append(
            f"low turnover: at most {LOW_TURNOVER:.0%} of equity a year, one-way; "
            "daily rebalancing is not used"
        )
        return LOW_TURNOVER
    notes.append("turnover: no limit (costs still apply)")
    return None


def _drawdown(text: str, notes: list[str]) -> float | None:
    match = _DRAWDOWN.search(text)
    if not match:
        notes.append("drawdown: no limit")
        return None
    value, unit = float(match.group(1)), (match.group(2) or "").lower()
    limit = value / 100.0 if unit or value >= 1 else value
    if not 0 < limit < 1:
        raise GoalError(
            f"drawdown limit {match.group(0).strip()!r} must be between 0 and 100%",
            hint="write it as a positive percentage, e.g. 'max drawdown 20%'",
        )
    notes.append(f"drawdown: at most {limit:.0%} peak to trough on the search span")
    return limit


def _horizon(text: str, periods_per_year: float, notes: list[str]) -> Horizon | None:
    cleaned = _DATA_FREQ.sub(" ", text)
    found: list[tuple[str, str | None]] = []
    for name, pattern, note in _HORIZON_WORDS:
        match = pattern.search(cleaned)
        if match:
            term = note and re.match(r"(short|long)", match.group(0), re.I)
            found.append((name, note if term else None))
    if not found:
        notes.append("horizon: chosen by the search (daily to quarterly rebalancing)")
        return None
    if len(found) > 1:
        raise GoalError(
            f"the goal asks for more than one horizon: {', '.join(n for n, _ in found)}",
            hint="keep one rebalancing horizon",
        )
    name, note = found[0]
    bar = _bar_name(periods_per_year)
    if name == "intraday":
        if periods_per_year <= 400:
            raise GoalError(
                f"an intraday horizon is shorter than the data's bar ({bar}, "
                f"{periods_per_year:g} bars a year)",
                hint="use a daily or slower horizon, or intraday data",
            )
        notes.append("intraday: rebalanced daily, the shortest horizon the search uses")
        return "daily"
    if periods_per_year < HORIZONS[name]:
        raise GoalError(
            f"a {name} horizon is shorter than the data's bar ({bar}, "
            f"{periods_per_year:g} bars a year)",
            hint="choose a horizon of at least one bar",
        )
    notes.append(note or f"horizon: {name} rebalancing")
    return name  # type: ignore[return-value]


def _bar_name(periods_per_year: float) -> str:
    if periods_per_year > 400:
        return "intraday"
    for name, need in HORIZONS.items():
        if periods_per_year >= need:
            return name
    return "coarser than quarterly"


def _kinds(text: str, notes: list[str]) -> tuple[str, ...]:
    tech, ml, hybrid = (bool(p.search(text)) for p in (_TECH_ONLY, _ML_ONLY, _HYBRID))
    if sum((tech, ml, hybrid)) > 1:
        asked = [
            w for w, on in (("technical only", tech), ("ML only", ml), ("hybrid", hybrid)) if on
        ]
        raise GoalError(
            f"the goal asks for strategy kinds that exclude each other: {', '.join(asked)}",
            hint="keep one of them, or none to allow every kind",
        )
    if tech:
        notes.append("kinds: technical strategies only (no models)")
        return ("pure_technical",)
    if ml:
        notes.append("kinds: model signals only (pure ML)")
        return ("pure_ml",)
    if hybrid:
        notes.append("kinds: hybrid strategies (technical indicators combined with models)")
        return ("hybrid_ml",)
    notes.append("kinds: technical, hybrid and pure ML strategies")
    return KINDS


def _min_sharpe(text: str, notes: list[str]) -> float | None:
    match = _SHARPE.search(text)
    if not match:
        return None
    value = float(match.group(1))
    notes.append(f"minimum Sharpe: {value:g}, annualized, on the search span")
    return value
