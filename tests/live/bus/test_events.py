"""Events: envelope, round trips of every built-in type, rejections with reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

import pytest

from alphaloop.errors import ExitCode
from alphaloop.live.bus import (
    Alert,
    AlertRaised,
    Bar,
    BarClosed,
    Event,
    EventRejectedError,
    Fill,
    LifecycleTransition,
    LifecycleTransitioned,
    ModelRelease,
    ModelReleased,
    OrderFilled,
    OrderRequest,
    OrderSubmitted,
    Payload,
    PolicyChange,
    PolicyChanged,
    RiskState,
    RiskStateChanged,
    Signal,
    SignalEmitted,
    decode,
    encode,
    event_class,
    register_event,
    registered_events,
)

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def bar(symbol: str = "AAPL", close: float = 101.0, **kw: object) -> BarClosed:
    return BarClosed(
        payload=Bar(
            symbol=symbol, end=T0, open=100.0, high=102.0, low=99.0, close=close, volume=1e4
        ),
        **kw,  # type: ignore[arg-type]
    )


def every_type() -> list[Event]:
    return [
        bar(),
        SignalEmitted(payload=Signal(strategy="mom", symbol="AAPL", value=-0.4, bar_end=T0)),
        OrderSubmitted(
            payload=OrderRequest(
                order_id="o1",
                symbol="AAPL",
                side="buy",
                quantity=10,
                order_type="limit",
                limit_price=100.5,
            )
        ),
        OrderFilled(
            payload=Fill(
                fill_id="f1",
                order_id="o1",
                symbol="AAPL",
                side="buy",
                quantity=10,
                price=100.4,
                commission=0.1,
            )
        ),
        RiskStateChanged(
            payload=RiskState(
                mode="DEFENSIVE",
                equity=1e6,
                gross_exposure=0.8,
                net_exposure=-0.1,
                drawdown=0.05,
                breached=("gross",),
            )
        ),
        PolicyChanged(
            payload=PolicyChange(
                actor="controller",
                reason="volatility regime",
                changes={"risk_mode": "DEFENSIVE", "max_gross": 0.5},
            )
        ),
        LifecycleTransitioned(
            payload=LifecycleTransition(
                strategy="abc123",
                from_state="SHADOW",
                to_state="LIVE",
                actor="alice",
                reason="approved",
            )
        ),
        ModelReleased(
            payload=ModelRelease(model="lgbm", version=3, previous=2, metrics={"ic": 0.04})
        ),
        AlertRaised(payload=Alert(severity="critical", source="risk", message="kill switch")),
    ]


def test_modes_and_states_are_read_in_any_case_and_kept_in_lower_case() -> None:
    state = RiskState(mode=" Defensive", equity=1, gross_exposure=0, net_exposure=0, drawdown=0)
    assert state.mode == "defensive"
    move = LifecycleTransition(
        strategy="s", from_state="SHADOW", to_state="live", actor="a", reason="r"
    )
    assert (move.from_state, move.to_state) == ("shadow", "live")


def test_the_nine_builtin_types_are_registered_under_version_1() -> None:
    keys = {(e.type, e.version) for e in every_type()}
    assert len(keys) == 9
    assert keys <= set(registered_events())


@pytest.mark.parametrize("event", every_type(), ids=lambda e: e.type)
def test_every_builtin_type_round_trips_through_json(event: Event) -> None:
    data = encode(event)
    back = decode(data)
    assert type(back) is type(event)
    assert back == event
    assert decode(json.loads(data)) == event  # from a mapping too
    assert decode(data, type_=event.type, version=event.version) == event


def test_envelope_has_unique_ids_and_an_aware_utc_time() -> None:
    a, b = bar(), bar()
    assert a.id != b.id
    assert len(a.id) == 32
    assert a.ts.tzinfo is not None
    with pytest.raises(ValueError, match="timezone"):
        bar(ts=datetime(2026, 1, 5))


def test_events_are_frozen_and_reject_unknown_fields() -> None:
    event = bar()
    with pytest.raises(ValueError, match="frozen"):
        event.source = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="extra"):
        BarClosed.model_validate({**event.model_dump(), "colour": "red"})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object but list"),
        (b'{"version": 1}', "missing or malformed type/version"),
        (b'{"type": "bar", "version": true}', "missing or malformed type/version"),
        (b'{"type": "tick", "version": 1}', "unknown event type 'tick'"),
        (b'{"type": "bar", "version": 7}', "unknown version 7 of event type 'bar' (known: [1])"),
    ],
)
def test_unreadable_data_is_rejected_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(EventRejectedError) as info:
        decode(data)
    assert reason in info.value.reason
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_a_malformed_payload_names_the_field() -> None:
    good = json.loads(encode(bar()))
    good["payload"]["high"] = 98.0  # below the open and the low
    with pytest.raises(EventRejectedError, match=r"bar v1: payload: .*prices out of order"):
        decode(json.dumps(good))
    good["payload"]["volume"] = -1
    with pytest.raises(EventRejectedError, match=r"payload\.volume"):
        decode(json.dumps(good))


@pytest.mark.parametrize(
    "make",
    [
        lambda: OrderRequest(order_id="o", symbol="X", side="buy", quantity=1, order_type="limit"),
        lambda: OrderRequest(order_id="o", symbol="X", side="buy", quantity=0),
        lambda: Fill(
            fill_id="f", order_id="o", symbol="X", side="sell", quantity=1, price=float("nan")
        ),
        lambda: LifecycleTransition(
            strategy="s", from_state="LIVE", to_state="LIVE", actor="a", reason="r"
        ),
        lambda: RiskState(mode="PANIC", equity=1, gross_exposure=0, net_exposure=0, drawdown=0),
        lambda: PolicyChange(actor="a", reason="r", changes={}),
    ],
)
def test_payload_rules(make: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case breaks a different rule
        make()  # type: ignore[operator]


class Heartbeat(Payload):
    seq: int


class HeartbeatSent(Event):
    type: Literal["heartbeat"] = "heartbeat"
    version: Literal[1] = 1
    payload: Heartbeat


class HeartbeatSentV2(Event):
    type: Literal["heartbeat"] = "heartbeat"
    version: Literal[2] = 2
    payload: Heartbeat


def test_user_types_register_and_versions_live_side_by_side() -> None:
    register_event(HeartbeatSent)
    register_event(HeartbeatSent)  # again: a no-op
    register_event(HeartbeatSentV2)
    assert event_class("heartbeat", 2) is HeartbeatSentV2
    v1 = decode(encode(HeartbeatSent(payload=Heartbeat(seq=1))))
    assert isinstance(v1, HeartbeatSent)

    class Impostor(Event):
        type: Literal["heartbeat"] = "heartbeat"
        version: Literal[1] = 1
        payload: Heartbeat

    with pytest.raises(TypeError, match="already registered to HeartbeatSent"):
        register_event(Impostor)
    with pytest.raises(TypeError, match="needs defaults"):
        register_event(Event)


def test_a_redefined_class_replaces_the_one_held() -> None:
    def define() -> type[Event]:
        class Beacon(Event):
            type: Literal["beacon"] = "beacon"
            version: Literal[1] = 1
            payload: Heartbeat

        return Beacon

    first, second = define(), define()
    register_event(first)
    register_event(second)
    assert event_class("beacon", 1) is second
