"""The LLM research policy against a local OpenAI-protocol server: valid answers become
proposals, malformed or refused ones get one repair round then the bandit, the cache replays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alphaloop.llm import LLMReplayMissError, ResponseCache, portable_schema, schema_keywords
from alphaloop.research.goal import Constraints
from alphaloop.research.llm_decision import ResearchDecision
from alphaloop.research.llm_policy import LLMPolicy
from alphaloop.research.policy import Candidate, Policy, ResearchView
from alphaloop.research.space import classify, random_recipe
from tests.llm.servers import Reply, openai_body
from tests.research.llm_support import answer, client_for, prompt_of, researcher
from tests.research.search_support import hasher

FIELDS = ("close",)
PORTABLE = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "anyOf",
    "description",
}


def _history(n: int = 6, seed: int = 5) -> tuple[Candidate, ...]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        recipe = random_recipe(rng, constraints=Constraints(), fields=FIELDS, n_assets=20)
        kind, family, logic = classify(recipe)
        out.append(
            Candidate(
                hasher(recipe, _view()),
                recipe,
                kind,
                family,
                logic,
                (),
                "ok",
                0.1 * i,
                i % 2 == 0,
                0,
                "explore",
                f"explore/{family}",
            )
        )
    return tuple(out)


def _view(history: tuple[Candidate, ...] = (), batch: int = 1) -> ResearchView:
    return ResearchView(
        "d", FIELDS, 20, Constraints(), history, (), batch, frozenset(c.hash for c in history)
    )


def _policy(url: str, cache: ResponseCache | None = None) -> LLMPolicy:
    return LLMPolicy(client_for(url, cache), hasher=hasher)


def test_schema_is_portable_and_every_field_required() -> None:
    schema = portable_schema(ResearchDecision)
    assert schema_keywords(schema) <= PORTABLE
    assert schema["required"] == ["decision", "rationale", "parent", "recipe"]
    assert schema["properties"]["decision"]["enum"] == ["exploit", "explore", "upgrade"]
    assert schema["properties"]["recipe"]["additionalProperties"] is False


def test_valid_answers_become_llm_proposals() -> None:
    view = _view(_history())
    with researcher() as server:
        policy = _policy(server.url)
        assert isinstance(policy, Policy)
        proposals = policy.propose(view, 4, np.random.default_rng(0))
    assert len(proposals) == 4
    assert not server.protocol_errors
    assert all(p.context["origin"] == "llm" for p in proposals)
    assert all(p.rationale.startswith("llm ") for p in proposals)
    assert all(p.context["arm"].split("/")[0] == p.action for p in proposals)
    for p in proposals:
        if p.action == "exploit":
            assert p.parents
            assert p.parents[0] in {c.hash for c in view.history}
        else:
            assert p.parents == ()
    hashes = [hasher(p.recipe, view) for p in proposals]
    assert len(set(hashes)) == 4
    assert not set(hashes) & view.seen
    # every request asks for the decision's strict schema
    body = server.requests[0]["body"]
    assert body["response_format"]["json_schema"]["schema"] == portable_schema(ResearchDecision)
    # the batch so far is in each later prompt, so the model does not repeat itself
    assert "nothing yet" in prompt_of(server.requests[0]["body"])
    assert "nothing yet" not in prompt_of(server.requests[-1]["body"])


def test_same_view_same_requests() -> None:
    view = _view(_history())
    with researcher() as a, researcher() as b:
        _policy(a.url).propose(view, 3, np.random.default_rng(0))
        _policy(b.url).propose(view, 3, np.random.default_rng(0))
    assert [r["body"]["messages"] for r in a.requests] == [
        r["body"]["messages"] for r in b.requests
    ]


def test_malformed_twice_falls_back_to_the_bandit() -> None:
    view = _view(_history())
    with researcher() as server:
        server.script = [
            Reply(body=openai_body("I think momentum is great")),
            Reply(body=openai_body('{"decision": "buy everything"}')),
        ]
        proposals = _policy(server.url).propose(view, 2, np.random.default_rng(0))
    assert [p.context["origin"] for p in proposals] == ["fallback", "llm"]
    first = proposals[0]
    assert "no valid answer" in first.context["fallback_reason"]
    assert first.rationale.startswith("fallback (bandit)")
    assert first.action in ("exploit", "explore", "upgrade")
    # the repair round carried the validation errors back
    repair = server.requests[1]["body"]["messages"]
    assert repair[-2]["role"] == "assistant"
    assert "not a valid ResearchDecision" in repair[-1]["content"]


def test_one_bad_answer_is_repaired() -> None:
    view = _view(_history())
    with researcher() as server:
        server.script = [Reply(body=openai_body('```json\n{"decision": 1}\n```'))]
        proposals = _policy(server.url).propose(view, 1, np.random.default_rng(0))
    assert proposals[0].context["origin"] == "llm"
    assert len(server.requests) == 2


def _fixed(decision: dict) -> str:
    return json.dumps(decision)


def test_refused_draft_is_sent_back_with_the_reasons_then_falls_back() -> None:
    view = _view(_history())

    def responder(body: dict) -> str:
        good = answer(body)
        good["recipe"]["indicators"][0]["template"] = "__import__('os').system('true')"
        return _fixed(good)

    with researcher(responder=responder) as server:
        proposals = _policy(server.url).propose(view, 1, np.random.default_rng(0))
    assert [p.context["origin"] for p in proposals] == ["fallback"]
    assert "no such template" in proposals[0].context["fallback_reason"]
    assert len(server.requests) == 2  # one answer, one repair round, then the bandit
    feedback = server.requests[1]["body"]["messages"][-1]["content"]
    assert feedback.startswith("That decision cannot be used: refused draft")


def test_a_repeat_of_an_evaluated_strategy_is_asked_again() -> None:
    history = _history()
    view = _view(history)
    best = history[-1]  # the top candidate by search Sharpe
    from alphaloop.research.llm_decision import recipe_draft

    def responder(body: dict) -> str:
        if len(body["messages"]) == 2:  # first attempt: the best strategy as it is
            return _fixed(
                {
                    "decision": "exploit",
                    "rationale": "again",
                    "parent": best.hash[:12],
                    "recipe": recipe_draft(best.recipe),
                }
            )
        return json.dumps(answer(body))

    with researcher(responder=responder) as server:
        proposals = _policy(server.url).propose(view, 1, np.random.default_rng(0))
    assert proposals[0].context["origin"] == "llm"
    assert proposals[0].context["llm"]["repairs"] == 1
    assert "already evaluated" in server.requests[1]["body"]["messages"][-1]["content"]


def test_replay_from_the_cache_without_the_server(tmp_path: Path) -> None:
    view = _view(_history())
    path = tmp_path / "cache.sqlite"
    with researcher() as server:
        url = server.url
        recorded = _policy(url, ResponseCache(path)).propose(view, 3, np.random.default_rng(0))
    # the server is gone: replay answers from the cache only
    replayed = _policy(url, ResponseCache(path, "replay")).propose(
        view, 3, np.random.default_rng(0)
    )
    assert [(p.recipe, p.rationale, p.parents, p.context) for p in replayed] == [
        (p.recipe, p.rationale, p.parents, p.context) for p in recorded
    ]
    other = _view(_history(seed=9))
    with pytest.raises(LLMReplayMissError):
        _policy(url, ResponseCache(path, "replay")).propose(other, 1, np.random.default_rng(0))


def test_model_text_never_reaches_code_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    import alphaloop.research
    from tests.llm.test_package import FORBIDDEN

    package = Path(alphaloop.research.__file__).parent
    modules = sorted(package.glob("llm_*.py"))
    assert len(modules) == 4
    offenders = [
        f"{p.name}:{i}"
        for p in modules
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert offenders == []

    # and at run time: an answer full of code is refused without any of these being called
    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("code execution reached")

    def responder(body: dict) -> str:
        good = answer(body)
        good["rationale"] = "__import__('os').system('rm -rf /')"
        good["recipe"]["models"] = ["$(touch /tmp/pwned)"]
        return json.dumps(good)

    view = _view(_history())
    with researcher(responder=responder) as server:
        policy = _policy(server.url)
        policy.propose(view, 1, np.random.default_rng(0))  # imports every module on the path
        for name in ("eval", "exec", "compile"):
            monkeypatch.setattr(builtins, name, refuse)
        try:
            proposals = policy.propose(_view(_history(), batch=2), 1, np.random.default_rng(1))
        finally:
            monkeypatch.undo()
    assert proposals[0].context["origin"] == "fallback"
    assert "unknown model version(s) $(touch /tmp/pwned)" in proposals[0].context["fallback_reason"]
