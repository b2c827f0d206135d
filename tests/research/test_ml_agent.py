"""The ML quant agent on real bundled data: reuse what qualifies, train what is missing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest

import alphaloop.app.models as app_models
from alphaloop.app import Workspace
from alphaloop.app.research_models import workspace_trainer
from alphaloop.models import ModelSpec
from alphaloop.research import MLQuantAgent, ModelRequirements, ModelRequirementsError
from tests.research.ml_workspace import write_libraries


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("mlagent") / "ws"
    workspace = Workspace(root)
    write_libraries(root)
    yield workspace
    workspace.close()


class CountingTrainer:
    """The workspace trainer, counting its calls and the last bar of each panel it trains on."""

    def __init__(self, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inner = workspace_trainer(ws)
        self.calls = 0
        self.last_bars: list[pd.Timestamp] = []
        real = app_models.build_dataset

        def spy(panel, *args, **kwargs):
            self.last_bars.append(panel.index[-1])
            return real(panel, *args, **kwargs)

        monkeypatch.setattr(app_models, "build_dataset", spy)

    def __call__(self, spec: ModelSpec):
        self.calls += 1
        return self.inner(spec)


def req(**over: object) -> ModelRequirements:
    base: dict[str, object] = {
        "dataset": "sp500-stocks",
        "train_end": date(2008, 1, 1),
        "horizon": 5,
        "feature_family": "tiny-momentum",
        "family": "ridge",
        "start": date(2005, 1, 1),
        "n_splits": 3,
    }
    return ModelRequirements(**{**base, **over})


def test_second_call_reuses_the_registered_version(ws: Workspace, monkeypatch) -> None:
    """Requirements, not names, decide: each test uses its own horizon or span."""
    trainer = CountingTrainer(ws, monkeypatch)
    agent = MLQuantAgent(ws.models, trainer)
    r = req(name="reuse")
    first, created = agent.get_or_create_model(r)
    assert created
    assert trainer.calls == 1
    assert first.ref == "reuse/v1"
    assert first.family == "ridge"
    assert first.feature_family == "tiny-momentum"
    assert first.label["horizon"] == 5
    n_versions = len(ws.models.list())
    again, created_again = agent.get_or_create_model(r)
    assert not created_again
    assert again.ref == first.ref
    assert trainer.calls == 1
    assert len(ws.models.list()) == n_versions


def test_trained_model_never_sees_train_end(ws: Workspace, monkeypatch) -> None:
    trainer = CountingTrainer(ws, monkeypatch)
    agent = MLQuantAgent(ws.models, trainer)
    cutoff = pd.Timestamp("2007-06-01", tz="UTC")
    version, created = agent.get_or_create_model(
        req(name="cut", horizon=6, train_end=date(2007, 6, 1))
    )
    assert created
    assert trainer.last_bars
    assert max(trainer.last_bars) < cutoff
    assert pd.Timestamp(version.label_end) < cutoff
    assert pd.Timestamp(version.train_end) < pd.Timestamp(version.label_end)
    # the dataset goes on well after the cut-off: the limit came from the agent
    assert ws.data.info("sp500-stocks").end > cutoff.to_pydatetime()


def test_a_version_whose_labels_reach_train_end_does_not_qualify(
    ws: Workspace, monkeypatch
) -> None:
    trainer = CountingTrainer(ws, monkeypatch)
    agent = MLQuantAgent(ws.models, trainer)
    later, created = agent.get_or_create_model(
        req(name="window", horizon=7, train_end=date(2006, 7, 1))
    )
    assert created
    # an earlier train_end than that version's label end: it must not be reused
    earlier = req(name="window", horizon=7, train_end=date(2006, 3, 1))
    version, created = agent.get_or_create_model(earlier)
    assert created
    assert version.ref == "window/v2"
    assert pd.Timestamp(version.label_end) < pd.Timestamp("2006-03-01", tz="UTC")
    # a later train_end accepts both; the better validation IC wins
    both = req(name="window", horizon=7, train_end=date(2006, 8, 1))
    found, created = agent.get_or_create_model(both)
    assert not created
    best = max((later, version), key=lambda v: (v.metrics["ic"], v.id))
    assert found.ref == best.ref
    assert trainer.calls == 2


def test_trains_when_the_validation_ic_falls_short(ws: Workspace, monkeypatch) -> None:
    trainer = CountingTrainer(ws, monkeypatch)
    agent = MLQuantAgent(ws.models, trainer)
    first, created = agent.get_or_create_model(req(name="strict", horizon=3))
    assert created
    assert first.ref == "strict/v1"
    calls = trainer.calls
    demanding = req(name="strict", horizon=3, min_valid_ic=first.metrics["ic"] + 0.5)
    assert agent.find(demanding) is None
    second, created = agent.get_or_create_model(demanding)
    assert created
    assert trainer.calls == calls + 1
    assert second.ref == "strict/v2"
    lenient = req(name="strict", horizon=3, min_valid_ic=first.metrics["ic"] - 1.0)
    assert agent.get_or_create_model(lenient)[1] is False


def test_other_horizon_or_family_is_not_reused(ws: Workspace, monkeypatch) -> None:
    trainer = CountingTrainer(ws, monkeypatch)
    agent = MLQuantAgent(ws.models, trainer)
    agent.get_or_create_model(req(name="shape"))
    before = trainer.calls
    assert agent.find(req(name="shape", horizon=10)) is None  # no test trains h=10
    assert agent.find(req(name="shape", family="lgbm")) is None
    assert agent.find(req(name="shape", feature_family="tiny-noise")) is None
    assert agent.find(req(name="shape", family=None)) is not None  # any family
    assert trainer.calls == before


@pytest.mark.parametrize(
    ("over", "word"),
    [({"family": "catboost"}, "family"), ({"feature_family": "no-such-lib"}, "feature family")],
)
def test_unknown_names_fail_before_any_work(ws: Workspace, monkeypatch, over, word) -> None:
    trainer = CountingTrainer(ws, monkeypatch)
    agent = MLQuantAgent(ws.models, trainer)
    before = len(ws.models.list())
    with pytest.raises(ModelRequirementsError, match=word):
        agent.get_or_create_model(req(name="bad", **over))
    assert trainer.calls == 0
    assert len(ws.models.list()) == before


def test_names_and_aliases() -> None:
    r = ModelRequirements(
        dataset="SP500.Stocks", train_end=date(2010, 1, 1), feature_family="alpha158-close"
    )
    assert r.model_name == "sp500-stocks-alpha158-close-lightgbm-h5"
    assert r.train_family == "lightgbm"
    assert r.family is None
    assert ModelRequirements(dataset="d", train_end=date(2010, 1, 1), family="xgb").family == (
        "xgboost"
    )
    spec = MLQuantAgent.spec_for(req(name="x"))
    assert spec.end == date(2007, 12, 31)
    assert spec.model.family == "ridge"
    assert spec.features == "tiny-momentum"
