"""Minute bars end to end: import on the NYSE calendar, factors, both engines, paper replay.

The annualization factor of minute bars is the calendar's (XNYS sessions a
year times minutes a session, early closes counted), never 252.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace, run_backtest
from alphaloop.app.paper import open_paper, run_paper
from alphaloop.backtest import quick_spec
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data.calendars import TradingCalendar
from alphaloop.factors.evaluate import evaluate

NYSE = TradingCalendar("XNYS")
START, END = "2024-11-18", "2024-11-29"  # a holiday (11-28) and an early close (11-29)
ASSETS = ("AAA", "BBB", "CCC", "DDD")
EXPR = "$close / Ref($close, 30) - 1"


def _minute_file(path: Path, seed: int = 11) -> Path:
    stamps = NYSE.bar_stamps(START, END, "1min")
    index = pd.DatetimeIndex(stamps.view("datetime64[ns]")).tz_localize("UTC")
    rng = np.random.default_rng(seed)
    frames = []
    for k, asset in enumerate(ASSETS):
        close = (50 + 10 * k) * np.exp(np.cumsum(rng.normal(2e-6 * k, 8e-4, len(index))))
        open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0, 2e-4, len(index)))
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "asset": asset,
                    "open": open_.round(4),
                    "high": (np.maximum(open_, close) * 1.0005).round(4),
                    "low": (np.minimum(open_, close) * 0.9995).round(4),
                    "close": close.round(4),
                    "volume": rng.integers(100, 10_000, len(index)),
                }
            )
        )
    pd.concat(frames).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("intraday")
    workspace = Workspace(root / "ws")
    workspace.data._bundled_ready = True
    workspace.data.import_file(_minute_file(root / "minutes.parquet"), "nyse-1min")
    yield workspace
    workspace.close()


def _spec(rebalance_every: int = 30) -> StrategySpec:
    base = quick_spec(EXPR, "nyse-1min", top_k=2)
    doc = {
        **base.model_dump(mode="json"),
        "rebalance": {"frequency": "bars", "every": rebalance_every},
    }
    return StrategySpec.from_dict(doc)


def test_the_import_infers_the_nyse_calendar_and_its_minute_year(ws: Workspace) -> None:
    info = ws.data.info("nyse-1min")
    market = info.market
    assert info.frequency == "1min"
    assert market.trading_calendar == "XNYS"
    assert "trading_calendar" not in market.given
    expected = NYSE.sessions_per_year(START, END) * NYSE.bars_per_session("1min", START, END)
    assert market.periods_per_year == pytest.approx(expected)
    assert 95_000 < expected < 98_500  # not 252, nor 252 x 390 exactly
    assert info.quality_report.issue("calendar_gaps") is None
    assert info.quality_report.issue("off_calendar_bars") is None


def test_factor_expressions_on_a_minute_panel(ws: Workspace) -> None:
    panel = ws.data.load("nyse-1min")
    assert panel.frequency == "1min"
    value = evaluate(panel, EXPR)[EXPR]
    close = panel.frame("close")
    expected = (close / close.shift(30) - 1).to_numpy()
    np.testing.assert_allclose(value, expected, rtol=1e-12, equal_nan=True)
    # 30 bars back crosses the night: the first 30 minutes of a session look at yesterday's
    second_open = int(np.flatnonzero(panel.index.normalize() == panel.index[-1].normalize())[0])
    assert np.isfinite(value[second_open]).all()


@pytest.mark.parametrize("engine", ["vectorized", "event"])
def test_both_engines_annualize_with_the_calendar(ws: Workspace, engine: str) -> None:
    result = run_backtest(ws, _spec(), engine=engine, record=False)
    ppy = ws.data.info("nyse-1min").market.periods_per_year
    assert result.metrics["periods_per_year"] == pytest.approx(ppy)
    returns = result.simulation.returns.to_numpy()
    vol = float(np.std(returns, ddof=1) * np.sqrt(ppy))
    assert result.metrics["annual_volatility"] == pytest.approx(vol, rel=1e-9)
    assert len(result.simulation.trades) > 0


def test_the_engines_agree_on_minute_bars(ws: Workspace) -> None:
    vec = run_backtest(ws, _spec(), engine="vectorized", record=False)
    ev = run_backtest(ws, _spec(), engine="event", record=False)
    np.testing.assert_allclose(
        vec.simulation.equity.to_numpy(), ev.simulation.equity.to_numpy(), rtol=1e-6
    )


def test_paper_replay_of_minute_bars_matches_the_event_backtest(ws: Workspace) -> None:
    spec = _spec(rebalance_every=60)
    info, _ = open_paper(ws, spec)
    assert info.feed == "replay:nyse-1min"
    run = run_paper(ws, info.id)
    panel = ws.data.load("nyse-1min")
    assert run.session.status == "finished"
    assert run.bars == run.session.n_bars
    assert run.session.last_bar is not None
    assert pd.Timestamp(run.session.last_bar).tz_localize(None) <= panel.index[-1].tz_localize(None)
    event = run_backtest(ws, spec, engine="event", record=False)
    assert run.session.equity == pytest.approx(float(event.simulation.equity.iloc[-1]), rel=1e-9)
