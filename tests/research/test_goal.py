"""The goal parser: a table of goals and the constraints they give, and every refusal."""

from __future__ import annotations

import pytest

from alphaloop.errors import AlphaloopError, ExitCode, GoalError
from alphaloop.research.goal import KINDS, Constraints, parse_goal

ASSETS = ("AAPL", "MSFT", "JPM", "XOM", "KO", "BRK.B")
DAILY = 252.0


def parse(text: str, ppy: float = DAILY, assets: tuple[str, ...] = ASSETS):
    return parse_goal(text, assets=assets, fields=("close",), periods_per_year=ppy)


TABLE = [
    # text, expected constraint fields (others keep their defaults)
    ("momentum strategies", {}),
    ("long-only momentum", {"long_only": True}),
    ("long-short momentum", {"long_only": False}),
    ("a market neutral book", {"long_only": False}),
    ("long/short, dollar-neutral", {"long_only": False}),
    ("trend following on AAPL, MSFT and JPM", {"universe": ["AAPL", "JPM", "MSFT"]}),
    ("trade BRK.B and KO.", {"universe": ["BRK.B", "KO"]}),
    ("on aapl please", {}),  # lower case is not a ticker list
    ("tech stocks with momentum", {}),
    ("low turnover", {"max_turnover": 2.0}),
    ("turnover below 200%/yr", {"max_turnover": 2.0}),
    ("max turnover 2x", {"max_turnover": 2.0}),
    ("turnover under 150 percent", {"max_turnover": 1.5}),
    ("max drawdown 20%", {"max_drawdown": 0.2}),
    ("drawdown under 15 percent", {"max_drawdown": 0.15}),
    ("drawdown at most 0.1", {"max_drawdown": 0.1}),
    ("weekly rebalancing", {"horizon": "weekly"}),
    ("monthly", {"horizon": "monthly"}),
    ("rebalance every quarter", {"horizon": "quarterly"}),
    ("daily rebalancing", {"horizon": "daily"}),
    ("short-term signals", {"horizon": "weekly"}),
    ("long-term investing", {"horizon": "monthly"}),
    ("weekly rebalancing on daily data", {"horizon": "weekly"}),
    ("technical only", {"kinds": ("pure_technical",)}),
    ("no ML please", {"kinds": ("pure_technical",)}),
    ("ML only", {"kinds": ("pure_ml",)}),
    ("hybrid strategies", {"kinds": ("hybrid_ml",)}),
    ("Sharpe above 0.8", {"min_sharpe": 0.8}),
    ("minimum Sharpe of 1.2", {"min_sharpe": 1.2}),
    (
        "long-short momentum on AAPL, MSFT, JPM and XOM, max drawdown 20%, weekly, no ML",
        {
            "long_only": False,
            "universe": ["AAPL", "JPM", "MSFT", "XOM"],
            "max_drawdown": 0.2,
            "horizon": "weekly",
            "kinds": ("pure_technical",),
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t for t, _ in TABLE])
def test_goal_table(text: str, expected: dict) -> None:
    goal = parse(text)
    want = Constraints(**expected)
    assert goal.constraints == want
    assert goal.text == text.strip()


def test_assumptions_name_every_default() -> None:
    notes = parse("momentum").assumptions
    text = "\n".join(notes)
    for fragment in (
        "no leverage: gross exposure 1.0",
        "costs: the dataset's asset-class preset",
        "long-only",
        "universe: all 6 assets",
        "drawdown: no limit",
        "turnover: no limit",
        "horizon: chosen by the search",
    ):
        assert fragment in text
    assert all(isinstance(n, str) and n for n in notes)


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("weekly", "horizon: weekly rebalancing"),
        ("short-term", "short-term: weekly rebalancing"),
        ("long-term", "long-term: monthly rebalancing"),
    ],
)
def test_horizon_note_says_what_was_read(text: str, note: str) -> None:
    assert note in parse(text).assumptions


def test_sector_words_are_an_assumption_not_a_universe() -> None:
    goal = parse("tech stocks, long-only")
    assert goal.constraints.universe == "all"
    assert any("no sector data" in n and "tech stocks" in n for n in goal.assumptions)


def test_defaults_allow_every_kind() -> None:
    assert parse("anything").constraints.kinds == KINDS


ERRORS = [
    ("", "empty"),
    ("   ", "empty"),
    ("momentum on AAPL and GOOG", "GOOG"),
    ("momentum on TSLA, NVDA and AAPL", "TSLA, NVDA"),
    ("long-short on AAPL, MSFT and JPM", "at least 4 assets"),
    ("max drawdown 0%", "between 0 and 100%"),
    ("max drawdown 120%", "between 0 and 100%"),
    ("drawdown under -15%", "between 0 and 100%"),
    ("max turnover 0x", "positive"),
    ("intraday trading", "shorter than the data's bar"),
    ("long-only market neutral", "long-only and market neutral"),
    ("long-only, long-short", "long-only and long-short"),
    ("no ML, ML only", "exclude each other"),
    ("technical only, hybrid", "exclude each other"),
    ("weekly or monthly rebalancing", "more than one horizon"),
]


@pytest.mark.parametrize(("text", "says"), ERRORS, ids=[t or "empty" for t, _ in ERRORS])
def test_goal_errors(text: str, says: str) -> None:
    with pytest.raises(GoalError, match=says.replace("(", r"\(")) as err:
        parse(text)
    assert isinstance(err.value, AlphaloopError)
    assert err.value.exit_code == ExitCode.BAD_INPUT == 2


def test_unknown_tickers_list_some_available() -> None:
    with pytest.raises(GoalError) as err:
        parse("on GOOG")
    assert "AAPL" in str(err.value)
    assert "6 assets" in str(err.value)


@pytest.mark.parametrize(
    ("text", "ppy", "ok"),
    [
        ("daily rebalancing", 52.0, False),  # weekly bars
        ("weekly rebalancing", 52.0, True),
        ("weekly rebalancing", 12.0, False),  # monthly bars
        ("monthly", 12.0, True),
        ("quarterly", 4.0, True),
        ("intraday", 252.0 * 6.5, True),  # hourly bars
    ],
)
def test_horizon_against_the_bar(text: str, ppy: float, ok: bool) -> None:
    if ok:
        assert parse(text, ppy).constraints.horizon is not None
    else:
        with pytest.raises(GoalError, match="shorter than the data's bar"):
            parse(text, ppy)


def test_long_short_counts_the_named_universe() -> None:
    assert not parse("long-short on AAPL, MSFT, JPM and XOM").constraints.long_only
    with pytest.raises(GoalError):
        parse("long-short", assets=("AAPL", "MSFT", "JPM"))
