"""The debate orchestrator: rule-based offline, a language model through its real protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.panel import Panel
from alphaloop.live.debate import DebateError, debate, debate_facts
from tests.llm.servers import ProtocolServer, Reply, openai_body, running
from tests.llm.support import make_client


@pytest.fixture
def openai_server() -> Iterator[ProtocolServer]:
    """A local server speaking the OpenAI chat-completions protocol."""
    with running("openai") as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _panel() -> Panel:
    rng = np.random.default_rng(4)
    n = 300
    rets = rng.normal(0, 0.01, size=(n, 4))
    rets[:, 0] += 0.004  # steady riser
    rets[:, 1] -= 0.004  # steady faller
    rets[-10:, 3] = rng.normal(0, 0.08, 10)  # a storm at the end
    close = 100 * np.exp(np.cumsum(rets, axis=0))
    idx = pd.bdate_range("2019-01-01", periods=n)
    return Panel.from_frames({"close": pd.DataFrame(close, index=idx, columns=list("ABCD"))})


def test_rules_buy_the_riser_and_sell_the_faller() -> None:
    p = _panel()
    up = debate(debate_facts(p, "A"))
    down = debate(debate_facts(p, "B"))
    assert up.action == "buy"
    assert up.size > 0.15
    assert down.action == "sell"
    assert {a.source for a in up.arguments} == {"rules"}
    assert [a.role for a in up.arguments] == ["bull", "bear", "risk"]


def test_risk_officer_cuts_size_in_a_storm_and_in_defensive_mode() -> None:
    p = _panel()
    normal = debate(debate_facts(p, "A"))
    defensive = debate(debate_facts(p, "A", risk_mode="DEFENSIVE"))
    risk = {a.role: a for a in defensive.arguments}["risk"]
    assert risk.stance == pytest.approx(0.3 * {a.role: a for a in normal.arguments}["risk"].stance)
    assert abs(defensive.size) < abs(normal.size)
    storm = {a.role: a for a in debate(debate_facts(p, "D")).arguments}["risk"]
    assert storm.stance <= 0.5


def test_facts_read_nothing_after_the_bar() -> None:
    p = _panel()
    at = p.index[200]
    f1 = debate_facts(p, "C", at)
    close = p.frame("close").copy()
    close.iloc[201:] *= 3.0
    f2 = debate_facts(Panel.from_frames({"close": close}), "C", at)
    assert f1 == f2


def test_a_language_model_sees_no_name_and_no_date(openai_server, sleeps) -> None:
    answers = [
        {"stance": 0.9, "points": ["strong trend"]},
        {"stance": 0.1, "points": ["little against"]},
        {"stance": 0.5, "points": ["half size"]},
    ]
    openai_server.script = [Reply(body=openai_body(json.dumps(a))) for a in answers]
    client = make_client(openai_server, sleeps, timeout_s=30.0)
    res = debate(debate_facts(_panel(), "A"), client=client, seed=3)
    assert [a.source for a in res.arguments] == ["llm", "llm", "llm"]
    assert res.conviction == pytest.approx(0.4)
    assert res.size == pytest.approx(0.2)
    assert res.action == "buy"
    sent = json.dumps([r["body"] for r in openai_server.requests])
    assert '"A"' not in sent
    assert "2019" not in sent
    assert "trend_t" in sent
    assert not openai_server.protocol_errors


def test_a_failing_model_falls_back_to_rules(openai_server, sleeps) -> None:
    openai_server.script = [Reply(status=400, body=b'{"error": {"message": "bad"}}')] * 3
    client = make_client(openai_server, sleeps, timeout_s=30.0, max_retries=0)
    res = debate(debate_facts(_panel(), "B"), client=client)
    assert all(a.source == "rules (llm failed)" for a in res.arguments)
    assert len(res.notes) == 3
    assert res.action == debate(debate_facts(_panel(), "B")).action


def test_bad_requests() -> None:
    p = _panel()
    with pytest.raises(DebateError, match="not in the panel"):
        debate_facts(p, "ZZZ")
    with pytest.raises(DebateError, match="risk_mode"):
        debate_facts(p, "A", risk_mode="PANIC")
    with pytest.raises(DebateError, match="no debate on A"):
        debate_facts(p, "A", p.index[10])
