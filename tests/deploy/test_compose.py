"""The compose file passes its check (through `make compose-check`), and the check catches
a missing service, a hard-coded password, a wrong database and a build without a Dockerfile."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_compose", ROOT / "deploy" / "check_compose.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _variant(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(COMPOSE.read_text())
    edit(doc)
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_make_compose_check_passes_on_the_repository_file() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "COLUMNS": "200"}
    # the venv's stamp is the Makefile's business: point it at this interpreter's venv
    done = subprocess.run(
        ["make", "-s", "-o", f"{bin_dir.parent}/.installed-run", "compose-check",
         f"VENV={bin_dir.parent}", f"STAMP_RUN={bin_dir.parent}/.installed-run"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ok (api, worker, postgres, redis, ray-head)" in done.stdout


def test_the_repository_file_has_the_whole_stack() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert set(doc["services"]) >= {"api", "worker", "postgres", "redis", "ray-head"}
    assert _checker().check(COMPOSE) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["services"].pop("redis"), "service 'redis' is missing"),
        (
            lambda d: d["services"]["postgres"]["environment"].update(POSTGRES_PASSWORD="hunter2"),
            "POSTGRES_PASSWORD is written in the file",
        ),
        (
            lambda d: d["services"]["api"]["environment"].update(
                ALPHALOOP_DATABASE_URL="postgresql+psycopg://a:hunter2@postgres/a"
            ),
            "password in its URL",
        ),
        (
            lambda d: d["services"]["worker"]["environment"].update(
                ALPHALOOP_DATABASE_URL="sqlite:////workspace/alphaloop.db"
            ),
            "'worker' needs ALPHALOOP_DATABASE_URL on the postgres service",
        ),
        (lambda d: d["services"]["redis"].pop("image"), "neither an image nor a build"),
        (lambda d: d["services"]["api"].update(build="nowhere"), "does not exist"),
        (lambda d: d["services"]["api"].update(depends_on=["mysql"]), "'mysql', which is not"),
        (lambda d: d["services"]["worker"].update(command=["start", "--head"]), "a Ray node"),
        (
            lambda d: d["services"]["research"].update(entrypoint=["alphaloop", "research"]),
            "'research' must run 'alphaloop research --executor ray'",
        ),
        (
            lambda d: d["services"]["api"]["environment"].pop("ALPHALOOP_API_SECRET"),
            "'api' needs ALPHALOOP_API_SECRET",
        ),
        (
            lambda d: d["services"]["api"]["environment"].update(ALPHALOOP_API_SECRET="x" * 40),
            "ALPHALOOP_API_SECRET is written in the file",
        ),
        (
            lambda d: d["services"]["api"]["environment"].pop("ALPHALOOP_API_BUS_URL"),
            "'api' needs ALPHALOOP_API_BUS_URL on the redis service",
        ),
        (
            lambda d: d["services"]["research"]["environment"].pop("ALPHALOOP_RAY_ADDRESS"),
            "'research' needs ALPHALOOP_RAY_ADDRESS",
        ),
    ],
)
def test_the_check_names_what_is_wrong(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    problems = _checker().check(_variant(tmp_path, edit))
    assert any(message in p for p in problems), problems


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services: [api\n")
    checker = _checker()
    assert "not valid YAML" in checker.check(bad)[0]
    assert checker.main([str(bad)]) == 1


def _expand(arg: str) -> str:
    """A ``${NAME:-default}`` / ``${NAME:?message}`` argument as Compose would give it
    (defaults taken; required values get a stand-in)."""
    import re

    return re.sub(
        r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*)|:?\?[^}]*)?\}",
        lambda m: m.group(1) if m.group(1) is not None else "required-value",
        arg,
    )


@pytest.mark.parametrize("name", ["api", "research"])
def test_the_alphaloop_commands_parse_with_the_real_cli(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every option the file passes to ``alphaloop`` exists (``--help`` after them: the
    parser rejects an unknown option or a bad value before it shows the help)."""
    from alphaloop.cli import main

    svc = yaml.safe_load(COMPOSE.read_text())["services"][name]
    entry = [str(a) for a in svc.get("entrypoint") or ["alphaloop"]]
    assert entry[0] == "alphaloop"
    args = [_expand(str(a)) for a in [*entry[1:], *(svc.get("command") or [])]]
    assert main([*args, "--help"]) == 0
    assert "Usage:" in capsys.readouterr().out
    assert main([*args, "--no-such-option", "--help"]) != 0  # the check can fail


def test_the_api_service_gets_what_serve_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The api's environment, with the secret given, loads the service settings: a secret
    and the bus (``alphaloop serve`` refuses to start without a secret)."""
    from alphaloop.api.settings import load_settings
    from alphaloop.errors import AlphaloopError

    env = yaml.safe_load(COMPOSE.read_text())["services"]["api"]["environment"]
    api_env = {k: _expand(str(v)) for k, v in env.items() if k.startswith("ALPHALOOP_API_")}
    assert set(api_env) == {"ALPHALOOP_API_SECRET", "ALPHALOOP_API_BUS_URL"}
    for key, value in api_env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(AlphaloopError):  # the stand-in is not a secret: serve would refuse it
        load_settings()
    secret = os.urandom(24).hex()
    monkeypatch.setenv("ALPHALOOP_API_SECRET", secret)
    settings = load_settings()
    assert settings.bus_url == "redis://redis:6379/0"
    assert settings.secret.get_secret_value() == secret
