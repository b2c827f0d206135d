"""End to end: ``alphaloop serve`` as a real uvicorn process on a free loopback port,
driven by httpx and a websockets client; once more over TLS."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from alphaloop.api.users import UserStore
from alphaloop.app import Workspace
from tests.api.conftest import PASSWORD, STRONG_SECRET

SRC = Path(__file__).resolve().parents[2] / "src"
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[str]
    verify: ssl.SSLContext | bool = True


def start_server(ws_root: Path, *extra: str, scheme: str = "http") -> Server:
    port = free_port()
    env = {**os.environ, "ALPHALOOP_API_SECRET": STRONG_SECRET, "ALPHALOOP_API_JOB_POLL_S": "0.1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphaloop.cli", "serve", "--workspace", str(ws_root),
         "--port", str(port), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return Server(f"{scheme}://127.0.0.1:{port}", proc)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            out = server.proc.stdout.read() if server.proc.stdout else ""
            raise AssertionError(f"the server exited with {server.proc.returncode}: {out}")
        try:
            r = httpx.get(f"{server.base}/api/v1/health", verify=server.verify, timeout=2)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not answer in time")


def stop(server: Server) -> str:
    server.proc.send_signal(signal.SIGINT)
    try:
        out, _ = server.proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        out, _ = server.proc.communicate()
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("e2e") / "ws"
    ws = Workspace(root)
    UserStore(ws.db).add("ops", PASSWORD, "trader")
    ws.close()
    srv = start_server(root)
    try:
        wait_ready(srv)
        yield srv
    finally:
        stop(srv)


def _login(base: str, verify: ssl.SSLContext | bool = True) -> str:
    r = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"username": "ops", "password": PASSWORD},
        verify=verify,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_openapi_is_published_and_versioned(server: Server) -> None:
    doc = httpx.get(f"{server.base}/api/v1/openapi.json").json()
    assert doc["info"]["title"] == "alphaloop"
    assert all(p.startswith("/api/v1/") for p in doc["paths"])
    assert "/api/v1/backtests" in doc["paths"]


def test_a_job_streams_its_progress_over_the_websocket(server: Server) -> None:
    token = _login(server.base)
    headers = {"Authorization": f"Bearer {token}"}
    ws_url = server.base.replace("http", "ws") + "/api/v1/ws"

    async def scenario() -> list[dict]:
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"op": "auth", "token": token}))
            assert json.loads(await ws.recv())["op"] == "ready"
            await ws.send(json.dumps({"op": "subscribe", "topics": ["job"]}))
            assert json.loads(await ws.recv())["op"] == "subscribed"
            async with httpx.AsyncClient(base_url=server.base, headers=headers) as http:
                r = await http.post(
                    "/api/v1/factors/evaluate",
                    json={"expression": "$close / Ref($close, 5) - 1", "data": "factor-etfs"},
                )
                assert r.status_code == 202
                job_id = r.json()["id"]
            seen: list[dict] = []
            while not seen or seen[-1]["data"]["status"] not in ("succeeded", "failed"):
                msg = json.loads(await asyncio.wait_for(ws.recv(), START_TIMEOUT_S))
                if msg["data"]["id"] == job_id:
                    seen.append(msg)
            return seen

    seen = asyncio.run(scenario())
    statuses = [m["data"]["status"] for m in seen]
    assert statuses[-1] == "succeeded", seen[-1]
    assert "running" in statuses
    assert all(m["topic"] == "job" and m["version"] == 1 for m in seen)
    assert [m["seq"] for m in seen] == sorted(m["seq"] for m in seen)


@pytest.mark.slow
def test_tls_when_given_a_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    root = tmp_path / "ws"
    ws = Workspace(root)
    UserStore(ws.db).add("ops", PASSWORD, "trader")
    ws.close()
    srv = start_server(root, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https")
    trust = ssl.create_default_context(cafile=str(cert))
    srv.verify = trust
    try:
        wait_ready(srv)
        token = _login(srv.base, verify=trust)
        r = httpx.get(
            f"{srv.base}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {token}"},
            verify=trust,
        )
        assert r.json()["name"] == "ops"
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port gets nowhere
            httpx.get(srv.base.replace("https", "http") + "/api/v1/health", timeout=5)
    finally:
        out = stop(srv)
    assert "https://127.0.0.1" in out


@pytest.mark.slow
def test_a_server_killed_mid_job_marks_it_interrupted_on_restart(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = Workspace(root)
    UserStore(ws.db).add("ops", PASSWORD, "researcher")
    ws.close()
    srv = start_server(root)
    try:
        wait_ready(srv)
        headers = {"Authorization": f"Bearer {_login(srv.base)}"}
        body = {"goal": "momentum on large caps", "data": "sp500-stocks", "budget": 5000}
        job = httpx.post(f"{srv.base}/api/v1/research/sessions", json=body, headers=headers).json()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            status = httpx.get(f"{srv.base}/api/v1/jobs/{job['id']}", headers=headers).json()
            if status["status"] == "running":
                break
            time.sleep(0.2)
        assert status["status"] == "running"
    finally:
        srv.proc.kill()  # a crash: no chance to tidy up
        srv.proc.wait()
    again = start_server(root)
    try:
        wait_ready(again)
        headers = {"Authorization": f"Bearer {_login(again.base)}"}
        after = httpx.get(f"{again.base}/api/v1/jobs/{job['id']}", headers=headers).json()
        assert after["status"] == "interrupted"
        assert "submit it again" in after["error"]
    finally:
        stop(again)
