"""A model spec that cannot train fails before any data is read or any run is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.models import train_from_spec
from alphaloop.errors import AlphaloopError, DatasetNotFoundError
from alphaloop.models.registry import ModelNotFoundError
from alphaloop.models.spec import ModelSpec


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    with Workspace(tmp_path / "ws") as workspace:
        workspace.data.info("sp500-stocks")  # registers the bundled data

        def no_loads(*args: object, **kwargs: object) -> None:
            raise AssertionError("data was loaded before the spec was checked")

        monkeypatch.setattr(workspace.data, "load", no_loads)
        yield workspace


def spec(**over: object) -> ModelSpec:
    base = {"name": "lgbm-close", "data": "sp500-stocks", "features": ["$close"]}
    return ModelSpec.from_dict({**base, **over})


@pytest.mark.parametrize(
    ("over", "error", "match"),
    [
        ({"supersedes": "lgbm-close/v1"}, ModelNotFoundError, "lgbm-close"),
        ({"data": "no-such-data"}, DatasetNotFoundError, "no-such-data"),
        ({"features": "no-such-library"}, AlphaloopError, "no factor library"),
    ],
)
def test_refused_before_data_or_runs(ws: Workspace, over, error, match) -> None:
    with pytest.raises(error, match=match):
        train_from_spec(ws, spec(**over))
    assert ws.runs.list() == []
