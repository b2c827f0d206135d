"""``alphaloop users`` bootstraps the first admin; ``alphaloop serve`` refuses bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.cli import main

PASSWORD = "correct horse battery staple"


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_users_bootstrap_an_admin_and_manage_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    monkeypatch.setenv("ALPHALOOP_NEW_PASSWORD", PASSWORD)
    code, out, _ = run(capsys, ws, "users", "add", "root", "--role", "admin", "--json")
    assert code == 0
    assert json.loads(out)["role"] == "admin"
    code, _, err = run(capsys, ws, "users", "add", "root", "--role", "admin")
    assert code == 2
    assert "already exists" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, ws, "users", "add", "bob", "--role", "superuser")
    assert code == 2
    assert "unknown role 'superuser'" in err
    assert run(capsys, ws, "users", "add", "bob")[0] == 0
    assert run(capsys, ws, "users", "set-role", "bob", "trader")[0] == 0
    code, out, _ = run(capsys, ws, "users", "list", "--json")
    assert {u["name"]: u["role"] for u in json.loads(out)} == {"root": "admin", "bob": "trader"}
    code, out, _ = run(capsys, ws, "users", "key", "create", "bob", "--name", "cron", "--json")
    key = json.loads(out)
    assert key["key"].startswith("alk_")
    code, out, _ = run(capsys, ws, "users", "key", "list", "--json")
    assert "key" not in json.loads(out)[0]  # never shown again
    assert run(capsys, ws, "users", "key", "revoke", str(key["id"]))[0] == 0
    assert run(capsys, ws, "users", "disable", "bob")[0] == 0
    code, out, _ = run(capsys, ws, "audit", "list", "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert actions == [
        "users.add",
        "users.add",
        "users.set_role",
        "users.key_create",
        "users.key_revoke",
        "users.disable",
    ]


def test_a_short_password_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHALOOP_NEW_PASSWORD", "short")
    code, _, err = run(capsys, tmp_path / "ws", "users", "add", "amy")
    assert code == 2
    assert "at least 12" in err


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, [], "ALPHALOOP_API_SECRET"),
        ({"ALPHALOOP_API_SECRET": "tooshort"}, [], "at least 32"),
        ({"ALPHALOOP_API_SECRET": "k3Jx9-Qm2Lp7Vt4Zr8Yw1Nb6Hc5Fd0Gs_Ae"}, ["--tls-cert", "c.pem"],
         "both"),
        ({"ALPHALOOP_API_SECRET": "k3Jx9-Qm2Lp7Vt4Zr8Yw1Nb6Hc5Fd0Gs_Ae"}, ["--jobs", "dask"],
         "jobs (ALPHALOOP_API_JOBS)"),
    ],
)  # fmt: skip
def test_serve_refuses_to_start_without_a_strong_secret_or_a_full_tls_pair(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("ALPHALOOP_API_SECRET", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code, out, err = run(capsys, tmp_path / "ws", "serve", "--port", "1", *args)
    assert code == 3  # configuration
    assert message in err
    assert "Traceback" not in err + out
