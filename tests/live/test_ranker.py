"""The opportunity ranker: each component orders symbols as documented, and it is causal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.panel import Panel
from alphaloop.live.ranker import OpportunityError, OpportunityRanker, RankerConfig


def _panel(n: int = 400, seed: int = 5, volume: bool = True) -> Panel:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=n)
    rets = rng.normal(0.0, 0.01, size=(n, 5))
    rets[:, 0] += 0.004  # a strong steady rise
    rets[:, 1] -= 0.004  # a strong steady fall
    rets[-15:, 2] *= 6.0  # a volatility spike at the end
    close = 100 * np.exp(np.cumsum(rets, axis=0))
    names = ["UP", "DOWN", "SPIKE", "C", "D"]
    frames = {"close": pd.DataFrame(close, index=idx, columns=names)}
    if volume:
        vol = np.tile(np.array([1e6, 1e6, 1e6, 1e4, 1e8]), (n, 1))
        frames["volume"] = pd.DataFrame(vol, index=idx, columns=names)
    return Panel.from_frames(frames)


def test_trend_strength_is_absolute_and_direction_kept() -> None:
    r = OpportunityRanker().rank(_panel())
    t = r.table
    top2 = set(t["trend"].sort_values(ascending=False).index[:2])
    assert top2 == {"UP", "DOWN"}
    assert t.loc["UP", "direction"] == 1
    assert t.loc["DOWN", "direction"] == -1


def test_volatility_spike_scores_least_calm() -> None:
    t = OpportunityRanker().rank(_panel()).table
    assert t["calm"].idxmin() == "SPIKE"
    assert t.loc["SPIKE", "calm_pct"] == 0.0


def test_liquidity_orders_by_traded_value_and_is_neutral_without_volume() -> None:
    t = OpportunityRanker().rank(_panel()).table
    assert t["liquidity"].idxmax() == "D"
    assert t["liquidity"].idxmin() == "C"
    t2 = OpportunityRanker().rank(_panel(volume=False)).table
    assert t2["liquidity"].isna().all()
    assert (t2["liquidity_pct"] == 0.5).all()


def test_diversify_penalises_the_symbol_the_book_holds() -> None:
    p = _panel()
    t = OpportunityRanker().rank(p, book={"C": 1.0}).table
    assert t["diversify"].idxmin() == "C"
    assert t.loc["C", "diversify"] == pytest.approx(-1.0)


def test_signal_quality_can_decide_the_ranking() -> None:
    cfg = RankerConfig(weights={"signal": 1.0})
    r = OpportunityRanker(cfg).rank(_panel(), signal_quality={"C": 0.9, "D": 0.1, "UP": -0.2})
    assert r.universe(2) == ["C", "D"]
    assert r.table.loc["SPIKE", "signal_pct"] == 0.5  # not given: neutral


def test_ranking_reads_nothing_after_the_decision_bar() -> None:
    p = _panel()
    at = p.index[300]
    base = OpportunityRanker().rank(p, at=at)
    close = p.frame("close").copy()
    close.iloc[301:] *= np.linspace(0.2, 5.0, len(close) - 301)[:, None]
    altered = Panel.from_frames({"close": close, "volume": p.frame("volume")})
    again = OpportunityRanker().rank(altered, at=at)
    assert base.at == at
    pd.testing.assert_frame_equal(base.table, again.table)


def test_short_history_and_non_members_are_excluded_with_reasons() -> None:
    p = _panel(n=400)
    close = p.frame("close").copy()
    close.iloc[:-10, 3] = np.nan  # C listed 10 bars ago
    r = OpportunityRanker().rank(Panel.from_frames({"close": close}))
    assert "C" in r.excluded
    assert "needs 20" in r.excluded["C"]
    assert "C" not in r.table.index
    assert r.table["score"].between(0, 1).all()
    assert list(r.table["score"]) == sorted(r.table["score"], reverse=True)


def test_same_inputs_same_ranking_and_json_form() -> None:
    p = _panel()
    a = OpportunityRanker().rank(p, book={"UP": 0.5}).to_dict()
    b = OpportunityRanker().rank(p, book={"UP": 0.5}).to_dict()
    assert a == b
    assert a["ranking"][0]["symbol"]
    assert set(a["ranking"][0]) >= {"score", "trend", "direction"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"at": "1990-01-01"}, "before the panel's first bar"),
        ({"at": "not a date"}, "is not a date"),
        ({"book": {"NOPE": 1.0}}, "not in the panel"),
        ({"signal_quality": {"UP": float("nan")}}, "non-finite"),
    ],
)
def test_bad_input_is_named(kwargs: dict, match: str) -> None:
    with pytest.raises(OpportunityError, match=match):
        OpportunityRanker().rank(_panel(), **kwargs)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ({"lookback": 1}, "lookback"),
        ({"min_history": 100, "lookback": 50}, "min_history"),
        ({"weights": {"momentum": 1.0}}, "unknown components"),
        ({"weights": {"trend": 0.0}}, "positive weight"),
        ({"weights": {"trend": -1.0}}, ">= 0"),
    ],
)
def test_bad_config_is_named(cfg: dict, match: str) -> None:
    with pytest.raises(OpportunityError, match=match):
        RankerConfig(**cfg)


def test_ranks_the_bundled_stocks() -> None:
    from alphaloop.data.bundled import load_bundled

    panel = load_bundled("sp500-stocks").to_panel()
    r = OpportunityRanker().rank(panel, at="2015-06-30")
    assert len(r.table) == 20
    assert not r.excluded
    assert r.at <= pd.Timestamp("2015-06-30", tz="UTC")
    assert r.table["score"].is_monotonic_decreasing
