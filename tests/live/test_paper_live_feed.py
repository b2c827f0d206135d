"""Paper sessions on live feeds (the local Alpaca and Binance servers): bars arrive one by
one, a lost connection and a kill with a resume neither repeat nor skip a bar, the result
equals a run over the same bars in one go, and no paper session ever sends an order to
the venue (its order endpoint counts zero requests), whatever its autonomy level."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from alphaloop.app import Workspace, open_paper, paper_store
from alphaloop.app.paper_gate import session_on
from alphaloop.app.paper_live import live_inputs, run_live_feed
from alphaloop.backtest import StrategySpec
from alphaloop.data import Panel
from alphaloop.execution import BarEvent, Governance, ReplayFeed
from alphaloop.live.feed_records import read_bars
from tests.live.live_venues import N_BARS, SHOWN, Venue, live_spec


def _reference_equity(ws: Workspace, session_id: int) -> float:
    """The same spec run in one go, without a gate, over every recorded bar."""
    store = paper_store(ws)
    info = store.get(session_id)
    spec = StrategySpec.from_dict(info.spec)
    bars = read_bars(ws.db, session_id)
    fields = {f: bars.pivot(index="time", columns="asset", values=f) for f in
              ("open", "high", "low", "close", "volume")}  # fmt: skip
    inputs = live_inputs(ws, spec, info, Panel.from_frames(fields), pd.Timedelta(days=1))
    assert inputs is not None
    session = session_on(ws, info, spec, inputs, ReplayFeed(inputs.panel),
                         gate=lambda venue: venue, record=False)  # fmt: skip
    index = inputs.panel.index
    session.run([BarEvent(r, index[r], 0) for r in range(inputs.panel.n_times - 1)])
    return session.account()[1]


def _check_bars(ws: Workspace, session_id: int, n_assets: int) -> pd.DataFrame:
    bars = read_bars(ws.db, session_id)
    assert not bars.duplicated(["asset", "time"]).any()
    times = sorted(bars["time"].unique())
    assert len(times) == N_BARS  # nothing missing: every bar of the series, once
    assert len(bars) == N_BARS * n_assets
    return bars


def test_alpaca_feed_survives_a_disconnect_and_a_kill(
    live_ws: Workspace, alpaca_venue: Venue
) -> None:
    ws = live_ws
    spec = live_spec("us-stocks")
    info, _ = open_paper(ws, spec, feed="alpaca")
    assert info.feed == "alpaca"
    assert info.n_bars == 0
    first = run_live_feed(ws, info.id, stop=alpaca_venue.stepper(ws, info.id, 60, kill_at=58))
    assert first.session.status == "stopped"
    assert "kill switch (all): desk closed" in (first.session.error or "")
    stopped_at = first.session.position
    assert stopped_at > 0

    gov = Governance.open(ws.db)
    gov.kill_switch.clear("desk open", actor="ops")
    second = run_live_feed(ws, info.id, stop=alpaca_venue.stepper(ws, info.id, N_BARS, down_at=64))
    done = second.session
    assert done.status == "stopped"
    assert done.error is None
    assert done.restarts == 1
    assert second.resumed_at == stopped_at
    _check_bars(ws, info.id, 2)
    assert done.first_row == SHOWN
    assert done.position == done.n_bars  # every bar processed
    assert paper_store(ws).n_fills(info.id) > 0
    fake = alpaca_venue.fake
    assert ("GET", "/v2/stocks/bars") in fake.server.requests
    assert fake.order_requests == 0  # paper: the venue never saw an order
    assert fake.data_refused >= 2  # the connection was lost, and nothing was missed
    assert math.isclose(done.equity, _reference_equity(ws, info.id), rel_tol=0, abs_tol=1e-6)
    assert gov.audit.verify().ok


@pytest.mark.parametrize("level", ["L1", "L2", "L4"])
def test_ccxt_feed_never_sends_an_order_to_the_exchange(
    live_ws: Workspace, binance_venue: Venue, level: str
) -> None:
    ws = live_ws
    info, _ = open_paper(ws, live_spec("crypto"), feed="ccxt:binance", autonomy=level)
    run = run_live_feed(ws, info.id, stop=binance_venue.stepper(ws, info.id, N_BARS, down_at=60))
    assert run.session.position == run.session.n_bars
    _check_bars(ws, info.id, 2)
    fake = binance_venue.fake
    assert any(p == "/api/v3/klines" for _, p in fake.server.requests)
    assert fake.order_requests == 0
    assert fake.refused_while_down >= 2
    fills = paper_store(ws).n_fills(info.id)
    assert (fills > 0) is (level == "L4")  # L1 records signals, L2 waits for a person
