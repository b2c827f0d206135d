"""Fixtures: the local vendor servers, a workspace, and fetchers that sleep on a list."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from alphaloop.app import Workspace
from alphaloop.data.sources import Fetcher, ResponseCache, Retrier, RetryPolicy
from tests.data.sources.fakes import FakeAlpacaData, FakeExchange, FakeYahoo


@pytest.fixture
def ws(tmp_path) -> Iterator[Workspace]:
    """A SQLite workspace without the bundled datasets (not needed)."""
    workspace = Workspace(tmp_path / "ws")
    workspace.data._bundled_ready = True
    yield workspace
    workspace.close()


@pytest.fixture
def yahoo() -> Iterator[FakeYahoo]:
    fake = FakeYahoo()
    yield fake
    fake.close()


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    fake = FakeExchange()
    yield fake
    fake.close()


@pytest.fixture
def alpaca_data() -> Iterator[FakeAlpacaData]:
    fake = FakeAlpacaData()
    yield fake
    fake.close()


@pytest.fixture
def make_fetcher(tmp_path) -> Callable[..., Fetcher]:
    """A fetcher with the workspace-like cache; waits are recorded in ``fetcher.retrier.waits``."""

    def make(*, offline: bool = False, attempts: int = 4, seed: int = 0) -> Fetcher:
        retrier = Retrier(RetryPolicy(attempts=attempts, seed=seed), sleep=lambda s: None)
        return Fetcher(ResponseCache(tmp_path / "cache"), retrier, offline)

    return make
