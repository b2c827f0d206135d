"""The dashboard under a real browser: a seeded workspace, ``alphaloop serve`` on a free
loopback port (fed by a Redis live bus when one answers), and one headless Chromium.

Screenshots go to ``$ALPHALOOP_TEST_ARTIFACTS/dashboard`` (default: a temporary directory).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi", reason="the service needs the service extra")
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright"
)

from tests.api.test_server_e2e import Server, start_server, stop, wait_ready  # noqa: E402
from tests.web.seed import PASSWORD, seed_workspace  # noqa: E402

CHROMIUM = os.environ.get("ALPHALOOP_TEST_CHROMIUM", "/usr/bin/chromium")
REDIS_URL = os.environ.get("ALPHALOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WAIT_MS = 20_000
EXPECTED_REFUSAL = re.compile(r"status of 40[13]")


def _redis_answers() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False
    return True


@dataclass
class Dashboard:
    server: Server
    seeded: dict[str, Any]
    artifacts: Path
    bus_topic: str | None
    root: Path | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.base

    def token(self, user: str) -> str:
        """An access token of ``user`` (one login per user and test run)."""
        if user in self.tokens:
            return self.tokens[user]
        r = httpx.post(f"{self.base}/api/v1/auth/login",
                       json={"username": user, "password": PASSWORD})  # fmt: skip
        assert r.status_code == 200, r.text
        self.tokens[user] = str(r.json()["access_token"])
        return self.tokens[user]

    def get(self, user: str, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.base}/api/v1{path}", params=params,
                      headers={"Authorization": f"Bearer {self.token(user)}"})  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, user: str, path: str, **body: Any) -> Any:
        r = httpx.post(f"{self.base}/api/v1{path}", json=body,
                       headers={"Authorization": f"Bearer {self.token(user)}"})  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    root = tmp_path_factory.mktemp("dashboard") / "ws"
    seeded = seed_workspace(root)
    where = os.environ.get("ALPHALOOP_TEST_ARTIFACTS")
    artifacts = (Path(where) if where else tmp_path_factory.mktemp("artifacts")) / "dashboard"
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    extra: list[str] = []
    topic = None
    if _redis_answers():
        topic = f"web-events-{os.urandom(4).hex()}"
        os.environ["ALPHALOOP_API_BUS_TOPIC"] = topic
        extra = ["--bus", REDIS_URL]
    try:
        server = start_server(root, *extra)
    finally:
        os.environ.pop("ALPHALOOP_API_BUS_TOPIC", None)
    try:
        wait_ready(server)
        yield Dashboard(server, seeded, artifacts, topic, root)
    finally:
        stop(server)
        if topic is not None:
            from alphaloop.live.bus.redis_streams import RedisBus

            RedisBus(REDIS_URL).drop(topic)


@pytest.fixture(scope="package")
def browser(dashboard: Dashboard) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            yield b
        finally:
            b.close()


class Page:
    """One signed-in browser page; JavaScript errors are collected and checked at the end."""

    def __init__(self, browser: Any, dashboard: Dashboard) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.dashboard = dashboard
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # refusals the test provokes on purpose (401 wrong password, 403 role) are expected
        if message.type == "error" and not EXPECTED_REFUSAL.search(message.text):
            self.errors.append(message.text)

    def login(self, user: str, password: str = PASSWORD) -> None:
        self.page.goto(f"{self.dashboard.base}/")
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password)
        self.page.click("form#login button[type=submit]")

    def open(self, path: str) -> Any:
        """Go to ``#/path`` and wait until the page has rendered."""
        self.page.evaluate(
            """(target) => {
                document.body.dataset.page = "";
                if (location.hash !== target) location.hash = target;
                else window.dispatchEvent(new HashChangeEvent("hashchange"));
            }""",
            f"#/{path}",
        )
        name = path.split("/", maxsplit=1)[0].split("?", maxsplit=1)[0]
        self.page.wait_for_selector(f"body[data-page={name}]")
        assert self.page.query_selector("main p.error") is None, self.page.inner_text("main")
        return self.page

    def shot(self, name: str) -> Path:
        path = self.dashboard.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page_for(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    opened: list[Page] = []

    def make(user: str) -> Page:
        p = Page(browser, dashboard)
        p.login(user)
        p.page.wait_for_selector("body[data-page=overview], #login-error:not(:empty)")
        assert p.page.query_selector("#login-error:not(:empty)") is None, p.page.inner_text("main")
        opened.append(p)
        return p

    yield make
    for p in opened:
        errors = list(p.errors)
        p.close()
        assert not errors, errors
