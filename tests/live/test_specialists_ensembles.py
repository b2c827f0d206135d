"""Specialist agents, their ensembles and the competition leaderboard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.runner import backtest_panel
from alphaloop.backtest.spec import StrategySpec
from alphaloop.live.competition import CompetitionError, leaderboard
from alphaloop.live.ensemble import (
    EnsembleError,
    combine_books,
    run_ensemble,
    sharpe_allocation,
)
from alphaloop.live.specialists import (
    SpecialistBook,
    SpecialistError,
    run_specialists,
    standard_specialists,
)

IDX = pd.bdate_range("2020-01-01", periods=120, tz="UTC")
SPEC = StrategySpec.model_validate(
    {"name": "x", "data": "d", "signal": {"expr": "$close"}, "fills": "next_close"}
)


def _book(name: str, weights: np.ndarray, returns: np.ndarray | None = None) -> SpecialistBook:
    w = pd.DataFrame(weights, index=IDX, columns=["A", "B"])
    r = pd.Series(np.zeros(len(IDX)) if returns is None else returns, index=IDX)
    return SpecialistBook(name=name, style=name, spec=SPEC, weights=w, returns=r, metrics={})


def _const(a: float, b: float) -> np.ndarray:
    w = np.full((len(IDX), 2), np.nan)
    w[0] = [a, b]
    return w


def test_vote_is_the_mean_sign_capped_at_gross() -> None:
    books = {"p": _book("p", _const(0.5, 0.2)), "q": _book("q", _const(0.1, -0.3)),
             "r": _book("r", _const(-0.4, -0.1))}  # fmt: skip
    w = combine_books(books, "vote", gross=1.0)
    np.testing.assert_allclose(w.iloc[0].to_numpy(), [1 / 3, -1 / 3])
    assert w.iloc[1:].isna().all().all()  # nobody rebalanced after the first bar
    capped = combine_books(books, "vote", gross=0.5)
    assert np.abs(capped.iloc[0]).sum() == pytest.approx(0.5)


def test_consensus_needs_agreement() -> None:
    books = {"p": _book("p", _const(0.5, 0.2)), "q": _book("q", _const(0.3, -0.3)),
             "r": _book("r", _const(-0.4, -0.1))}  # fmt: skip
    w = combine_books(books, "consensus", min_agree=2)
    np.testing.assert_allclose(w.iloc[0].to_numpy(), [0.4, -0.2])
    w3 = combine_books(books, "consensus", min_agree=3)
    np.testing.assert_allclose(w3.iloc[0].to_numpy(), [0.0, 0.0])
    with pytest.raises(EnsembleError, match="exceeds"):
        combine_books(books, "consensus", min_agree=4)


def test_performance_weights_are_causal_and_match_the_allocation_rule() -> None:
    rng = np.random.default_rng(2)
    ra, rb = rng.normal(0.003, 0.01, len(IDX)), rng.normal(0.0005, 0.01, len(IDX))
    every = np.tile([[1.0, 0.0]], (len(IDX), 1))
    books = {"a": _book("a", every, ra), "b": _book("b", every[:, ::-1].copy(), rb)}
    w = combine_books(books, "performance", lookback=30, min_observations=10)
    rets = pd.DataFrame({"a": ra, "b": rb}, index=IDX)
    for i in (15, 60, 119):
        mix = sharpe_allocation(rets.iloc[max(0, i + 1 - 30) : i + 1], 10)
        np.testing.assert_allclose(w.iloc[i].to_numpy(), [mix["a"], mix["b"]], atol=1e-12)
    assert w.iloc[:9].abs().sum().sum() == 0  # too few returns: no position
    rb2 = rb.copy()
    rb2[80:] += 0.05  # a different future
    books2 = {"a": _book("a", every, ra), "b": _book("b", every[:, ::-1].copy(), rb2)}
    w2 = combine_books(books2, "performance", lookback=30, min_observations=10)
    pd.testing.assert_frame_equal(w.iloc[:80], w2.iloc[:80])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"method": "median"}, "unknown ensemble method"), ({"gross": 0.0}, "gross must be")],
)
def test_bad_ensemble_settings(kwargs: dict, match: str) -> None:
    books = {"p": _book("p", _const(0.5, 0.2)), "q": _book("q", _const(0.1, -0.3))}
    with pytest.raises(EnsembleError, match=match):
        combine_books(books, **kwargs)
    with pytest.raises(EnsembleError, match="at least two"):
        combine_books({"p": books["p"]})


def test_specialists_follow_the_data(shared_workspace) -> None:
    ws = shared_workspace
    close_only = ws.data.load("sp500-stocks")
    made, skipped = standard_specialists("sp500-stocks", close_only)
    assert [s.style for s in made] == ["momentum", "mean_reversion", "breakout"]
    assert "high and low" in skipped["market_making"]
    assert "sentiment" in skipped
    ohlcv = ws.data.load("sp500-ohlcv")
    made2, skipped2 = standard_specialists(
        "sp500-ohlcv", ohlcv, sentiment_signal="$close / Ref($close, 5) - 1"
    )
    assert {s.style for s in made2} == {
        "momentum", "mean_reversion", "breakout", "market_making", "sentiment"
    }  # fmt: skip
    assert not skipped2
    quoting = [s for s in made2 if s.style == "market_making"]
    short = ohlcv.slice("2010-01-01", "2011-12-31")
    book = run_specialists(quoting, ws.data.info("sp500-ohlcv"), short)["market_making"]
    assert book.weights is None  # quotes, not target weights
    assert np.isfinite(book.returns).all()
    with pytest.raises(SpecialistError, match="unknown specialist styles"):
        standard_specialists("x", close_only, styles=["astrology"])


def test_specialist_books_are_their_backtests_and_ensembles_trade_them(shared_workspace) -> None:
    ws = shared_workspace
    info = ws.data.info("sp500-stocks")
    panel = ws.data.load("sp500-stocks").slice("2006-01-01", "2010-12-31")
    made, _ = standard_specialists(
        "sp500-stocks", panel, styles=["momentum", "mean_reversion", "breakout"],
        overrides={"momentum": {"lookback": 63}},
    )  # fmt: skip
    books = run_specialists(made, info, panel)
    alone = backtest_panel(made[0].spec, info, panel)
    pd.testing.assert_series_equal(books["momentum"].returns, alone.simulation.returns)
    assert books["momentum"].weights.shape[1] == 20
    for method in ("vote", "consensus", "performance"):
        res = run_ensemble(books, panel, method)
        sim = res.simulation
        assert np.isfinite(sim.equity).all()
        assert sum(sim.costs.values()) > 0  # costs are on
        assert sim.equity.index[0] == res.weights.index[0]
    board = leaderboard(
        {
            **{k: b.returns for k, b in books.items()},
            "vote": run_ensemble(books, panel).simulation.returns,
        }
    )
    assert list(board.columns[:6]) == [
        "total_return", "annual_return", "sharpe", "max_drawdown", "win_rate", "dsr"
    ]  # fmt: skip
    assert (board["n_trials"] == 4).all()


def test_leaderboard_ranks_by_deflated_sharpe() -> None:
    rng = np.random.default_rng(11)
    n = 750
    idx = pd.bdate_range("2015-01-01", periods=n)
    comps = {f"noise{i}": pd.Series(rng.normal(0, 0.01, n), index=idx) for i in range(9)}
    comps["skill"] = pd.Series(rng.normal(0.002, 0.01, n), index=idx)
    board = leaderboard(comps)
    assert board.index[0] == "skill"
    assert board["dsr"].between(0, 1).all()
    assert list(board["dsr"]) == sorted(board["dsr"], reverse=True)
    more = leaderboard(comps, n_trials=1000)
    assert more.loc["skill", "dsr"] < board.loc["skill", "dsr"]  # more trials, more deflation
    eq = (1 + comps["skill"]).cumprod()
    assert board.loc["skill", "max_drawdown"] == pytest.approx(float((1 - eq / eq.cummax()).max()))


@pytest.mark.parametrize(
    ("comps", "kwargs", "match"),
    [
        ({"a": pd.Series([0.01] * 30)}, {}, "at least two"),
        ({"a": pd.Series([0.01] * 5), "b": pd.Series([0.0] * 5)}, {}, "share 5 bars"),
        ({"a": pd.Series([0.01] * 30), "b": pd.Series([0.0] * 30)}, {"n_trials": 1}, "below"),
        ({"a": pd.Series([np.inf] * 30), "b": pd.Series([0.0] * 30)}, {}, "infinite"),
    ],
)
def test_leaderboard_bad_input(comps: dict, kwargs: dict, match: str) -> None:
    with pytest.raises(CompetitionError, match=match):
        leaderboard(comps, **kwargs)
