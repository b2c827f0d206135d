"""Improvement ideas from a model: validated into specs, scored by the same paired test,
counted in k, the offline proposals when none is usable, no holdout figure in the prompt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from alphaloop.app import Workspace
from alphaloop.app.research_models import workspace_evaluator, workspace_trainer
from alphaloop.llm import LLMClient, LLMSettings, ResponseCache
from alphaloop.llm.ideas import ImprovementIdea, idea_spec
from alphaloop.models import ModelSpec
from alphaloop.research import ModelImprover
from alphaloop.research.model_ideas import IdeaBatch, IdeaRequest, llm_ideas
from alphaloop.research.model_proposals import Proposal
from tests.llm.servers import ProtocolServer, Reply, openai_body, running
from tests.research.ml_workspace import import_forecast_data, write_libraries
from tests.research.test_improver import weak_incumbent

SPEC = ModelSpec.model_validate(
    {"name": "m", "data": "d", "features": "tiny-noise", "model": {"family": "ridge"}}
)
PLANTED_HOLDOUT_IC = 0.913579


def idea(kind: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": kind,
        "features": None,
        "add_features": False,
        "family": None,
        "params": [],
        "rationale": "a better signal",
    }
    return {**base, **over}


def ideas_reply(*items: dict[str, Any]) -> Reply:
    return Reply(body=openai_body(json.dumps({"ideas": list(items)})))


def apply(item: dict[str, Any]) -> ModelSpec:
    return idea_spec(
        SPEC,
        ImprovementIdea.model_validate(item),
        feature_families=("tiny-forecast", "tiny-momentum"),
        families=("ridge", "lightgbm"),
    )


def test_ideas_become_valid_specs() -> None:
    assert apply(idea("features", features="tiny-forecast")).features == "tiny-forecast"
    new = apply(idea("hyperparameters", params=[{"name": "alpha", "value": 10.0}]))
    assert new.model.params == {"alpha": 10.0}
    new = apply(idea("family", family="lightgbm", params=[{"name": "num_leaves", "value": 8}]))
    assert (new.model.family, new.model.params) == ("lightgbm", {"num_leaves": 8})


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (idea("features", features="alpha360"), "is not one of"),
        (idea("features", features="../../etc/passwd"), "is not one of"),
        (idea("hyperparameters", params=[{"name": "alpha", "value": -1}]), "alpha must be"),
        (idea("hyperparameters", params=[{"name": "__class__", "value": 1}]), "not a parameter"),
        (idea("hyperparameters", params=[]), "at least one parameter"),
        (idea("family", family="xgboost"), "is not another of"),
        (idea("family", family="ridge"), "is not another of"),
        (idea("hyperparameters", params=[{"name": "alpha", "value": 1.0}]), "changes nothing"),
    ],
)
def test_invalid_ideas_are_refused_with_the_reason(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply(item)


# ------------------------------------------------------------------ on a real workspace
@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    tmp = tmp_path_factory.mktemp("ideas")
    workspace = Workspace(tmp / "ws")
    write_libraries(tmp / "ws")
    import_forecast_data(workspace, tmp)
    yield workspace
    workspace.close()


@pytest.fixture
def server() -> Iterator[ProtocolServer]:
    with running("openai") as s:
        yield s


def client_of(server: ProtocolServer, cache: ResponseCache | None = None) -> LLMClient:
    return LLMClient(
        LLMSettings(base_url=server.url, model="local-model", max_retries=0), cache=cache
    )


class PlantedRegistry:
    """The workspace's registry, whose versions carry a planted holdout figure in their metrics."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)

    def get(self, ref: str) -> Any:
        version = self._registry.get(ref)
        planted = {**version.metrics, "ic": 0.777777, "holdout_ic": PLANTED_HOLDOUT_IC}
        return replace(version, metrics=planted)


def improver(ws: Workspace, source: Any, registry: Any = None) -> ModelImprover:
    return ModelImprover(
        registry or ws.models,
        workspace_trainer(ws),
        workspace_evaluator(ws),
        feature_families=("tiny-forecast",),
        families=("ridge",),
        ideas=source,
    )


def test_llm_ideas_take_the_same_test_and_count_in_k(ws: Workspace, server) -> None:
    incumbent = weak_incumbent(ws, "idea")
    server.script = [
        ideas_reply(
            idea("features", features="tiny-forecast"),
            idea("hyperparameters", params=[{"name": "alpha", "value": 100.0}]),
            idea("family", family="lightgbm"),  # not an allowed family: refused, not a trial
            idea("features", features="tiny-forecast"),  # a repeat: refused
        )
    ]
    with client_of(server) as client:
        imp = improver(ws, llm_ideas(client, seed=1), PlantedRegistry(ws.models))
        result = imp.improve(incumbent.ref)
    assert [p.source for p in result.proposals] == ["llm:local-model"] * 2
    assert result.alpha_per_test == pytest.approx(imp.alpha / 2)  # k = the ideas scored
    assert result.decision == "registered"
    won = result.proposals[result.winner]
    assert "tiny-forecast" in won.description
    assert won.comparison.wilcoxon.p_value < result.alpha_per_test
    record = result.ideas
    assert record["used"] == "ideas"
    assert len(record["accepted"]) == 2
    assert [r["reason"] for r in record["rejected"]] == [
        "family 'lightgbm' is not another of ridge",
        "repeats another idea",
    ]
    # the prompt: the incumbent's spec and its validation IC, never a registry or holdout figure
    text = "\n".join(m["content"] for m in server.requests[0]["body"]["messages"])
    assert f"{result.incumbent_ic:+.4f}" in text
    assert "tiny-noise" in text
    assert str(PLANTED_HOLDOUT_IC)[:6] not in text
    assert "0.7778" not in text
    assert "holdout" not in text.lower()
    assert "2010-" not in text  # no bar after the incumbent's span


def test_unusable_ideas_fall_back_to_the_offline_proposals(ws: Workspace, server) -> None:
    incumbent = weak_incumbent(ws, "fallback")
    server.script = [Reply(body=openai_body("no JSON here")), Reply(body=openai_body("{}"))]
    with client_of(server) as client:
        imp = improver(ws, llm_ideas(client))
        result = imp.improve(incumbent.ref)
    assert len(server.requests) == 2  # the schema's repair round
    assert result.ideas["used"] == "offline"
    assert result.ideas["fallback"].startswith("LLMAnswerError")
    assert {p.source for p in result.proposals} == {"offline"}
    offline = ModelImprover(
        ws.models,
        workspace_trainer(ws),
        workspace_evaluator(ws),
        feature_families=("tiny-forecast",),
        families=("ridge",),
    ).proposals(incumbent.ref)
    assert [p.description for p in result.proposals] == [p.description for p in offline]


def test_ideas_replay_from_the_cache(ws: Workspace, server, tmp_path: Path) -> None:
    incumbent = weak_incumbent(ws, "replayed")
    server.script = [ideas_reply(idea("hyperparameters", params=[{"name": "alpha", "value": 5.0}]))]
    cache = tmp_path / "c.sqlite"
    with client_of(server, ResponseCache(cache, "use")) as client:
        first = improver(ws, llm_ideas(client)).improve(incumbent.ref)
    server.stop()
    with client_of(server, ResponseCache(cache, "replay")) as client:
        again = improver(ws, llm_ideas(client)).improve(incumbent.ref)
    assert again.ideas == first.ideas
    assert [p.spec for p in again.proposals] == [p.spec for p in first.proposals]


def test_an_idea_source_is_a_plain_callable(ws: Workspace) -> None:
    incumbent = weak_incumbent(ws, "plain")
    seen: list[IdeaRequest] = []

    def source(request: IdeaRequest) -> IdeaBatch:
        seen.append(request)
        spec = request.spec.model_copy(update={"features": "tiny-forecast"})
        return IdeaBatch((Proposal("features", "mine", spec, source="user"),), {"source": "user"})

    result = improver(ws, source).improve(incumbent.ref)
    assert seen[0].ref == incumbent.ref
    assert seen[0].valid_ic == pytest.approx(result.incumbent_ic)
    assert [p.description for p in result.proposals] == ["mine"]
    assert result.alpha_per_test == result.alpha  # k = 1
