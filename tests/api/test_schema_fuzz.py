"""Schemathesis against the published OpenAPI schema: no server error on any generated input,
and answers that match the schema. Derandomized, a bounded number of examples per operation.

Runs as the admin (every route reachable); the app's job dispatcher is off, so
submitted jobs stay queued and the run stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from alphaloop.api.app import create_app  # noqa: E402
from alphaloop.api.users import UserStore  # noqa: E402
from alphaloop.app import Workspace  # noqa: E402
from tests.api.conftest import PASSWORD, login, make_settings  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("ALPHALOOP_FUZZ_EXAMPLES", "6"))
"""Examples per operation (``ALPHALOOP_FUZZ_EXAMPLES`` raises it for a longer run)."""


def _app() -> object:
    root = Path(__import__("tempfile").mkdtemp(prefix="alphaloop-fuzz-")) / "ws"
    ws = Workspace(root)
    UserStore(ws.db).add("fuzzer", PASSWORD, "admin")
    return create_app(ws, make_settings(rate_per_s=1e6, rate_burst=10**6), run_jobs=False)


APP = _app()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@pytest.fixture(scope="module")
def token() -> Iterator[str]:
    with TestClient(APP) as client:  # type: ignore[arg-type]
        yield str(login(client, "fuzzer")["access_token"])


@pytest.mark.slow
@schema.exclude(path_regex=r"/users/\{name\}/(disable|role)$").parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_a_server_error(case: schemathesis.Case, token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
