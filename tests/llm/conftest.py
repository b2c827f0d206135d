"""Fixtures of the LLM tests: local protocol servers and clients bound to them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm.servers import ProtocolServer, running


@pytest.fixture
def openai_server() -> Iterator[ProtocolServer]:
    with running("openai") as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[ProtocolServer]:
    with running("anthropic") as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    """Waits the client asked for (the injected ``sleep`` records instead of sleeping)."""
    return []
