"""The offline intent parser: varied ideas, the drafts they make, the assumptions listed."""

from __future__ import annotations

import pytest

from alphaloop.errors import IntentError
from alphaloop.research.draft import ExpressionSignal, TemplateSignal, draft_to_spec
from alphaloop.research.intent import parse_intent, rsi_expression

OHLCV = ("open", "high", "low", "close", "volume")
ASSETS = ("AAPL", "MSFT", "AMZN", *(f"S{i:02d}" for i in range(17)))

# intent -> expected (template, params, side, k, quantile, rebalance, weighting)
CASES = [
    ("20-day momentum, top 5, weekly",
     ("mom", {"lookback": 20}, "long_only", 5, None, "weekly", "equal")),
    ("12-1 momentum, long-short market neutral, top decile",
     ("mom_skip", {"lookback": 252, "skip": 21}, "long_short", None, 0.1, "monthly", "equal")),
    ("Buy oversold stocks when RSI(14) is low, rebalance daily",
     ("rsi", {"window": 14}, "long_only", None, None, "daily", "equal")),
    ("golden cross 50/200 moving average crossover",
     ("ma_cross", {"fast": 50, "slow": 200}, "long_only", None, None, "monthly", "equal")),
    ("EMA cross of 12 and 26 days, every week",
     ("ema_cross", {"fast": 12, "slow": 26}, "long_only", None, None, "weekly", "equal")),
    ("Donchian channel breakout 20-day, inverse volatility weighted",
     ("channel", {"window": 20}, "long_only", None, None, "monthly", "inverse_volatility")),
    ("stocks near their 52-week high",
     ("high_proximity", {"window": 252}, "long_only", None, None, "monthly", "equal")),
    ("low volatility defensive portfolio, 10 stocks, quarterly",
     ("low_vol", {"window": 60}, "long_only", 10, None, "quarterly", "equal")),
    ("downside volatility over 6 months, long only",
     ("low_downside_vol", {"window": 126}, "long_only", None, None, "monthly", "equal")),
    ("short-term mean reversion over 3 days, hold at least 5 days",
     ("reversal", {"lookback": 3}, "long_only", None, None, "monthly", "equal")),
    ("z-score 20 bollinger reversion, long/short",
     ("zscore", {"window": 20}, "long_short", None, None, "monthly", "equal")),
    ("cheap value stocks", ("roc", {"window": 60}, "long_only", None, None, "monthly", "equal")),
    ("quality: smooth steady uptrends over 6 months",
     ("trend_r2", {"window": 126}, "long_only", None, None, "monthly", "equal")),
    ("volume surge 5/60, signal weighted",
     ("volume_trend", {"fast": 5, "slow": 60}, "long_only", None, None, "monthly", "signal")),
    ("trend following using 3-month slope, stop loss 8%",
     ("slope", {"window": 63}, "long_only", None, None, "monthly", "equal")),
    ("risk-adjusted momentum over one year, top quintile",
     ("mom_risk_adj", {"lookback": 252}, "long_only", None, 0.2, "monthly", "equal")),
    ("momentum in AAPL MSFT AMZN, best 2",
     ("mom", {"lookback": 63}, "long_only", 2, None, "monthly", "equal")),
    ("Momentum: buy the top 3 winners of the last two weeks, short the losers daily",
     ("mom", {"lookback": 10}, "long_short", 3, None, "daily", "equal")),
]  # fmt: skip


def _params(signal) -> dict:
    if isinstance(signal, TemplateSignal):
        return signal.template, signal.params()
    return "rsi", {}


@pytest.mark.parametrize(("intent", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_varied_intents(intent: str, expected: tuple) -> None:
    template, params, side, k, quantile, rebalance, weighting = expected
    draft = parse_intent(intent)
    name, got = _params(draft.signal)
    assert name == template
    if isinstance(draft.signal, ExpressionSignal):
        assert draft.signal.expr == rsi_expression(params["window"])
        assert draft.signal.higher_is_better is False  # oversold is attractive
    else:
        assert got == params
    assert (draft.side, draft.k, draft.rebalance, draft.weighting) == (
        side,
        k,
        rebalance,
        weighting,
    )
    if quantile is not None:
        assert draft.quantile == pytest.approx(quantile)
    assert draft.assumptions  # something is always assumed
    # every offline draft makes a spec on an OHLCV dataset holding its tickers
    made = draft_to_spec(draft, "synth", fields=OHLCV, assets=ASSETS, intent=intent)
    assert made.spec.fills.value == "next_open"
    assert made.spec.limits.allow_short == (side == "long_short")


def test_assumptions_name_what_was_not_stated() -> None:
    draft = parse_intent("momentum")
    notes = " | ".join(draft.assumptions)
    assert "look-back not stated: 63 bars" in notes
    assert "side not stated: long only" in notes
    assert "rebalance not stated: monthly" in notes
    both = parse_intent("momentum with low volatility")
    assert any("also mentioned, not used" in a for a in both.assumptions)


def test_exits_and_universe() -> None:
    draft = parse_intent("trend slope, stop loss 5%, trailing stop 10%, hold for at least 5 days")
    assert draft.exits.stop_loss == pytest.approx(0.05)
    assert draft.exits.trailing_stop == pytest.approx(0.10)
    assert draft.exits.hold_bars == 5
    assert parse_intent("momentum in AAPL MSFT AMZN").universe == ["AAPL", "MSFT", "AMZN"]
    assert parse_intent("RSI momentum on SPY").universe is None  # one ticker is not a universe


def test_the_parser_is_deterministic() -> None:
    text = "12-1 momentum, long-short, top decile, weekly"
    assert parse_intent(text) == parse_intent(text)


@pytest.mark.parametrize(
    ("intent", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("make me rich", "no strategy signal recognised"),
        ("momentum, top 900", "out of range"),
        ("momentum " * 300, "limit 2,000"),
    ],
)
def test_unreadable_intents_are_typed_errors(intent: str, message: str) -> None:
    with pytest.raises(IntentError, match=message):
        parse_intent(intent)
