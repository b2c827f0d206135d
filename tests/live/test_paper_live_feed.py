"""Paper sessions on live feeds (the local Alpaca and Binance servers): bars arrive one by
one, a lost connection and a kill with a resume neither repeat nor skip a bar, the result
equals a run over the same bars in one go, and no paper session ever sends an order to
the venue (its order endpoint counts zero requests), whatever its autonomy level."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace, open_paper, paper_store
from alphaloop.app.paper import session_on
from alphaloop.app.paper_live import live_inputs, run_live_feed
from alphaloop.backtest import StrategySpec
from alphaloop.data import Panel
from alphaloop.execution import BarEvent, Governance, ReplayFeed
from alphaloop.live.feed_records import read_bars
from tests.execution.brokers import fake_alpaca, fake_binance

N_BARS = 70  # bars of the whole series
SHOWN = 50  # bars the venue has when the session starts (its warm-up)


def _series(assets: list[str], days: pd.DatetimeIndex, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {}
    for k, asset in enumerate(assets):
        close = (50.0 + 40 * k) * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        opens = close * np.exp(rng.normal(0, 0.005, len(days)))
        out[asset] = pd.DataFrame({
            "open": opens.round(2), "high": (np.maximum(opens, close) * 1.01).round(2),
            "low": (np.minimum(opens, close) * 0.99).round(2), "close": close.round(2),
            "volume": rng.integers(1_000, 50_000, len(days)).astype(float),
        }, index=days)  # fmt: skip
    return out


def _import(ws: Workspace, name: str, series: dict[str, pd.DataFrame], tmp: Path) -> None:
    fields = {f: pd.DataFrame({a: s[f] for a, s in series.items()}) for f in
              ("open", "high", "low", "close", "volume")}  # fmt: skip
    panel = Panel.from_frames(fields)
    csv = tmp / f"{name}.csv"
    panel.to_long().to_csv(csv, index=False)
    ws.data.import_file(csv, name)


def _spec(data: str) -> StrategySpec:
    return StrategySpec.from_dict({
        "name": f"live-{data}", "data": data,
        "signal": {"expr": "Ref($close, 1) / Ref($close, 11) - 1"},
        "portfolio": {"method": "top_k", "k": 1}, "rebalance": {"frequency": "daily"},
    })  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("ALPHALOOP_LIVE_WARMUP_BARS", str(SHOWN))
    monkeypatch.setenv("ALPHALOOP_LIVE_POLL_S", "0.001")
    monkeypatch.setenv("ALPHALOOP_LIVE_RETRY_S", "0.001")
    w = Workspace(tmp_path / "ws", holdout_fraction=0.0)
    yield w
    w.close()


class Venue:
    """A fake venue whose bars are published one by one, as the test says."""

    def __init__(self, fake: object, publish: Callable[[int], None]) -> None:
        self.fake = fake
        self.publish = publish
        self.shown = SHOWN
        publish(SHOWN)

    def stepper(self, ws: Workspace, session_id: int, until: int, *, down_at: int | None = None,
                kill_at: int | None = None) -> Callable[[], bool]:  # fmt: skip
        """A ``stop`` callback: shows one more bar per call until ``until``, and stops once
        the session has taken and traded them all; at ``down_at`` the data endpoint fails
        three times; at ``kill_at`` the kill switch is set."""
        store = paper_store(ws)

        def stop() -> bool:
            fake = self.fake
            if getattr(fake, "data_down", False) or getattr(fake, "down", False):
                if _refused(fake) >= 2:  # asked between retries: the connection comes back
                    _set_down(fake, False)
                return False
            if kill_at is not None and self.shown == kill_at:
                Governance.open(ws.db).kill_switch.set("desk closed", actor="ops")
                return False
            if self.shown >= until:
                info = store.get(session_id)
                taken = read_bars(ws.db, session_id)["time"].nunique()
                return taken >= until and info.position == info.n_bars
            self.shown += 1
            self.publish(self.shown)
            if down_at is not None and self.shown == down_at:
                _set_down(fake, True)
            return False

        return stop


def _refused(fake: object) -> int:
    if isinstance(fake, fake_alpaca.FakeAlpaca):
        return fake.data_refused
    return fake.refused_while_down  # type: ignore[attr-defined]


def _set_down(fake: object, down: bool) -> None:
    if isinstance(fake, fake_alpaca.FakeAlpaca):
        fake.data_down = down
    else:
        fake.down = down  # type: ignore[attr-defined]


@pytest.fixture
def alpaca_venue(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Venue]:
    end = pd.Timestamp.now(tz="UTC").normalize() - pd.offsets.BDay(3)
    days = pd.bdate_range(end=end, periods=N_BARS, tz="UTC") + pd.Timedelta(hours=5)
    series = _series(["AAPL", "PENNY"], days, seed=3)
    _import(ws, "us-stocks", series, tmp_path)
    fake = fake_alpaca.FakeAlpaca()
    fake.bar_series = {
        a: [
            {"t": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": r.open, "h": r.high, "l": r.low,
             "c": r.close, "v": r.volume}
            for t, r in s.iterrows()
        ]
        for a, s in series.items()
    }
    for var, value in {
        "ALPHALOOP_ALPACA_PAPER_KEY_ID": fake_alpaca.KEY,
        "ALPHALOOP_ALPACA_PAPER_SECRET_KEY": fake_alpaca.SECRET,
        "ALPHALOOP_ALPACA_TRADING_URL": fake.server.http,
        "ALPHALOOP_ALPACA_DATA_URL": fake.server.http,
        "ALPHALOOP_ALPACA_STREAM_URL": f"{fake.server.ws}/stream",
    }.items():
        monkeypatch.setenv(var, value)

    def publish(n: int) -> None:
        fake.published = n

    yield Venue(fake, publish)
    fake.close()


@pytest.fixture
def binance_venue(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Venue]:
    end = pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=3)
    days = pd.date_range(end=end, periods=N_BARS, freq="D", tz="UTC")
    series = _series(["BTC/USDT", "XYZ/USDT"], days, seed=5)
    _import(ws, "crypto", series, tmp_path)
    fake = fake_binance.FakeBinance()
    fake.kline_series = {
        a.replace("/", ""): [
            [int(t.value // 1_000_000), r.open, r.high, r.low, r.close, r.volume]
            for t, r in s.iterrows()
        ]
        for a, s in series.items()
    }
    for var, value in {
        "ALPHALOOP_CCXT_BINANCE_SANDBOX_API_KEY": fake_binance.KEY,
        "ALPHALOOP_CCXT_BINANCE_SANDBOX_SECRET": fake_binance.SECRET,
        "ALPHALOOP_CCXT_BINANCE_URL": fake.server.http,
    }.items():
        monkeypatch.setenv(var, value)

    def publish(n: int) -> None:
        fake.published = n

    yield Venue(fake, publish)
    fake.close()


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


def test_alpaca_feed_survives_a_disconnect_and_a_kill(ws: Workspace, alpaca_venue: Venue) -> None:
    spec = _spec("us-stocks")
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
    ws: Workspace, binance_venue: Venue, level: str
) -> None:
    info, _ = open_paper(ws, _spec("crypto"), feed="ccxt:binance", autonomy=level)
    run = run_live_feed(ws, info.id, stop=binance_venue.stepper(ws, info.id, N_BARS, down_at=60))
    assert run.session.position == run.session.n_bars
    _check_bars(ws, info.id, 2)
    fake = binance_venue.fake
    assert any(p == "/api/v3/klines" for _, p in fake.server.requests)
    assert fake.order_requests == 0
    assert fake.refused_while_down >= 2
    fills = paper_store(ws).n_fills(info.id)
    assert (fills > 0) is (level == "L4")  # L1 records signals, L2 waits for a person
