"""Live trading (``--live``): refused without the flag, the live keys or a person's approval,
each named; with all three, every order passes the gate before it reaches the venue (the
local Alpaca server), and a paper session on the same feed still sends none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace, open_paper, paper_store
from alphaloop.app.paper_live import run_live_feed
from alphaloop.backtest import StrategySpec
from alphaloop.errors import UsageError
from alphaloop.execution import AutonomyError, Governance
from alphaloop.live.bus.redis_streams import RedisBus
from alphaloop.live.decisions import read_decisions
from tests.cli.conftest import cli
from tests.execution.brokers import fake_alpaca
from tests.live.bus.conftest import REDIS_URL, redis_unavailable
from tests.live.live_venues import N_BARS, Topics, Venue
from tests.live.test_paper_bus import check_stream, stream_of


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole output lines are matched: a console as wide as they are (another test in the
    same worker may have left a narrow one)."""
    monkeypatch.setenv("COLUMNS", "200")


LIVE_KEYS = {
    "ALPHALOOP_ALPACA_LIVE_KEY_ID": fake_alpaca.KEY,
    "ALPHALOOP_ALPACA_LIVE_SECRET_KEY": fake_alpaca.SECRET,
}


def _spec(limits: bool = True) -> StrategySpec:
    doc = {
        "name": "live-us", "data": "us-stocks",
        "signal": {"expr": "Ref($close, 1) / Ref($close, 11) - 1"},
        "portfolio": {"method": "top_k", "k": 1}, "rebalance": {"frequency": "daily"},
    }  # fmt: skip
    if limits:
        doc["limits"] = {"risk": {"max_weight": 1.0, "max_gross": 1.0, "max_daily_loss": 0.5}}
    return StrategySpec.from_dict(doc)


def test_cli_names_what_live_trading_lacks(
    live_ws: Workspace, alpaca_venue: Venue, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    ws = live_ws
    spec = tmp_path / "live.yaml"
    spec.write_text(json.dumps(_spec().model_dump(mode="json")))
    root = str(ws.root)
    code, _, err = cli(capsys, Path(root), "paper", "start", str(spec), "--live")
    assert code == 2
    assert "--live needs a venue feed" in err
    code, _, err = cli(capsys, Path(root), "paper", "start", str(spec), "--feed", "alpaca",
                       "--live")  # fmt: skip
    assert code == 2
    assert "needs live keys: ALPHALOOP_ALPACA_LIVE_KEY_ID" in err
    assert "Traceback" not in err
    for var, value in LIVE_KEYS.items():
        monkeypatch.setenv(var, value)
    code, _, err = cli(capsys, Path(root), "paper", "start", str(spec), "--feed", "alpaca",
                       "--live")  # fmt: skip
    assert code == 2
    assert "needs a person's approval before the first order" in err
    code, out, _ = cli(capsys, Path(root), "approvals", "list", "--status", "pending", "--json")
    (request,) = json.loads(out)
    assert request["order"]["kind"] == "live"
    assert request["order"]["venue"] == "alpaca"
    code, out, _ = cli(capsys, Path(root), "approvals", "list")
    assert "live trading on alpaca" in out
    assert paper_store(ws).list() == []  # nothing started
    assert fake_alpaca_orders(alpaca_venue) == 0


def fake_alpaca_orders(venue: Venue) -> int:
    return venue.fake.order_requests  # type: ignore[attr-defined]


def test_live_orders_pass_the_gate_and_reach_the_venue(
    live_ws: Workspace, alpaca_venue: Venue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphaloop.app.paper_venue import live_approval

    ws = live_ws

    for var, value in LIVE_KEYS.items():
        monkeypatch.setenv(var, value)
    gov = Governance.open(ws.db)
    spec = _spec()
    bare_spec = _spec(limits=False)
    ids = []
    for s in (spec, bare_spec):
        with pytest.raises(UsageError, match="approval") as refused:
            live_approval(gov, "alpaca", s.hash, live_flag=True, actor="bob")
        ids.append(int(str(refused.value).split("request ")[1].split(" ")[0]))
        gov.approvals.approve(ids[-1], actor="ann", reason="go live")
    request_id = ids[0]

    # L3 refuses a spec without hard limits when it trades live (no paper leniency)
    bare, _ = open_paper(ws, bare_spec, feed="alpaca", mode="live", limits_set_by="ann")
    with pytest.raises(AutonomyError, match="no risk limit is set"):
        run_live_feed(ws, bare.id, live_flag=True, stop=lambda: True)
    assert fake_alpaca_orders(alpaca_venue) == 0

    info, _ = open_paper(ws, spec, feed="alpaca", mode="live", limits_set_by="ann")
    assert info.mode == "live"
    with pytest.raises(UsageError, match="explicit --live flag"):
        run_live_feed(ws, info.id, stop=lambda: True)
    # the fills and P&L stream to the bus too, when a Redis server is here
    topics = Topics(RedisBus(REDIS_URL)) if redis_unavailable() is None else None
    topic = topics("live") if topics is not None else "events"
    run = run_live_feed(ws, info.id, live_flag=True,
                        stop=alpaca_venue.stepper(ws, info.id, N_BARS - 10),
                        bus=REDIS_URL if topics is not None else None, bus_topic=topic)  # fmt: skip
    assert run.session.position == run.session.n_bars
    if topics is not None:
        events = stream_of(topics, topic)
        topics.bus.drop(topic)
        check_stream(events, ws, info.id)
        assert [e for e in events if e.type == "pnl_tick"]
    fake = alpaca_venue.fake
    sent = gov.audit.entries(action="order.sent")
    assert sent, "the targets became orders"
    assert fake.order_requests == len(sent)  # every order at the venue passed the gate first
    assert all(json.loads(e.payload)["level"] == "L3" for e in sent)
    decisions = read_decisions(ws.db, info.id)
    assert {d.action for d in decisions} <= {"sent", "refused"}
    assert sum(d.action == "sent" for d in decisions) == len(sent)
    assert gov.approvals.get(request_id).status == "sent"
    assert gov.audit.verify().ok
