"""The offline intent parser: a natural-language strategy idea becomes a draft, no model needed.

Deterministic keyword and pattern rules, tried in a fixed order, with every
guess written into the draft's assumptions:

- the signal: RSI, moving-average cross (EMA when named), breakout (channel,
  52-week high), mean reversion (reversal, z-score / Bollinger, distance
  from a moving average), low volatility (downside), value (proxied by
  long-term reversal: prices are all the data holds), quality (straight
  trends), volume, trend (slope) and momentum (plain, skipping the last
  month, risk-adjusted); the first family in that order wins and others
  mentioned are listed as ignored;
- look-backs: "20-day", "3 months", "12-month", "one year" (days are bars;
  a week is 5 bars, a month 21, a year 252); "50/200" for crosses;
- the book: long-only (default) or long-short / market neutral; "top 10",
  "best 5", "10 stocks"; deciles, quintiles, quartiles, terciles;
- rebalancing words, inverse-volatility or signal weighting, stop-loss and
  trailing-stop percentages, a minimum holding period, and a universe of
  two or more upper-case tickers.

Used when no language model is configured, and as the fallback after a
model's answer fails its repair round. Nothing here evaluates the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from alphaloop.errors import IntentError
from alphaloop.research.draft import (
    ExpressionSignal,
    StrategyDraft,
    TemplateSignal,
)

__all__ = ["MAX_INTENT_CHARS", "parse_intent", "rsi_expression"]

MAX_INTENT_CHARS = 2000
"""Longest intent accepted (characters)."""

_UNITS = {"day": 1, "d": 1, "bar": 1, "week": 5, "wk": 5, "month": 21, "mo": 21, "year": 252}
_UNITS |= {"yr": 252, "quarter": 63}
_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1,
}  # fmt: skip
_NUM = r"(\d{1,3}|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
_SPAN = re.compile(
    _NUM + r"[\s-]*(day|d|bar|week|wk|month|mo|quarter|year|yr)s?\b(?![\s-]*(?:high|low))",
)
_TOP_K = re.compile(
    r"\b(?:top|best|strongest|buy(?: the)?)[\s-]*(\d{1,3})\b(?![\s-]*(?:%|(?:day|week|month|year|"
    r"bar)s?\b))|\b(\d{1,3})\s+(?:stocks|assets|names|holdings|positions)"
)
_QUANTILES = {"decile": 0.1, "quintile": 0.2, "quartile": 0.25, "tercile": 1 / 3}
_NOT_TICKERS = {
    "RSI", "EMA", "SMA", "MA", "ETF", "ETFS", "US", "USD", "AI", "LLM", "K", "A", "I", "OK",
    "MACD", "ATR", "TOP", "AND", "OR", "THE", "BUY", "SELL",
}  # fmt: skip


@dataclass(frozen=True)
class _Rule:
    family: str  # a report label
    pattern: re.Pattern[str]


def _rx(text: str) -> re.Pattern[str]:
    return re.compile(text)


_RULES: tuple[_Rule, ...] = (
    _Rule("rsi", _rx(r"\brsi\b|relative strength index")),
    _Rule("cross", _rx(r"moving[\s-]averages?[\s-]*cross|\bma[\s-]cross|golden[\s-]cross|"
                       r"crossover|\b(?:sma|ema)s?\b.*\bcross|\bcross(?:es|ing)?\b")),
    _Rule("breakout", _rx(r"break[\s-]?outs?|donchian|channel|52[\s-]week[\s-]high|new highs?|"
                          r"all[\s-]time[\s-]high")),
    _Rule("mean_reversion", _rx(r"mean[\s-]revers|revert|reversal|oversold|contrarian|"
                                r"z[\s-]?score|bollinger|buy(?:ing)? (?:the )?losers")),
    _Rule("volatility", _rx(r"low[\s-]vol|volatility|low[\s-]risk|defensive|min(?:imum)?[\s-]"
                            r"variance|calm")),
    _Rule("value", _rx(r"\bvalue\b|\bcheap|undervalued")),
    _Rule("quality", _rx(r"quality|smooth|consistent|steady")),
    _Rule("volume", _rx(r"volume")),
    _Rule("momentum", _rx(r"momentum|winners|relative strength|strong(?:est)? performers|"
                          r"outperform|\b12[\s-]1\b")),
    _Rule("trend", _rx(r"trend|slope")),
)  # fmt: skip


def rsi_expression(window: int) -> str:
    """An RSI on ``window`` bars, scaled to [0, 1]: mean up-move over mean absolute move."""
    move = "($close-Ref($close, 1))"
    return f"Mean(Greater({move}, 0), {window})/(Mean(Abs({move}), {window})+1e-12)"


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _WORDS[token]


_BARE = re.compile(
    r"\b(?:rsi|z[\s-]?score|bollinger|window|look[\s-]?back|period|length)s?"
    r"\s*(?:\(|of|=|:)?\s*(\d{1,3})\b(?!\s*%)"
)


def _spans(text: str) -> list[tuple[int, str]]:
    """Every look-back phrase as (bars, the phrase); ``RSI(14)``, ``window 20`` in bars."""
    out = [(int(m.group(1)), m.group(0)) for m in _BARE.finditer(text) if int(m.group(1)) >= 1]
    for m in _SPAN.finditer(text):
        n = _number(m.group(1)) * _UNITS[m.group(2)]
        if 1 <= n <= 504:
            out.append((n, m.group(0)))
    return out


def _pair(text: str) -> tuple[int, int] | None:
    """A ``50/200`` or ``50 and 200`` pair of windows (fast, slow)."""
    m = re.search(r"\b(\d{1,3})\s*(?:/|and|vs\.?|over|-)\s*(\d{1,3})\b", text)
    if not m:
        return None
    a, b = sorted((int(m.group(1)), int(m.group(2))))
    return (a, b) if 1 <= a < b <= 504 else None


@dataclass
class _Parse:
    text: str
    notes: list[str]
    spans: list[tuple[int, str]]

    def bars(self, default: int, what: str) -> int:
        if self.spans:
            n, phrase = self.spans[0]
            self.notes.append(f"{what}: {phrase!r} read as {n} bars")
            return n
        self.notes.append(f"{what} not stated: {default} bars")
        return default


def _signal(p: _Parse, rule: str) -> TemplateSignal | ExpressionSignal:
    t = p.text
    if rule == "rsi":
        w = p.bars(14, "RSI window")
        p.notes.append("RSI: a low RSI (oversold) is attractive, a mean-reversion reading")
        return ExpressionSignal(expr=rsi_expression(w), higher_is_better=False)
    if rule == "cross":
        ema = bool(re.search(r"\bema|exponential", t))
        pair = _pair(t)
        spans = sorted(n for n, _ in p.spans)
        if pair is None and len(spans) >= 2:
            pair = (spans[0], spans[-1])
        if pair is None:
            pair = (12, 26) if ema else (50, 200)
            p.notes.append(f"cross windows not stated: fast {pair[0]}, slow {pair[1]} bars")
        else:
            p.notes.append(f"cross windows: fast {pair[0]}, slow {pair[1]} bars")
        name = "ema_cross" if ema else "ma_cross"
        p.notes.append("cross: assets whose fast average is furthest above the slow one rank best")
        return TemplateSignal(family="trend", template=name, fast=pair[0], slow=pair[1])
    if rule == "breakout":
        if re.search(r"52[\s-]week|all[\s-]time|new highs?", t):
            w = 252 if "52" in t else p.bars(252, "high window")
            p.notes.append("breakout: nearness to the trailing high")
            return TemplateSignal(family="breakout", template="high_proximity", window=w)
        w = p.bars(55, "channel window")
        p.notes.append("breakout: position in the trailing close channel (1 = at the top)")
        return TemplateSignal(family="breakout", template="channel", window=w)
    if rule == "mean_reversion":
        if re.search(r"z[\s-]?score|bollinger", t):
            w = p.bars(20, "z-score window")
            return TemplateSignal(family="mean_reversion", template="zscore", window=w)
        if re.search(r"moving[\s-]average|\bma\b", t):
            w = p.bars(20, "moving-average window")
            return TemplateSignal(family="mean_reversion", template="ma_distance", window=w)
        n = p.bars(5, "reversal look-back")
        p.notes.append("mean reversion: the recent losers are bought (short-term reversal)")
        return TemplateSignal(family="mean_reversion", template="reversal", lookback=n)
    if rule == "volatility":
        name = "low_downside_vol" if "downside" in t else "low_vol"
        w = p.bars(60, "volatility window")
        p.notes.append("volatility: low volatility is attractive")
        return TemplateSignal(family="volatility", template=name, window=w)
    if rule == "value":
        p.notes.append(
            "value: the data holds prices only, so value is proxied by long-term reversal "
            "(library ROC60: a lower past return ranks better)"
        )
        return TemplateSignal(family="library", template="roc", window=60)
    if rule == "quality":
        w = p.bars(126, "trend-quality window")
        p.notes.append("quality: the straightness (R-squared) of a rising price trend")
        return TemplateSignal(family="quality", template="trend_r2", window=w)
    if rule == "volume":
        pair = _pair(t) or (10, 60)
        p.notes.append(f"volume: recent ({pair[0]} bars) over longer ({pair[1]} bars) volume")
        return TemplateSignal(family="volume", template="volume_trend", fast=pair[0], slow=pair[1])
    if rule == "trend":
        w = p.bars(60, "trend window")
        p.notes.append("trend: the slope of price over the window, relative to price")
        return TemplateSignal(family="trend", template="slope", window=w)
    # momentum
    if re.search(r"risk[\s-]adjusted|sharpe", t):
        n = p.bars(126, "momentum look-back")
        return TemplateSignal(family="momentum", template="mom_risk_adj", lookback=n)
    if re.search(r"\bskip|exclud|12[\s-]1\b|except the (?:last|most recent)", t):
        n = 252 if re.search(r"12[\s-]1\b", t) else p.bars(252, "momentum look-back")
        p.notes.append("momentum: the most recent month (21 bars) is skipped")
        return TemplateSignal(family="momentum", template="mom_skip", lookback=n, skip=21)
    n = p.bars(63, "momentum look-back")
    return TemplateSignal(family="momentum", template="mom", lookback=n)


def _book(p: _Parse) -> dict[str, object]:
    t = p.text
    out: dict[str, object] = {}
    if re.search(r"long[\s/-]*short|market[\s-]neutral|dollar[\s-]neutral|\bshort(?:ing)? the\b|"
                 r"short[\s-]sell|\bshort (?:the )?(?:worst|bottom|losers)", t):  # fmt: skip
        out["side"] = "long_short"
    else:
        out["side"] = "long_only"
        if not re.search(r"long[\s-]only|no short", t):
            p.notes.append("side not stated: long only")
    m = _TOP_K.search(t)
    if m:
        out["k"] = int(m.group(1) or m.group(2))
    for word, q in _QUANTILES.items():
        if word in t:
            out["quantile"] = round(q, 4)
    return out


def _rebalance(p: _Parse) -> str:
    t = p.text
    for word, pattern in (
        ("daily", r"\bdaily\b|every (?:day|bar)|each day"),
        ("weekly", r"\bweekly\b|every week|each week"),
        ("quarterly", r"\bquarterly\b|every quarter|each quarter"),
        ("monthly", r"\bmonthly\b|every month|each month"),
    ):
        if re.search(pattern, t):
            return word
    p.notes.append("rebalance not stated: monthly")
    return "monthly"


def _weighting(text: str) -> tuple[str, str]:
    """The weighting, and the text without its phrase (so it does not read as a signal)."""
    pattern = r"inverse[\s-]vol(?:atility)?(?:[\s-]weight(?:ed|ing|s)?)?|risk[\s-]parity|" \
              r"vol(?:atility)?[\s-]weight(?:ed|ing|s)?"  # fmt: skip
    if re.search(pattern, text):
        return "inverse_volatility", re.sub(pattern, " ", text)
    pattern = r"signal[\s-]weight(?:ed|ing|s)?|score[\s-]weight(?:ed|ing|s)?"
    if re.search(pattern, text):
        return "signal", re.sub(pattern, " ", text)
    return "equal", text


def _exits(p: _Parse) -> dict[str, object]:
    t = p.text
    values: dict[str, object] = {}
    m = re.search(r"trailing[\s-]stop(?:[\s-]loss)?(?: of| at)?\s*(\d{1,2}(?:\.\d+)?)\s*%", t)
    if m:
        values["trailing_stop"] = float(m.group(1)) / 100
    m = re.search(r"(?<!trailing )stop[\s-]loss(?: of| at)?\s*(\d{1,2}(?:\.\d+)?)\s*%", t)
    if m:
        values["stop_loss"] = float(m.group(1)) / 100
    m = re.search(r"hold(?:ing)?(?: period)?(?: for)?(?: at least)?(?: of)?\s*(\d{1,3})\s*"
                  r"(?:days|bars)", t)  # fmt: skip
    if m:
        values["hold_bars"] = int(m.group(1))
    if re.search(r"exit (?:on|when) (?:the )?(?:signal )?flip", t):
        values["exit_on_flip"] = True
    return values


def _universe(original: str) -> list[str] | None:
    tokens = re.findall(r"\b[A-Z][A-Z.]{0,5}\b", original)
    tickers = list(dict.fromkeys(t for t in tokens if t not in _NOT_TICKERS))
    return tickers if len(tickers) >= 2 else None


def parse_intent(intent: str) -> StrategyDraft:
    """The draft an idea describes, with every assumption made listed.

    Raises
    ------
    IntentError
        An empty or over-long intent, or one with no recognisable signal.
    """
    original = " ".join(str(intent).split())
    if not original:
        raise IntentError("the strategy idea is empty", hint='say what to trade, e.g. "momentum"')
    if len(original) > MAX_INTENT_CHARS:
        raise IntentError(f"the strategy idea has {len(original):,} characters (limit 2,000)")
    weighting, text = _weighting(original.lower())
    found = [r.family for r in _RULES if r.pattern.search(text)]
    if not found:
        raise IntentError(
            f"no strategy signal recognised in {original[:80]!r}",
            hint="name one of: momentum, mean reversion, RSI, moving-average cross, breakout, "
            "low volatility, value, quality, volume, trend",
        )
    p = _Parse(text, [], _spans(text))
    if len(found) > 1:
        p.notes.append(f"signal: {found[0]} used; also mentioned, not used: {', '.join(found[1:])}")
    signal = _signal(p, found[0])
    book = _book(p)
    rebalance = _rebalance(p)
    exits = _exits(p)
    universe = _universe(original)
    if weighting != "equal":
        p.notes.append(f"weighting: {weighting.replace('_', ' ')}")
    label = signal.template if isinstance(signal, TemplateSignal) else found[0]
    size = f"top{book['k']}" if "k" in book else ("ls" if book["side"] == "long_short" else "")
    name = "-".join(x for x in (label.replace("_", "-"), size, rebalance) if x)
    try:
        return _draft(name, signal, book, weighting, rebalance, exits, universe, p.notes)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise IntentError(f"the idea asks for values out of range: {problems}") from None


def _draft(
    name: str,
    signal: TemplateSignal | ExpressionSignal,
    book: dict[str, object],
    weighting: str,
    rebalance: str,
    exits: dict[str, object],
    universe: list[str] | None,
    notes: list[str],
) -> StrategyDraft:
    return StrategyDraft(
        name=name,
        signal=signal,
        side=book["side"],  # type: ignore[arg-type]
        method="quantile_long_short" if book["side"] == "long_short" else "top_k",
        k=book.get("k"),  # type: ignore[arg-type]
        quantile=book.get("quantile"),  # type: ignore[arg-type]
        weighting=weighting,  # type: ignore[arg-type]
        rebalance=rebalance,  # type: ignore[arg-type]
        exits=exits,  # type: ignore[arg-type]
        universe=universe,
        assumptions=notes[:20],
    )
