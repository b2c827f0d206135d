"""``generate`` end to end: offline, with a model over the OpenAI protocol, and its fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.generate import generate_strategy
from alphaloop.app.generate_report import write_generation_report
from alphaloop.errors import DatasetNotFoundError, IntentError
from alphaloop.llm import LLMClient, LLMSettings
from tests.app.generate_support import CUTOFF, DATA, DRAFT, planted_workspace
from tests.llm.servers import Reply, anthropic_body, openai_body, running


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = planted_workspace(tmp_path)
    yield w
    w.close()


def _client(url: str) -> LLMClient:
    settings = LLMSettings(
        base_url=url, model="local-model", knowledge_cutoff=CUTOFF, max_retries=0, timeout_s=5
    )
    return LLMClient(settings, sleep=lambda s: None)


def test_offline_generation_reads_the_search_span_only_and_counts_a_trial(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    boundary = ws.data.holdout_boundary(DATA)
    seen: list = []
    real_load = ws.data.load

    def spy(name, **kwargs):
        assert kwargs.get("holdout_key") is None
        panel = real_load(name, **kwargs)
        seen.append(panel.end)
        return panel

    monkeypatch.setattr(ws.data, "load", spy)
    settings = LLMSettings(base_url="http://127.0.0.1:9/v1", knowledge_cutoff=CUTOFF)
    result = generate_strategy(
        ws, "20-day momentum, top 3, weekly", DATA, settings=settings, offline=True
    )
    assert seen
    assert all(end < boundary for end in seen)
    returns = result.validation.backtest.simulation.returns
    assert returns.index[-1] < boundary

    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)
    assert next(iter(doc)) == "post_cutoff"  # the memorisation figure comes first
    post = doc["post_cutoff"]
    assert post["available"]
    assert post["llm_originated"] is False
    assert post["start"] == "2017-01-02"
    assert post["metrics"]["n_bars"] == post["n_bars"] >= 63
    assert doc["source"]["origin"] == "offline"
    assert doc["source"]["reason"] == "--offline was given"
    assert doc["expression"] == "$close/Ref($close, 20)-1"
    assert any("20 bars" in a for a in doc["assumptions"])
    assert doc["spec"]["fills"] == "next_open"
    assert doc["lookahead"]["clean"]
    assert doc["status"] in ("validated", "rejected")
    assert doc["n_trials"] == 1
    assert doc["validation"]["n_trials"] == 1
    assert {r["regime"] for r in doc["regimes"]["rows"]} == {"low", "mid", "high", "bull", "bear"}

    record = ws.strategies.get(result.generated.spec.hash)
    assert record.origin == "generate"
    assert record.family == "momentum"
    assert ws.strategies.n_trials(DATA) == 1
    # the same idea again is the same strategy: no new trial
    generate_strategy(ws, "20-day momentum, top 3, weekly", DATA, offline=True)
    assert ws.strategies.n_trials(DATA) == 1
    runs = [r for r in ws.runs.list("generate")]
    assert len(runs) == 2
    assert runs[0]["status"] == "succeeded"


def test_a_model_drafts_over_the_openai_protocol(ws: Workspace, tmp_path: Path) -> None:
    with running("openai") as server:
        server.script = [Reply(body=openai_body(json.dumps(DRAFT)))]
        with _client(server.url) as client:
            result = generate_strategy(ws, "a one-month momentum idea", DATA, client=client)
    assert server.protocol_errors == []
    assert len(server.requests) == 1
    body = server.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    prompt = json.dumps(body["messages"])
    assert "a one-month momentum idea" in prompt
    # names only: no date of the data (so nothing of the holdout) reaches the prompt
    for year in ("2015-", "2016-", "2017-"):
        assert year not in prompt

    doc = result.to_dict()
    assert doc["source"]["origin"] == "llm"
    assert doc["source"]["model"] == "local-model"
    assert doc["source"]["account"]["calls"] == 1
    assert doc["draft"]["name"] == "llm-momentum"
    assert doc["assumptions"][0] == "one month is 21 bars"  # the model's, then ours
    assert doc["spec"]["portfolio"]["k"] == 3
    assert doc["post_cutoff"]["llm_originated"] is True
    assert doc["post_cutoff"]["available"]
    assert next(iter(doc)) == "post_cutoff"

    report = write_generation_report(result, tmp_path / "g.html")
    page = report.read_text()
    first = page.index('id="post-cutoff"')
    assert first < page.index('id="status"') < page.index("Backtest on the research span")
    assert "drafted by a language model" in page
    assert "local-model" in page


def test_a_model_drafts_over_the_anthropic_protocol(ws: Workspace) -> None:
    with running("anthropic") as server:
        server.default = Reply(body=anthropic_body(tool_input=DRAFT, tool_name="StrategyDraft"))
        settings = LLMSettings(
            provider="anthropic", base_url=server.url, model="local-claude",
            knowledge_cutoff=CUTOFF, max_retries=0,
        )  # fmt: skip
        result = generate_strategy(ws, "one-month momentum", DATA, settings=settings)
    assert server.protocol_errors == []
    tool = server.requests[0]["body"]["tools"][0]
    assert tool["name"] == "StrategyDraft"
    assert tool["input_schema"]["additionalProperties"] is False
    assert result.source.origin == "llm"
    assert result.generated.spec.rebalance.frequency == "weekly"
    assert result.post_cutoff["llm_originated"] is True


def test_a_garbage_answer_gets_one_repair_then_the_offline_parser(ws: Workspace) -> None:
    with running("openai") as server:
        server.default = Reply(body=openai_body("I would buy tech stocks!"))
        with _client(server.url) as client:
            result = generate_strategy(ws, "3-month momentum, top 4", DATA, client=client)
    assert len(server.requests) == 2  # the answer, then the repair round
    repair = server.requests[1]["body"]["messages"][-1]["content"]
    assert "not a valid StrategyDraft" in repair
    source = result.to_dict()["source"]
    assert source["origin"] == "offline"
    assert source["fell_back"] is True
    assert "fell back to the offline parser" in source["reason"]
    assert "LLMAnswerError" in source["reason"]
    assert result.generated.spec.portfolio.k == 4
    post = result.to_dict()["post_cutoff"]
    assert post["llm_originated"] is False
    assert post["available"]  # the model's cut-off still applies to its settings


def test_a_valid_draft_that_does_not_fit_the_data_falls_back(ws: Workspace) -> None:
    draft = DRAFT | {
        "signal": {"kind": "expression", "expr": "$pe_ratio", "higher_is_better": False}
    }
    with running("openai") as server:
        server.default = Reply(body=openai_body(json.dumps(draft)))
        with _client(server.url) as client:
            result = generate_strategy(ws, "low volatility", DATA, client=client)
    assert result.source.fell_back
    assert "does not fit the data" in result.source.reason
    assert "$pe_ratio" in result.source.reason
    assert result.generated.draft.signal.template == "low_vol"


def test_bad_input_is_a_typed_error(ws: Workspace) -> None:
    with pytest.raises(IntentError, match="empty"):
        generate_strategy(ws, "  ", DATA, offline=True)
    with pytest.raises(DatasetNotFoundError):
        generate_strategy(ws, "momentum", "nope", offline=True)
    with pytest.raises(IntentError, match="no strategy signal"):
        generate_strategy(ws, "make me rich", DATA, offline=True)
    assert ws.strategies.n_trials(DATA) == 0
