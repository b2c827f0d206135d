"""Local venues for the live-feed tests: the Alpaca and Binance fakes with bar series that
the test publishes one by one, and a workspace holding the same bars as a dataset."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace, paper_store
from alphaloop.backtest import StrategySpec
from alphaloop.data import Panel
from alphaloop.execution import Governance
from alphaloop.live.feed_records import read_bars
from tests.execution.brokers import fake_alpaca, fake_binance
from tests.live.bus.conftest import REDIS_URL, redis_unavailable

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


def live_spec(data: str) -> StrategySpec:
    return StrategySpec.from_dict({
        "name": f"live-{data}", "data": data,
        "signal": {"expr": "Ref($close, 1) / Ref($close, 11) - 1"},
        "portfolio": {"method": "top_k", "k": 1}, "rebalance": {"frequency": "daily"},
    })  # fmt: skip


@pytest.fixture
def live_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
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
def alpaca_venue(
    live_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Venue]:
    end = pd.Timestamp.now(tz="UTC").normalize() - pd.offsets.BDay(3)
    days = pd.bdate_range(end=end, periods=N_BARS, tz="UTC") + pd.Timedelta(hours=5)
    series = _series(["AAPL", "PENNY"], days, seed=3)
    _import(live_ws, "us-stocks", series, tmp_path)
    fake = fake_alpaca.FakeAlpaca()
    fake.bar_series = {
        a: [
            {
                "t": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "o": r.open,
                "h": r.high,
                "l": r.low,
                "c": r.close,
                "v": r.volume,
            }
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
    live_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Venue]:
    end = pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=3)
    days = pd.date_range(end=end, periods=N_BARS, freq="D", tz="UTC")
    series = _series(["BTC/USDT", "XYZ/USDT"], days, seed=5)
    _import(live_ws, "crypto", series, tmp_path)
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


class Topics:
    """A real Redis bus (default prefix) and topic names no other test uses."""

    def __init__(self, bus: Any) -> None:
        self.bus, self.tag, self.used = bus, os.urandom(4).hex(), []

    def __call__(self, name: str) -> str:
        self.used.append(f"test-paper-{self.tag}-{name}")
        return self.used[-1]


@pytest.fixture
def bus() -> Iterator[Topics]:
    why = redis_unavailable()
    if why is not None:
        pytest.skip(why)
    from alphaloop.live.bus.redis_streams import RedisBus

    topics = Topics(RedisBus(REDIS_URL))
    yield topics
    topics.bus.drop(*topics.used)
    topics.bus.close()
