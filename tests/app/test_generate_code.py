"""``generate``'s drafts with model-written code: refused unless allowed, checked when allowed.

The model is a real HTTP server speaking the OpenAI protocol; only the draft step runs
(no scan or backtest), so these stay quick.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from alphaloop.app import Workspace
from alphaloop.app.generate_draft import make_draft
from alphaloop.errors import DraftError
from alphaloop.llm import LLMClient, LLMSettings
from alphaloop.research import CodeStrategyDraft, StrategyDraft, draft_to_spec
from tests.app.generate_support import DATA, DRAFT, planted_workspace
from tests.llm.servers import Reply, openai_body, running

MOMENTUM = (
    "def signal(close, high=None, low=None, volume=None, open=None):\n"
    "    out = np.full_like(close, np.nan)\n"
    "    out[20:] = close[20:] / close[:-20] - 1\n"
    "    return out\n"
)
CODE_DRAFT = {**DRAFT, "signal": {"kind": "code", "code": MOMENTUM}}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    w = planted_workspace(tmp_path_factory.mktemp("generate-code"))
    yield w
    w.close()


def _draft(ws: Workspace, answer: dict, *, allow_code: bool):
    with running("openai") as server:
        server.default = Reply(body=openai_body(json.dumps(answer)))
        settings = LLMSettings(base_url=server.url, model="m", max_retries=0, timeout_s=5)
        with LLMClient(settings) as client:
            made, source = make_draft(
                "momentum", ws.data.info(DATA), client=client, allow_code=allow_code
            )
    return made, source, server.requests


def test_without_allow_code_the_model_is_never_offered_code_and_code_is_refused(
    ws: Workspace,
) -> None:
    made, source, requests = _draft(ws, CODE_DRAFT, allow_code=False)
    system = requests[0]["body"]["messages"][0]["content"]
    assert "def signal(close" not in system
    assert '"code"' not in json.dumps(requests[0]["body"]["response_format"])
    assert len(requests) == 2  # the answer, its repair round, then the offline parser
    assert source.origin == "offline"
    assert source.fell_back
    assert not made.model_code
    assert made.spec.signal.code is None


def test_with_allow_code_the_code_becomes_the_spec_signal(ws: Workspace) -> None:
    made, source, requests = _draft(ws, CODE_DRAFT, allow_code=True)
    assert "def signal(close" in requests[0]["body"]["messages"][0]["content"]
    assert source.origin == "llm"
    assert made.model_code
    assert made.spec.signal.code == MOMENTUM
    assert made.expression == ""
    assert "signal: model-written Python code, run in the sandbox" in made.assumptions


@pytest.mark.parametrize(
    ("code", "construct"),
    [
        ("import os\ndef signal(close):\n    return close\n", "import of os"),
        ("def signal(close):\n    return ().__class__.__base__\n", "__class__"),
        ("def signal(close):\n    return open('/etc/passwd')\n", "open"),
    ],
)
def test_allowed_code_the_sandbox_refuses_hands_over_to_the_offline_parser(
    ws: Workspace, code: str, construct: str
) -> None:
    answer = {**CODE_DRAFT, "signal": {"kind": "code", "code": code}}
    made, source, _ = _draft(ws, answer, allow_code=True)
    assert source.origin == "offline"
    assert construct in str(source.reason)
    assert "signal.code" in str(source.reason)
    assert not made.model_code


def test_draft_to_spec_refuses_code_unless_allowed() -> None:
    draft = CodeStrategyDraft.model_validate(CODE_DRAFT)
    with pytest.raises(DraftError, match="--allow-code"):
        draft_to_spec(draft, DATA, fields=("close",), assets=["A", "B", "C", "D"])
    assets = ["A", "B", "C", "D"]
    made = draft_to_spec(draft, DATA, fields=("close",), assets=assets, allow_code=True)
    assert made.spec.signal.code == MOMENTUM
    with pytest.raises(ValueError, match="code"):
        StrategyDraft.model_validate(CODE_DRAFT)  # the default draft has no code kind
