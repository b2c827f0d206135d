"""A live session on a futures contract sends whole contracts sized by the contract's value
(last price x multiplier), not by the quoted price (the local Alpaca server is the venue)."""

from __future__ import annotations

import math
from datetime import date

import pytest

from alphaloop.app import Workspace, open_paper
from alphaloop.app.paper_live import run_live_feed
from alphaloop.data.assets import Instrument, InstrumentStore
from alphaloop.execution import Governance
from tests.execution.brokers import fake_alpaca
from tests.live.live_venues import N_BARS, Venue
from tests.live.test_paper_live_trading import LIVE_KEYS, _spec

MULTIPLIER = 50.0


def test_live_futures_orders_are_whole_contracts_sized_by_contract_value(
    live_ws: Workspace, alpaca_venue: Venue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphaloop.app.paper_venue import live_approval
    from alphaloop.errors import UsageError

    ws = live_ws
    for var, value in LIVE_KEYS.items():
        monkeypatch.setenv(var, value)
    # both assets are contracts worth 50 per point
    InstrumentStore(ws.db).put(
        Instrument(symbol=s, asset_class="future", currency="USD", multiplier=MULTIPLIER,
                   tick_size=0.25, expiry=date(2099, 12, 18))
        for s in ("AAPL", "PENNY")
    )
    fake: fake_alpaca.FakeAlpaca = alpaca_venue.fake  # type: ignore[assignment]
    fake.prices["PENNY"] = 60.0
    gov = Governance.open(ws.db)
    spec = _spec()
    with pytest.raises(UsageError, match="approval") as refused:
        live_approval(gov, "alpaca", spec.hash, live_flag=True, actor="bob")
    gov.approvals.approve(int(str(refused.value).split("request ")[1].split(" ")[0]),
                          actor="ann", reason="go live")  # fmt: skip
    info, _ = open_paper(ws, spec, feed="alpaca", mode="live", limits_set_by="ann")
    run_live_feed(ws, info.id, live_flag=True,
                  stop=alpaca_venue.stepper(ws, info.id, N_BARS - 10))  # fmt: skip
    sent = list(fake.orders.values())
    assert sent, "the targets became orders"
    equity = fake.cash  # nothing is filled by the fake: equity stays the cash
    for order in sent:
        qty = float(order["qty"])
        price = fake.prices[order["symbol"]]
        assert qty == math.floor(qty)  # whole contracts
        # at most weight 1 of equity: 100,000 / (190 x 50) = 10.5 contracts, not 526 shares
        assert 1 <= qty <= equity / (price * MULTIPLIER)
